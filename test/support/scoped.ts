// The operator's read of one PodCIDRRoute (controller/gather.ts over the router-scoped rows of
// controller/scope.ts), for tests that compare it with the whole views: the row-key indexes of a
// pair of replicas, and the views of one resource's neighbourhood.
import type { PodCIDRRoute } from '../../operator/api/podcidrroute.js';
import { gatherViews, type OvnReplica } from '../../operator/controller/gather.js';
import { RowKeyIndex } from '../../operator/controller/scope.js';
import type { NbView } from '../../operator/ovn/nb.js';
import type { SbView } from '../../operator/ovn/sb.js';
import { NB_TABLES, SB_TABLES } from '../../operator/ovn/tables.js';

export interface RowIndexes {
  nbIndex: RowKeyIndex;
  sbIndex: RowKeyIndex;
}

/** Row-key indexes of the replicas' current rows, as the operator builds them at connect. */
export function rowIndexes(dbs: { nb: OvnReplica; sb: OvnReplica }): RowIndexes {
  return { nbIndex: new RowKeyIndex(dbs.nb, NB_TABLES.map((t) => t.table)), sbIndex: new RowKeyIndex(dbs.sb, SB_TABLES.map((t) => t.table)) };
}

/** The views a reconcile of `route` reads (its prefixes, nexthop and router); throws when the replicas cannot be read. */
export function scopedRead(dbs: { nb: OvnReplica; sb: OvnReplica }, route: PodCIDRRoute, idx: RowIndexes = rowIndexes(dbs)): { nb: NbView; sb: SbView } {
  const v = gatherViews(dbs.nb, dbs.sb, {}, { ...idx, prefixes: route.spec.cidrs, nexthops: [route.spec.nexthop], routers: [route.spec.router] });
  if (!v.ok) throw new Error(v.reason);
  return v;
}
