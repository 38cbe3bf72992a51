// Database (the monitor-fed replica) on real NB/SB servers: update2 diffs leave it equal to a fresh
// `ovsdb-client dump`; conditional monitoring; kill/restart of ovsdb-server; the monitor fallback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { Database, OvsdbError, type Condition, type RowChange } from '../../operator/ovsdb/index.js';
import { dumpRows, sameRows, until } from './helpers.js';

const execFileP = promisify(execFile);

describe('Database replica on a real NB', () => {
  let sandbox: OvnSandbox;
  let db: Database;
  const batches: RowChange[][] = [];

  beforeAll(async () => {
    sandbox = await OvnSandbox.start({ northd: false });
    await sandbox.nbctl('--no-wait', 'lr-add', 'dev-jr');
    db = await Database.open({
      remote: sandbox.nbRemote,
      db: 'OVN_Northbound',
      tables: [{ table: 'Logical_Router' }, { table: 'Logical_Router_Static_Route' }],
      backoffMinMs: 50,
      backoffMaxMs: 400,
    });
    db.on('change', (c: RowChange[]) => batches.push(c));
  });
  afterAll(async () => {
    await db?.close();
    await sandbox?.stop();
  });

  const converged = async () =>
    sameRows(db.rows('Logical_Router'), await dumpRows(sandbox, 'nb', db.schema, 'Logical_Router')) &&
    sameRows(db.rows('Logical_Router_Static_Route'), await dumpRows(sandbox, 'nb', db.schema, 'Logical_Router_Static_Route'));

  it('emits the initial sync after open and holds decoded rows', async () => {
    await until(() => batches.length > 0, 'initial change event');
    expect(batches[0]!.map((c) => c.new?.name)).toEqual(['dev-jr']);
    const [router] = [...db.rows('Logical_Router').values()];
    expect(router).toMatchObject({ name: 'dev-jr', static_routes: [], external_ids: {}, enabled: [] });
    expect(db.status()).toMatchObject({ connected: true, stale: false, leader: true, reconnects: 0 });
    expect(() => db.assertFresh()).not.toThrow();
  });

  it('applies modify diffs on set and map columns exactly (static_routes, external_ids)', async () => {
    for (let i = 0; i < 12; i++) await sandbox.nbctl('--no-wait', 'lr-route-add', 'dev-jr', `10.9.${i}.0/24`, `10.9.2.${i + 1}`);
    await sandbox.nbctl('--no-wait', 'set', 'Logical_Router', 'dev-jr', 'external_ids:a=1', 'external_ids:b=2', 'external_ids:c=3');
    await sandbox.nbctl('--no-wait', 'lr-route-del', 'dev-jr', '10.9.3.0/24');
    await sandbox.nbctl('--no-wait', 'lr-route-del', 'dev-jr', '10.9.7.0/24');
    await sandbox.nbctl('--no-wait', 'set', 'Logical_Router', 'dev-jr', 'external_ids:b=20');
    await sandbox.nbctl('--no-wait', 'remove', 'Logical_Router', 'dev-jr', 'external_ids', 'a');
    await sandbox.nbctl('--no-wait', 'set', 'Logical_Router', 'dev-jr', 'enabled=false', 'options:chassis=hv1');
    // one transaction that toggles several set elements and map keys at once
    await sandbox.nbctl('--no-wait', 'lr-route-del', 'dev-jr', '10.9.0.0/24', '--', 'lr-route-add', 'dev-jr', '10.8.0.0/16', '10.9.2.99', '--', 'set', 'Logical_Router', 'dev-jr', 'external_ids:c=30', 'external_ids:d=4');
    await until(converged, 'replica equals ovsdb-client dump');
    const router = [...db.rows('Logical_Router').values()][0]!;
    expect(router.external_ids).toEqual({ b: '20', c: '30', d: '4' });
    expect(router.static_routes).toHaveLength(10);
    expect(router.enabled).toEqual([false]);
  });

  it('writes through transact and surfaces typed per-operation errors', async () => {
    await db.transact([{ op: 'insert', table: 'Logical_Router', row: { name: 'via-transact' } }]);
    await until(() => [...db.rows('Logical_Router').values()].some((r) => r.name === 'via-transact'), 'own insert seen');
    const err = (await db.transact([{ op: 'wait', table: 'Logical_Router', where: [['name', '==', 'nope']], columns: ['name'], until: '==', rows: [{ name: 'nope' }], timeout: 0 }]).catch((e: unknown) => e)) as OvsdbError;
    expect(err.code).toBe('TransactionFailed');
  });

  it('survives kill and restart of ovsdb-server: pending requests fail clearly, the replica converges', async () => {
    const member = sandbox.nb.members[0]!;
    const disconnected = new Promise<OvsdbError>((r) => db.once('disconnected', r));
    const reconnected = new Promise<string>((r) => db.once('connected', r));
    const pending = db.client!.request('transact', ['OVN_Northbound', { op: 'wait', table: 'NB_Global', where: [], columns: ['nb_cfg'], until: '==', rows: [{ nb_cfg: 999 }], timeout: 60_000 }]);
    const pendingResult = pending.catch((e: unknown) => e as OvsdbError);
    await member.stop('SIGKILL');
    expect((await disconnected).code).toBe('Disconnected');
    const failed = await pendingResult;
    expect(failed).toBeInstanceOf(OvsdbError);
    expect((failed as OvsdbError).code).toBe('Disconnected');
    expect((failed as OvsdbError).message).toContain(member.tcpRemote);
    expect(db.status().connected).toBe(false);
    expect(() => db.assertFresh()).toThrow(expect.objectContaining({ code: 'Disconnected' }));
    await expect(db.transact([{ op: 'comment', comment: 'x' }])).rejects.toMatchObject({ code: 'Disconnected' });
    // change the database while the server is down, then bring it back
    const routerUuid = [...db.rows('Logical_Router').values()].find((r) => r.name === 'dev-jr')!._uuid;
    await execFileP('ovsdb-tool', ['transact', member.dbFile, JSON.stringify([
      'OVN_Northbound',
      { op: 'insert', table: 'Logical_Router', row: { name: 'offline' } },
      { op: 'mutate', table: 'Logical_Router', where: [['_uuid', '==', ['uuid', routerUuid]]], mutations: [['external_ids', 'insert', ['map', [['offline', 'yes']]]]] },
      { op: 'delete', table: 'Logical_Router', where: [['name', '==', 'via-transact']] },
    ])]);
    const before = batches.length;
    await member.start();
    expect(await reconnected).toBe(member.tcpRemote);
    await until(converged, 'replica equals dump after restart');
    const resync = batches.slice(before).flat();
    expect(resync.filter((c) => c.table === 'Logical_Router').map((c) => `${c.old ? c.old.name : '-'}>${c.new ? c.new.name : '-'}`).sort()).toEqual(['->offline', 'dev-jr>dev-jr', 'via-transact>-']);
    expect(db.status()).toMatchObject({ connected: true, reconnects: 1, stale: false });
  });

  it('stops reconnecting once closed', async () => {
    const member = sandbox.nb.members[0]!;
    const other = await Database.open({ remote: sandbox.nbRemote, db: 'OVN_Northbound', tables: [{ table: 'Logical_Router', columns: ['name'] }], backoffMinMs: 50, backoffMaxMs: 100 });
    const events: string[] = [];
    other.on('connected', () => events.push('connected'));
    const down = new Promise((r) => other.once('disconnected', r));
    await member.stop();
    await down;
    await other.close();
    await member.start();
    await until(converged, 'the first replica is back');
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toEqual([]);
    expect(other.status()).toMatchObject({ connected: false, reconnects: 0 });
  });

  it('rejects open within the connect timeout when no remote answers, naming each remote', async () => {
    const dead = 'tcp:127.0.0.1:9';
    const t0 = Date.now();
    const err = (await Database.open({ remote: `${dead},unix:/nonexistent/x.sock`, db: 'OVN_Northbound', tables: [], connectTimeoutMs: 500 }).catch((e: unknown) => e)) as OvsdbError;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(err.code).toBe('Unreachable');
    expect(err.message).toContain(dead);
    expect(err.message).toContain('unix:/nonexistent/x.sock');
    // a server that accepts connections and never answers is unreachable too, within the timeout
    const mute = createServer(() => undefined);
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
    const muteRemote = `tcp:127.0.0.1:${(mute.address() as { port: number }).port}`;
    const t1 = Date.now();
    const silent = (await Database.open({ remote: `${muteRemote},${dead}`, db: 'OVN_Northbound', tables: [], connectTimeoutMs: 600 }).catch((e: unknown) => e)) as OvsdbError;
    expect(Date.now() - t1).toBeLessThan(5000);
    expect(silent.code).toBe('Unreachable');
    expect(silent.message).toContain(`${muteRemote}: connected, but no answer`);
    mute.close();
    const wrongDb = (await Database.open({ remote: sandbox.nbRemote, db: 'OVN_Southbound', tables: [], connectTimeoutMs: 300 }).catch((e: unknown) => e)) as OvsdbError;
    expect(wrongDb.message).toMatch(/does not serve OVN_Southbound/);
  });
});

describe('Database conditional monitoring on a real SB (northd running)', () => {
  let sandbox: OvnSandbox;
  const dbs: Database[] = [];

  beforeAll(async () => {
    sandbox = await OvnSandbox.start();
    await sandbox.nbctl('lr-add', 'dev-jr');
    await sandbox.nbctl('lrp-add', 'dev-jr', 'lrp0', '00:00:00:00:00:01', '10.9.2.1/24');
    await sandbox.nbctl('--wait=sb', 'lr-route-add', 'dev-jr', '10.9.52.144/28', '10.9.2.146');
  });
  afterAll(async () => {
    for (const d of dbs) await d.close();
    await sandbox?.stop();
  });

  for (const monitorMethod of ['monitor_cond', 'monitor'] as const) {
    it(`returns only matching rows and follows a condition change (${monitorMethod})`, async () => {
      const db = await Database.open({
        remote: sandbox.sbRemote,
        db: 'OVN_Southbound',
        tables: [{ table: 'Logical_Flow', columns: ['match', 'actions', 'external_ids', 'priority'], where: [['external_ids', 'includes', ['map', [['stage-name', 'lr_in_ip_routing']]]]] }],
        monitorMethod,
      });
      dbs.push(db);
      const routing = () => [...db.rows('Logical_Flow').values()];
      expect(routing().length).toBeGreaterThan(0);
      expect(routing().every((r) => (r.external_ids as Record<string, string>)['stage-name'] === 'lr_in_ip_routing')).toBe(true);
      expect(routing().some((r) => String(r.match).includes('10.9.52.144/28') && String(r.actions).includes('reg0 = 10.9.2.146'))).toBe(true);
      const all = await dumpRows(sandbox, 'sb', db.schema, 'Logical_Flow', ['match', 'actions', 'external_ids', 'priority']);
      const expected = new Map([...all].filter(([, r]) => (r.external_ids as Record<string, string>)['stage-name'] === 'lr_in_ip_routing'));
      expect(sameRows(db.rows('Logical_Flow'), expected)).toBe(true);
      expect(all.size).toBeGreaterThan(expected.size);

      // a new route appears as a matching row
      const prefix = monitorMethod === 'monitor' ? '10.9.61.0/24' : '10.9.60.0/24';
      await sandbox.nbctl('--wait=sb', 'lr-route-add', 'dev-jr', prefix, '10.9.2.147');
      await until(() => routing().some((r) => String(r.match).includes(prefix)), 'new route flow');

      await db.setCondition('Logical_Flow', [['external_ids', 'includes', ['map', [['stage-name', 'lr_in_arp_resolve']]]]]);
      await until(() => routing().length > 0 && routing().every((r) => (r.external_ids as Record<string, string>)['stage-name'] === 'lr_in_arp_resolve'), 'condition change followed');
      const arp = new Map([...(await dumpRows(sandbox, 'sb', db.schema, 'Logical_Flow', ['match', 'actions', 'external_ids', 'priority']))].filter(([, r]) => (r.external_ids as Record<string, string>)['stage-name'] === 'lr_in_arp_resolve'));
      expect(sameRows(db.rows('Logical_Flow'), arp)).toBe(true);
      await db.close();
    });

    it(`ORs the clauses of a monitor condition, as ovsdb-server does (${monitorMethod})`, async () => {
      const stages = ['lr_in_ip_routing', 'lr_in_arp_resolve'];
      const db = await Database.open({
        remote: sandbox.sbRemote,
        db: 'OVN_Southbound',
        tables: [{ table: 'Logical_Flow', columns: ['external_ids'], where: stages.map((s) => ['external_ids', 'includes', ['map', [['stage-name', s]]]] as Condition) }],
        monitorMethod,
      });
      dbs.push(db);
      const all = await dumpRows(sandbox, 'sb', db.schema, 'Logical_Flow', ['external_ids']);
      const expected = new Map([...all].filter(([, r]) => stages.includes((r.external_ids as Record<string, string>)['stage-name']!)));
      expect(expected.size).toBeGreaterThan(0);
      expect(sameRows(db.rows('Logical_Flow'), expected)).toBe(true);
      await db.close();
    });
  }
});
