// The OVSDB layer (RFC 7047 + monitor_cond) as one import, for the tests and benchmarks that
// drive it directly: client, replica-backed Database, notation helpers, errors, plain-data types.
// Product code imports the module it needs: ovn/connect.ts opens Databases; everyone else outside
// operator/ovsdb uses only types.ts (plain data), remote.ts and the client's TLS loader — the rule
// is in .dependency-cruiser.cjs.
export * from './types.js';
export * from './errors.js';
export { uuid, namedUuid, set, map, decodeRow, normalizeSchema } from './notation.js';
export { OvsdbClient } from './client.js';
export { rowEquals, type TableUpdates } from './replica.js';
export { Database, rankServer, staleReason, type MonitorMethod } from './database.js';
