// The heart of ovn-drift: a pure function (desired routes, NB view, SB view, now) -> findings.
// It first gathers, for every resource × prefix, the facts the checks need (plain data), then runs
// small named checks in a fixed order, one per line, like the DESIGN.md table of drift kinds.
// Pure: no I/O, no clock (time is passed in); must not import the OVSDB client.
import type { PodCIDRRoute, PodCIDRRouteSpec } from '../api/podcidrroute.js';
import { canonicalIp, comparePrefixText, parseIp, parsePrefix, prefixContains } from '../ovn/ip.js';
import type { NbLogicalRouter, NbPortAddress, NbStaticRoute, NbView } from '../ovn/nb.js';
import { portsWithIp } from '../ovn/nb.js';
import { boundChassis, ecmpKey, routingFlowKey, hypervisorOfChassis, routerDatapath, type SbChassis, type SbRoutingFlow, type SbView } from '../ovn/sb.js';
import {
  ChassisMismatch,
  ConflictingRoute,
  DRIFT_KINDS,
  FlowMissing,
  FlowStale,
  NexthopMismatch,
  NexthopPortNotFound,
  NexthopUnbound,
  NorthdLagging,
  RouteMissing,
  RouterNotFound,
  StaleView,
  type DriftKind,
  type Endpoint,
  type Finding,
  type Hypervisor,
} from './kinds.js';

/** The state of one resource × prefix. */
export interface RouteState {
  route: string;
  router: string;
  prefix: string;
  policy: PodCIDRRouteSpec['policy'];
  routeTable: string;
  inSync: boolean;
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

/** How far ovn-northd is behind, from the nb_cfg counters (undefined when caught up). */
export interface NorthdLag {
  nbCfg: number;
  sbNbCfg: number;
  /** Milliseconds since northd last confirmed the SB in sync (NB_Global.sb_cfg_timestamp), if known. */
  sinceMs?: number;
}

/** Everything the checks of one resource × prefix look at, gathered once. */
export interface RouteFacts {
  resource: string;
  spec: PodCIDRRouteSpec;
  prefix: string;
  router?: NbLogicalRouter;
  /** Ports carrying the desired nexthop IP. */
  nexthopPorts: NbPortAddress[];
  /** Chassis the desired nexthop's port is bound to. */
  nexthopChassis?: SbChassis;
  expected: Endpoint;
  /** NB rows for router + prefix + policy + route table. */
  nbRoutes: NbStaticRoute[];
  flow?: SbRoutingFlow;
  /** Nexthops the flow programs (ECMP: every member); undefined without a flow. */
  flowNexthops?: string[];
  actual: Endpoint;
  lag?: NorthdLag;
}

type Check = (f: RouteFacts, nb: NbView, sb: SbView) => { findings: Finding[]; stop?: boolean };

// ---------------------------------------------------------------------------------------------
// Resolution helpers (pure lookups over the views).

function describeHv(h: Hypervisor | undefined): string {
  if (!h) return 'no chassis';
  const where = h.encapIp ? `${h.encapType ?? 'encap'} ${h.encapIp}` : 'no encap';
  return `chassis ${h.chassis}${h.hostname ? ` (${h.hostname})` : ''}, ${where}`;
}

/** The hypervisor traffic for nexthop `ip` lands on: the chassis of the port carrying `ip`. */
export function endpointOf(nb: NbView, sb: SbView, ip: string): Endpoint {
  const port = portsWithIp(nb, ip)[0];
  const ch = port ? boundChassis(sb, port.name) : undefined;
  const e: Endpoint = { nexthop: ip };
  if (ch) e.hypervisor = hypervisorOfChassis(ch);
  return e;
}

/** Nexthops an lr_in_ip_routing flow programs; ECMP groups resolved through lr_in_ip_routing_ecmp. */
export function flowNexthops(sb: SbView, flow: SbRoutingFlow, datapath: string): string[] | undefined {
  const a = flow.action;
  if (a.kind === 'nexthop') return [a.nexthop];
  if (a.kind === 'ecmp') {
    return a.members.map((m) => {
      const member = sb.ecmpMembers.get(ecmpKey(datapath, a.group, m));
      return member && member.action.kind === 'nexthop' ? member.action.nexthop : `(missing ECMP member ${a.group}/${m})`;
    });
  }
  return undefined;
}

function endpointOfNexthops(nb: NbView, sb: SbView, nexthops: string[] | undefined): Endpoint {
  if (!nexthops || nexthops.length === 0) return {};
  if (nexthops.length === 1) return endpointOf(nb, sb, nexthops[0]!);
  const ecmp = nexthops.map((n) => {
    const e = endpointOf(nb, sb, n);
    return { nexthop: n, ...(e.hypervisor ? { hypervisor: e.hypervisor } : {}) };
  });
  return { nexthop: nexthops.join(','), ecmp };
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
export function routeTableIds(sb: SbView, datapath: string | undefined, router: NbLogicalRouter | undefined, routeTable: string): RouteTableIds {
  const ids = new Set<number>();
  const foreign = new Set<number>();
  if (!datapath || !router || routeTable === '') return { ids, foreign };
  const byPort = sb.routeTableIds.get(datapath);
  for (const p of router.ports) {
    const id = byPort?.get(p.name);
    if (id !== undefined) (p.routeTable === routeTable ? ids : foreign).add(id);
  }
  return { ids, foreign };
}

/** The lr_in_ip_routing flow carrying this route: same prefix and direction, same route table. */
export function findRouteFlow(
  sb: SbView,
  datapath: string | undefined,
  spec: Pick<PodCIDRRouteSpec, 'policy' | 'routeTable'>,
  prefix: string,
  tables: RouteTableIds = { ids: new Set(), foreign: new Set() },
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

export function northdLag(nb: NbView, sb: SbView, now: Date): NorthdLag | undefined {
  if (nb.global.nbCfg <= sb.nbCfg) return undefined;
  const since = nb.global.sbCfgTimestamp > 0 ? now.getTime() - nb.global.sbCfgTimestamp : undefined;
  return { nbCfg: nb.global.nbCfg, sbNbCfg: sb.nbCfg, ...(since !== undefined && since >= 0 ? { sinceMs: since } : {}) };
}

function describeLag(l: NorthdLag): string {
  const since = l.sinceMs !== undefined ? `, SB last confirmed in sync ${Math.round(l.sinceMs / 1000)}s ago` : '';
  return `ovn-northd has not caught up: NB_Global.nb_cfg=${l.nbCfg} but SB_Global.nb_cfg=${l.sbNbCfg}${since}`;
}

const sameNexthop = (a: string, b: string) => canonicalIp(a) === canonicalIp(b);

// ---------------------------------------------------------------------------------------------
// Gathering: one RouteFacts per resource × prefix, plain data.

export function gatherFacts(resource: PodCIDRRoute, prefix: string, nb: NbView, sb: SbView, lag: NorthdLag | undefined): RouteFacts {
  const spec = resource.spec;
  const router = nb.routers.get(spec.router);
  const nexthopPorts = portsWithIp(nb, spec.nexthop);
  const nexthopChassis = nexthopPorts[0] ? boundChassis(sb, nexthopPorts[0].name) : undefined;
  const expected: Endpoint = { nexthop: spec.nexthop };
  if (nexthopChassis) expected.hypervisor = hypervisorOfChassis(nexthopChassis);
  const nbRoutes = router
    ? (router.routesByPrefix.get(prefix) ?? []).filter((r) => r.policy === spec.policy && r.routeTable === spec.routeTable)
    : [];
  const datapath = router ? routerDatapath(sb, router) : undefined;
  const flow = findRouteFlow(sb, datapath, spec, prefix, routeTableIds(sb, datapath, router, spec.routeTable));
  const nexthops = flow && datapath ? flowNexthops(sb, flow, datapath) : undefined;
  const facts: RouteFacts = { resource: resource.metadata.name, spec, prefix, nexthopPorts, expected, nbRoutes, actual: endpointOfNexthops(nb, sb, nexthops) };
  if (router) facts.router = router;
  if (nexthopChassis) facts.nexthopChassis = nexthopChassis;
  if (flow) facts.flow = flow;
  if (nexthops) facts.flowNexthops = nexthops;
  if (lag) facts.lag = lag;
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

const checkNexthopPort: Check = (f) =>
  f.nexthopPorts.length > 0
    ? { findings: [] }
    : { findings: [finding(f, NexthopPortNotFound, {}, `no logical switch or router port carries nexthop ${f.spec.nexthop}`)] };

const checkNexthopBinding: Check = (f, _nb, sb) => {
  const port = f.nexthopPorts[0];
  if (!port || f.nexthopChassis) return { findings: [] };
  if (port.kind === 'Logical_Router_Port') return { findings: [] }; // distributed router port: no single chassis
  const pb = sb.portBindings.get(port.name);
  const why = pb ? 'has no chassis in its Port_Binding' : 'has no Port_Binding';
  return { findings: [finding(f, NexthopUnbound, {}, `nexthop ${f.spec.nexthop} is on port ${port.name} (switch ${port.parent}), which ${why}`)] };
};

const checkExpectedChassis: Check = (f, _nb, sb) => {
  const want = f.spec.expectedChassis;
  const ch = f.nexthopChassis;
  if (!want || !ch || ch.name === want || (ch.hostname !== '' && ch.hostname === want)) return { findings: [] };
  // Expected: the chassis spec.expectedChassis names (by name or hostname), resolved when it exists.
  const named = sb.chassisByName.get(want) ?? [...sb.chassis.values()].find((c) => c.hostname === want);
  const expected: Endpoint = { nexthop: f.spec.nexthop, hypervisor: named ? hypervisorOfChassis(named) : { chassis: want } };
  return {
    findings: [
      {
        ...finding(f, ChassisMismatch, { nexthop: f.spec.nexthop, hypervisor: hypervisorOfChassis(ch) },
          `nexthop ${f.spec.nexthop} (port ${f.nexthopPorts[0]!.name}) is bound to ${describeHv(hypervisorOfChassis(ch))}, expected ${named ? describeHv(hypervisorOfChassis(named)) : `chassis ${want} (no such chassis)`}`),
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

const checkNexthop: Check = (f, nb, sb) => {
  if (f.nbRoutes.length === 0 || f.nbRoutes.some((r) => sameNexthop(r.nexthop, f.spec.nexthop))) return { findings: [] };
  const nexthops = f.nbRoutes.map((r) => r.nexthop);
  const actual = endpointOfNexthops(nb, sb, nexthops);
  return {
    findings: [
      finding(f, NexthopMismatch, actual,
        `NB route ${f.prefix} on ${f.spec.router} goes via ${nexthops.join(', ')} (${describeEndpointHv(actual)}), expected ${f.spec.nexthop} (${describeHv(f.expected.hypervisor)})`),
    ],
  };
};

const checkCompetingRoutes: Check = (f, nb, sb) => {
  if (!f.nbRoutes.some((r) => sameNexthop(r.nexthop, f.spec.nexthop))) return { findings: [] };
  const others = f.nbRoutes.filter((r) => !sameNexthop(r.nexthop, f.spec.nexthop));
  if (others.length === 0) return { findings: [] };
  const actual = endpointOfNexthops(nb, sb, others.map((r) => r.nexthop));
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

const checkFlowExists: Check = (f) => {
  if (f.nbRoutes.length === 0 || f.flow) return { findings: [] };
  const lag = f.lag ? `; ${describeLag(f.lag)}` : '';
  return {
    findings: [finding(f, FlowMissing, {}, `SB has no ${'lr_in_ip_routing'} flow for ${f.prefix} on the datapath of ${f.spec.router}${unreachableHint(f)}${lag}`)],
  };
};

const checkFlowCurrent: Check = (f, nb, sb) => {
  if (f.nbRoutes.length === 0 || !f.flow) return { findings: [] };
  const want = new Set(f.nbRoutes.map((r) => canonicalIp(r.nexthop)));
  const got = new Set((f.flowNexthops ?? []).map(canonicalIp));
  if (want.size === got.size && [...want].every((n) => got.has(n))) return { findings: [] };
  const flowSays = f.flowNexthops ? `routes ${f.prefix} to ${f.flowNexthops.join(', ')}` : `does not route ${f.prefix} to a nexthop (${f.flow.actions})`;
  const why = f.lag ? describeLag(f.lag) : 'ovn-northd has confirmed every nb_cfg, yet the flow was not recomputed: is ovn-northd running and connected?';
  return {
    findings: [
      finding(f, FlowStale, f.actual,
        `SB flow ${flowSays} (${describeEndpointHv(f.actual)}) but NB says ${[...want].join(', ')} (${describeEndpointHv(endpointOfNexthops(nb, sb, f.nbRoutes.map((r) => r.nexthop)))}); ${why}`),
    ],
  };
};

function describeEndpointHv(e: Endpoint): string {
  if (e.ecmp) return e.ecmp.map((m) => `${m.nexthop}: ${describeHv(m.hypervisor)}`).join('; ');
  return describeHv(e.hypervisor);
}

/** Runs after the flow checks: explains a stale or missing flow by the nb_cfg counters. */
function checkNorthdLag(f: RouteFacts, found: Finding[]): Finding[] {
  if (!f.lag || !found.some((x) => x.kind === FlowStale || x.kind === FlowMissing)) return [];
  return [finding(f, NorthdLagging, f.actual, describeLag(f.lag))];
}

/** The checks, in the order they run. */
export const CHECKS: readonly [string, Check][] = [
  ['routerExists', checkRouterExists],
  ['nexthopPort', checkNexthopPort],
  ['nexthopBinding', checkNexthopBinding],
  ['expectedChassis', checkExpectedChassis],
  ['routeExists', checkRouteExists],
  ['nexthop', checkNexthop],
  ['competingRoutes', checkCompetingRoutes],
  ['flowExists', checkFlowExists],
  ['flowCurrent', checkFlowCurrent],
];

export function checkRoute(f: RouteFacts, nb: NbView, sb: SbView): Finding[] {
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
export function compareFindings(a: Finding, b: Finding): number {
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
  if (lag && !routeFindings.some((f) => f.kind === NorthdLagging)) out.push(whole(NorthdLagging, describeLag(lag)));
  return out;
}

/**
 * Compares desired PodCIDRRoutes with the NB and SB views at `now`: one RouteState per
 * resource × prefix and the sorted list of findings.
 */
export function evaluate(desired: readonly PodCIDRRoute[], nb: NbView, sb: SbView, now: Date): Evaluation {
  const lag = northdLag(nb, sb, now);
  const routes: RouteState[] = [];
  for (const resource of desired) {
    for (const prefix of resource.spec.cidrs) {
      const f = gatherFacts(resource, prefix, nb, sb, lag);
      const findings = checkRoute(f, nb, sb).sort(compareFindings);
      routes.push({
        route: f.resource,
        router: f.spec.router,
        prefix,
        policy: f.spec.policy,
        routeTable: f.spec.routeTable,
        inSync: findings.length === 0,
        expected: f.expected,
        actual: f.actual,
        nb: f.nbRoutes.map((r) => ({ uuid: r.uuid, nexthop: r.nexthop, ...(r.owner ? { owner: r.owner } : {}) })),
        ...(f.flow ? { sb: { uuid: f.flow.uuid, priority: f.flow.priority, match: f.flow.match, actions: f.flow.actions } } : {}),
        findings,
      });
    }
  }
  routes.sort((a, b) => (a.router !== b.router ? (a.router < b.router ? -1 : 1) : comparePrefixText(a.prefix, b.prefix) || (a.route < b.route ? -1 : a.route > b.route ? 1 : 0)));
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
