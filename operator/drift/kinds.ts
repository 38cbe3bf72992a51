// The drift vocabulary of DESIGN.md: finding kinds (also used as condition reasons) and the
// shapes of findings. Pure; must not import anything that does I/O.
import type { Hypervisor } from '../ovn/sb.js';

/** No NB Logical_Router with that name. */
export const RouterNotFound = 'RouterNotFound';
/** NB has no static route for the prefix on the router (same policy and route table). */
export const RouteMissing = 'RouteMissing';
/** The NB route for the prefix exists with another nexthop. */
export const NexthopMismatch = 'NexthopMismatch';
/** Other NB routes for the same prefix (ECMP or unmanaged) compete with the desired one. */
export const ConflictingRoute = 'ConflictingRoute';
/** SB has no lr_in_ip_routing flow for the prefix on the router's datapath. */
export const FlowMissing = 'FlowMissing';
/** The SB flow routes the prefix to another nexthop than the NB route says. */
export const FlowStale = 'FlowStale';
/** No logical switch (or router) port carries the nexthop IP. */
export const NexthopPortNotFound = 'NexthopPortNotFound';
/** The nexthop's port is not bound to any chassis. */
export const NexthopUnbound = 'NexthopUnbound';
/** The nexthop's port is bound to another chassis than spec.expectedChassis. */
export const ChassisMismatch = 'ChassisMismatch';
/** SB has not caught up with NB (NB_Global.nb_cfg vs SB_Global.nb_cfg). */
export const NorthdLagging = 'NorthdLagging';
/** The connected database server is a follower cut off from its cluster. */
export const StaleView = 'StaleView';

/** A Logical_Router_Policy (reroute or drop) whose match selects traffic to the prefix acts before the route. */
export const PolicyOverride = 'PolicyOverride';
/** The nexthop's port is bound but not up, or its chassis stopped answering (reserved; not yet reported). */
export const NexthopDown = 'NexthopDown';
/** The route is BFD-monitored and its session is down (reserved; not yet reported). */
export const BfdDown = 'BfdDown';
/** A more specific route, or a directly connected network, takes some of the prefix's traffic elsewhere. */
export const RouteShadowed = 'RouteShadowed';

/** Every kind, in the order of the DESIGN.md table (also the order findings of one route sort in). */
export const DRIFT_KINDS = [
  RouterNotFound,
  RouteMissing,
  NexthopMismatch,
  ConflictingRoute,
  FlowMissing,
  FlowStale,
  NexthopPortNotFound,
  NexthopUnbound,
  ChassisMismatch,
  NorthdLagging,
  StaleView,
  PolicyOverride,
  NexthopDown,
  BfdDown,
  RouteShadowed,
] as const;

export type DriftKind = (typeof DRIFT_KINDS)[number];

export type { Hypervisor };

/**
 * A hypervisor in words, written once for the whole product. `sentence` (finding messages, trace):
 * "chassis NAME (HOST), ENCAPTYPE ENCAPIP" ("no encap" without one; `none` when no chassis).
 * `cell` (the check table): "ENCAPTYPE ENCAPIP (HOST or NAME)", "?" when unknown.
 */
export function hypervisorText(h: Hypervisor | undefined, form: 'sentence' | 'cell' = 'sentence', none = 'no chassis'): string {
  if (form === 'cell') {
    if (!h) return '?';
    const name = h.hostname || h.chassis;
    return h.encapIp ? `${h.encapType ?? ''} ${h.encapIp} (${name})`.trim() : `(${name})`;
  }
  if (!h) return none;
  const where = h.encapIp ? `${h.encapType ?? 'encap'} ${h.encapIp}` : 'no encap';
  return `chassis ${h.chassis}${h.hostname ? ` (${h.hostname})` : ''}, ${where}`;
}

/** One ECMP member as the SB flow programs it. */
export interface EcmpMember {
  nexthop: string;
  hypervisor?: Hypervisor;
}

/** One side of a finding: a nexthop and, when resolvable, the hypervisor it lands on. */
export interface Endpoint {
  nexthop?: string;
  hypervisor?: Hypervisor;
  /** For ECMP flows: every member (nexthop is then the comma-joined list). */
  ecmp?: EcmpMember[];
  /** Every nexthop when there are several (ECMP, a reroute policy with several nexthops). */
  nexthops?: string[];
  /** Traffic is dropped (a discard route, a drop policy). */
  dropped?: true;
  /** The last hop is the physical network of a localnet switch, no tunnel. */
  lastHop?: 'localnet';
  /** Several hypervisors (additional_chassis during live migration, HA gateway chassis); hypervisor stays the active one. */
  hypervisors?: Hypervisor[];
}

export interface Finding {
  kind: DriftKind;
  /** PodCIDRRoute name ("" for findings about the whole database, e.g. StaleView). */
  route: string;
  router: string;
  prefix: string;
  expected: Endpoint;
  actual: Endpoint;
  message: string;
}
