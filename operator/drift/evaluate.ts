// The heart of ovn-drift: a pure function (desired routes, NB view, SB view, now) -> findings.
// It first gathers, for every resource × prefix, the facts the checks need (plain data), then runs
// small named checks in a fixed order, one per line, like the DESIGN.md table of drift kinds.
// Pure: no I/O, no clock (time is passed in); must not import the OVSDB client.
import type { PodCIDRRoute, PodCIDRRouteSpec } from '../api/podcidrroute.js';
import { canonicalIp, comparePrefixes, comparePrefixText, parseIp, parsePrefix, prefixContains, type Prefix } from '../ovn/ip.js';
import type { NbBfd, NbLogicalRouter, NbStaticRoute, NbView } from '../ovn/nb.js';
import { ecmpKey, routingFlowKey, routerDatapath, type SbChassis, type SbRoutingFlow, type SbView } from '../ovn/sb.js';
import { topologyOf, type NexthopResolution, type Topology } from '../ovn/topology.js';
import { parsePolicyMatch, policyCovers, subtractPrefix } from '../ovn/policy.js';
import {
  hypervisorText,
  BfdDown,
  NexthopDown,
  ChassisMismatch,
  ConflictingRoute,
  DRIFT_KINDS,
  FlowMissing,
  FlowStale,
  NexthopMismatch,
  NexthopPortNotFound,
  NexthopUnbound,
  NorthdLagging,
  PolicyOverride,
  RouteMissing,
  RouteShadowed,
  RouterNotFound,
  StaleView,
  type DriftKind,
  type Endpoint,
  type Finding,
} from './kinds.js';

export type RouteStateName = 'InSync' | 'Drifted' | 'Pending' | 'Unknown';

/** The state of one resource × prefix. */
export interface RouteState {
  route: string;
  router: string;
  prefix: string;
  policy: PodCIDRRouteSpec['policy'];
  routeTable: string;
  inSync: boolean;
  /** InSync, Drifted (findings), Unknown (stale view, or a policy the parser cannot decide). */
  state: RouteStateName;
  /** Why the state is Unknown. */
  reason?: string;
  /** Distinct finding kinds, table order. */
  kinds: DriftKind[];
  /** Where traffic should go (the desired nexthop and its hypervisor). */
  expected: Endpoint;
  /** Where the SB flow really sends it (empty when there is no flow). */
  actual: Endpoint;
  /** NB rows for this router/prefix/policy/route table. */
  nb: { uuid: string; nexthop: string; owner?: string }[];
  /** The lr_in_ip_routing flow that carries the prefix, if any. */
  sb?: { uuid: string; priority: number; match: string; actions: string };
  findings: Finding[];
}

export interface Summary {
  resources: number;
  routes: number;
  inSync: number;
  outOfSync: number;
  findings: number;
  kinds: Partial<Record<DriftKind, number>>;
  /** NB_Global.nb_cfg and SB_Global.nb_cfg at evaluation. */
  nbCfg: number;
  sbNbCfg: number;
  checkedAt: string;
}

export interface Evaluation {
  findings: Finding[];
  routes: RouteState[];
  summary: Summary;
}

/** Evidence that ovn-northd is behind (undefined when there is none). */
export interface NorthdLag {
  /** nb_cfg: NB_Global.nb_cfg ahead of SB_Global.nb_cfg. stage-hint: SB routing flows built from NB rows that no longer exist. */
  evidence?: 'nb_cfg' | 'stage-hint';
  nbCfg: number;
  sbNbCfg: number;
  /** Milliseconds since northd last confirmed the SB in sync (NB_Global.sb_cfg_timestamp), if known. */
  sinceMs?: number;
  /** stage-hint evidence: the dangling hints (first 8 hex digits of the vanished NB rows) and the prefixes of their flows. */
  danglingHints?: { hint: string; prefix: string }[];
}

/** Everything the checks of one resource × prefix look at, gathered once. */
export interface RouteFacts {
  resource: string;
  spec: PodCIDRRouteSpec;
  prefix: string;
  /** `prefix` parsed (undefined when it does not parse). */
  parsedPrefix?: Prefix;
  router?: NbLogicalRouter;
  /** The desired nexthop resolved as northd would (router port, switch, port, chassis). */
  resolution: NexthopResolution;
  /** Chassis the desired nexthop's port is bound to. */
  nexthopChassis?: SbChassis;
  topology: Topology;
  /** Set by checkPolicies when a policy match cannot be decided. */
  unknown?: string;
  expected: Endpoint;
  /** NB rows for router + prefix + policy + route table. */
  nbRoutes: NbStaticRoute[];
  flow?: SbRoutingFlow;
  /** Nexthops the flow programs (ECMP: every member); undefined without a flow. */
  flowNexthops?: string[];
  actual: Endpoint;
  lag?: NorthdLag;
  /** Why the desired nexthop is down (port not up, or its chassis stopped answering), if it is. */
  down?: string;
  /** NB routes for this prefix whose BFD session is down (northd withdraws them by design). */
  bfdDown: { route: NbStaticRoute; session: NbBfd }[];
}

/** What an evaluation needs beyond the views and the time. */
export interface EvaluateOptions {
  /** A chassis whose Chassis_Private.nb_cfg stays behind SB_Global.nb_cfg longer than this is down (default 60 s). */
  chassisDownAfterMs?: number;
}

const DEFAULT_CHASSIS_DOWN_AFTER_MS = 60_000;

/**
 * Whether the port carrying the nexthop (or its chassis) is down: Port_Binding.up=false on a bound
 * switch port, or a chassis whose ovn-controller has not confirmed the newest nb_cfg for longer
 * than `downAfterMs` — judged from the timestamps the databases carry (NB_Global.nb_cfg_timestamp,
 * written by northd when it saw that nb_cfg; Chassis_Private.nb_cfg_timestamp, written by the
 * chassis' ovn-controller), so clock skew between those hosts and this one shifts the verdict by
 * that skew. Where nothing bumps nb_cfg (SB_Global.nb_cfg = 0) chassis liveness is unknown.
 */
function nexthopDown(res: NexthopResolution, nb: NbView, sb: SbView, nowMs: number, downAfterMs: number): string | undefined {
  const port = res.port;
  const ch = res.chassis;
  if (!port || !ch) return undefined;
  if (port.kind === 'Logical_Switch_Port' && port.type === '') {
    // a VIF: ovn-controller sets up=true once the VM's interface is there (virtual ports and
    // gateway ports are claimed differently and are judged by their chassis below)
    const pb = sb.portBindings.get(port.name);
    if (pb?.chassis && pb.up === false) return `nexthop ${res.nexthop} is on port ${port.name}, bound to chassis ${ch.name} but not up (Port_Binding.up=false): the VM, or ovn-controller on that hypervisor, is down`;
  }
  const confirmed = sb.chassisNbCfg.get(ch.name);
  if (confirmed === undefined || sb.nbCfg === 0 || confirmed >= sb.nbCfg) return undefined;
  const since = nb.global.nbCfgTimestamp;
  if (!since || nowMs - since < downAfterMs) return undefined;
  const last = sb.chassisNbCfgTimestamp.get(ch.name);
  return `chassis ${ch.name}${ch.hostname ? ` (${ch.hostname})` : ''} of nexthop ${res.nexthop} has not confirmed nb_cfg ${sb.nbCfg} (Chassis_Private.nb_cfg=${confirmed}) for ${Math.round((nowMs - since) / 1000)}s${last ? `, last confirmed ${new Date(last).toISOString()}` : ''}: its ovn-controller is not answering (the hypervisor may be dead)`;
}

/** NB routes whose BFD session is down: northd gives them no flow (or drops them from their ECMP group). */
function bfdDownRoutes(nb: NbView, routes: readonly NbStaticRoute[]): { route: NbStaticRoute; session: NbBfd }[] {
  const out: { route: NbStaticRoute; session: NbBfd }[] = [];
  for (const route of routes) {
    const session = route.bfdUuid ? nb.bfd.get(route.bfdUuid) : undefined;
    if (session && (session.status === 'down' || session.status === 'admin_down')) out.push({ route, session });
  }
  return out;
}

type Check = (f: RouteFacts, nb: NbView, sb: SbView) => { findings: Finding[]; stop?: boolean };

// ---------------------------------------------------------------------------------------------
// Resolution helpers (pure lookups over the views).

/** The Endpoint of one resolution, built once per (shared) resolution: never mutate it. */
const endpoints = new WeakMap<NexthopResolution, Endpoint>();
function endpointOf(r: NexthopResolution): Endpoint {
  let e = endpoints.get(r);
  if (e) return e;
  e = { nexthop: r.nexthop };
  if (r.hypervisor) e.hypervisor = r.hypervisor;
  if (r.hypervisors) e.hypervisors = r.hypervisors;
  if (r.lastHop) e.lastHop = r.lastHop;
  endpoints.set(r, e);
  return e;
}

/** An Endpoint from resolved nexthops (one, or several: ECMP members / reroute nexthops). Shared: never mutate it. */
export function endpointOfResolutions(rs: NexthopResolution[]): Endpoint {
  if (rs.length === 0) return {};
  if (rs.length === 1) return endpointOf(rs[0]!);
  const ecmp = rs.map((r) => ({ nexthop: r.nexthop, ...(r.hypervisor ? { hypervisor: r.hypervisor } : {}) }));
  const e: Endpoint = { nexthop: rs.map((r) => r.nexthop).join(','), ecmp, nexthops: rs.map((r) => r.nexthop) };
  if (rs.every((r) => r.lastHop === 'localnet')) e.lastHop = 'localnet';
  return e;
}

/** One nexthop an SB routing flow programs, with the router port (`outport`) it leaves by. */
export interface FlowHop {
  nexthop: string;
  outport?: string;
}

/** Nexthops an lr_in_ip_routing flow programs; ECMP groups resolved through lr_in_ip_routing_ecmp. */
export function flowHops(sb: SbView, flow: SbRoutingFlow, datapath: string): FlowHop[] | undefined {
  const a = flow.action;
  if (a.kind === 'nexthop') return [{ nexthop: a.nexthop, ...(a.outport ? { outport: a.outport } : {}) }];
  if (a.kind === 'drop') return [{ nexthop: 'discard' }];
  if (a.kind === 'ecmp') {
    return a.members.map((m) => {
      const member = sb.ecmpMembers.get(ecmpKey(datapath, a.group, m));
      return member && member.action.kind === 'nexthop'
        ? { nexthop: member.action.nexthop, ...(member.action.outport ? { outport: member.action.outport } : {}) }
        : { nexthop: `(missing ECMP member ${a.group}/${m})` };
    });
  }
  return undefined;
}

/** Where the SB flow's hops land: each nexthop followed from the router port the flow names. */
function endpointOfHops(t: Topology, router: string, hops: FlowHop[] | undefined): Endpoint {
  if (!hops || hops.length === 0) return {};
  if (hops.every((h) => h.nexthop === 'discard')) return { nexthop: 'discard', dropped: true };
  return endpointOfResolutions(hops.map((h) => t.resolveOnPort(router, h.nexthop, h.outport)));
}

function endpointOfNexthops(t: Topology, router: string, nexthops: string[] | undefined): Endpoint {
  if (!nexthops || nexthops.length === 0) return {};
  if (nexthops.every((n) => n === 'discard')) return { nexthop: 'discard', dropped: true };
  return endpointOfResolutions(nexthops.map((n) => t.resolveNexthop(router, n)));
}

/** Which reg7 ids can carry a route table on one router, from lr_in_ip_routing_pre. */
export interface RouteTableIds {
  /** Ids of router ports whose options:route_table names this table. */
  ids: Set<number>;
  /** Ids known to belong to other tables (used when no port names this one). */
  foreign: Set<number>;
}

/**
 * Route table ids northd gave `routeTable` on this router: read from lr_in_ip_routing_pre for the
 * router ports whose options:route_table names it. When no port uses the table, northd still
 * numbers it: then any non-main id not known to belong to another table is accepted.
 */
const NO_TABLE_IDS: RouteTableIds = { ids: new Set(), foreign: new Set() };

function routeTableIds(sb: SbView, datapath: string | undefined, router: NbLogicalRouter | undefined, routeTable: string): RouteTableIds {
  if (!datapath || !router || routeTable === '') return NO_TABLE_IDS;
  const ids = new Set<number>();
  const foreign = new Set<number>();
  const byPort = sb.routeTableIds.get(datapath);
  for (const p of router.ports) {
    const id = byPort?.get(p.name);
    if (id !== undefined) (p.routeTable === routeTable ? ids : foreign).add(id);
  }
  return { ids, foreign };
}

/** The lr_in_ip_routing flow carrying this route: same prefix and direction, same route table. */
function findRouteFlow(
  sb: SbView,
  datapath: string | undefined,
  spec: Pick<PodCIDRRouteSpec, 'policy' | 'routeTable'>,
  prefix: string,
  tables: RouteTableIds = NO_TABLE_IDS,
): SbRoutingFlow | undefined {
  if (!datapath) return undefined;
  const direction = spec.policy === 'src-ip' ? 'src' : 'dst';
  const candidates = (sb.routingFlowIndex.get(datapath)?.get(routingFlowKey(direction, prefix)) ?? []).filter((f) => {
    const id = f.route!.routeTableId;
    if (spec.routeTable === '') return id === undefined || id === 0;
    if (id === undefined || id === 0) return false;
    return tables.ids.size > 0 ? tables.ids.has(id) : !tables.foreign.has(id);
  });
  // A static route beats a connected route for the same prefix (flows are sorted by priority).
  return candidates.find((f) => f.action.kind !== 'connected') ?? candidates[0];
}

function northdLag(nb: NbView, sb: SbView, now: Date): NorthdLag | undefined {
  if (nb.global.nbCfg <= sb.nbCfg) return undefined;
  const since = nb.global.sbCfgTimestamp > 0 ? now.getTime() - nb.global.sbCfgTimestamp : undefined;
  return { evidence: 'nb_cfg', nbCfg: nb.global.nbCfg, sbNbCfg: sb.nbCfg, ...(since !== undefined && since >= 0 ? { sinceMs: since } : {}) };
}

/**
 * Flows on the router's datapath that static routes produced (stage-hint = first 8 hex digits of
 * the NB row) whose NB row no longer exists: proof that northd has not caught up, whatever nb_cfg
 * says (most CMSs never bump it). Connected-route flows carry the router port's hint: skipped.
 */
const danglingCache = new WeakMap<SbView, WeakMap<NbLogicalRouter, { hint: string; prefix: string }[]>>();

function danglingStageHints(sb: SbView, datapath: string | undefined, router: NbLogicalRouter | undefined): { hint: string; prefix: string }[] {
  if (!datapath || !router) return [];
  let bySb = danglingCache.get(sb);
  if (!bySb) danglingCache.set(sb, (bySb = new WeakMap()));
  const cached = bySb.get(router);
  if (cached) return cached;
  const found = findDanglingHints(sb, datapath, router);
  bySb.set(router, found);
  return found;
}

function findDanglingHints(sb: SbView, datapath: string, router: NbLogicalRouter): { hint: string; prefix: string }[] {
  const known = new Set(router.staticRoutes.map((r) => r.uuid.slice(0, 8)));
  const out: { hint: string; prefix: string }[] = [];
  for (const flow of sb.routingFlows.get(datapath) ?? []) {
    const hint = flow.stageHint;
    if (!hint || flow.action.kind === 'connected' || flow.action.kind === 'other' || !flow.route) continue;
    if (!known.has(hint.slice(0, 8))) out.push({ hint, prefix: flow.route.prefix.text });
  }
  return out;
}

function describeLag(l: NorthdLag): string {
  if (l.evidence === 'stage-hint' && l.danglingHints) {
    const which = l.danglingHints.slice(0, 3).map((d) => `${d.prefix} (stage-hint ${d.hint})`).join(', ');
    const more = l.danglingHints.length > 3 ? ` and ${l.danglingHints.length - 3} more` : '';
    return `ovn-northd has not caught up: SB routing flows ${which}${more} were built from NB Logical_Router_Static_Route rows that no longer exist (NB_Global.nb_cfg=${l.nbCfg}, SB_Global.nb_cfg=${l.sbNbCfg}: nothing bumped nb_cfg)`;
  }
  const since = l.sinceMs !== undefined ? `, SB last confirmed in sync ${Math.round(l.sinceMs / 1000)}s ago` : '';
  return `ovn-northd has not caught up: NB_Global.nb_cfg=${l.nbCfg} but SB_Global.nb_cfg=${l.sbNbCfg}${since}`;
}

const sameNexthop = (a: string, b: string) => canonicalIp(a) === canonicalIp(b);

// ---------------------------------------------------------------------------------------------
// Gathering: one RouteFacts per resource × prefix, plain data.

function gatherFacts(resource: PodCIDRRoute, prefix: string, nb: NbView, sb: SbView, lag: NorthdLag | undefined, now: Date = new Date(), opts: EvaluateOptions = {}): RouteFacts {
  const spec = resource.spec;
  const topology = topologyOf(nb, sb);
  const router = nb.routers.get(spec.router);
  const nbRoutes = router
    ? (router.routesByPrefix.get(prefix) ?? []).filter((r) => r.policy === spec.policy && r.routeTable === spec.routeTable)
    : [];
  // the desired nexthop leaves by the output_port of the NB row that carries it, when it names one
  const outputPort = nbRoutes.find((r) => sameNexthop(r.nexthop, spec.nexthop))?.outputPort;
  const resolution = topology.resolveNexthop(spec.router, spec.nexthop, outputPort);
  const expected = endpointOfResolutions([resolution]);
  const datapath = router ? routerDatapath(sb, router) : undefined;
  const flow = findRouteFlow(sb, datapath, spec, prefix, routeTableIds(sb, datapath, router, spec.routeTable));
  const hops = flow && datapath ? flowHops(sb, flow, datapath) : undefined;
  if (!lag) {
    const dangling = danglingStageHints(sb, datapath, router);
    if (dangling.length > 0) lag = { evidence: 'stage-hint', nbCfg: nb.global.nbCfg, sbNbCfg: sb.nbCfg, danglingHints: dangling };
  }
  const facts: RouteFacts = { resource: resource.metadata.name, spec, prefix, resolution, topology, expected, nbRoutes, actual: endpointOfHops(topology, spec.router, hops), bfdDown: bfdDownRoutes(nb, nbRoutes) };
  const down = nexthopDown(resolution, nb, sb, now.getTime(), opts.chassisDownAfterMs ?? DEFAULT_CHASSIS_DOWN_AFTER_MS);
  if (down) facts.down = down;
  if (router) facts.router = router;
  if (resolution.chassis) facts.nexthopChassis = resolution.chassis;
  if (flow) facts.flow = flow;
  if (hops) facts.flowNexthops = hops.map((h) => h.nexthop);
  if (lag) facts.lag = lag;
  const parsed = parsePrefix(prefix);
  if (parsed) facts.parsedPrefix = parsed;
  return facts;
}

// ---------------------------------------------------------------------------------------------
// The checks, each small and named after the kind it reports.

function finding(f: RouteFacts, kind: DriftKind, actual: Endpoint, message: string): Finding {
  return { kind, route: f.resource, router: f.spec.router, prefix: f.prefix, expected: f.expected, actual, message };
}

const checkRouterExists: Check = (f) =>
  f.router
    ? { findings: [] }
    : { stop: true, findings: [finding(f, RouterNotFound, {}, `no NB Logical_Router named ${f.spec.router}`)] };

const checkNexthopPort: Check = (f) => {
  const p = f.resolution.problem;
  if (!p || p.kind === 'Unbound') return { findings: [] };
  // no router port reaches it and the NB route has no flow: FlowMissing says "No path" for it
  if (p.kind === 'NoRouterPort' && f.nbRoutes.length > 0 && !f.flow) return { findings: [] };
  return { findings: [finding(f, NexthopPortNotFound, {}, `nexthop ${f.spec.nexthop} on ${f.spec.router}: ${p.message}`)] };
};

const checkNexthopBinding: Check = (f) => {
  const p = f.resolution.problem;
  return p?.kind === 'Unbound' ? { findings: [finding(f, NexthopUnbound, {}, p.message)] } : { findings: [] };
};

const checkExpectedChassis: Check = (f, _nb, sb) => {
  const want = f.spec.expectedChassis;
  const ch = f.nexthopChassis;
  if (!want || !ch || ch.name === want || (ch.hostname !== '' && ch.hostname === want)) return { findings: [] };
  // Expected: the chassis spec.expectedChassis names (by name or hostname), resolved when it exists.
  const named = sb.chassisByName.get(want) ?? [...sb.chassis.values()].find((c) => c.hostname === want);
  const expected: Endpoint = { nexthop: f.spec.nexthop, hypervisor: named ? f.topology.hypervisorOf(named) : { chassis: want } };
  const port = f.resolution.port;
  return {
    findings: [
      {
        ...finding(f, ChassisMismatch, { ...f.expected },
          `nexthop ${f.spec.nexthop} (port ${port?.name ?? '?'}) is bound to ${hypervisorText(f.expected.hypervisor)}, expected ${named ? hypervisorText(f.topology.hypervisorOf(named)) : `chassis ${want} (no such chassis)`}`),
        expected,
      },
    ],
  };
};

const checkRouteExists: Check = (f) =>
  f.nbRoutes.length > 0
    ? { findings: [] }
    : {
        findings: [
          finding(f, RouteMissing, {}, `NB Logical_Router ${f.spec.router} has no ${f.spec.policy} static route for ${f.prefix}${f.spec.routeTable ? ` in route table ${f.spec.routeTable}` : ''}`),
        ],
      };

const checkNexthop: Check = (f) => {
  if (f.nbRoutes.length === 0 || f.nbRoutes.some((r) => sameNexthop(r.nexthop, f.spec.nexthop))) return { findings: [] };
  const nexthops = f.nbRoutes.map((r) => r.nexthop);
  const actual = endpointOfNexthops(f.topology, f.spec.router, nexthops);
  return {
    findings: [
      finding(f, NexthopMismatch, actual,
        `NB route ${f.prefix} on ${f.spec.router} goes via ${nexthops.join(', ')} (${describeEndpointHv(actual)}), expected ${f.spec.nexthop} (${hypervisorText(f.expected.hypervisor)})`),
    ],
  };
};

const checkCompetingRoutes: Check = (f) => {
  if (!f.nbRoutes.some((r) => sameNexthop(r.nexthop, f.spec.nexthop))) return { findings: [] };
  const others = f.nbRoutes.filter((r) => !sameNexthop(r.nexthop, f.spec.nexthop));
  if (others.length === 0) return { findings: [] };
  const actual = endpointOfNexthops(f.topology, f.spec.router, others.map((r) => r.nexthop));
  const who = others.map((r) => `${r.nexthop}${r.owner ? ` (owned by ${r.owner})` : ' (unmanaged)'}`).join(', ');
  return { findings: [finding(f, ConflictingRoute, actual, `other NB routes for ${f.prefix} on ${f.spec.router} compete with ${f.spec.nexthop}: ${who}`)] };
};

/** northd gives a static route no flow when no router port's network contains its nexthop. */
function unreachableHint(f: RouteFacts): string {
  const ports = f.router?.ports ?? [];
  const unreachable = f.nbRoutes.filter((r) => {
    const ip = parseIp(r.nexthop);
    return ip && !ports.some((p) => p.networks.some((n) => {
      const pfx = parsePrefix(n);
      return pfx ? prefixContains(pfx, ip) : false;
    }));
  });
  return unreachable.length > 0
    ? `; no port of ${f.spec.router} has a network containing ${unreachable.map((r) => r.nexthop).join(', ')}, so ovn-northd builds no flow ("No path for static route")`
    : '';
}

const checkNexthopDown: Check = (f) => (f.down ? { findings: [finding(f, NexthopDown, f.expected, f.down)] } : { findings: [] });

/** The routes northd builds flows for: BFD-down routes are withdrawn by design. */
const liveRoutes = (f: RouteFacts) => f.nbRoutes.filter((r) => !f.bfdDown.some((d) => d.route === r));

const checkBfd: Check = (f) => ({
  findings: f.bfdDown.map(({ route, session }) =>
    finding(f, BfdDown, f.flow ? f.actual : {},
      `NB route ${f.prefix} via ${route.nexthop} on ${f.spec.router} is BFD-monitored and its session is ${session.status} (BFD ${session.uuid.slice(0, 8)}: logical port ${session.logicalPort}, dst ${session.dstIp}): ovn-northd withdrew it from the SB by design`),
  ),
});

const checkFlowExists: Check = (f) => {
  if (liveRoutes(f).length === 0 || f.flow) return { findings: [] };
  const lag = f.lag ? `; ${describeLag(f.lag)}` : '';
  return {
    findings: [finding(f, FlowMissing, {}, `SB has no ${'lr_in_ip_routing'} flow for ${f.prefix} on the datapath of ${f.spec.router}${unreachableHint(f)}${lag}`)],
  };
};

const checkFlowCurrent: Check = (f) => {
  if (liveRoutes(f).length === 0 || !f.flow) return { findings: [] };
  const want = new Set(liveRoutes(f).map((r) => (r.discard ? 'discard' : canonicalIp(r.nexthop))));
  const got = new Set((f.flowNexthops ?? []).map((n) => (n === 'discard' ? n : canonicalIp(n))));
  if (want.size === got.size && [...want].every((n) => got.has(n))) return { findings: [] };
  const flowSays = f.flowNexthops ? `routes ${f.prefix} to ${f.flowNexthops.join(', ')}` : `does not route ${f.prefix} to a nexthop (${f.flow.actions})`;
  const why = f.lag ? describeLag(f.lag) : 'ovn-northd has confirmed every nb_cfg, yet the flow was not recomputed: is ovn-northd running and connected?';
  return {
    findings: [
      finding(f, FlowStale, f.actual,
        `SB flow ${flowSays} (${describeEndpointHv(f.actual)}) but NB says ${[...want].join(', ')} (${describeEndpointHv(endpointOfNexthops(f.topology, f.spec.router, f.nbRoutes.map((r) => r.nexthop)))}); ${why}`),
    ],
  };
};

function describeEndpointHv(e: Endpoint): string {
  if (e.dropped) return 'dropped';
  if (e.ecmp) return e.ecmp.map((m) => `${m.nexthop}: ${hypervisorText(m.hypervisor)}`).join('; ');
  return hypervisorText(e.hypervisor);
}

const prefixOf = (f: RouteFacts) => f.parsedPrefix;

function describePart(parts: Prefix[], narrowing: string[]): string {
  return `${parts.map((p) => p.text).join(', ')}${narrowing.length ? ` (only ${narrowing.join(' && ')} traffic)` : ''}`;
}

/**
 * Logical_Router_Policy acts after routing: walk the router's policies in northd's order (highest
 * priority first); the first one whose match selects (part of) the traffic to the prefix decides
 * that part. allow, or a reroute to the desired nexthop: routing applies. reroute elsewhere, drop:
 * PolicyOverride. Source-dependent policies are left to trace. An undecidable match: Unknown.
 */
const checkPolicies: Check = (f, nb) => {
  const prefix = prefixOf(f);
  if (!f.router || !prefix || f.spec.policy !== 'dst-ip' || f.router.policies.length === 0) return { findings: [] };
  const out: Finding[] = [];
  let remaining: Prefix[] = [prefix];
  for (const pol of f.router.policies) {
    if (remaining.length === 0) break;
    const m = parsePolicyMatch(pol.match, nb.addressSets);
    const next: Prefix[] = [];
    for (const part of remaining) {
      const cover = policyCovers(m, part);
      if (cover.kind === 'none' || cover.kind === 'sourceDependent') {
        next.push(part);
        continue;
      }
      if (cover.kind === 'undecidable') {
        f.unknown = `policy priority ${pol.priority} (${pol.action}) match "${pol.match}" on ${f.spec.router} cannot be decided for ${part.text}: ${cover.reason}`;
        return { findings: out, stop: true };
      }
      // the traffic this policy does not select goes on to lower priorities
      let rest: Prefix[] = [part];
      for (const q of cover.parts) rest = rest.flatMap((r) => subtractPrefix(r, q));
      if (cover.narrowing.length > 0) rest = [part]; // only some protocols: the rest of the traffic goes on too
      next.push(...rest);
      const reroutesHere = pol.action === 'reroute' && pol.nexthops.length > 0 && pol.nexthops.every((n) => sameNexthop(n, f.spec.nexthop));
      if (pol.action === 'allow' || reroutesHere) continue;
      const what = cover.full && cover.narrowing.length === 0 ? `all of ${f.prefix}` : describePart(cover.parts, cover.narrowing);
      if (pol.action === 'drop') {
        if (cover.full && cover.narrowing.length === 0) f.actual = { nexthop: 'discard', dropped: true };
        out.push(finding(f, PolicyOverride, { nexthop: 'discard', dropped: true }, `Logical_Router_Policy priority ${pol.priority} match "${pol.match}" drops ${what}`));
      } else if (pol.action === 'reroute') {
        const actual = endpointOfNexthops(f.topology, f.spec.router, pol.nexthops);
        if (cover.full && cover.narrowing.length === 0) f.actual = actual;
        out.push(finding(f, PolicyOverride, actual, `Logical_Router_Policy priority ${pol.priority} match "${pol.match}" reroutes ${what} to ${pol.nexthops.join(', ')} (${describeEndpointHv(actual)}) instead of ${f.spec.nexthop}`));
      } else {
        f.unknown = `policy priority ${pol.priority} on ${f.spec.router} has action "${pol.action}", which ovn-drift cannot follow`;
        return { findings: out, stop: true };
      }
    }
    remaining = next;
  }
  return { findings: out };
};

const byNetwork = new WeakMap<NbLogicalRouter, NbStaticRoute[]>();

/** Static routes of the router whose network lies inside `prefix` (binary search over a sorted copy). */
function routesInside(router: NbLogicalRouter, prefix: Prefix): NbStaticRoute[] {
  let sorted = byNetwork.get(router);
  if (!sorted) {
    sorted = router.staticRoutes.filter((r) => r.prefix).sort((a, b) => a.prefix!.family - b.prefix!.family || (a.prefix!.network < b.prefix!.network ? -1 : a.prefix!.network > b.prefix!.network ? 1 : 0));
    byNetwork.set(router, sorted);
  }
  const bits = prefix.family === 4 ? 32 : 128;
  const end = prefix.network + (1n << BigInt(bits - prefix.length));
  const before = (r: NbStaticRoute) => r.prefix!.family < prefix.family || (r.prefix!.family === prefix.family && r.prefix!.network < prefix.network);
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (before(sorted[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  const out: NbStaticRoute[] = [];
  for (let i = lo; i < sorted.length && sorted[i]!.prefix!.family === prefix.family && sorted[i]!.prefix!.network < end; i++) out.push(sorted[i]!);
  return out;
}

/** More specific routes of the same policy (and table), and connected networks, inside the prefix. */
const checkShadowed: Check = (f) => {
  const prefix = prefixOf(f);
  // a default route is the catch-all: every more specific route is meant to take traffic from it
  if (!f.router || !prefix || prefix.length === 0) return { findings: [] };
  const out: Finding[] = [];
  const inside = (q: Prefix) => q.family === prefix.family && q.length > prefix.length && prefixContains(prefix, { family: q.family, value: q.network });
  const byPrefix = new Map<string, NbStaticRoute[]>();
  for (const r of routesInside(f.router, prefix)) {
    if (r.policy !== f.spec.policy || (r.routeTable !== f.spec.routeTable && r.routeTable !== '') || !inside(r.prefix!)) continue;
    byPrefix.set(r.prefix!.text, [...(byPrefix.get(r.prefix!.text) ?? []), r]);
  }
  for (const [q, rs] of byPrefix) {
    if (rs.every((r) => sameNexthop(r.nexthop, f.spec.nexthop))) continue;
    const actual = endpointOfNexthops(f.topology, f.spec.router, rs.map((r) => r.nexthop));
    out.push(finding(f, RouteShadowed, actual, `more specific ${f.spec.policy} route ${q} on ${f.spec.router} sends that part of ${f.prefix} to ${rs.map((r) => r.nexthop).join(', ')} (${describeEndpointHv(actual)})`));
  }
  if (f.spec.policy === 'dst-ip') {
    for (const p of f.router.ports) {
      for (const n of p.prefixes) {
        const same = n.family === prefix.family && n.length === prefix.length && n.network === prefix.network;
        if (!same && !inside(n)) continue;
        out.push(finding(f, RouteShadowed, { nexthop: n.text }, `${same ? 'all of' : 'part'} ${n.text} of ${f.prefix} is the directly connected network of router port ${p.name}${p.switch ? ` (switch ${p.switch})` : ''}: that traffic is delivered there, not via ${f.spec.nexthop}`));
      }
    }
  }
  return { findings: out };
};

/** Runs after the flow checks: explains a stale or missing flow by the nb_cfg counters. */
function checkNorthdLag(f: RouteFacts, found: Finding[]): Finding[] {
  if (!f.lag || !found.some((x) => x.kind === FlowStale || x.kind === FlowMissing)) return [];
  return [finding(f, NorthdLagging, f.actual, describeLag(f.lag))];
}

/** The checks, in the order they run. */
const CHECKS: readonly [string, Check][] = [
  ['routerExists', checkRouterExists],
  ['nexthopPort', checkNexthopPort],
  ['nexthopBinding', checkNexthopBinding],
  ['nexthopDown', checkNexthopDown],
  ['expectedChassis', checkExpectedChassis],
  ['routeExists', checkRouteExists],
  ['nexthop', checkNexthop],
  ['competingRoutes', checkCompetingRoutes],
  ['bfd', checkBfd],
  ['flowExists', checkFlowExists],
  ['flowCurrent', checkFlowCurrent],
  ['policies', checkPolicies],
  ['shadowed', checkShadowed],
];

function checkRoute(f: RouteFacts, nb: NbView, sb: SbView): Finding[] {
  const found: Finding[] = [];
  for (const [, check] of CHECKS) {
    const r = check(f, nb, sb);
    found.push(...r.findings);
    if (r.stop) return found;
  }
  found.push(...checkNorthdLag(f, found));
  return found;
}

// ---------------------------------------------------------------------------------------------

const KIND_ORDER = new Map<string, number>(DRIFT_KINDS.map((k, i) => [k, i]));

/** Deterministic order: router, prefix (numerically), route, kind (table order), message. */
function compareFindings(a: Finding, b: Finding): number {
  if (a.router !== b.router) return a.router < b.router ? -1 : 1;
  const p = comparePrefixText(a.prefix, b.prefix);
  if (p !== 0) return p;
  if (a.route !== b.route) return a.route < b.route ? -1 : 1;
  const k = (KIND_ORDER.get(a.kind) ?? 99) - (KIND_ORDER.get(b.kind) ?? 99);
  if (k !== 0) return k;
  return a.message < b.message ? -1 : a.message > b.message ? 1 : 0;
}

function globalFindings(nb: NbView, sb: SbView, lag: NorthdLag | undefined, routeFindings: Finding[]): Finding[] {
  const out: Finding[] = [];
  const whole = (kind: DriftKind, message: string): Finding => ({ kind, route: '', router: '', prefix: '', expected: {}, actual: {}, message });
  if (nb.stale) out.push(whole(StaleView, `NB replica cannot be trusted: ${nb.stale}`));
  if (sb.stale) out.push(whole(StaleView, `SB replica cannot be trusted: ${sb.stale}`));
  if (lag && !nb.stale && !sb.stale && !routeFindings.some((f) => f.kind === NorthdLagging)) out.push(whole(NorthdLagging, describeLag(lag)));
  return out;
}

/** A route with no verdict (the view it would be judged from may be stale). */
function unknownRoute(resource: PodCIDRRoute, prefix: string): RouteState {
  const spec = resource.spec;
  return { route: resource.metadata.name, router: spec.router, prefix, policy: spec.policy, routeTable: spec.routeTable, inSync: false, state: 'Unknown', kinds: [], expected: { nexthop: spec.nexthop }, actual: {}, nb: [], findings: [] };
}

/**
 * Routes by router, prefix (numerically, comparePrefixText's order), route name. Each prefix is
 * parsed once up front: 200,000 routes take about 3.5 million comparisons.
 */
function sortRoutes(routes: RouteState[]): void {
  const keyed = routes.map((r) => ({ r, p: parsePrefix(r.prefix) }));
  keyed.sort((a, b) => {
    if (a.r.router !== b.r.router) return a.r.router < b.r.router ? -1 : 1;
    const p = a.p && b.p ? comparePrefixes(a.p, b.p) : a.p ? -1 : b.p ? 1 : a.r.prefix < b.r.prefix ? -1 : a.r.prefix > b.r.prefix ? 1 : 0;
    if (p !== 0) return p;
    return a.r.route < b.r.route ? -1 : a.r.route > b.r.route ? 1 : 0;
  });
  for (let i = 0; i < keyed.length; i++) routes[i] = keyed[i]!.r;
}

/**
 * Compares desired PodCIDRRoutes with the NB and SB views at `now`: one RouteState per
 * resource × prefix and the sorted list of findings.
 */
export function evaluate(desired: readonly PodCIDRRoute[], nb: NbView, sb: SbView, now: Date, opts: EvaluateOptions = {}): Evaluation {
  const lag = northdLag(nb, sb, now);
  const routes: RouteState[] = [];
  const staleReason = nb.stale !== undefined ? `NB replica cannot be trusted: ${nb.stale}` : sb.stale !== undefined ? `SB replica cannot be trusted: ${sb.stale}` : undefined;
  for (const resource of desired) {
    for (const prefix of resource.spec.cidrs) {
      if (staleReason !== undefined) {
        // A copy that may be stale gives no verdict at all: every route is Unknown, only StaleView is said.
        routes.push({ ...unknownRoute(resource, prefix), reason: staleReason });
        continue;
      }
      const f = gatherFacts(resource, prefix, nb, sb, lag, now, opts);
      const findings = checkRoute(f, nb, sb).sort(compareFindings);
      const stale = nb.stale !== undefined || sb.stale !== undefined;
      const state: RouteStateName = stale || (findings.length === 0 && f.unknown) ? 'Unknown' : findings.length > 0 ? 'Drifted' : 'InSync';
      routes.push({
        route: f.resource,
        router: f.spec.router,
        prefix,
        policy: f.spec.policy,
        routeTable: f.spec.routeTable,
        inSync: state === 'InSync',
        state,
        ...(stale ? { reason: nb.stale ?? sb.stale } : f.unknown ? { reason: f.unknown } : {}),
        kinds: [...new Set(findings.map((x) => x.kind))],
        expected: f.expected,
        actual: f.actual,
        nb: f.nbRoutes.map((r) => ({ uuid: r.uuid, nexthop: r.nexthop, ...(r.owner ? { owner: r.owner } : {}) })),
        ...(f.flow ? { sb: { uuid: f.flow.uuid, priority: f.flow.priority, match: f.flow.match, actions: f.flow.actions } } : {}),
        findings,
      });
    }
  }
  sortRoutes(routes);
  const routeFindings = routes.flatMap((r) => r.findings);
  const findings = [...globalFindings(nb, sb, lag, routeFindings), ...routeFindings].sort(compareFindings);
  const kinds: Partial<Record<DriftKind, number>> = {};
  for (const f of findings) kinds[f.kind] = (kinds[f.kind] ?? 0) + 1;
  const inSync = routes.filter((r) => r.inSync).length;
  return {
    findings,
    routes,
    summary: {
      resources: desired.length,
      routes: routes.length,
      inSync,
      outOfSync: routes.length - inSync,
      findings: findings.length,
      kinds,
      nbCfg: nb.global.nbCfg,
      sbNbCfg: sb.nbCfg,
      checkedAt: now.toISOString(),
    },
  };
}

/** The evaluation with findings added to their routes (e.g. evidence found after the settle window). */
export function addFindings(ev: Evaluation, extra: readonly Finding[]): Evaluation {
  if (extra.length === 0) return ev;
  const routes = ev.routes.map((r) => {
    const mine = extra.filter((f) => f.route === r.route && f.prefix === r.prefix && f.router === r.router);
    if (mine.length === 0) return r;
    const findings = [...r.findings, ...mine].sort(compareFindings);
    return { ...r, findings, kinds: [...new Set(findings.map((x) => x.kind))], inSync: false, state: 'Drifted' as const };
  });
  const findings = [...ev.findings, ...extra].sort(compareFindings);
  const kinds: Partial<Record<DriftKind, number>> = {};
  for (const f of findings) kinds[f.kind] = (kinds[f.kind] ?? 0) + 1;
  const inSync = routes.filter((r) => r.inSync).length;
  return { findings, routes, summary: { ...ev.summary, findings: findings.length, kinds, inSync, outOfSync: routes.length - inSync } };
}
