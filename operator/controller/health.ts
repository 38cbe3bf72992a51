// What the operator's /readyz reports (informers synced, both OVN databases connected and not
// stale). The HTTP server itself (/metrics, /healthz, /readyz) is the shared one of
// operator/runtime/http.ts, started by commands/operator.ts.
export type { Readiness } from '../runtime/http.js';
