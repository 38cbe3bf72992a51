// Scoped reads for the controller: which rows a handful of dirty PodCIDRRoutes can depend on.
// The row interpretation lives in operator/ovn/scoped.ts; this module only re-exports it.
export { RowKeyIndex, scopedSources, ownedRoutesSource } from '../ovn/scoped.js';
