// Status of PodCIDRRoute and TunnelNoTrackPolicy as the operator writes it (the shape of the CRD
// status schemas in crds/): types, the condition types and reasons, and the agent-reporting
// contract (heartbeat, staleness, grace) shared by the agent and the operator. Types and constants
// only: the renderers that turn an evaluation into a status live in operator/controller/status.ts.
// Follows Kubernetes API conventions and kstatus: Ready, Reconciling, Stalled, observedGeneration.
// A leaf: imports only operator/api.
import type { Condition } from './conditions.js';

/** Condition types (kstatus). */
export const Ready = 'Ready';
export const Reconciling = 'Reconciling';
export const Stalled = 'Stalled';

/** Reasons beyond the drift vocabulary (operator/drift/kinds.ts), which are reasons too. */
export const Reason = {
  /** Every route of the resource is in the NB, the SB flow and on the expected hypervisor. */
  InSync: 'InSync',
  /** The NB or SB database cannot be reached (or is not connected yet). */
  OvsdbUnavailable: 'OvsdbUnavailable',
  /** The spec fails validation the CRD schema could not express. */
  InvalidSpec: 'InvalidSpec',
  /** Another PodCIDRRoute claims the same prefix with another nexthop. */
  PrefixConflict: 'PrefixConflict',
  /** Remediation Repair: a repair was planned and is being applied / confirmed. */
  Repairing: 'Repairing',
  /** The repair transaction failed (message says why). */
  RepairFailed: 'RepairFailed',
  /** Remediation Report: drift is reported and left alone. */
  ReportOnly: 'ReportOnly',
  /** Drift that a human must resolve (unowned rows, missing router, ...). */
  NeedsIntervention: 'NeedsIntervention',
  /** Some route's verdict cannot be decided (a Logical_Router_Policy match ovn-drift cannot read): never in sync. */
  Undecidable: 'Undecidable',
  /** TunnelNoTrackPolicy: every selected node applied this generation. */
  Applied: 'Applied',
  /**
   * TunnelNoTrackPolicy: some selected nodes have not reported this generation yet. PodCIDRRoute:
   * some routes have only flow findings still inside the settle window (not drift yet).
   */
  Pending: 'Pending',
  /** TunnelNoTrackPolicy: at least one agent reports an error. */
  AgentFailed: 'AgentFailed',
  /** TunnelNoTrackPolicy: the selector matches no node. */
  NoNodes: 'NoNodes',
  /**
   * TunnelNoTrackPolicy: a selected node's NodeNoTrackState.status.lastCheckTime is older than the
   * stale threshold (AGENT_STALE_AFTER_MS by default): its agent stopped reporting (died, lost API
   * access), so what it last said is no longer evidence the rules are in place.
   */
  AgentStale: 'AgentStale',
  /**
   * TunnelNoTrackPolicy: a selected node has no NodeNoTrackState at all (no agent ever reported)
   * once the grace period (AGENT_MISSING_GRACE_MS by default) after the policy's creation, its
   * last generation change or the Node's creation has passed. Within the grace it is Pending.
   */
  AgentMissing: 'AgentMissing',
} as const;

export type RouteEntryState = 'InSync' | 'Drifted' | 'Pending' | 'Unknown';

export interface RouteEntry {
  prefix: string;
  state: RouteEntryState;
  /** Finding kinds for this prefix, in DESIGN.md table order. */
  findings?: string[];
  /** The NB row for this prefix carries ovn-drift's ownership stamp. */
  owned?: boolean;
  expected?: StatusEndpoint;
  actual?: StatusEndpoint;
  message?: string;
}

export interface StatusEndpoint {
  nexthop?: string;
  port?: string;
  hypervisor?: { chassis?: string; hostname?: string; encapType?: string; encapIp?: string };
}

export interface PodCIDRRouteStatus {
  observedGeneration?: number;
  lastCheckTime?: string;
  northdLag?: number;
  counts?: { routes: number; inSync: number; drifted: number; repaired?: number };
  routes?: RouteEntry[];
  conditions?: Condition[];
}

export type { TunnelNoTrackPolicyStatus } from './tunnelnotrackpolicy.js';

// ---- TunnelNoTrackPolicy: the agent-reporting contract -----------------------------------------

/**
 * How often a healthy agent re-writes its NodeNoTrackState even when nothing changed: the
 * `heartbeatMs` default of operator/agent/cluster.ts (NodeStateWriter skips unchanged writes
 * younger than this, and checks on every pass, so the stored lastCheckTime of a live agent is at
 * most heartbeat + one pass interval (10 s by default, up to 6x that while passes fail) old).
 */
export const AGENT_HEARTBEAT_MS = 300_000;
/**
 * A report older than this is stale: 3 heartbeats (15 min). One missed heartbeat is normal
 * jitter (the heartbeat is checked only on a pass, a pass can back off up to a minute, clocks
 * of node and operator differ by seconds); two in a row can be a short API outage, since the
 * agent only logs a failed write and retries on its next pass. A third means the agent is gone.
 */
export const AGENT_STALE_AFTER_MS = 3 * AGENT_HEARTBEAT_MS;
/**
 * How long a selected node without any NodeNoTrackState stays Pending (5 min, one heartbeat): a
 * running agent writes its state on its first pass, seconds after it starts, so this leaves time
 * for the DaemonSet pod to be scheduled and its image pulled on a new node or a new policy.
 */
export const AGENT_MISSING_GRACE_MS = 1 * AGENT_HEARTBEAT_MS;
