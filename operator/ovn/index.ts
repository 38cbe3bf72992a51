// Public face of operator/ovn: typed NB/SB views over a replica, flow parsing, ownership stamps,
// the table specs the replicas follow, and the gatherer/applier (connect.ts, the only I/O here).
export { NB_TABLES, SB_TABLES, ROUTING_FLOW_CONDITION } from './tables.js';
export { nbView, portsWithIp } from './nb.js';
export type { NbView, NbLogicalRouter, NbStaticRoute, NbRouterPort, NbPortAddress, NbGlobal } from './nb.js';
export { sbView, resolveHypervisor, boundChassis, hypervisorOfChassis, routerDatapath } from './sb.js';
export type { SbView, Hypervisor, SbChassis, SbEncap, SbPortBinding, SbDatapath, SbRoutingFlow, SbEcmpMember } from './sb.js';
export * from './flows.js';
export { OWNER_KEY, OWNER_TYPE_KEY, OWNER_TYPE, ownershipStamp } from './ownership.js';
export type { RowSource } from './rows.js';
export { openOvn, readViews, applyRepair } from './connect.js';
export { OvnConnectError } from './errors.js';
export type { OpenOptions, OvnDatabases, ApplyResult, Transactor } from './connect.js';
