// `trace` as a pure function: follows one packet (destination IP, optionally its source IP and
// ingress router port) on one router the way the router pipeline does: lr_in_ip_routing_pre picks
// the route table from the ingress port's options:route_table; lr_in_ip_routing takes the longest
// prefix over dst-ip and src-ip static routes of that table and the main table, and connected
// networks; lr_in_policy then lets the highest-priority matching Logical_Router_Policy decide.
// The nexthop is resolved through the topology model (router port, switch behind it, port,
// Port_Binding, chassis). The SB side follows the flows that really match; differences are listed.
// Pure; must not import the OVSDB client.
import { canonicalIp, parseIp, prefixContains, type IpAddress, type Prefix } from '../ovn/ip.js';
import type { NbView } from '../ovn/nb.js';
import { routerDatapath, type SbView } from '../ovn/sb.js';
import { topologyOf, type NexthopPort, type Topology } from '../ovn/topology.js';
import { parsePolicyMatch, policyMatchesPacket } from '../ovn/policy.js';
import { endpointOfResolutions, flowHops } from './evaluate.js';
import type { Endpoint } from './kinds.js';

export interface TraceHop {
  nexthop: string;
  /** The router port the traffic leaves by. */
  routerPort?: string;
  port?: NexthopPort & { kind: NexthopPort['kind'] };
  endpoint: Endpoint;
  /** Why the nexthop does not resolve, when it does not. */
  problem?: string;
  notes?: string[];
}

export interface TracePolicy {
  uuid: string;
  priority: number;
  match: string;
  action: string;
  nexthops: string[];
  hops: TraceHop[];
}

export interface TraceResult {
  router: string;
  ip: string;
  src?: string;
  inport?: string;
  /** The route table the packet is looked up in ("" = main). */
  routeTable?: string;
  /** Problems that stop the trace (unknown router, not an IP, other family, unknown port). */
  error?: string;
  nb?: {
    /** A static route (uuid set) or a connected network of a router port. */
    kind: 'static' | 'connected';
    policy?: 'dst-ip' | 'src-ip';
    routeTable?: string;
    prefix: string;
    uuids: string[];
    routerPort?: string;
    owner?: string;
    dropped?: boolean;
    hops: TraceHop[];
  };
  /** The Logical_Router_Policy that decides after routing, if any. */
  policy?: TracePolicy;
  /** Policies that might apply but cannot be decided for this packet (source, port, protocol). */
  undecided: string[];
  sb?: {
    uuid: string;
    priority: number;
    match: string;
    actions: string;
    prefix: string;
    connected: boolean;
    dropped?: boolean;
    outport?: string;
    hops: TraceHop[];
  };
  /** Plain statements about the result (no route covers the address, ...). */
  notes: string[];
  /** Human-readable differences between what the NB says and what the SB does. */
  differences: string[];
}

function hop(t: Topology, router: string, nexthop: string, routerPort?: string): TraceHop {
  const r = routerPort ? t.resolveOnPort(router, nexthop, routerPort) : t.resolveNexthop(router, nexthop);
  return {
    nexthop: r.nexthop,
    ...(r.routerPort ? { routerPort: r.routerPort } : {}),
    ...(r.port ? { port: r.port } : {}),
    endpoint: endpointOfResolutions([r]),
    ...(r.problem ? { problem: r.problem.message } : {}),
    ...(r.notes.length ? { notes: r.notes } : {}),
  };
}

export interface TraceOptions {
  src?: string;
  inport?: string;
}

export function traceIp(nb: NbView, sb: SbView, routerName: string, ipText: string, opts: TraceOptions = {}): TraceResult {
  const base: TraceResult = { router: routerName, ip: ipText, undecided: [], notes: [], differences: [], ...(opts.src ? { src: opts.src } : {}), ...(opts.inport ? { inport: opts.inport } : {}) };
  const ip = parseIp(ipText);
  if (!ip) return { ...base, error: `${ipText} is not an IPv4 or IPv6 address` };
  let src: IpAddress | undefined;
  if (opts.src) {
    src = parseIp(opts.src);
    if (!src) return { ...base, error: `--src ${opts.src} is not an IPv4 or IPv6 address` };
    if (src.family !== ip.family) return { ...base, error: `--src ${opts.src} is IPv${src.family} but ${ipText} is IPv${ip.family}: a packet has one family` };
  }
  const ipc = canonicalIp(ipText);
  const router = nb.routers.get(routerName);
  if (!router) return { ...base, error: `no NB Logical_Router named ${routerName}` };
  let routeTable = '';
  if (opts.inport) {
    const p = router.ports.find((x) => x.name === opts.inport);
    if (!p) return { ...base, error: `${opts.inport} is not a Logical_Router_Port of ${routerName} (ports: ${router.ports.map((x) => x.name).join(', ') || 'none'})` };
    routeTable = p.routeTable;
  }
  const t = topologyOf(nb, sb);
  const result: TraceResult = { ...base, routeTable };
  if (!router.ports.some((p) => p.prefixes.some((n) => n.family === ip.family))) {
    result.notes.push(`router ${routerName} has no IPv${ip.family} network on any port`);
  }

  // NB: the route of highest northd priority: longest prefix; on a tie connected > dst-ip > src-ip,
  // and a route of the ingress port's table over a main-table one.
  type Cand = { prefix: Prefix; connected: boolean; policy: 'dst-ip' | 'src-ip'; table: string; uuids: string[]; nexthops: string[]; outputPort?: string; port?: string; owner?: string };
  const cands = new Map<string, Cand>();
  for (const r of router.staticRoutes) {
    if (!r.prefix || (r.routeTable !== '' && r.routeTable !== routeTable)) continue;
    const addr = r.policy === 'src-ip' ? src : ip;
    if (!addr || !prefixContains(r.prefix, addr)) continue;
    const k = `${r.policy} ${r.routeTable} ${r.prefix.text}`;
    const c = cands.get(k) ?? { prefix: r.prefix, connected: false, policy: r.policy, table: r.routeTable, uuids: [], nexthops: [] };
    c.uuids.push(r.uuid);
    c.nexthops.push(r.nexthop);
    if (r.outputPort) c.outputPort = r.outputPort;
    if (r.owner) c.owner = r.owner;
    cands.set(k, c);
  }
  const list = [...cands.values()];
  for (const p of router.ports) {
    for (const n of p.prefixes) if (prefixContains(n, ip)) list.push({ prefix: n, connected: true, policy: 'dst-ip', table: '', uuids: [], nexthops: [ipc], port: p.name });
  }
  const rank = (c: Cand) => c.prefix.length * 4 + (c.connected ? 3 : c.policy === 'dst-ip' ? 2 : 1);
  list.sort((a, b) => rank(b) - rank(a) || Number(b.table !== '') - Number(a.table !== ''));
  const best = list[0];
  if (!opts.src && router.staticRoutes.some((r) => r.policy === 'src-ip' && r.prefix?.family === ip.family)) {
    result.notes.push(`router ${routerName} has src-ip routes: give --src to follow them`);
  }
  if (best) {
    const dropped = best.nexthops.every((n) => n === 'discard');
    result.nb = {
      kind: best.connected ? 'connected' : 'static',
      ...(best.connected ? {} : { policy: best.policy, routeTable: best.table }),
      prefix: best.prefix.text,
      uuids: best.uuids,
      ...(best.port ? { routerPort: best.port } : {}),
      ...(best.owner ? { owner: best.owner } : {}),
      ...(dropped ? { dropped: true } : {}),
      hops: dropped ? [] : best.nexthops.map((n) => (best.connected ? hop(t, routerName, n, best.port) : hop(t, routerName, n, best.outputPort))),
    };
  } else {
    result.notes.push(`no route on ${routerName}${routeTable ? ` (route table ${routeTable} or main)` : ''} covers ${ipc}: the router drops it`);
  }

  // Policies act after routing (only on routed packets): the highest priority matching one decides.
  if (best) {
    for (const pol of router.policies) {
      const verdict = policyMatchesPacket(parsePolicyMatch(pol.match, nb.addressSets), ip, src, opts.inport);
      if (verdict === false) continue;
      if (verdict !== true) {
        result.undecided.push(`priority ${pol.priority} ${pol.action} "${pol.match}": ${verdict}`);
        continue;
      }
      result.policy = { uuid: pol.uuid, priority: pol.priority, match: pol.match, action: pol.action, nexthops: pol.nexthops, hops: pol.action === 'reroute' ? pol.nexthops.map((n) => hop(t, routerName, n)) : [] };
      break;
    }
  }

  // SB: the highest-priority lr_in_ip_routing flow whose match holds for this packet.
  const dp = routerDatapath(sb, router);
  const ids = dp ? sb.routeTableIds.get(dp) : undefined;
  const tableId = opts.inport ? ids?.get(opts.inport) ?? 0 : 0;
  const flows = dp ? sb.routingFlows.get(dp) ?? [] : [];
  const flow = flows.find((f) => {
    const id = f.route!.routeTableId;
    if (id !== undefined && id !== tableId) return false;
    const addr = f.route!.direction === 'src' ? src : ip;
    return addr !== undefined && prefixContains(f.route!.prefix, addr);
  });
  if (flow && dp) {
    const connected = flow.action.kind === 'connected';
    const outport = 'outport' in flow.action && flow.action.outport ? flow.action.outport : undefined;
    const hops = connected ? [{ nexthop: ipc, ...(outport ? { outport } : {}) }] : flowHops(sb, flow, dp) ?? [];
    const dropped = flow.action.kind === 'drop';
    result.sb = {
      uuid: flow.uuid,
      priority: flow.priority,
      match: flow.match,
      actions: flow.actions,
      prefix: flow.route!.prefix.text,
      connected,
      ...(dropped ? { dropped: true } : {}),
      ...(outport ? { outport } : {}),
      hops: dropped ? [] : hops.map((h) => hop(t, routerName, h.nexthop, h.outport)),
    };
  }

  const d = result.differences;
  if (!result.nb && !result.sb) d.push(`no NB route and no SB flow on ${routerName} matches ${ipc}`);
  else if (!result.nb) d.push(`no NB route matches ${ipc}, yet SB flow ${result.sb!.prefix} does`);
  else if (!result.sb) d.push(`NB route ${result.nb.prefix} matches ${ipc} but no SB flow does (is ovn-northd running?)`);
  else {
    if (result.nb.prefix !== result.sb.prefix) d.push(`prefix: NB ${result.nb.prefix} vs SB ${result.sb.prefix}`);
    if (Boolean(result.nb.dropped) !== Boolean(result.sb.dropped)) d.push(`NB ${result.nb.dropped ? 'drops' : 'routes'} it, SB ${result.sb.dropped ? 'drops' : 'routes'} it`);
    const nbN = result.nb.hops.map((h) => h.nexthop).sort();
    const sbN = result.sb.hops.map((h) => h.nexthop).sort();
    if (nbN.join(',') !== sbN.join(',')) d.push(`nexthop: NB ${nbN.join(', ')} vs SB ${sbN.join(', ')}`);
    const hv = (hs: TraceHop[]) => hs.map((h) => h.endpoint.hypervisor?.encapIp ?? h.endpoint.hypervisor?.chassis ?? '?').sort().join(',');
    if (hv(result.nb.hops) !== hv(result.sb.hops)) d.push(`hypervisor: NB ${hv(result.nb.hops)} vs SB ${hv(result.sb.hops)}`);
  }
  return result;
}
