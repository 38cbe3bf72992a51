// monitor_cond_since on a real 3-member RAFT SB: after the connection is cut (the server keeps
// running) or the member it used is stopped, the replica reconnects with its last transaction id
// and receives only what changed while it was away (insert, modify, delete), ending equal to a
// fresh `ovsdb-client dump`. A standalone server keeps no history: found=false, a full sync that
// still deletes what vanished.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvnSandbox, clusterLeader } from '../../operator/sandbox/sandbox.js';
import { Database, type RowChange } from '../../operator/ovsdb/index.js';
import { dumpRows, sameRows, until } from './helpers.js';
import { TcpProxy } from './servers.js';

const CHASSIS = 150;
const tables = [
  { table: 'Chassis', columns: ['name', 'hostname', 'encaps'] },
  { table: 'Encap', columns: ['type', 'ip', 'chassis_name'] },
];

/** One ovn-sbctl run adding chassis from..to (each with one Encap row), as a CMS would. */
async function addChassis(sandbox: OvnSandbox, from: number, to: number): Promise<void> {
  const args: string[] = [];
  for (let i = from; i < to; i++) args.push(...(args.length ? ['--'] : []), 'chassis-add', `hv${i}`, 'geneve', `192.0.2.${(i % 250) + 1}`);
  await sandbox.sbctl(...args);
}

async function converged(sandbox: OvnSandbox, db: Database): Promise<boolean> {
  return (
    sameRows(db.rows('Chassis'), await dumpRows(sandbox, 'sb', db.schema, 'Chassis', tables[0]!.columns)) &&
    sameRows(db.rows('Encap'), await dumpRows(sandbox, 'sb', db.schema, 'Encap', tables[1]!.columns))
  );
}

const names = (db: Database) => new Set([...db.rows('Chassis').values()].map((r) => String(r.name)));
const hostname = (db: Database, name: string) => [...db.rows('Chassis').values()].find((r) => r.name === name)?.hostname;

describe('monitor_cond_since on a clustered SB', () => {
  let sandbox: OvnSandbox;
  const dbs: Database[] = [];
  let proxy: TcpProxy | undefined;

  beforeAll(async () => {
    sandbox = await OvnSandbox.start({ cluster: true, northd: false });
    await addChassis(sandbox, 0, CHASSIS);
  }, 120_000);
  afterAll(async () => {
    for (const d of dbs) await d.close();
    await proxy?.stop();
    await sandbox?.stop();
  });

  it('after a cut connection, transfers only the changes made while away', async () => {
    const leader = (await clusterLeader(sandbox, sandbox.sb))!;
    proxy = await TcpProxy.start(leader.port);
    const db = await Database.open({ remote: proxy.remote, db: 'OVN_Southbound', tables, backoffMinMs: 100, backoffMaxMs: 300 });
    dbs.push(db);
    const first = db.status().sync!;
    expect(first).toMatchObject({ method: 'monitor_cond_since', found: false, rows: 2 * CHASSIS, syncs: 1 });
    expect(db.status().method).toBe('monitor_cond_since');
    const changes: RowChange[] = [];
    db.on('change', (c: RowChange[]) => changes.push(...c));
    await until(() => changes.length === 2 * CHASSIS, 'initial rows emitted');
    // ovsdb-server trims its history to about the size of the database: the one big transaction
    // that created the fixture drops out of it soon. Be at a later, small transaction.
    await sandbox.sbctl('chassis-add', 'hv-before', 'geneve', '198.51.100.6');
    await until(() => names(db).has('hv-before'), 'update3 applied');
    changes.length = 0;

    await proxy.cut();
    await until(() => !db.status().connected, 'replica notices the cut');
    // while away: one insert (Chassis + Encap), one modify, one delete (Chassis + Encap)
    await sandbox.sbctl('chassis-add', 'hv-new', 'geneve', '198.51.100.7');
    await sandbox.sbctl('set', 'Chassis', 'hv3', 'hostname=moved.example');
    await sandbox.sbctl('chassis-del', 'hv7');
    await proxy.restore();

    await until(() => db.status().connected && db.status().sync!.syncs === 2, 'replica resynced', 30_000);
    const sync = db.status().sync!;
    expect(sync).toMatchObject({ method: 'monitor_cond_since', found: true });
    // only the changed rows came over the wire: 2 inserted + 1 modified + 2 deleted
    expect(sync.rows).toBe(5);
    expect(sync.changes).toBe(5);
    expect(sync.bytes).toBeLessThan(first.bytes / 10);
    expect(names(db).has('hv-new')).toBe(true);
    expect(names(db).has('hv7')).toBe(false);
    expect(hostname(db, 'hv3')).toBe('moved.example');
    expect(await converged(sandbox, db)).toBe(true);
    // the change event carried exactly those changes
    expect(changes.filter((c) => c.table === 'Chassis').map((c) => (c.new ? (c.old ? `mod ${c.new.name}` : `add ${c.new.name}`) : `del ${c.old!.name}`)).sort()).toEqual([
      'add hv-new',
      'del hv7',
      'mod hv3',
    ]);

    // and it keeps following with update3
    await sandbox.sbctl('chassis-add', 'hv-after', 'geneve', '198.51.100.8');
    await until(() => names(db).has('hv-after'), 'update3 applied');
  });

  it('after the member it used is stopped, resyncs from another member with only the changes', async () => {
    const leader = (await clusterLeader(sandbox, sandbox.sb))!;
    const db = await Database.open({ remote: sandbox.sbRemote, db: 'OVN_Southbound', tables, backoffMinMs: 100, backoffMaxMs: 500 });
    dbs.push(db);
    expect(db.status().remote).toBe(leader.tcpRemote);
    const total = db.rows('Chassis').size + db.rows('Encap').size;

    await leader.stop();
    await until(async () => !!(await clusterLeader(sandbox, sandbox.sb)), 'a new leader', 30_000);
    await sandbox.sbctl('chassis-add', 'hv-during', 'geneve', '198.51.100.9');
    await sandbox.sbctl('set', 'Chassis', 'hv4', 'hostname=during.example');
    await sandbox.sbctl('chassis-del', 'hv8');
    await until(async () => db.status().connected && db.status().remote !== leader.tcpRemote && names(db).has('hv-during') && !names(db).has('hv8') && (await converged(sandbox, db)), 'replica on another member, converged', 30_000);
    const sync = db.status().sync!;
    expect(sync.method).toBe('monitor_cond_since');
    expect(sync.found).toBe(true);
    expect(sync.rows).toBeLessThan(total / 10);
    expect(hostname(db, 'hv4')).toBe('during.example');
    await leader.start();
  });
});

describe('monitor_cond_since on a standalone server (no history)', () => {
  let sandbox: OvnSandbox;
  let db: Database | undefined;
  let proxy: TcpProxy | undefined;

  beforeAll(async () => {
    sandbox = await OvnSandbox.start({ northd: false });
    await addChassis(sandbox, 0, 20);
  });
  afterAll(async () => {
    await db?.close();
    await proxy?.stop();
    await sandbox?.stop();
  });

  it('gets found=false and a full sync that deletes rows that vanished while away', async () => {
    proxy = await TcpProxy.start(sandbox.sb.members[0]!.port);
    db = await Database.open({ remote: proxy.remote, db: 'OVN_Southbound', tables, backoffMinMs: 100, backoffMaxMs: 300 });
    const d = db;
    await proxy.cut();
    await until(() => !d.status().connected, 'replica notices the cut');
    await sandbox.sbctl('chassis-add', 'hv-new', 'geneve', '198.51.100.7');
    await sandbox.sbctl('set', 'Chassis', 'hv3', 'hostname=moved.example');
    await sandbox.sbctl('chassis-del', 'hv7');
    await proxy.restore();
    await until(() => d.status().connected && d.status().sync!.syncs === 2, 'replica resynced');
    const sync = d.status().sync!;
    expect(sync).toMatchObject({ method: 'monitor_cond_since', found: false, rows: 40, changes: 5 });
    expect(names(d).has('hv7')).toBe(false);
    expect(await converged(sandbox, d)).toBe(true);
  });

  it('falls back cleanly when told to start at monitor_cond (what an old server offers)', async () => {
    const old = await Database.open({ remote: sandbox.sbRemote, db: 'OVN_Southbound', tables, monitorMethod: 'monitor_cond' });
    try {
      expect(old.status()).toMatchObject({ method: 'monitor_cond', sync: { method: 'monitor_cond', found: false } });
      expect(await converged(sandbox, old)).toBe(true);
    } finally {
      await old.close();
    }
  });
});
