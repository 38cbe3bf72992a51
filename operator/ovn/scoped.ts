// Scoped reads: evaluating a handful of dirty PodCIDRRoutes must not cost a rebuild of the whole
// NB/SB views (5,000 routes and their flows). A RowKeyIndex keeps, per table, which row uuids carry
// which identity (prefix, nexthop IP, port name), updated from the replicas' change events; a
// ScopedSource then exposes to nbView/sbView only the rows the dirty resources can depend on:
// their static routes and routing flows (by prefix), the ports carrying any nexthop involved
// (desired, NB, or SB flow), those ports' bindings, and every row of the small tables (routers,
// router ports, switches, datapaths, chassis, encaps, globals). Dangling references are fine: the
// views skip rows they cannot find. Also exposed: the switch ports that wire the topology
// (type router/localnet/virtual, key infra:*), so the router port -> switch scope of topology.ts
// holds in a scoped read too. Policies, Address_Set, MAC_Binding and HA tables are small and
// exposed whole. Reads replicas only; must not write or import kube code.
import type { Row, RowChange, Uuid } from '../ovsdb/types.js';
import { staticRouteSet, type RowSource } from './rows.js';
import { parseRoutingActions } from './flows.js';
import { ipsInText, routerPortIps } from './addresses.js';
import { ecmpKey, rowKeys, type Key } from './identities.js';
import { routerDatapaths } from './shard.js';

/** Tables whose rows are selected by key; every other table is exposed whole. */
const SCOPED = new Set(['Logical_Router_Static_Route', 'Logical_Switch_Port', 'Logical_Flow', 'Port_Binding']);

export class RowKeyIndex {
  private readonly byKey = new Map<string, Map<Key, Set<Uuid>>>();
  private readonly keysOf = new Map<string, Map<Uuid, Key[]>>();

  constructor(source: RowSource, tables: readonly string[]) {
    for (const t of tables) {
      if (!SCOPED.has(t)) continue;
      this.byKey.set(t, new Map());
      this.keysOf.set(t, new Map());
      for (const row of source.rows(t).values()) this.add(t, row);
    }
  }

  private add(table: string, row: Row): void {
    const idx = this.byKey.get(table)!;
    const keys = rowKeys(table, row);
    this.keysOf.get(table)!.set(row._uuid, keys);
    for (const k of keys) {
      let s = idx.get(k);
      if (!s) idx.set(k, (s = new Set()));
      s.add(row._uuid);
    }
  }

  private remove(table: string, uuid: Uuid): void {
    const keys = this.keysOf.get(table)!.get(uuid);
    if (!keys) return;
    const idx = this.byKey.get(table)!;
    for (const k of keys) {
      const s = idx.get(k);
      s?.delete(uuid);
      if (s && s.size === 0) idx.delete(k);
    }
    this.keysOf.get(table)!.delete(uuid);
  }

  apply(changes: readonly RowChange[]): void {
    for (const c of changes) {
      if (!this.byKey.has(c.table)) continue;
      this.remove(c.table, c.uuid);
      if (c.new) this.add(c.table, c.new);
    }
  }

  uuids(table: string, keys: Iterable<Key>): Set<Uuid> {
    const out = new Set<Uuid>();
    const idx = this.byKey.get(table);
    if (!idx) return out;
    for (const k of keys) for (const u of idx.get(k) ?? []) out.add(u);
    return out;
  }
}

class ScopedSource implements RowSource {
  constructor(
    private readonly base: RowSource,
    private readonly selected: Map<string, ReadonlyMap<Uuid, Row>>,
  ) {}

  rows(table: string): ReadonlyMap<Uuid, Row> {
    return this.selected.get(table) ?? this.base.rows(table);
  }

  assertFresh(): void {
    this.base.assertFresh?.();
  }
}

function pick(source: RowSource, table: string, uuids: Set<Uuid>): Map<Uuid, Row> {
  const all = source.rows(table);
  const out = new Map<Uuid, Row>();
  for (const u of uuids) {
    const r = all.get(u);
    if (r) out.set(u, r);
  }
  return out;
}

const nexthopIps = ipsInText;

/**
 * Row sources restricted to what resources with these prefixes and nexthops can depend on.
 * `prefixes` are normalised prefix texts; `nexthops` the desired nexthop IPs.
 */
export function scopedSources(
  nb: RowSource,
  sb: RowSource,
  nbIndex: RowKeyIndex,
  sbIndex: RowKeyIndex,
  prefixes: Iterable<string>,
  nexthops: Iterable<string>,
  routers: Iterable<string> = [],
): { nb: RowSource; sb: RowSource } {
  const prefixKeys: Key[] = [...prefixes].map((p) => `prefix:${p}` as Key);
  const ips = new Set<string>([...nexthops].flatMap(nexthopIps));

  const routeUuids = nbIndex.uuids('Logical_Router_Static_Route', prefixKeys);
  const routes = pick(nb, 'Logical_Router_Static_Route', routeUuids);
  for (const r of routes.values()) for (const ip of nexthopIps(String(r.nexthop ?? ''))) ips.add(ip);

  // ECMP member flows: those shared through a datapath group, and those of the datapaths of the
  // routers involved (the resources' routers and the routers holding their prefixes), not every
  // router's (thousands of flows at field scale)
  const routerNames = new Set<string>(routers);
  const routeSet = new Set(routeUuids);
  const holdsARoute = (lr: Row) => {
    const own = staticRouteSet(lr);
    for (const u of routeSet) if (own.has(u)) return true;
    return false;
  };
  if (routeSet.size > 0) for (const lr of nb.rows('Logical_Router').values()) if (holdsARoute(lr)) routerNames.add(String(lr.name ?? ''));
  const ecmpKeys: Key[] = ['prefix:*ecmp' as Key, ...[...routerDatapaths(nb, sb, routerNames)].map(ecmpKey)];
  const flowUuids = sbIndex.uuids('Logical_Flow', [...prefixKeys, ...ecmpKeys]);
  const flows = pick(sb, 'Logical_Flow', flowUuids);
  for (const f of flows.values()) {
    const a = parseRoutingActions(String(f.actions ?? ''));
    if (a.kind === 'nexthop') for (const ip of nexthopIps(a.nexthop)) ips.add(ip);
  }

  // policy reroute nexthops of every router are in scope too (few rows)
  for (const p of nb.rows('Logical_Router_Policy').values()) for (const ip of [...nexthopIps(String(p.nexthops ?? '')), ...nexthopIps(String(p.nexthop ?? ''))]) ips.add(ip);
  const ipKeys: Key[] = [...ips].map((ip) => `nexthop:${ip}` as Key);
  const lsps = pick(nb, 'Logical_Switch_Port', nbIndex.uuids('Logical_Switch_Port', [...ipKeys, 'infra:router', 'infra:localnet', 'infra:virtual'] as Key[]));
  const portNames = new Set<string>([...lsps.values()].map((r) => String(r.name ?? '')));
  for (const lrp of nb.rows('Logical_Router_Port').values()) {
    if (routerPortIps(lrp).some((ip) => ips.has(ip))) portNames.add(String(lrp.name ?? ''));
  }
  for (const r of lsps.values()) {
    const parents = String((r.options as Record<string, string> | undefined)?.['virtual-parents'] ?? '');
    for (const p of parents.split(/[\s,]+/).filter(Boolean)) portNames.add(p);
  }
  const portKeys: Key[] = [...portNames].flatMap((n) => [`port:${n}` as Key, `port:cr-${n}` as Key]);
  const bindings = pick(sb, 'Port_Binding', sbIndex.uuids('Port_Binding', portKeys));

  return {
    nb: new ScopedSource(nb, new Map<string, ReadonlyMap<Uuid, Row>>([['Logical_Router_Static_Route', routes], ['Logical_Switch_Port', lsps]])),
    sb: new ScopedSource(sb, new Map<string, ReadonlyMap<Uuid, Row>>([['Logical_Flow', flows], ['Port_Binding', bindings]])),
  };
}
