// The pure status renderers of the operator: one evaluation of a PodCIDRRoute -> its status, and
// the per-node NodeNoTrackState reports -> a TunnelNoTrackPolicy's status (with the agent-timing
// rules: stale reports, missing agents, the grace period), keeping lastTransitionTime stable (it
// moves only when a condition's status changes). The types they produce are operator/api/status.ts's.
// Pure: no I/O, time is passed in; must not import the Kubernetes client, OVSDB or ovn/ code.
import type { Endpoint, Finding } from '../drift/kinds.js';
import { DRIFT_KINDS, NorthdLagging, StaleView, FlowMissing, FlowStale } from '../drift/kinds.js';
import { isRepairable } from '../drift/repair.js';
import { k8sTime, mergeConditions, type Condition, type ConditionStatus } from '../api/conditions.js';
import type { FieldError } from '../api/podcidrroute.js';
import { AGENT_MISSING_GRACE_MS, AGENT_STALE_AFTER_MS, Ready, Reason, Reconciling, Stalled, type PodCIDRRouteStatus, type RouteEntry, type StatusEndpoint } from '../api/status.js';
import { selectorMatches, type NodeNoTrackState, type TunnelNoTrackPolicy, type TunnelNoTrackPolicyStatus } from '../api/tunnelnotrackpolicy.js';

/** What one reconcile of one PodCIDRRoute learned: plain data handed to renderStatus. */
export interface RouteEvaluation {
  /** The spec's prefixes, normalised (empty when the spec is invalid). */
  prefixes: string[];
  remediation: 'Report' | 'Repair';
  /** spec.adopt: a ConflictingRoute is repairable too (drift/repair.ts isRepairable). */
  adopt?: boolean;
  /** Findings for this resource (route === name) plus database-wide ones (route === ""). */
  findings: Finding[];
  /** Per-prefix observed endpoints for in-sync routes (optional detail). */
  observed?: Map<string, { expected?: Endpoint; actual?: Endpoint; owned?: boolean }>;
  /** NB_Global.nb_cfg - SB_Global.nb_cfg, when both are known. */
  northdLag?: number;
  /** Set when NB or SB is unreachable: nothing can be evaluated. */
  ovsdbUnavailable?: string;
  /** Validation errors of the spec (InvalidSpec). */
  invalid?: FieldError[];
  /** Conflicts with other PodCIDRRoutes (PrefixConflict). */
  conflicts?: string[];
  /** Prefixes whose verdict cannot be decided (a policy match ovn-drift cannot read), with the reason. */
  undecided?: Map<string, string>;
  /** Result of a repair attempted in this reconcile, if any. */
  repair?: { ok: boolean; changed: number; message: string; repairedPrefixes?: string[] };
  /**
   * Prefixes whose only findings are flow findings still inside the settle window (drift/settle.ts),
   * with those findings; they are not in `findings`.
   */
  pending?: Map<string, Finding[]>;
}

/** Finding kinds that resolve by themselves when ovn-northd or the cluster catches up. */
const TRANSIENT = new Set<string>([NorthdLagging, StaleView]);
const MAX_MESSAGE = 4096;
const MAX_ROUTES = 1024;

const kindOrder = (k: string) => {
  const i = (DRIFT_KINDS as readonly string[]).indexOf(k);
  return i < 0 ? DRIFT_KINDS.length : i;
};

function truncate(s: string, max = MAX_MESSAGE): string {
  return s.length <= max ? s : `${s.slice(0, max - 20)} ... (truncated)`;
}

function toStatusEndpoint(e: Endpoint | undefined): StatusEndpoint | undefined {
  if (!e) return undefined;
  const out: StatusEndpoint = {};
  if (e.nexthop !== undefined && e.nexthop !== '') out.nexthop = e.nexthop;
  const port = (e as { port?: string }).port;
  if (port) out.port = port;
  if (e.hypervisor) {
    const h = e.hypervisor;
    out.hypervisor = {
      ...(h.chassis ? { chassis: h.chassis } : {}),
      ...(h.hostname ? { hostname: h.hostname } : {}),
      ...(h.encapType ? { encapType: h.encapType } : {}),
      ...(h.encapIp ? { encapIp: h.encapIp } : {}),
    };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Messages in order without repeats, dropping any message another one already contains. */
function distinctMessages(messages: readonly string[]): string[] {
  const unique = [...new Set(messages)];
  return unique.filter((m) => !unique.some((o) => o !== m && o.includes(m)));
}

/** The human summary of several findings: messages in kind order, distinct, capped. */
function summarise(findings: readonly Finding[], northdLag?: number): string {
  const sorted = [...findings].sort((a, b) => kindOrder(a.kind) - kindOrder(b.kind) || a.prefix.localeCompare(b.prefix));
  const msgs = distinctMessages(sorted.map((f) => f.message));
  const shown = msgs.slice(0, 5);
  let text = shown.join('; ');
  if (msgs.length > shown.length) text += `; and ${msgs.length - shown.length} more`;
  if (northdLag && northdLag > 0 && !findings.some((f) => f.kind === NorthdLagging)) {
    text += `; northd is ${northdLag} nb_cfg generation${northdLag === 1 ? '' : 's'} behind`;
  }
  return truncate(text);
}

/** The first reason by DESIGN.md order among the findings. */
function primaryKind(findings: readonly Finding[]): string {
  return [...findings].sort((a, b) => kindOrder(a.kind) - kindOrder(b.kind))[0]!.kind;
}

/**
 * Render the status of one PodCIDRRoute from one evaluation. Pure: the same inputs give the same
 * status; `previous` only supplies lastTransitionTimes (and routes while OVSDB is unavailable).
 */
export function renderStatus(previous: PodCIDRRouteStatus | undefined, ev: RouteEvaluation, generation: number, now: Date): PodCIDRRouteStatus {
  type C = Omit<Condition, 'lastTransitionTime'>;
  const cond = (type: string, status: ConditionStatus, reason: string, message: string): C => ({ type, status, observedGeneration: generation, reason, message: truncate(message) });
  const status: PodCIDRRouteStatus = { observedGeneration: generation, lastCheckTime: k8sTime(now) };

  if (ev.invalid && ev.invalid.length > 0) {
    const msg = ev.invalid.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ');
    status.counts = { routes: 0, inSync: 0, drifted: 0 };
    status.conditions = mergeConditions(previous?.conditions, [
      cond(Ready, 'False', Reason.InvalidSpec, msg),
      cond(Reconciling, 'False', Reason.InvalidSpec, 'the spec must be fixed before it can be reconciled'),
      cond(Stalled, 'True', Reason.InvalidSpec, msg),
    ], now);
    return status;
  }

  if (ev.ovsdbUnavailable) {
    // Nothing is known about OVN now: keep the last per-route detail but mark it Unknown.
    status.routes = (previous?.routes ?? ev.prefixes.map((p) => ({ prefix: p, state: 'Unknown' as const }))).map((r) => ({ ...r, state: 'Unknown' as const }));
    status.counts = { routes: ev.prefixes.length, inSync: 0, drifted: 0 };
    status.lastCheckTime = previous?.lastCheckTime;
    if (status.lastCheckTime === undefined) delete status.lastCheckTime;
    status.conditions = mergeConditions(previous?.conditions, [
      cond(Ready, 'False', Reason.OvsdbUnavailable, ev.ovsdbUnavailable),
      cond(Reconciling, 'True', Reason.OvsdbUnavailable, 'waiting for the OVN databases to come back'),
      cond(Stalled, 'False', Reason.OvsdbUnavailable, 'the operator keeps reconnecting'),
    ], now);
    return status;
  }

  // A database-wide NorthdLagging alone does not make in-sync routes drift: northd lags for a
  // moment after every NB change. It is explained in messages of routes that do drift.
  const findingsIn = ev.findings.filter((f) => !(f.prefix === '' && f.kind === NorthdLagging));
  ev = { ...ev, findings: findingsIn };
  const global = ev.findings.filter((f) => f.prefix === '' || !ev.prefixes.includes(f.prefix));
  if (ev.northdLag !== undefined && ev.northdLag > 0 && ev.findings.length > 0) status.northdLag = ev.northdLag;
  const byPrefix = new Map<string, Finding[]>();
  for (const f of ev.findings) {
    if (f.prefix === '' || !ev.prefixes.includes(f.prefix)) continue;
    const list = byPrefix.get(f.prefix) ?? [];
    list.push(f);
    byPrefix.set(f.prefix, list);
  }
  const stale = global.some((f) => f.kind === StaleView);
  const repaired = new Set(ev.repair?.ok ? ev.repair.repairedPrefixes ?? [] : []);
  const routes: RouteEntry[] = ev.prefixes.map((prefix) => {
    const fs = byPrefix.get(prefix) ?? [];
    const obs = ev.observed?.get(prefix);
    const settling = ev.pending?.get(prefix);
    if (fs.length === 0 && settling && settling.length > 0 && !stale) {
      const sorted = [...settling].sort((a, b) => kindOrder(a.kind) - kindOrder(b.kind));
      const entry: RouteEntry = {
        prefix,
        state: 'Pending',
        findings: [...new Set(sorted.map((f) => f.kind))],
        message: truncate(`${distinctMessages(sorted.map((f) => f.message)).join('; ')} (within the settle window: ovn-northd may not have compiled the change yet)`, 1024),
      };
      if (obs?.owned !== undefined) entry.owned = obs.owned;
      const exp = toStatusEndpoint(obs?.expected);
      if (exp) entry.expected = exp;
      return entry;
    }
    if (fs.length === 0) {
      const why = ev.undecided?.get(prefix);
      const entry: RouteEntry = { prefix, state: stale || why ? 'Unknown' : 'InSync', ...(why && !stale ? { message: truncate(why, 1024) } : {}) };
      if (obs?.owned !== undefined) entry.owned = obs.owned;
      const exp = toStatusEndpoint(obs?.expected);
      const act = toStatusEndpoint(obs?.actual);
      if (exp) entry.expected = exp;
      if (act) entry.actual = act;
      return entry;
    }
    const sorted = [...fs].sort((a, b) => kindOrder(a.kind) - kindOrder(b.kind));
    const entry: RouteEntry = { prefix, state: 'Drifted', findings: [...new Set(sorted.map((f) => f.kind))], message: truncate(distinctMessages(sorted.map((f) => f.message)).join('; '), 1024) };
    if (obs?.owned !== undefined) entry.owned = obs.owned;
    const exp = toStatusEndpoint(sorted.find((f) => f.expected.hypervisor)?.expected ?? sorted[0]!.expected) ?? toStatusEndpoint(obs?.expected);
    const act = toStatusEndpoint(sorted.find((f) => f.actual.hypervisor || f.actual.nexthop)?.actual ?? sorted[0]!.actual) ?? toStatusEndpoint(obs?.actual);
    if (exp) entry.expected = exp;
    if (act) entry.actual = act;
    return entry;
  });
  const drifted = routes.filter((r) => r.state === 'Drifted').length;
  const inSync = routes.filter((r) => r.state === 'InSync').length;
  status.counts = { routes: routes.length, inSync, drifted, ...(repaired.size > 0 ? { repaired: repaired.size } : {}) };
  status.routes = routes.length > MAX_ROUTES ? routes.filter((r) => r.state !== 'InSync').slice(0, MAX_ROUTES) : routes;

  const all = [...ev.findings];
  const conflicts = ev.conflicts ?? [];
  let conditions: C[];
  const pendingRoutes = routes.filter((r) => r.state === 'Pending');
  const undecided = stale ? [] : [...(ev.undecided ?? new Map<string, string>()).entries()].filter(([p]) => ev.prefixes.includes(p) && !byPrefix.has(p));
  if (all.length === 0 && conflicts.length === 0 && undecided.length > 0 && !(ev.repair && !ev.repair.ok)) {
    const msg = truncate(undecided.map(([p, why]) => `${p}: ${why}`).join('; '));
    conditions = [cond(Ready, 'False', Reason.Undecidable, msg), cond(Reconciling, 'False', Reason.Undecidable, msg), cond(Stalled, 'True', Reason.Undecidable, msg)];
  } else if (all.length === 0 && conflicts.length === 0 && !(ev.repair && !ev.repair.ok) && pendingRoutes.length > 0) {
    const msg = `${pendingRoutes.length} route${pendingRoutes.length === 1 ? '' : 's'} waiting for ovn-northd within the settle window: ${pendingRoutes.map((r) => `${r.prefix} (${(r.findings ?? []).join(', ')})`).join(', ')}`;
    conditions = [cond(Ready, 'False', Reason.Pending, msg), cond(Reconciling, 'True', Reason.Pending, msg), cond(Stalled, 'False', Reason.Pending, 'expected to resolve once ovn-northd has compiled the change')];
  } else if (all.length === 0 && conflicts.length === 0 && !(ev.repair && !ev.repair.ok)) {
    const msg = `all ${routes.length} route${routes.length === 1 ? '' : 's'} in sync` + (ev.repair?.ok && ev.repair.changed > 0 ? ` (repaired ${ev.repair.changed} NB row${ev.repair.changed === 1 ? '' : 's'})` : '');
    conditions = [cond(Ready, 'True', Reason.InSync, msg), cond(Reconciling, 'False', Reason.InSync, msg), cond(Stalled, 'False', Reason.InSync, msg)];
  } else if (all.length === 0 && conflicts.length > 0) {
    const msg = truncate(conflicts.join('; '));
    conditions = [cond(Ready, 'False', Reason.PrefixConflict, msg), cond(Reconciling, 'False', Reason.PrefixConflict, msg), cond(Stalled, 'True', Reason.PrefixConflict, msg)];
  } else {
    const kind = all.length > 0 ? primaryKind(all) : Reason.RepairFailed;
    const msg = summarise(all, ev.northdLag) + (conflicts.length > 0 ? `; ${conflicts.join('; ')}` : '') + (ev.repair && !ev.repair.ok ? `; repair failed: ${ev.repair.message}` : '');
    const ready = cond(Ready, 'False', kind, msg.replace(/^; /, ''));
    const kinds = new Set(all.map((f) => f.kind));
    const transient = [...kinds].every((k) => TRANSIENT.has(k) || ((k === FlowMissing || k === FlowStale) && (ev.northdLag ?? 0) > 0));
    const repairable = ev.remediation === 'Repair' && [...kinds].some((k) => isRepairable(k, ev.adopt === true));
    if (ev.repair && !ev.repair.ok) {
      conditions = [ready, cond(Reconciling, 'False', Reason.RepairFailed, ev.repair.message), cond(Stalled, 'True', Reason.RepairFailed, `repair failed: ${ev.repair.message}`)];
    } else if (transient) {
      conditions = [ready, cond(Reconciling, 'True', kinds.has(StaleView) ? StaleView : NorthdLagging, 'waiting for ovn-northd / the database cluster to catch up'), cond(Stalled, 'False', kind, 'expected to resolve without intervention')];
    } else if (repairable) {
      conditions = [ready, cond(Reconciling, 'True', Reason.Repairing, 'repairing the NB routes ovn-drift owns, then waiting for the SB to follow'), cond(Stalled, 'False', Reason.Repairing, 'a repair is in progress')];
    } else {
      const why = ev.remediation === 'Report' ? Reason.ReportOnly : Reason.NeedsIntervention;
      const text = ev.remediation === 'Report' ? 'remediation is Report: drift is reported, not repaired' : 'drift ovn-drift may not repair (unowned rows, missing router or port, SB state); needs intervention';
      conditions = [ready, cond(Reconciling, 'False', why, text), cond(Stalled, 'True', kind, msg.replace(/^; /, ''))];
    }
  }
  status.conditions = mergeConditions(previous?.conditions, conditions, now);
  return status;
}

/** Status equality ignoring lastCheckTime (which alone never justifies a write). */
export function statusEqual(a: unknown, b: unknown): boolean {
  const strip = (s: any) => {
    if (!s || typeof s !== 'object') return s;
    const { lastCheckTime: _t, ...rest } = s;
    return rest;
  };
  return JSON.stringify(canonical(strip(a))) === JSON.stringify(canonical(strip(b)));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

// ---- TunnelNoTrackPolicy -----------------------------------------------------------------------

/** The clock-dependent inputs of renderPolicyStatus (all optional; defaults above). */
export interface PolicyTiming {
  /** A NodeNoTrackState whose lastCheckTime is more than this before `now` is stale. */
  staleAfterMs?: number;
  /** A selected node without a NodeNoTrackState is Pending for this long, then failing. */
  missingGraceMs?: number;
  /**
   * When the policy's current generation was first observed (the controller remembers it; the
   * API keeps no timestamp for spec changes). The missing-agent grace runs from the latest of
   * this, the policy's creationTimestamp and the Node's creationTimestamp.
   */
  generationSince?: Date;
}

/** A Node as the policy renderer needs it. */
export interface PolicyNode {
  name: string;
  labels: Record<string, string>;
  /** metadata.creationTimestamp: a new node gets the missing-agent grace too. */
  creationTimestamp?: string;
}

type NodeVerdict =
  | { kind: 'applied'; staleAt: number }
  | { kind: 'pending'; staleAt?: number; missingAt?: number }
  | { kind: 'failed'; reason: string; message: string; staleAt?: number };

function parseTime(t: unknown): number | undefined {
  if (typeof t !== 'string' || t === '') return undefined;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Where one selected node stands for one policy at `nowMs`, and when that would change by time alone. */
function nodeVerdict(policy: TunnelNoTrackPolicy, node: PolicyNode, state: NodeNoTrackState | undefined, nowMs: number, timing: PolicyTiming | undefined): NodeVerdict {
  const generation = policy.metadata.generation ?? 0;
  const staleAfter = timing?.staleAfterMs ?? AGENT_STALE_AFTER_MS;
  const grace = timing?.missingGraceMs ?? AGENT_MISSING_GRACE_MS;
  const st = state?.status;
  const checked = parseTime(st?.lastCheckTime);
  if (!st || checked === undefined) {
    // No report at all (or an object the agent created but never filled in).
    const starts = [parseTime(policy.metadata.creationTimestamp), timing?.generationSince?.getTime(), parseTime(node.creationTimestamp), parseTime(state?.metadata?.creationTimestamp)].filter((t): t is number => t !== undefined);
    if (starts.length === 0) return { kind: 'pending' }; // nothing to time the grace from
    const missingAt = Math.max(...starts) + grace;
    if (nowMs > missingAt) return { kind: 'failed', reason: Reason.AgentMissing, message: `no agent report from node ${node.name}` };
    return { kind: 'pending', missingAt };
  }
  const staleAt = checked + staleAfter;
  if (nowMs > staleAt) {
    return { kind: 'failed', reason: Reason.AgentStale, message: `agent on node ${node.name} has not reported since ${k8sTime(new Date(checked))} (stale)` };
  }
  const ready = st.conditions?.find((c) => c.type === Ready);
  if (st.lastError || ready?.status === 'False') return { kind: 'failed', reason: Reason.AgentFailed, message: st.lastError ?? ready?.message ?? 'not ready', staleAt };
  const mine = st.appliedPolicies?.find((p) => p.name === policy.metadata.name);
  if (mine && (mine.generation === undefined || mine.generation >= generation)) return { kind: 'applied', staleAt };
  return { kind: 'pending', staleAt };
}

function selectedNodes(policy: TunnelNoTrackPolicy, nodes: readonly PolicyNode[]): PolicyNode[] {
  return nodes.filter((n) => selectorMatches(policy.spec.nodeSelector ?? {}, n.labels)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Which failure reason names the Ready condition when several kinds occur: reported errors first. */
const FAILURE_ORDER: string[] = [Reason.AgentFailed, Reason.AgentStale, Reason.AgentMissing];

/**
 * Aggregate the per-node NodeNoTrackState objects into one policy's status: which nodes the
 * selector picks, which of them report this generation applied, and which fail — by reporting an
 * error, by a report older than the stale threshold (AgentStale: counted as failing, never as
 * applied), or by having no report at all after the grace period (AgentMissing; Pending within
 * it). Pure: `now` and `timing` carry the clock; nextPolicyRecheck says when the result would
 * change by time alone.
 */
export function renderPolicyStatus(
  previous: TunnelNoTrackPolicyStatus | undefined,
  policy: TunnelNoTrackPolicy,
  nodes: readonly PolicyNode[],
  states: ReadonlyMap<string, NodeNoTrackState>,
  now: Date,
  invalid?: string,
  timing?: PolicyTiming,
): TunnelNoTrackPolicyStatus {
  const generation = policy.metadata.generation ?? 0;
  type C = Omit<Condition, 'lastTransitionTime'>;
  const cond = (type: string, status: ConditionStatus, reason: string, message: string): C => ({ type, status, observedGeneration: generation, reason, message: truncate(message) });
  if (invalid) {
    return {
      observedGeneration: generation,
      desiredNodes: 0,
      appliedNodes: 0,
      conditions: mergeConditions(previous?.conditions, [cond(Ready, 'False', Reason.InvalidSpec, invalid), cond(Reconciling, 'False', Reason.InvalidSpec, invalid), cond(Stalled, 'True', Reason.InvalidSpec, invalid)], now),
    };
  }
  const selected = selectedNodes(policy, nodes);
  const failures: { node: string; message: string; reason: string }[] = [];
  let applied = 0;
  const pending: string[] = [];
  for (const node of selected) {
    const v = nodeVerdict(policy, node, states.get(node.name), now.getTime(), timing);
    if (v.kind === 'failed') failures.push({ node: node.name, message: v.message, reason: v.reason });
    else if (v.kind === 'applied') applied++;
    else pending.push(node.name);
  }
  const status: TunnelNoTrackPolicyStatus = { observedGeneration: generation, desiredNodes: selected.length, appliedNodes: applied };
  if (failures.length > 0) status.failures = failures.slice(0, 256).map(({ node, message }) => ({ node, message }));
  let conditions: C[];
  if (failures.length > 0) {
    const reason = FAILURE_ORDER.find((r) => failures.some((f) => f.reason === r))!;
    const msg = `${failures.length} of ${selected.length} nodes failed: ` + failures.slice(0, 5).map((f) => (f.reason === Reason.AgentFailed ? `${f.node}: ${f.message}` : f.message)).join('; ') + (failures.length > 5 ? `; and ${failures.length - 5} more` : '');
    conditions = [cond(Ready, 'False', reason, msg), cond(Reconciling, 'False', reason, msg), cond(Stalled, 'True', reason, msg)];
  } else if (pending.length > 0) {
    const msg = `${applied} of ${selected.length} nodes applied generation ${generation}; waiting for ${pending.slice(0, 5).join(', ')}${pending.length > 5 ? ` and ${pending.length - 5} more` : ''}`;
    conditions = [cond(Ready, 'False', Reason.Pending, msg), cond(Reconciling, 'True', Reason.Pending, msg), cond(Stalled, 'False', Reason.Pending, msg)];
  } else if (selected.length === 0) {
    const msg = 'the node selector matches no node';
    conditions = [cond(Ready, 'True', Reason.NoNodes, msg), cond(Reconciling, 'False', Reason.NoNodes, msg), cond(Stalled, 'False', Reason.NoNodes, msg)];
  } else {
    const msg = `applied on all ${selected.length} selected node${selected.length === 1 ? '' : 's'}`;
    conditions = [cond(Ready, 'True', Reason.Applied, msg), cond(Reconciling, 'False', Reason.Applied, msg), cond(Stalled, 'False', Reason.Applied, msg)];
  }
  status.conditions = mergeConditions(previous?.conditions, conditions, now);
  return status;
}

/**
 * The earliest moment after `now` at which renderPolicyStatus would give another result with no
 * input changing: the oldest live report going stale, or a missing agent's grace running out.
 * Undefined when nothing is waiting on the clock (no selected node with a live report or in its
 * missing-agent grace).
 */
export function nextPolicyRecheck(
  policy: TunnelNoTrackPolicy,
  nodes: readonly PolicyNode[],
  states: ReadonlyMap<string, NodeNoTrackState>,
  now: Date,
  timing?: PolicyTiming,
): Date | undefined {
  let next: number | undefined;
  for (const node of selectedNodes(policy, nodes)) {
    const v = nodeVerdict(policy, node, states.get(node.name), now.getTime(), timing);
    const at = v.kind === 'pending' ? v.staleAt ?? v.missingAt : v.staleAt; // a live error report goes stale too
    // The verdict flips once `now` is strictly past `at`.
    if (at !== undefined && (next === undefined || at + 1 < next)) next = at + 1;
  }
  return next === undefined ? undefined : new Date(next);
}
