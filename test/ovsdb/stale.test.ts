// Stale views on real servers, as data: a relay (`_Server` model relay) whose source is killed, a
// read-only backup of an active/backup pair (`--sync-from`), and the pure rules (cut-off member,
// index behind). Each says which server and why, through assertFresh() (StaleView with
// `.staleness`), freshness() and status(); reconnecting/recovering makes the view fresh again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { OVN_SCHEMA_DIR } from '../../operator/sandbox/sandbox.js';
import { Database, StaleViewError, WriteRefusedError, namedUuid, staleReason, rankServer, type Operation, type Staleness } from '../../operator/ovsdb/index.js';
import { until } from './helpers.js';
import { ServerSet, ovsdbClient } from './servers.js';

const SB_SCHEMA = join(OVN_SCHEMA_DIR, 'ovn-sb.ovsschema');
const tables = [{ table: 'Chassis', columns: ['name', 'hostname'] }];
const opts = { db: 'OVN_Southbound', tables, backoffMinMs: 100, backoffMaxMs: 500 };

function staleErr(db: Database): StaleViewError | undefined {
  try {
    db.assertFresh();
    return undefined;
  } catch (err) {
    return err as StaleViewError;
  }
}

/** A Chassis with its Encap, in one transaction (Chassis.encaps needs at least one). */
let nextIp = 1;
function chassisOps(name: string): Operation[] {
  return [
    { op: 'insert', table: 'Encap', 'uuid-name': 'e', row: { type: 'geneve', ip: `192.0.2.${nextIp++}`, chassis_name: name } },
    { op: 'insert', table: 'Chassis', row: { name, hostname: name, encaps: namedUuid('e') } },
  ];
}

async function addChassis(remote: string, name: string): Promise<void> {
  const out = await ovsdbClient('transact', remote, JSON.stringify(['OVN_Southbound', ...chassisOps(name)]));
  if (out.includes('"error"')) throw new Error(`adding chassis ${name} failed: ${out}`);
}

const names = (db: Database) => [...db.rows('Chassis').values()].map((r) => r.name).sort();

describe('relay cut off from its source', () => {
  let set: ServerSet;
  const dbs: Database[] = [];
  beforeAll(async () => {
    set = await ServerSet.create();
  });
  afterAll(async () => {
    for (const d of dbs) await d.close();
    await set?.stop();
  });

  it('is fresh while connected, stale with reason relay-cut-off when the source dies, fresh again when it returns', async () => {
    const source = await set.standalone('source', SB_SCHEMA);
    const relay = await set.relay('relay', 'OVN_Southbound', source.tcpRemote);
    await addChassis(source.tcpRemote, 'hv1');
    const db = await Database.open({ ...opts, remote: relay.tcpRemote });
    dbs.push(db);
    await until(() => names(db).includes('hv1'), 'rows through the relay');
    expect(db.status()).toMatchObject({ connected: true, model: 'relay', stale: false });
    expect(db.freshness()).toEqual({ fresh: true, server: relay.tcpRemote });

    await source.stop();
    // ovsdb-server reports a relay as disconnected once it has failed to reach its source for 30 s
    await until(() => db.status().stale, 'relay reported cut off', 60_000);
    const err = staleErr(db);
    expect(err).toBeInstanceOf(StaleViewError);
    expect(err!.code).toBe('StaleView');
    expect(err!.staleness).toMatchObject({ reason: 'relay-cut-off', server: relay.tcpRemote, db: 'OVN_Southbound' });
    expect(err!.message).toContain(relay.tcpRemote);
    expect(err!.message).toContain('relay cut off from its source');
    expect(db.freshness()).toMatchObject({ fresh: false, reason: 'relay-cut-off', server: relay.tcpRemote });
    await expect(db.transact([{ op: 'comment', comment: 'x' }])).rejects.toMatchObject({ code: 'StaleView' });

    await source.start();
    await until(() => !db.status().stale, 'relay reconnected to its source', 60_000);
    expect(() => db.assertFresh()).not.toThrow();
    await addChassis(source.tcpRemote, 'hv2');
    await until(() => names(db).includes('hv2'), 'rows through the relay again');
  }, 150_000);
});

describe('active/backup pair', () => {
  let set: ServerSet;
  const dbs: Database[] = [];
  beforeAll(async () => {
    set = await ServerSet.create();
  });
  afterAll(async () => {
    for (const d of dbs) await d.close();
    await set?.stop();
  });

  it('a backup is a stale view (reason backup) whose writes are refused with WriteRefused; a list prefers the active server', async () => {
    const active = await set.standalone('active', SB_SCHEMA);
    const backup = await set.backup('backup', SB_SCHEMA, active.tcpRemote);
    await addChassis(active.tcpRemote, 'hv1');

    const onBackup = await Database.open({ ...opts, remote: backup.tcpRemote });
    dbs.push(onBackup);
    await until(() => names(onBackup).includes('hv1'), 'rows replicated to the backup');
    expect(onBackup.status()).toMatchObject({ connected: true, model: 'standalone', stale: true, staleness: { reason: 'backup', server: backup.tcpRemote } });
    expect(staleErr(onBackup)!.message).toMatch(/read-only.*backup.*--sync-from/);

    // the server itself refuses the write: a typed error naming the server, nothing written
    let refused: unknown;
    try {
      await onBackup.transact(chassisOps('intruder'));
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(WriteRefusedError);
    expect(refused).toMatchObject({ code: 'WriteRefused', why: 'read-only', server: backup.tcpRemote });
    expect((refused as Error).message).toContain(`${backup.tcpRemote} refused the write to OVN_Southbound`);
    const dump = await ovsdbClient('dump', '-f', 'csv', active.tcpRemote, 'OVN_Southbound', 'Chassis', 'name');
    expect(dump).not.toContain('intruder');

    // given both, the replica takes the active server, whatever the order
    const both = await Database.open({ ...opts, remote: `${backup.tcpRemote},${active.tcpRemote}` });
    dbs.push(both);
    expect(both.status()).toMatchObject({ remote: active.tcpRemote, stale: false });
    expect(() => both.assertFresh()).not.toThrow();
    await both.transact(chassisOps('hv2'));
    await until(() => names(onBackup).includes('hv2'), 'the write replicated to the backup');
  });
});

describe('stale rules (pure)', () => {
  const base = { model: 'clustered', connected: true, leader: false };
  const reason = (info: Parameters<typeof staleReason>[0], seen?: number): Omit<Staleness, 'since'> | undefined => staleReason(info, 'tcp:127.0.0.1:1', 'OVN_Northbound', seen);

  it('names cut-off members, relays and backups, and a member whose index is behind one already seen', () => {
    expect(reason(base)).toBeUndefined();
    expect(reason({ ...base, connected: false })).toMatchObject({ reason: 'cut-off' });
    expect(reason({ model: 'relay', connected: false, leader: false })).toMatchObject({ reason: 'relay-cut-off' });
    expect(reason({ model: 'relay', connected: true, leader: false })).toBeUndefined();
    expect(reason({ model: 'standalone', connected: true, leader: true, readOnly: true })).toMatchObject({ reason: 'backup' });
    expect(reason({ ...base, index: 40 }, 41)).toMatchObject({ reason: 'index-behind', index: 40, seenIndex: 41 });
    expect(reason({ ...base, index: 41 }, 41)).toBeUndefined();
    expect(reason({ ...base, index: 40 })).toBeUndefined();
  });

  it('ranks a cut-off relay and a backup as last resorts', () => {
    expect(rankServer({ model: 'relay', connected: true, leader: false })).toBe(3);
    expect(rankServer({ model: 'relay', connected: false, leader: false })).toBe(1);
    expect(rankServer({ model: 'standalone', connected: true, leader: true, readOnly: true })).toBe(1);
    expect(rankServer({ model: 'standalone', connected: true, leader: true })).toBe(3);
  });
});
