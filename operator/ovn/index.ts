// The entry of operator/ovn for the commands and the tests: flow parsing and the gatherer/applier
// (connect.ts, the only I/O here). The views (nb.ts, sb.ts), the topology model and the table
// specs are imported from their own modules.
export * from './flows.js';
export { openOvn, readViews, applyRepair } from './connect.js';
export type { OvnDatabases } from './connect.js';
