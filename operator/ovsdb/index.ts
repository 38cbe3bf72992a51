// Public surface of the OVSDB layer (RFC 7047 + monitor_cond): client, replica-backed Database,
// notation helpers, errors and plain-data types. Users import from here only.
export * from './types.js';
export * from './errors.js';
export { uuid, namedUuid, set, map, decodeWire, decodeRow, encodeValue, defaultValue, isScalar, isMap, normalizeSchema, ZERO_UUID } from './notation.js';
export { parseRemote, parseRemotes, type Remote } from './remote.js';
export { JsonStreamFramer } from './framing.js';
export { OvsdbClient, type ConnectOptions, type TlsFiles, type MonitorRequest, type MonitorRequests } from './client.js';
export { TableCache, valueEquals, rowEquals, type TableUpdates, type RowUpdate } from './replica.js';
export { Database, backoffDelay, rankServer, staleReason, planSpecs, describeMissing, type DatabaseOptions, type ServerInfo, type SyncStats, type Missing, type Freshness, type MonitorMethod } from './database.js';
export { evaluateConditions } from './conditions.js';
