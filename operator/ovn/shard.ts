// What one shard of the operator follows of the SB Logical_Flow table: the flows of the logical
// datapaths of the routers its PodCIDRRoutes name, as a monitor condition — one clause
// `logical_datapath == <Datapath_Binding>` per router datapath and one `logical_dp_group == <group>`
// per Logical_DP_Group that contains one of them. ovsdb-server matches a row when ANY clause holds
// (monitor_cond clauses are a disjunction), so the stage-name clauses of the unsharded replica
// (ROUTING_FLOW_CONDITION) cannot be ANDed with these: a shard follows every stage of its routers'
// datapaths, and the flows of the groups they share (docs/sharding.md has the measured cost).
// A shard with no routers follows nothing (`[false]`), never everything.
// Pure over a RowSource (the NB and SB replicas); must not import the OVSDB client.
import type { Condition, Uuid } from '../ovsdb/types.js';
import { str, strMap, strSet, type RowSource } from './rows.js';

/** A condition no row satisfies: the shard follows no Logical_Flow row. */
export const FOLLOW_NO_FLOWS = [false] as unknown as Condition[];

/** The SB datapaths of the NB routers with these names (by external_ids:logical-router, else by name). */
export function routerDatapaths(nb: RowSource, sb: RowSource, routers: ReadonlySet<string>): Set<Uuid> {
  const nbUuids = new Set<string>();
  for (const r of nb.rows('Logical_Router').values()) if (routers.has(str(r.name))) nbUuids.add(r._uuid);
  const out = new Set<Uuid>();
  for (const d of sb.rows('Datapath_Binding').values()) {
    const ext = strMap(d.external_ids);
    const lr = ext['logical-router'];
    if (lr !== undefined ? nbUuids.has(lr) : ext.name !== undefined && routers.has(ext.name)) out.add(d._uuid);
  }
  return out;
}

/** The Logical_DP_Group rows that contain at least one of the datapaths. */
function groupsContaining(sb: RowSource, datapaths: ReadonlySet<Uuid>): Set<Uuid> {
  const out = new Set<Uuid>();
  if (datapaths.size === 0) return out;
  for (const g of sb.rows('Logical_DP_Group').values()) if (strSet(g.datapaths).some((d) => datapaths.has(d))) out.add(g._uuid);
  return out;
}

/**
 * The Logical_Flow monitor condition of a shard whose resources name these routers, in a stable
 * order (so an unchanged set gives an equal condition and no monitor_cond_change is sent).
 */
export function shardFlowCondition(nb: RowSource, sb: RowSource, routers: ReadonlySet<string>): { where: Condition[]; datapaths: number; groups: number } {
  const datapaths = routerDatapaths(nb, sb, routers);
  const groups = groupsContaining(sb, datapaths);
  if (datapaths.size === 0) return { where: FOLLOW_NO_FLOWS, datapaths: 0, groups: 0 };
  const where: Condition[] = [
    ...[...datapaths].sort().map((u): Condition => ['logical_datapath', '==', ['uuid', u]]),
    ...[...groups].sort().map((u): Condition => ['logical_dp_group', '==', ['uuid', u]]),
  ];
  return { where, datapaths: datapaths.size, groups: groups.size };
}
