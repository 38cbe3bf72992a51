// Repair planning: a pure function (desired routes, NB view, options) -> one list of RFC 7047
// operations for a single NB transaction. It inserts missing routes, fixes rows ovn-drift owns,
// adopts unowned rows only when asked, and guards every row it read with a `wait`, so a concurrent
// change aborts the transaction instead of being overwritten. SB rows are never written.
// Pure; must not import the OVSDB client.
import type { PodCIDRRoute } from '../api/podcidrroute.js';
import { ConflictingRoute, NexthopMismatch, RouteMissing } from './kinds.js';
import { routeKey } from '../api/podcidrroute.js';
import { canonicalIp } from '../ovn/ip.js';
import type { NbStaticRoute, NbView } from '../ovn/nb.js';
import { OWNER_KEY, ownershipStamp } from '../ovn/ownership.js';
import { encodeValue } from '../ovsdb/notation.js';
import type { Condition, Operation, WireValue } from '../ovsdb/types.js';

const STATIC_ROUTE = 'Logical_Router_Static_Route';

/**
 * What a repair can fix — the one truth the controller (whether to plan a repair) and the status
 * renderer (Reconciling=Repairing vs Stalled) both ask, as DESIGN.md states it: RouteMissing and
 * NexthopMismatch, and ConflictingRoute when adopting. SB flows, ports, chassis and a missing
 * router are never repaired (SB rows are never written): they are reported with what would fix them.
 */
export function isRepairable(kind: string, adopt: boolean): boolean {
  return kind === RouteMissing || kind === NexthopMismatch || (adopt && kind === ConflictingRoute);
}

export interface RepairAction {
  route: string;
  router: string;
  prefix: string;
  /** insert: new row; update: owned row's nexthop fixed; adopt: unowned row stamped (and fixed); remove: extra owned (or, adopting, unowned) row. */
  action: 'insert' | 'update' | 'adopt' | 'remove';
  uuid?: string;
  from?: string;
  to?: string;
}

export interface RepairSkip {
  route: string;
  router: string;
  prefix: string;
  reason: string;
}

export interface RepairPlan {
  /** One NB transaction: comment, guards (wait), then writes. Empty when nothing is to be done. */
  operations: Operation[];
  touched: RepairAction[];
  /** Drift the plan deliberately leaves alone (unowned rows without adopt, unknown routers). */
  skipped: RepairSkip[];
}

export interface RepairOptions {
  /** Adopt existing unowned rows for exactly this router/prefix/policy/route table. */
  adopt?: boolean;
}

/** Columns compared by the guard on a static route row. */
const GUARDED_ROUTE_COLUMNS = ['ip_prefix', 'nexthop', 'policy', 'route_table', 'external_ids'] as const;

const byUuid = (u: string): Condition => ['_uuid', '==', ['uuid', u]];

/** wait until the row still has exactly the values we read (deleted or changed -> abort). */
export function guardRow(r: NbStaticRoute): Operation {
  const row: Record<string, WireValue> = {};
  const columns: string[] = [];
  for (const c of GUARDED_ROUTE_COLUMNS) {
    const v = r.row[c];
    if (v === undefined) continue;
    columns.push(c);
    row[c] = encodeValue(v); // non-uuid columns: the value's shape decides
  }
  return { op: 'wait', table: STATIC_ROUTE, where: [byUuid(r.uuid)], columns, until: '==', rows: [row], timeout: 0 };
}

/** wait until the set of rows carrying this ip_prefix (on any router) is still the one we read. */
function guardPrefix(nb: NbView, ipPrefix: string): Operation {
  const rows = [...nb.staticRoutes.values()].filter((r) => r.ipPrefix === ipPrefix).map((r) => ({ _uuid: ['uuid', r.uuid] as WireValue }));
  return { op: 'wait', table: STATIC_ROUTE, where: [['ip_prefix', '==', ipPrefix]], columns: ['_uuid'], until: '==', rows, timeout: 0 };
}

/** wait until the router still exists under the name we read. */
function guardRouter(uuid: string, name: string): Operation {
  return { op: 'wait', table: 'Logical_Router', where: [byUuid(uuid)], columns: ['name'], until: '==', rows: [{ name }], timeout: 0 };
}

function stampedIds(existing: Record<string, string>, resource: string): WireValue {
  const merged: Record<string, string> = { ...existing, ...ownershipStamp(resource) };
  return ['map', Object.entries(merged).sort(([a], [b]) => (a < b ? -1 : 1))];
}

/**
 * Plans the NB changes that make the desired routes true, as one transaction. Callers choose which
 * routes may be repaired (e.g. remediation: Repair) and pass only those.
 */
export function planRepair(desired: readonly PodCIDRRoute[], nb: NbView, opts: RepairOptions = {}): RepairPlan {
  const guards: Operation[] = [];
  const writes: Operation[] = [];
  const touched: RepairAction[] = [];
  const skipped: RepairSkip[] = [];
  const guarded = new Set<string>();
  const guard = (key: string, op: () => Operation) => {
    if (guarded.has(key)) return;
    guarded.add(key);
    guards.push(op());
  };
  const claimed = new Map<string, string>();
  let named = 0;

  const ordered = [...desired].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  for (const resource of ordered) {
    const { spec } = resource;
    const name = resource.metadata.name;
    const adopt = opts.adopt === true || spec.adopt === true;
    for (const prefix of spec.cidrs) {
      const at = { route: name, router: spec.router, prefix };
      const key = routeKey(spec, prefix);
      const first = claimed.get(key);
      if (first !== undefined) {
        skipped.push({ ...at, reason: `also declared by ${first}, which manages the row` });
        continue;
      }
      claimed.set(key, name);
      const router = nb.routers.get(spec.router);
      if (!router) {
        skipped.push({ ...at, reason: `no NB Logical_Router named ${spec.router}` });
        continue;
      }
      const rows = (router.routesByPrefix.get(prefix) ?? []).filter((r) => r.policy === spec.policy && r.routeTable === spec.routeTable);
      const wanted = canonicalIp(spec.nexthop);
      const right = (r: NbStaticRoute) => canonicalIp(r.nexthop) === wanted;
      const unowned = rows.filter((r) => !r.externalIds[OWNER_KEY]);
      // The rows this resource may change: its own, and with adopt the unowned ones too (adopting
      // takes over the prefix: one row is kept, fixed and stamped, the others are removed).
      const mine = rows.filter((r) => r.owner === name || (adopt && !r.externalIds[OWNER_KEY]));

      if (mine.length === 0) {
        if (rows.some(right)) continue; // someone else's row already routes it right
        if (rows.length === 0) {
          guard(`router:${router.uuid}`, () => guardRouter(router.uuid, router.name));
          guard(`prefix:${prefix}`, () => guardPrefix(nb, prefix));
          const uuidName = `ovndrift_route_${named++}`;
          writes.push({
            op: 'insert',
            table: STATIC_ROUTE,
            'uuid-name': uuidName,
            row: { ip_prefix: prefix, nexthop: spec.nexthop, policy: spec.policy, route_table: spec.routeTable, external_ids: stampedIds({}, name) },
          });
          writes.push({ op: 'mutate', table: 'Logical_Router', where: [byUuid(router.uuid)], mutations: [['static_routes', 'insert', ['set', [['named-uuid', uuidName]]]]] });
          touched.push({ ...at, action: 'insert', to: spec.nexthop });
          continue;
        }
        const who = rows.map((r) => `${r.uuid.slice(0, 8)} via ${r.nexthop}${r.owner ? ` owned by ${r.owner}` : ' unowned'}`).join(', ');
        skipped.push({ ...at, reason: `existing row(s) ${who} ${unowned.length > 0 ? "are not ovn-drift's: use --adopt (or spec.adopt) to take them over" : 'belong to another owner'}` });
        continue;
      }

      const keep = mine.find((r) => right(r) && r.owner === name) ?? mine.find(right) ?? mine[0]!;
      const adopting = keep.owner !== name;
      if (!right(keep) || adopting) {
        guard(keep.uuid, () => guardRow(keep));
        const row: Record<string, WireValue> = {};
        if (!right(keep)) row.nexthop = spec.nexthop;
        if (adopting) row.external_ids = stampedIds(keep.externalIds, name);
        writes.push({ op: 'update', table: STATIC_ROUTE, where: [byUuid(keep.uuid)], row });
        touched.push({ ...at, action: adopting ? 'adopt' : 'update', uuid: keep.uuid, from: keep.nexthop, to: spec.nexthop });
      }
      for (const extra of mine.filter((r) => r !== keep)) {
        guard(extra.uuid, () => guardRow(extra));
        writes.push({ op: 'mutate', table: 'Logical_Router', where: [byUuid(router.uuid)], mutations: [['static_routes', 'delete', ['set', [['uuid', extra.uuid]]]]] });
        touched.push({ ...at, action: 'remove', uuid: extra.uuid, from: extra.nexthop });
      }
      const foreign = rows.filter((r) => !mine.includes(r) && !right(r));
      if (foreign.length > 0) skipped.push({ ...at, reason: `competing row(s) ${foreign.map((r) => `via ${r.nexthop}${r.owner ? ` owned by ${r.owner}` : ' unowned'}`).join(', ')} left alone${adopt ? '' : ': use --adopt to take over unowned rows'}` });
    }
  }

  if (writes.length === 0) return { operations: [], touched, skipped };
  const resources = [...new Set(touched.map((t) => t.route))];
  const comment: Operation = { op: 'comment', comment: `ovn-drift repair: PodCIDRRoute ${resources.join(', ')} (${touched.length} change${touched.length === 1 ? '' : 's'})` };
  return { operations: [comment, ...guards, ...writes], touched, skipped };
}
