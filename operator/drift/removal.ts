// Removal planning for spec.deletionPolicy: Delete — a pure function (resource name, NB view) ->
// one guarded NB transaction that removes every Logical_Router_Static_Route row the resource owns
// (external_ids:ovndrift.io/owner = name). Rows that changed since they were read abort the
// transaction (the guards), so nothing someone else wrote is ever deleted.
// Pure; must not import the OVSDB client.
import type { NbStaticRoute, NbView } from '../ovn/nb.js';
import type { Operation } from '../ovsdb/types.js';
import { guardRow } from './repair.js';

export interface RemovalPlan {
  operations: Operation[];
  /** The owned rows the plan removes (router, prefix, nexthop, uuid). */
  rows: { router: string; prefix: string; nexthop: string; uuid: string }[];
}

/** The rows `resource` owns, in a stable order. */
function ownedRoutes(nb: NbView, resource: string): NbStaticRoute[] {
  return [...nb.staticRoutes.values()].filter((r) => r.owner === resource).sort((a, b) => (a.router !== b.router ? (a.router < b.router ? -1 : 1) : a.uuid < b.uuid ? -1 : 1));
}

export function planRemoval(resource: string, nb: NbView): RemovalPlan {
  const owned = ownedRoutes(nb, resource);
  if (owned.length === 0) return { operations: [], rows: [] };
  const guards = owned.map(guardRow);
  const writes: Operation[] = owned.map((r) => ({
    op: 'mutate',
    table: 'Logical_Router',
    where: [['_uuid', '==', ['uuid', r.routerUuid]]],
    mutations: [['static_routes', 'delete', ['set', [['uuid', r.uuid]]]]],
  }));
  const comment: Operation = { op: 'comment', comment: `ovn-drift: PodCIDRRoute ${resource} deleted (deletionPolicy Delete): removing ${owned.length} owned route${owned.length === 1 ? '' : 's'}` };
  return {
    operations: [comment, ...guards, ...writes],
    rows: owned.map((r) => ({ router: r.router, prefix: r.prefix?.text ?? r.ipPrefix, nexthop: r.nexthop, uuid: r.uuid })),
  };
}
