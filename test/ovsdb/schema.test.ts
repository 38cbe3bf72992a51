// Schemas that differ from what the replica follows, on a real ovsdb-server: an older SB schema
// without followed tables and columns (Chassis_Private, BFD, Port_Binding.additional_chassis)
// degrades instead of failing the monitor, and says what is missing; converting the database to
// the full schema (an upgrade: `ovsdb-client convert`, the server cancels monitors) is followed by
// re-reading the schema and monitoring again on the same connection; converting back drops them;
// an offline upgrade (stop, `ovsdb-tool convert`, start) is followed through the reconnect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OVN_SCHEMA_DIR, type OvsdbServerProcess } from '../../operator/sandbox/sandbox.js';
import { Database, namedUuid, uuid, type Operation, type RowChange } from '../../operator/ovsdb/index.js';
import { SB_TABLES } from '../../operator/ovn/tables.js';
import { until } from './helpers.js';
import { ServerSet, ovsdbClient } from './servers.js';

const execFileP = promisify(execFile);
const SB_SCHEMA = join(OVN_SCHEMA_DIR, 'ovn-sb.ovsschema');
const BFD = { table: 'BFD', columns: ['logical_port', 'dst_ip', 'status'] };

async function transact(server: OvsdbServerProcess, ops: Operation[]): Promise<unknown[]> {
  const out = await ovsdbClient('transact', server.tcpRemote, JSON.stringify(['OVN_Southbound', ...ops]));
  if (out.includes('"error"')) throw new Error(`transaction failed: ${out}`);
  return JSON.parse(out) as unknown[];
}

describe('server schema without followed tables and columns', () => {
  let set: ServerSet;
  let server: OvsdbServerProcess;
  let db: Database | undefined;
  let reduced: string;

  beforeAll(async () => {
    set = await ServerSet.create();
    reduced = await set.reducedSchema(
      'ovn-sb.ovsschema',
      { tables: ['Chassis_Private', 'BFD'], columns: [['Port_Binding', 'additional_chassis'], ['Port_Binding', 'additional_encap']] },
      '20.21.0',
    );
    server = await set.standalone('old-sb', reduced);
    await transact(server, [
      { op: 'insert', table: 'SB_Global', row: { nb_cfg: 4 } },
      { op: 'insert', table: 'Encap', 'uuid-name': 'e', row: { type: 'geneve', ip: '192.0.2.1', chassis_name: 'hv1' } },
      { op: 'insert', table: 'Chassis', row: { name: 'hv1', hostname: 'hv1', encaps: namedUuid('e') } },
    ]);
  });
  afterAll(async () => {
    await db?.close();
    await set?.stop();
  });

  it('follows what the server has and records the rest as missing, without failing the monitor', async () => {
    db = await Database.open({ remote: server.tcpRemote, db: 'OVN_Southbound', tables: [...SB_TABLES, BFD], backoffMinMs: 100, backoffMaxMs: 500 });
    expect(db.schema.version).toBe('20.21.0');
    expect(db.missing()).toEqual({ tables: ['Chassis_Private', 'BFD'], columns: [{ table: 'Port_Binding', column: 'additional_chassis' }] });
    expect(db.has('Chassis_Private')).toBe(false);
    expect(db.has('Port_Binding', 'additional_chassis')).toBe(false);
    expect(db.has('Port_Binding', 'chassis')).toBe(true);
    // a missing table reads as empty, never throws; present tables are followed as usual
    expect(db.rows('Chassis_Private').size).toBe(0);
    expect(db.rows('BFD').size).toBe(0);
    expect([...db.rows('Chassis').values()].map((r) => r.name)).toEqual(['hv1']);
    expect([...db.rows('SB_Global').values()][0]!.nb_cfg).toBe(4);
    expect(db.status()).toMatchObject({ connected: true, stale: false, missing: db.missing() });
    // let the initial sync's change event go out before the next test listens
    await new Promise((r) => setImmediate(r));
  });

  it('follows a conversion to the full schema on the same connection, then back', async () => {
    const d = db!;
    const changes: RowChange[] = [];
    d.on('change', (c: RowChange[]) => changes.push(...c));
    const schemas: string[] = [];
    d.on('schema', (s: { version: string }) => schemas.push(s.version));

    await ovsdbClient('convert', server.tcpRemote, SB_SCHEMA);
    await until(() => d.missing().tables.length === 0, 'schema re-read after the conversion');
    expect(d.missing()).toEqual({ tables: [], columns: [] });
    expect(d.schema.version).not.toBe('20.21.0');
    expect(schemas).toHaveLength(1);
    expect(d.status()).toMatchObject({ connected: true, reconnects: 0 });
    // the rows did not change: no change events for them
    expect(changes).toEqual([]);

    const hv1 = [...d.rows('Chassis').values()][0]!._uuid;
    await transact(server, [{ op: 'insert', table: 'Chassis_Private', row: { name: 'hv1', chassis: uuid(hv1), nb_cfg: 4 } }]);
    await until(() => d.rows('Chassis_Private').size === 1, 'a table the old schema lacked is followed');
    expect([...d.rows('Chassis_Private').values()][0]).toMatchObject({ name: 'hv1', chassis: [hv1], nb_cfg: 4 });

    // a downgrade drops the table again: its rows are reported deleted, and it is missing again
    changes.length = 0;
    await ovsdbClient('convert', server.tcpRemote, reduced);
    await until(() => d.missing().tables.includes('Chassis_Private'), 'schema re-read after converting back');
    expect(d.rows('Chassis_Private').size).toBe(0);
    expect(changes.map((c) => `${c.table} ${c.new ? 'new' : 'gone'}`)).toEqual(['Chassis_Private gone']);
    expect([...d.rows('Chassis').values()].map((r) => r.name)).toEqual(['hv1']);
    expect(d.status().reconnects).toBe(0);
  });

  it('follows an offline upgrade (server stopped, ovsdb-tool convert, restarted) through the reconnect', async () => {
    const d = db!;
    await server.stop();
    await until(() => !d.status().connected, 'replica notices the stop');
    await execFileP('ovsdb-tool', ['convert', server.dbFile, SB_SCHEMA]);
    await server.start();
    await until(() => d.status().connected && d.missing().tables.length === 0, 'replica on the upgraded server', 30_000);
    expect(d.has('Port_Binding', 'additional_chassis')).toBe(true);
    expect(d.status().reconnects).toBe(1);
    const hv1 = [...d.rows('Chassis').values()][0]!._uuid;
    await transact(server, [{ op: 'insert', table: 'Chassis_Private', row: { name: 'hv1', chassis: uuid(hv1), nb_cfg: 5 } }]);
    await until(() => d.rows('Chassis_Private').size === 1, 'the new table followed after the reconnect');
  });
});
