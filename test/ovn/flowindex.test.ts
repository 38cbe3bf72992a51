// The SB routing-flow index (sb.ts RoutingFlowIndex) kept up to date from replica changes: after
// each single-row change among many flows (insert, modify, delete, a Logical_DP_Group change) the
// incremental index equals one built from scratch, and a snapshot handed out earlier is unchanged.
// Rows are stored by the real replica cache (TableCache) with the real OVN SB schema; the last
// test runs the same check on a live Database following a real ovsdb-server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OvnSandbox, OVN_SCHEMA_DIR } from '../../operator/sandbox/sandbox.js';
import { Database, OvsdbClient, map, normalizeSchema, uuid, type Operation, type Row, type RowChange } from '../../operator/ovsdb/index.js';
import { TableCache, decodeTableUpdates } from '../../operator/ovsdb/replica.js';
import { RoutingFlowIndex, sbView, type SbView } from '../../operator/ovn/sb.js';
import type { RowSource } from '../../operator/ovn/rows.js';
import { SB_TABLES } from '../../operator/ovn/tables.js';
import { until } from '../ovsdb/helpers.js';

const schema = normalizeSchema(JSON.parse(readFileSync(join(OVN_SCHEMA_DIR, 'ovn-sb.ovsschema'), 'utf8')));
const COLUMNS = ['logical_datapath', 'logical_dp_group', 'pipeline', 'table_id', 'priority', 'match', 'actions', 'external_ids'];
const dp = (i: number) => `d${String(i).padStart(7, '0')}-0000-0000-0000-000000000000`;
const fl = (i: number) => `f${String(i).padStart(7, '0')}-0000-0000-0000-000000000000`;
const GROUP = 'g0000000-0000-0000-0000-000000000000';

type Indexes = Pick<SbView, 'routingFlows' | 'routingFlowIndex' | 'routeTableIds' | 'ecmpMembers'>;

/** The indexes as plain sorted data (Map order carries no meaning; list order does). */
function plain(v: Indexes): unknown {
  const sorted = <T>(m: ReadonlyMap<string, T>) => [...m].sort(([a], [b]) => (a < b ? -1 : 1));
  return {
    routingFlows: sorted(v.routingFlows).map(([d, l]) => [d, l.map((f) => [f.uuid, f.priority, f.datapaths, f.actions, f.action, f.route?.prefix.text])]),
    routingFlowIndex: sorted(v.routingFlowIndex).map(([d, m]) => [d, sorted(m).map(([k, l]) => [k, l.map((f) => f.uuid)])]),
    routeTableIds: sorted(v.routeTableIds).map(([d, m]) => [d, sorted(m)]),
    ecmpMembers: sorted(v.ecmpMembers).map(([k, m]) => [k, m.uuid, m.action]),
  };
}

function wireFlow(i: number, stage: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    logical_datapath: ['uuid', dp(i % 7)],
    pipeline: 'ingress',
    table_id: 13,
    priority: 100 + (i % 3),
    external_ids: ['map', [['stage-name', stage], ['stage-hint', (0x1000 + i).toString(16)]]],
  };
  if (stage === 'lr_in_ip_routing') {
    base.match = `ip4.dst == 10.${i % 5}.0.0/16`; // several flows share a prefix: lists with ties
    base.actions = `ip.ttl--; reg8[0..15] = 0; reg0 = 192.168.${i % 4}.1; reg1 = 192.168.0.254; eth.src = 00:00:00:00:00:01; outport = "lrp${i % 4}"; flags.loopback = 1; next;`;
  } else if (stage === 'lr_in_ip_routing_ecmp') {
    base.match = `reg8[0..15] == ${1 + (i % 2)} && reg8[16..31] == ${1 + (i % 3)}`;
    base.actions = `reg0 = 192.168.9.${i % 250}; reg1 = 192.168.0.254; eth.src = 00:00:00:00:00:01; outport = "lrp0"; next;`;
  } else {
    base.match = `inport == "lrp${i % 4}"`;
    base.actions = `reg7 = ${i % 3}; next;`;
  }
  return { ...base, ...over };
}

describe('RoutingFlowIndex on the replica cache', () => {
  const cache = new TableCache(schema, [
    { table: 'Logical_Flow', columns: COLUMNS },
    { table: 'Logical_DP_Group', columns: ['datapaths'] },
  ]);
  const source: RowSource = { rows: (t) => cache.rows(t) };
  const stages = ['lr_in_ip_routing', 'lr_in_ip_routing', 'lr_in_ip_routing', 'lr_in_ip_routing_ecmp', 'lr_in_ip_routing_pre', 'ls_in_acl'];
  const initial: Record<string, unknown> = {};
  for (let i = 0; i < 600; i++) initial[fl(i)] = { initial: wireFlow(i, stages[i % stages.length]!) };
  cache.apply(decodeTableUpdates({ Logical_Flow: initial, Logical_DP_Group: { [GROUP]: { initial: { datapaths: ['set', [['uuid', dp(1)], ['uuid', dp(2)]]] } } } }));
  const live = new RoutingFlowIndex(source);
  const step = (updates: Record<string, Record<string, unknown>>): void => live.apply(cache.apply(decodeTableUpdates(updates)) as RowChange[]);
  const fresh = () => plain(new RoutingFlowIndex(source).snapshot());

  it('starts equal to a from-scratch build and to the view of the same rows', () => {
    expect(plain(live.snapshot())).toEqual(fresh());
    expect(plain(live.snapshot())).toEqual(plain(sbView(source)));
    expect(live.snapshot().routingFlows.get(dp(0))!.length).toBeGreaterThan(10);
  });

  it('stays equal after each single-row change, and earlier snapshots do not move', () => {
    const before = live.snapshot();
    const frozen = JSON.stringify(plain(before));
    const changes: Record<string, Record<string, unknown>>[] = [
      { Logical_Flow: { [fl(10_000)]: { insert: wireFlow(10_000, 'lr_in_ip_routing') } } },
      { Logical_Flow: { [fl(0)]: { modify: { priority: 5 } } } },
      { Logical_Flow: { [fl(6)]: { modify: { actions: 'drop;' } } } },
      { Logical_Flow: { [fl(12)]: { modify: { match: 'ip4.dst == 10.77.0.0/16' } } } },
      { Logical_Flow: { [fl(1)]: { delete: null } } },
      { Logical_Flow: { [fl(3)]: { modify: { match: 'reg8[0..15] == 2 && reg8[16..31] == 3' } } } },
      { Logical_Flow: { [fl(4)]: { modify: { actions: 'reg7 = 9; next;' } } } },
      { Logical_Flow: { [fl(18)]: { modify: { external_ids: ['map', [['stage-name', 'lr_in_ip_routing']]] } } } }, // leaves ecmp for... a non-route match
      { Logical_Flow: { [fl(5)]: { modify: { external_ids: ['map', [['stage-name', 'ls_in_acl'], ['stage-name', 'lr_in_ip_routing']]], match: 'ip4.dst == 10.1.0.0/16', actions: 'reg0 = 192.168.3.3; next;' } } } },
      // a flow moves into the datapath group, then the group changes its datapaths
      { Logical_Flow: { [fl(2)]: { modify: { logical_datapath: ['uuid', dp(2 % 7)], logical_dp_group: ['uuid', GROUP] } } } },
      { Logical_DP_Group: { [GROUP]: { modify: { datapaths: ['set', [['uuid', dp(2)], ['uuid', dp(5)]]] } } } },
      { Logical_Flow: { [fl(8)]: { delete: null } } },
    ];
    for (const c of changes) {
      step(c);
      expect(plain(live.snapshot())).toEqual(fresh());
    }
    expect(JSON.stringify(plain(before))).toBe(frozen);
    const moved = live.snapshot().routingFlows.get(dp(5))!.find((f) => f.uuid === fl(2));
    expect(moved?.datapaths).toEqual([dp(1), dp(5)]); // update2 set diffs toggle: dp2 out, dp5 in
  });
});

describe('sbView on a live SB replica', () => {
  let sandbox: OvnSandbox;
  let db: Database;
  let writer: OvsdbClient;
  let dps: string[];

  beforeAll(async () => {
    sandbox = await OvnSandbox.start({ northd: false });
    writer = await OvsdbClient.connect(sandbox.sb.members[0]!.unixRemote, { probeIntervalMs: 0 });
    const res = (await writer.transact('OVN_Southbound', [0, 1, 2].map((i) => ({ op: 'insert', table: 'Datapath_Binding', row: { tunnel_key: i + 1, external_ids: map({ name: `r${i}` }) } }) as Operation))) as { uuid: [string, string] }[];
    dps = res.map((r) => r.uuid[1]);
    const ops: Operation[] = [];
    for (let i = 0; i < 300; i++) {
      const w = wireFlow(i, i % 10 === 9 ? 'lr_in_ip_routing_ecmp' : 'lr_in_ip_routing');
      ops.push({ op: 'insert', table: 'Logical_Flow', row: { ...w, logical_datapath: uuid(dps[i % 3]!), external_ids: map({ 'stage-name': i % 10 === 9 ? 'lr_in_ip_routing_ecmp' : 'lr_in_ip_routing' }) } as never });
    }
    await writer.transact('OVN_Southbound', ops);
    db = await Database.open({ remote: sandbox.sb.members[0]!.unixRemote, db: 'OVN_Southbound', tables: SB_TABLES, backoffMinMs: 50, backoffMaxMs: 400 });
  });
  afterAll(async () => {
    await writer?.close();
    await db?.close();
    await sandbox?.stop();
  });

  const scratch = (): unknown => plain(sbView({ rows: (t) => db.rows(t) }));

  it('keeps its flow index from the change events, equal to a from-scratch view after each change', async () => {
    await until(() => db.rows('Logical_Flow').size === 300, 'initial flows');
    expect(plain(sbView(db))).toEqual(scratch());
    const some = [...db.rows('Logical_Flow').values()].find((r: Row) => String(r.match).startsWith('ip4.dst'))!;
    const steps: Operation[] = [
      { op: 'update', table: 'Logical_Flow', where: [['_uuid', '==', uuid(some._uuid)]], row: { priority: 1 } },
      { op: 'insert', table: 'Logical_Flow', row: { ...wireFlow(999, 'lr_in_ip_routing'), logical_datapath: uuid(dps[1]!), external_ids: map({ 'stage-name': 'lr_in_ip_routing' }) } as never },
      { op: 'delete', table: 'Logical_Flow', where: [['_uuid', '==', uuid(some._uuid)]] },
    ];
    for (const [k, op] of steps.entries()) {
      await writer.transact('OVN_Southbound', [op]);
      await until(() => db.rows('Logical_Flow').size === [300, 301, 300][k] && (k !== 0 || db.get('Logical_Flow', some._uuid)?.priority === 1), `step ${k}`);
      expect(plain(sbView(db))).toEqual(scratch());
    }
  });
});
