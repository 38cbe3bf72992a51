// The drift core's entry for the commands, the controller and the tests: kinds and findings,
// evaluate(), planRepair(), traceIp(), the renderers and the settle window. Pure; the callers
// gather views, call these, and do the I/O themselves. A caller needing one more function of a
// drift module (repair.ts isRepairable, removal.ts) imports that module directly.
export * from './kinds.js';
export { evaluate, addFindings } from './evaluate.js';
export type { EvaluateOptions, Evaluation } from './evaluate.js';
export { planRepair } from './repair.js';
export { traceIp } from './trace.js';
export type { TraceResult } from './trace.js';
export { renderCheckText, renderTraceText, checkJson } from './render.js';
export type { RepairReport } from './render.js';
export { settle, outlastedWindow } from './settle.js';
export type { SettleMemory } from './settle.js';
