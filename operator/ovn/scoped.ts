// Scoped reads: evaluating one dirty PodCIDRRoute must cost work bounded by what that resource can
// depend on, not by the size of the NB/SB (1,000 routers, 200,000 routes and their flows at field
// scale). A RowKeyIndex keeps, per table, which row uuids carry which identity (prefix, nexthop IP,
// port name, router name, MAC, ...) and which parent row holds which child (router -> static
// routes and ports, switch -> ports), updated from the replicas' change events. A ScopedSource
// then exposes to nbView/sbView only the neighbourhood of the resource:
// - its routers (by name) and the routers holding a static route for one of its prefixes; all
//   static routes of its own routers (a more specific one may shadow part of a prefix), and the
//   routes of its prefixes elsewhere;
// - the routers one hop away that the topology model may reach: the peers of their ports and the
//   routers owning a port that carries a nexthop involved;
// - the switches behind all those router ports, with the ports that wire the topology
//   (router/localnet/virtual) and the ports carrying a nexthop involved (desired, NB route, SB
//   flow, policy), or the MAC of a MAC_Binding of one;
// - the routers' policies, the address sets they name, the routes' BFD sessions;
// - SB: the routers' datapaths, the routing flows of the prefixes involved and the ECMP member
//   flows of those datapaths, the bindings of the ports involved, the MAC_Binding rows of the
//   nexthops; chassis, encaps, HA groups and globals whole (few rows; every chassis counts for the
//   tunnel type choice).
// Dangling references are fine: the views skip rows they cannot find. Reads replicas only; must not
// write or import kube code.
import type { Row, RowChange, Uuid } from '../ovsdb/types.js';
import { optStr, staticRouteSet, str, strMap, strSet, type RowSource } from './rows.js';
import { parseRoutingActions } from './flows.js';
import { entryMac, ipsInText, switchPortIps } from './addresses.js';
import { parsePrefix, type Prefix } from './ip.js';
import { ecmpKey, rowKeys } from './identities.js';
import { OWNER_KEY } from './ownership.js';
import { MultiMap } from '../runtime/multimap.js';

/** Tables whose rows are selected by key; every other table is exposed whole or picked by uuid. */
const SCOPED = new Set([
  'Logical_Router',
  'Logical_Router_Port',
  'Logical_Router_Static_Route',
  'Logical_Switch',
  'Logical_Switch_Port',
  'Address_Set',
  'Logical_Flow',
  'Port_Binding',
  'Datapath_Binding',
  'MAC_Binding',
]);

/** Parent tables and the set column naming their children (child uuid -> parent uuid is kept). */
const OWNERS: Record<string, { column: string; kind: OwnerKind }[]> = {
  Logical_Router: [
    { column: 'static_routes', kind: 'route' },
    { column: 'ports', kind: 'lrp' },
  ],
  Logical_Switch: [{ column: 'ports', kind: 'lsp' }],
};
type OwnerKind = 'route' | 'lrp' | 'lsp';


/** Keys only the scoped read uses (not change identities): how rows are found from their neighbours. */
function scopeKeys(table: string, row: Row): string[] {
  switch (table) {
    case 'Logical_Router':
      return [`router:${str(row.name)}`];
    case 'Logical_Switch_Port': {
      // the MACs the topology model matches a MAC_Binding against (the port's IP entries)
      const out: string[] = [...new Set(switchPortIps(row).flatMap((a) => (a.mac ? [`mac:${a.mac}`] : [])))];
      const rp = str(row.type) === 'router' ? strMap(row.options)['router-port'] : undefined;
      if (rp) out.push(`routerport:${rp}`);
      return out;
    }
    case 'Address_Set':
      return [`addrset:${str(row.name)}`];
    case 'Datapath_Binding': {
      const ext = strMap(row.external_ids);
      // as ovn/shard.ts routerDatapaths: by the NB router's uuid, else (older northd) by name
      return ext['logical-router'] !== undefined ? [`dp-lr:${ext['logical-router']}`] : ext.name !== undefined ? [`dp-name:${ext.name}`] : [];
    }
    case 'Port_Binding':
      return strSet(row.mac).flatMap((e) => {
        const mac = entryMac(e);
        return mac ? [`mac:${mac}`] : [];
      });
    case 'Logical_Router_Static_Route': {
      const owner = strMap(row.external_ids)[OWNER_KEY];
      return owner ? [`owner:${owner}`] : [];
    }
    default:
      return [];
  }
}

export class RowKeyIndex {
  private readonly byKey = new Map<string, MultiMap>();
  /** Child uuid -> parent uuid, per owner kind (a child in two parents keeps the last one seen). */
  private readonly owners = new Map<OwnerKind, Map<Uuid, Uuid>>([
    ['route', new Map()],
    ['lrp', new Map()],
    ['lsp', new Map()],
  ]);

  constructor(source: RowSource, tables: readonly string[]) {
    for (const t of tables) {
      if (!SCOPED.has(t)) continue;
      this.byKey.set(t, new MultiMap());
      for (const row of source.rows(t).values()) this.add(t, row);
    }
  }

  /**
   * The same index, built in slices of `slice` rows with the event loop free in between: at field
   * scale one pass takes seconds, long enough for ovsdb-server's inactivity probe to drop a
   * connection we do not answer. Rows changed meanwhile may or may not be seen: apply the changes
   * that arrived during the build afterwards (applying a change twice is harmless).
   */
  static async build(source: RowSource, tables: readonly string[], slice = 5_000): Promise<RowKeyIndex> {
    const idx = new RowKeyIndex(source, []);
    let n = 0;
    for (const t of tables) {
      if (!SCOPED.has(t)) continue;
      idx.byKey.set(t, new MultiMap());
      for (const row of source.rows(t).values()) {
        idx.add(t, row);
        if (++n % slice === 0) await new Promise((r) => setImmediate(r));
      }
    }
    return idx;
  }

  // No uuid -> keys map is kept (it cost as much memory as the index): a change carries the row
  // version it replaces, and the keys are a pure function of the row, so they are computed again.
  private add(table: string, row: Row): void {
    const idx = this.byKey.get(table)!;
    for (const k of rowKeys(table, row)) idx.add(k, row._uuid);
    for (const k of scopeKeys(table, row)) idx.add(k, row._uuid);
    for (const o of OWNERS[table] ?? []) {
      const m = this.owners.get(o.kind)!;
      for (const child of strSet(row[o.column])) m.set(child, row._uuid);
    }
  }

  private remove(table: string, old: Row): void {
    const idx = this.byKey.get(table)!;
    for (const k of rowKeys(table, old)) idx.delete(k, old._uuid);
    for (const k of scopeKeys(table, old)) idx.delete(k, old._uuid);
    for (const o of OWNERS[table] ?? []) {
      const m = this.owners.get(o.kind)!;
      for (const child of strSet(old[o.column])) if (m.get(child) === old._uuid) m.delete(child);
    }
  }

  apply(changes: readonly RowChange[]): void {
    for (const c of changes) {
      if (!this.byKey.has(c.table)) continue;
      if (c.old) this.remove(c.table, c.old);
      if (c.new) this.add(c.table, c.new);
    }
  }

  uuids(table: string, keys: Iterable<string>, into = new Set<Uuid>()): Set<Uuid> {
    const idx = this.byKey.get(table);
    if (idx) for (const k of keys) idx.collect(k, into);
    return into;
  }

  /** The parent rows (routers or switches) holding these child rows (static routes, router ports, switch ports). */
  ownersOf(kind: OwnerKind, children: Iterable<Uuid>, into = new Set<Uuid>()): Set<Uuid> {
    const m = this.owners.get(kind)!;
    for (const c of children) {
      const o = m.get(c);
      if (o) into.add(o);
    }
    return into;
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

/** The rows of `table` with these uuids (those that exist). */
function pick(source: RowSource, table: string, uuids: Iterable<Uuid>, out = new Map<Uuid, Row>()): Map<Uuid, Row> {
  const all = source.rows(table);
  for (const u of uuids) {
    const r = all.get(u);
    if (r) out.set(u, r);
  }
  return out;
}

const INFRA_TYPES = new Set(['router', 'localnet', 'virtual']);
const ADDRESS_SET_REF = /\$([A-Za-z_][\w.]*)/g;

/** A router's static routes ordered by (family, network), built once per router row version. */
type SortedRoute = { family: number; network: bigint; text: string; uuid: Uuid; row: Row };
type SortedRoutes = SortedRoute[];
const sortedRoutes = new WeakMap<Row, SortedRoutes>();

/** The router's static routes whose prefix lies inside one of `prefixes` (equal ones too). */
function routesInside(lr: Row, routeRows: ReadonlyMap<Uuid, Row>, prefixes: readonly Prefix[]): SortedRoute[] {
  let sorted = sortedRoutes.get(lr);
  // a route row modified in place (its ip_prefix) leaves the router row as it was: check the versions
  if (sorted?.some((e) => routeRows.get(e.uuid) !== e.row)) sorted = undefined;
  if (!sorted) {
    sorted = [];
    for (const u of staticRouteSet(lr)) {
      const r = routeRows.get(u);
      const p = r ? parsePrefix(str(r.ip_prefix).trim()) : undefined;
      // an unparsable prefix is kept as family 0 (never inside anything), so its row version is checked too
      if (r) sorted.push({ family: p?.family ?? 0, network: p?.network ?? 0n, text: p?.text ?? '', uuid: u, row: r });
    }
    sorted.sort((a, b) => a.family - b.family || (a.network < b.network ? -1 : a.network > b.network ? 1 : 0));
    // a route added to or removed from the set makes a new router row version
    sortedRoutes.set(lr, sorted);
  }
  const out: SortedRoute[] = [];
  for (const q of prefixes) {
    const end = q.network + (1n << BigInt((q.family === 4 ? 32 : 128) - q.length));
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = sorted[mid]!;
      if (m.family < q.family || (m.family === q.family && m.network < q.network)) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < sorted.length && sorted[i]!.family === q.family && sorted[i]!.network < end; i++) out.push(sorted[i]!);
  }
  return out;
}

/**
 * Row sources restricted to what resources with these prefixes, nexthops and routers can depend
 * on. `prefixes` are normalised prefix texts; `nexthops` the desired nexthop IPs; `routers` the
 * routers the resources name.
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
  const prefixTexts = [...prefixes];
  const parsed = prefixTexts.map((p) => parsePrefix(p)).filter((p): p is Prefix => p !== undefined);
  const ips = new Set<string>([...nexthops].flatMap(ipsInText));
  const lrRows = nb.rows('Logical_Router');

  // the routes of the prefixes (on any router), and the routers involved: the named ones and those
  // holding one of these routes
  const routeUuids = nbIndex.uuids('Logical_Router_Static_Route', prefixTexts.map((p) => `prefix:${p}`));
  const named = nbIndex.uuids('Logical_Router', [...routers].map((n) => `router:${n}`));
  const lrs = nbIndex.ownersOf('route', routeUuids, new Set(named));
  const routes = pick(nb, 'Logical_Router_Static_Route', routeUuids);
  for (const r of routes.values()) for (const ip of ipsInText(str(r.nexthop))) ips.add(ip);
  // the named routers' routes inside a prefix: a more specific one may shadow part of it (its
  // nexthop and its flow then count too)
  const flowPrefixes = new Set(prefixTexts);
  if (parsed.length > 0) {
    const routeRows = nb.rows('Logical_Router_Static_Route');
    for (const lr of named) {
      const row = lrRows.get(lr);
      if (!row) continue;
      for (const e of routesInside(row, routeRows, parsed)) {
        if (routes.has(e.uuid)) continue;
        routes.set(e.uuid, e.row);
        flowPrefixes.add(e.text);
        for (const ip of ipsInText(str(e.row.nexthop))) ips.add(ip);
      }
    }
  }

  // SB datapaths of those routers; their routing flows and ECMP member flows (those of other
  // routers' datapaths are thousands at field scale; those shared through a group always count)
  const dpKeysOf = (lr: Uuid) => [`dp-lr:${lr}`, `dp-name:${str(lrRows.get(lr)?.name)}`];
  const dps = sbIndex.uuids('Datapath_Binding', [...lrs].flatMap(dpKeysOf));
  const flowKeys: string[] = [...flowPrefixes].map((p) => `prefix:${p}`);
  flowKeys.push('prefix:*ecmp', ...[...dps].map(ecmpKey));
  const flows = pick(sb, 'Logical_Flow', sbIndex.uuids('Logical_Flow', flowKeys));
  for (const f of flows.values()) {
    const a = parseRoutingActions(str(f.actions));
    if (a.kind === 'nexthop') for (const ip of ipsInText(a.nexthop)) ips.add(ip);
  }

  // the routers' policies (their reroute nexthops count) and the address sets they name
  const policyRows = nb.rows('Logical_Router_Policy');
  const policies = new Map<Uuid, Row>();
  for (const lr of lrs) for (const u of strSet(lrRows.get(lr)?.policies)) {
    const p = policyRows.get(u);
    if (!p) continue;
    policies.set(u, p);
    for (const ip of [...strSet(p.nexthops).flatMap(ipsInText), ...ipsInText(str(p.nexthop))]) ips.add(ip);
  }

  // one hop further: routers owning a port that carries a nexthop involved, and the peers of the
  // routers' ports (the topology model resolves a nexthop on a peer or a gateway router's port)
  const ipKeys = [...ips].map((ip) => `nexthop:${ip}`);
  const lrpRows = nb.rows('Logical_Router_Port');
  const carrying = nbIndex.uuids('Logical_Router_Port', ipKeys);
  const portNames = new Set<string>([...carrying].map((u) => str(lrpRows.get(u)?.name)));
  nbIndex.ownersOf('lrp', carrying, lrs);
  const peers: string[] = [];
  for (const lr of lrs) for (const u of strSet(lrRows.get(lr)?.ports)) {
    const peer = optStr(lrpRows.get(u)?.peer);
    if (peer) peers.push(`port:${peer}`);
  }
  nbIndex.ownersOf('lrp', nbIndex.uuids('Logical_Router_Port', peers), lrs);
  const routerRows = pick(nb, 'Logical_Router', lrs);
  const lrpUuids: Uuid[] = [];
  for (const r of routerRows.values()) lrpUuids.push(...strSet(r.ports));
  const lrps = pick(nb, 'Logical_Router_Port', lrpUuids);
  pick(nb, 'Logical_Router_Policy', [...routerRows.values()].flatMap((r) => strSet(r.policies)), policies);

  // the switches behind those router ports, with their wiring ports and the ports carrying a
  // nexthop involved (or the MAC a MAC_Binding of one names)
  const macBindings = pick(sb, 'MAC_Binding', sbIndex.uuids('MAC_Binding', ipKeys));
  const macKeys = [...new Set([...macBindings.values()].map((m) => `mac:${str(m.mac).toLowerCase()}`))];
  const wanted = nbIndex.uuids('Logical_Switch_Port', ipKeys);
  nbIndex.uuids('Logical_Switch_Port', macKeys, wanted);
  for (const pb of pick(sb, 'Port_Binding', sbIndex.uuids('Port_Binding', macKeys)).values()) nbIndex.uuids('Logical_Switch_Port', [`port:${str(pb.logical_port)}`], wanted);
  const lsUuids = nbIndex.ownersOf('lsp', nbIndex.uuids('Logical_Switch_Port', [...lrps.values()].map((lrp) => `routerport:${str(lrp.name)}`)));
  const switches = pick(nb, 'Logical_Switch', lsUuids);
  const lspRows = nb.rows('Logical_Switch_Port');
  const lsps = new Map<Uuid, Row>();
  for (const s of switches.values()) {
    for (const u of strSet(s.ports)) {
      const r = lspRows.get(u);
      if (r && (wanted.has(u) || INFRA_TYPES.has(str(r.type)))) lsps.set(u, r);
    }
  }
  for (const r of lsps.values()) {
    portNames.add(str(r.name));
    for (const p of (strMap(r.options)['virtual-parents'] ?? '').split(/[\s,]+/).filter(Boolean)) portNames.add(p);
  }
  const bindings = pick(sb, 'Port_Binding', sbIndex.uuids('Port_Binding', [...portNames].flatMap((n) => [`port:${n}`, `port:cr-${n}`])));

  const addressSetNames = new Set<string>();
  for (const p of policies.values()) for (const m of str(p.match).matchAll(ADDRESS_SET_REF)) addressSetNames.add(`addrset:${m[1]}`);
  const bfdUuids: Uuid[] = [];
  for (const r of routes.values()) bfdUuids.push(...strSet(r.bfd));

  return {
    nb: new ScopedSource(nb, new Map<string, ReadonlyMap<Uuid, Row>>([
      ['Logical_Router', routerRows],
      ['Logical_Router_Port', lrps],
      ['Logical_Router_Static_Route', routes],
      ['Logical_Router_Policy', policies],
      ['Logical_Switch', switches],
      ['Logical_Switch_Port', lsps],
      ['Address_Set', pick(nb, 'Address_Set', nbIndex.uuids('Address_Set', addressSetNames))],
      ['BFD', pick(nb, 'BFD', bfdUuids)],
    ])),
    sb: new ScopedSource(sb, new Map<string, ReadonlyMap<Uuid, Row>>([
      ['Logical_Flow', flows],
      ['Port_Binding', bindings],
      ['Datapath_Binding', pick(sb, 'Datapath_Binding', sbIndex.uuids('Datapath_Binding', [...lrs].flatMap(dpKeysOf)))],
      ['MAC_Binding', macBindings],
    ])),
  };
}

/**
 * The NB rows a deleted resource's removal needs: the static routes it owns
 * (external_ids:ovndrift.io/owner) and the routers holding them; nothing else.
 */
export function ownedRoutesSource(nb: RowSource, nbIndex: RowKeyIndex, owner: string): RowSource {
  const routes = pick(nb, 'Logical_Router_Static_Route', nbIndex.uuids('Logical_Router_Static_Route', [`owner:${owner}`]));
  const lrs = nbIndex.ownersOf('route', routes.keys());
  const none = new Map<Uuid, Row>();
  return new ScopedSource(nb, new Map<string, ReadonlyMap<Uuid, Row>>([
    ['Logical_Router', pick(nb, 'Logical_Router', lrs)],
    ['Logical_Router_Static_Route', routes],
    ...['Logical_Router_Port', 'Logical_Router_Policy', 'Logical_Switch', 'Logical_Switch_Port', 'Address_Set', 'BFD'].map((t) => [t, none] as [string, Map<Uuid, Row>]),
  ]));
}
