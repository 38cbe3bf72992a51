// The settle window: ovn-northd needs a moment to compile every NB change into SB flows, so a flow
// finding (FlowMissing, FlowStale) with no evidence that northd is behind is not drift until it
// has persisted for the window. Until then the route is Pending (operator: Reconciling, no Event,
// not Stalled; `check` re-reads). A route whose findings include anything else — NorthdLagging
// (evidence northd is behind), an NB mismatch, a port or chassis problem — is drift at once.
// The window restarts when the finding changes (other kinds, or the flow now says another
// nexthop). Pure: the memory is plain data, time is passed in; must not import I/O code.
import { FlowMissing, FlowStale, NorthdLagging, type Finding } from './kinds.js';

/** Finding kinds that may be a flow northd has not compiled yet. */
const SETTLING_KINDS: ReadonlySet<string> = new Set([FlowMissing, FlowStale]);

export interface SettleEntry {
  signature: string;
  sinceMs: number;
}

/** What the window remembers between evaluations: one entry per route key (e.g. resource/prefix). */
export type SettleMemory = Map<string, SettleEntry>;

export interface SettleInput {
  /** A stable key of the route (resource and prefix). */
  key: string;
  findings: readonly Finding[];
}

export interface SettleResult {
  /** Keys of routes inside their window (their findings are not drift yet). */
  pending: Set<string>;
  /** The earliest moment a pending route's window ends (ms), to look again then. */
  nextAtMs?: number;
}

/** The identity of a flow finding: its kinds and where the flow sends traffic. */
function signature(findings: readonly Finding[]): string {
  return [...new Set(findings.map((f) => `${f.kind}>${f.actual.nexthop ?? ''}`))].sort().join('|');
}

/**
 * The text evaluate puts in a FlowMissing whose nexthop no router port reaches: northd builds no
 * flow for it by design ("No path for static route"), so there is nothing to wait for.
 */
const NO_PATH = 'No path for static route';

/** True when every finding of the route is a flow finding northd may still be compiling (and there is one). */
function settles(findings: readonly Finding[]): boolean {
  return findings.length > 0 && findings.every((f) => SETTLING_KINDS.has(f.kind) && !f.message.includes(NO_PATH));
}

/**
 * Decides which routes are Pending at `nowMs` and updates `memory` (entries of routes that no
 * longer settle are dropped; routes not in `routes` are left to the caller to forget).
 */
export function settle(routes: readonly SettleInput[], memory: SettleMemory, nowMs: number, windowMs: number): SettleResult {
  const pending = new Set<string>();
  let nextAtMs: number | undefined;
  for (const r of routes) {
    if (!settles(r.findings)) {
      memory.delete(r.key);
      continue;
    }
    const sig = signature(r.findings);
    let entry = memory.get(r.key);
    if (!entry || entry.signature !== sig) {
      entry = { signature: sig, sinceMs: nowMs };
      memory.set(r.key, entry);
    }
    const endsAt = entry.sinceMs + windowMs;
    if (windowMs > 0 && nowMs < endsAt) {
      pending.add(r.key);
      if (nextAtMs === undefined || endsAt < nextAtMs) nextAtMs = endsAt;
    }
  }
  return nextAtMs === undefined ? { pending } : { pending, nextAtMs };
}

/**
 * After the window: a flow finding that outlasted it is drift. An NB route that has had no flow for
 * longer than the window is itself evidence that ovn-northd is behind (unless northd deliberately
 * builds no flow: a nexthop no router port reaches). A FlowStale that outlasts it stays FlowStale
 * (its evidence, if any, is the flow's stage-hint naming a vanished NB row).
 * Returns the NorthdLagging finding to add, measured from when the finding was first seen.
 */
export function outlastedWindow(findings: readonly Finding[], entry: SettleEntry | undefined, nowMs: number, windowMs: number): Finding | undefined {
  if (!entry || windowMs <= 0 || nowMs - entry.sinceMs < windowMs || !findings.length || !findings.every((f) => f.kind === FlowMissing)) return undefined;
  const f = findings[0]!;
  const secs = Math.round((nowMs - entry.sinceMs) / 1000);
  return {
    kind: NorthdLagging,
    route: f.route,
    router: f.router,
    prefix: f.prefix,
    expected: f.expected,
    actual: f.actual,
    message: `ovn-northd has not compiled the NB route for ${f.prefix} for ${secs}s (since ${new Date(entry.sinceMs).toISOString()}, longer than the settle window): is ovn-northd running and connected? (nothing bumped nb_cfg, so the counters cannot show it)`,
  };
}
