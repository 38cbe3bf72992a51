// Public face of the drift core: kinds, findings, evaluate() and planRepair(). Pure; the
// controller and the CLI gather views, call these, and do the I/O themselves.
export * from './kinds.js';
export { evaluate, addFindings, nexthopDown, DEFAULT_CHASSIS_DOWN_AFTER_MS, danglingStageHints, checkRoute, gatherFacts, compareFindings, northdLag, endpointOf, endpointOfResolutions, findRouteFlow, routeTableIds, flowNexthops, flowHops, CHECKS } from './evaluate.js';
export type { EvaluateOptions, Evaluation, RouteState, RouteStateName, Summary, NorthdLag, RouteFacts, RouteTableIds, FlowHop } from './evaluate.js';
export { planRepair, STATIC_ROUTE, GUARDED_ROUTE_COLUMNS } from './repair.js';
export type { RepairPlan, RepairAction, RepairSkip, RepairOptions } from './repair.js';
export { traceIp } from './trace.js';
export type { TraceResult, TraceOptions } from './trace.js';
export { renderCheckText, renderTraceText, renderRepairText, checkJson, endpointText } from './render.js';
export type { RepairReport, RouteJson } from './render.js';
export { settle, settles, outlastedWindow, SETTLING_KINDS } from './settle.js';
export type { SettleMemory, SettleEntry } from './settle.js';
