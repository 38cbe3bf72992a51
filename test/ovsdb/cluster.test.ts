// Clustered databases on a real 3-member RAFT NB: the Database prefers the leader, follows it when
// the leader is stopped, and flags a follower cut off from its cluster as stale (reason cut-off).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OvnSandbox, clusterLeader, type OvsdbServerProcess } from '../../operator/sandbox/sandbox.js';
import { Database, OvsdbError, type StaleViewError } from '../../operator/ovsdb/index.js';
import { until } from './helpers.js';

const execFileP = promisify(execFile);

/** The leader among some members, asking each with a timeout (a frozen member must not block us). */
async function leaderAmong(sandbox: OvnSandbox, members: OvsdbServerProcess[]): Promise<OvsdbServerProcess | undefined> {
  for (const m of members.filter((x) => x.running)) {
    try {
      const { stdout } = await execFileP('ovs-appctl', ['--timeout=2', '-t', join(sandbox.dir, `${m.name}.ctl`), 'cluster/status', 'OVN_Northbound']);
      if (/Role: leader/.test(stdout)) return m;
    } catch {
      /* not answering */
    }
  }
  return undefined;
}

const opts = { db: 'OVN_Northbound', tables: [{ table: 'Logical_Router', columns: ['name'] }], backoffMinMs: 50, backoffMaxMs: 500 };

describe('Database on a RAFT cluster', () => {
  let sandbox: OvnSandbox;
  const dbs: Database[] = [];

  beforeAll(async () => {
    sandbox = await OvnSandbox.start({ cluster: true, northd: false });
  });
  afterAll(async () => {
    for (const d of dbs) await d.close();
    await sandbox?.stop();
  });

  const names = (db: Database) => [...db.rows('Logical_Router').values()].map((r) => r.name).sort();

  it('connects to the leader, follows it when the leader is stopped, and keeps following', async () => {
    const leader = (await clusterLeader(sandbox, sandbox.nb))!;
    // list the leader last: the client must still pick it
    const remotes = [...sandbox.nb.members.filter((m) => m !== leader), leader].map((m) => m.tcpRemote).join(',');
    const db = await Database.open({ ...opts, remote: remotes });
    dbs.push(db);
    expect(db.status()).toMatchObject({ connected: true, remote: leader.tcpRemote, leader: true, stale: false });

    await sandbox.nbctl('--no-wait', 'lr-add', 'before');
    await until(() => names(db).includes('before'), 'replica follows the first leader');

    await leader.stop();
    await until(async () => {
      const now = await clusterLeader(sandbox, sandbox.nb);
      const s = db.status();
      return !!now && s.connected && s.leader === true && s.remote === now.tcpRemote;
    }, 'replica on the new leader');
    expect(db.status().remote).not.toBe(leader.tcpRemote);
    expect(db.status().reconnects).toBeGreaterThanOrEqual(1);
    await sandbox.nbctl('--no-wait', 'lr-add', 'after');
    await until(() => names(db).includes('after'), 'replica follows the new leader');
    await db.transact([{ op: 'insert', table: 'Logical_Router', row: { name: 'written' } }]);
    await until(() => names(db).includes('written'), 'own write seen');
    expect(() => db.assertFresh()).not.toThrow();
    await leader.start();
  });

  it('moves to the new leader when leadership moves while its connection stays up', async () => {
    await until(async () => !!(await leaderAmong(sandbox, sandbox.nb.members)), 'a leader');
    const old = (await leaderAmong(sandbox, sandbox.nb.members))!;
    const db = await Database.open({ ...opts, remote: sandbox.nbRemote });
    dbs.push(db);
    expect(db.status()).toMatchObject({ remote: old.tcpRemote, leader: true });
    const dropped: unknown[] = [];
    db.on('disconnected', (e) => dropped.push(e));
    // freeze the leader: the others elect a new one; thawed, the old leader learns it is a follower
    old.child!.kill('SIGSTOP');
    const others = sandbox.nb.members.filter((m) => m !== old);
    let next: OvsdbServerProcess | undefined;
    await until(async () => !!(next = await leaderAmong(sandbox, others)), 'a new leader elected');
    old.child!.kill('SIGCONT');
    await until(() => db.status().remote === next!.tcpRemote && db.status().leader === true, 'replica moved to the new leader');
    expect(dropped).toEqual([]);
    await sandbox.nbctl('--no-wait', 'lr-add', 'after-move');
    await until(() => names(db).includes('after-move'), 'replica follows after the move');
  });

  it('flags a follower cut off from its cluster as stale, and never serves it as fresh', async () => {
    await until(async () => !!(await clusterLeader(sandbox, sandbox.nb)), 'a leader');
    const leader = (await clusterLeader(sandbox, sandbox.nb))!;
    const follower = sandbox.nb.members.find((m) => m !== leader && m.running)!;
    const db = await Database.open({ ...opts, remote: follower.tcpRemote });
    dbs.push(db);
    // a member restarted by the previous test may still be catching up with its cluster
    await until(() => !db.status().stale, 'follower connected to its cluster');
    expect(db.status()).toMatchObject({ connected: true, leader: false, stale: false });
    expect(() => db.assertFresh()).not.toThrow();
    const stale = new Promise<string>((r) => db.once('stale', r));

    for (const m of sandbox.nb.members.filter((x) => x !== follower)) await m.stop();
    expect(await stale).toBe(follower.tcpRemote);
    expect(db.status()).toMatchObject({ connected: true, stale: true });
    let err: unknown;
    try {
      db.assertFresh();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OvsdbError);
    expect((err as OvsdbError).code).toBe('StaleView');
    expect((err as OvsdbError).message).toContain(follower.tcpRemote);
    expect((err as StaleViewError).staleness).toMatchObject({ reason: 'cut-off', server: follower.tcpRemote, db: 'OVN_Northbound' });
    expect((err as OvsdbError).message).toContain('cut off from its cluster');
    expect(db.freshness()).toMatchObject({ fresh: false, reason: 'cut-off', server: follower.tcpRemote });
    expect(db.status().staleness).toMatchObject({ reason: 'cut-off' });
    await expect(db.transact([{ op: 'comment', comment: 'x' }])).rejects.toMatchObject({ code: 'StaleView' });

    // opening with the whole list while only the cut-off member answers: a stale view, said so
    const listed = await Database.open({ ...opts, remote: sandbox.nbRemote, connectTimeoutMs: 3000 });
    dbs.push(listed);
    expect(listed.status()).toMatchObject({ connected: true, remote: follower.tcpRemote, stale: true });
    expect(() => listed.assertFresh()).toThrow(expect.objectContaining({ code: 'StaleView' }));

    // the cluster comes back: the view is fresh again
    for (const m of sandbox.nb.members) await m.start();
    await until(() => !db.status().stale, 'fresh again', 30_000);
    expect(() => db.assertFresh()).not.toThrow();
    expect(db.freshness()).toMatchObject({ fresh: true });
  });
});
