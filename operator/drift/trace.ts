// `trace` as a pure function: follows one destination IP on one router through the NB (longest
// prefix match over static routes and connected networks), the port and Port_Binding of the
// nexthop, the SB lr_in_ip_routing flow that really matches (highest priority), and the
// hypervisor reached; differences between the NB and SB answers are listed.
// Pure; must not import the OVSDB client.
import { canonicalIp, parseIp, parsePrefix, prefixContains, type Prefix } from '../ovn/ip.js';
import type { NbPortAddress, NbView } from '../ovn/nb.js';
import { portsWithIp } from '../ovn/nb.js';
import { routerDatapath, type SbView } from '../ovn/sb.js';
import { endpointOf, flowNexthops } from './evaluate.js';
import type { Endpoint } from './kinds.js';

export interface TraceHop {
  nexthop: string;
  port?: NbPortAddress;
  endpoint: Endpoint;
}

export interface TraceResult {
  router: string;
  ip: string;
  /** Problems that stop the trace (unknown router, not an IP). */
  error?: string;
  nb?: {
    /** A static route (uuid set) or a connected network of a router port. */
    kind: 'static' | 'connected';
    prefix: string;
    uuids: string[];
    routerPort?: string;
    owner?: string;
    hops: TraceHop[];
  };
  sb?: {
    uuid: string;
    priority: number;
    match: string;
    actions: string;
    prefix: string;
    connected: boolean;
    outport?: string;
    hops: TraceHop[];
  };
  /** Human-readable differences between what the NB says and what the SB does. */
  differences: string[];
}

function hop(nb: NbView, sb: SbView, nexthop: string): TraceHop {
  const port = portsWithIp(nb, nexthop)[0];
  return { nexthop, ...(port ? { port } : {}), endpoint: endpointOf(nb, sb, nexthop) };
}

export function traceIp(nb: NbView, sb: SbView, routerName: string, ipText: string): TraceResult {
  const base: TraceResult = { router: routerName, ip: ipText, differences: [] };
  const ip = parseIp(ipText);
  if (!ip) return { ...base, error: `${ipText} is not an IPv4 or IPv6 address` };
  const ipc = canonicalIp(ipText);
  const router = nb.routers.get(routerName);
  if (!router) return { ...base, error: `no NB Logical_Router named ${routerName}` };

  // NB: longest prefix over dst-ip static routes of the main table and connected networks; on a
  // tie a connected network wins (northd gives it the higher priority).
  type Cand = { prefix: Prefix; connected: boolean; uuids: string[]; nexthops: string[]; port?: string; owner?: string };
  const cands: Cand[] = [];
  const statics = new Map<string, Cand>();
  for (const r of router.staticRoutes) {
    if (r.policy !== 'dst-ip' || r.routeTable !== '' || !r.prefix || !prefixContains(r.prefix, ip)) continue;
    const c = statics.get(r.prefix.text) ?? { prefix: r.prefix, connected: false, uuids: [], nexthops: [] };
    c.uuids.push(r.uuid);
    c.nexthops.push(r.nexthop);
    if (r.owner) c.owner = r.owner;
    statics.set(r.prefix.text, c);
  }
  cands.push(...statics.values());
  for (const p of router.ports) {
    for (const n of p.networks) {
      const pfx = parsePrefix(n);
      if (pfx && prefixContains(pfx, ip)) cands.push({ prefix: pfx, connected: true, uuids: [], nexthops: [ipc], port: p.name });
    }
  }
  cands.sort((a, b) => b.prefix.length - a.prefix.length || Number(b.connected) - Number(a.connected));
  const best = cands[0];
  const result: TraceResult = { ...base };
  if (best) {
    result.nb = {
      kind: best.connected ? 'connected' : 'static',
      prefix: best.prefix.text,
      uuids: best.uuids,
      ...(best.port ? { routerPort: best.port } : {}),
      ...(best.owner ? { owner: best.owner } : {}),
      hops: best.nexthops.map((n) => hop(nb, sb, n)),
    };
  }

  // SB: the highest-priority lr_in_ip_routing flow of the main table whose destination contains ip.
  const dp = routerDatapath(sb, router);
  const flows = dp ? sb.routingFlows.get(dp) ?? [] : [];
  const flow = flows.find((f) => f.route!.direction === 'dst' && (f.route!.routeTableId ?? 0) === 0 && prefixContains(f.route!.prefix, ip));
  if (flow && dp) {
    const connected = flow.action.kind === 'connected';
    const nexthops = connected ? [ipc] : flowNexthops(sb, flow, dp) ?? [];
    result.sb = {
      uuid: flow.uuid,
      priority: flow.priority,
      match: flow.match,
      actions: flow.actions,
      prefix: flow.route!.prefix.text,
      connected,
      ...('outport' in flow.action && flow.action.outport ? { outport: flow.action.outport } : {}),
      hops: nexthops.map((n) => hop(nb, sb, n)),
    };
  }

  const d = result.differences;
  if (!result.nb && !result.sb) d.push(`no NB route and no SB flow on ${routerName} matches ${ipc}`);
  else if (!result.nb) d.push(`no NB route matches ${ipc}, yet SB flow ${result.sb!.prefix} does`);
  else if (!result.sb) d.push(`NB route ${result.nb.prefix} matches ${ipc} but no SB flow does (is ovn-northd running?)`);
  else {
    if (result.nb.prefix !== result.sb.prefix) d.push(`prefix: NB ${result.nb.prefix} vs SB ${result.sb.prefix}`);
    const nbN = result.nb.hops.map((h) => canonicalIp(h.nexthop)).sort();
    const sbN = result.sb.hops.map((h) => canonicalIp(h.nexthop)).sort();
    if (nbN.join(',') !== sbN.join(',')) d.push(`nexthop: NB ${nbN.join(', ')} vs SB ${sbN.join(', ')}`);
    const hv = (hs: TraceHop[]) => hs.map((h) => h.endpoint.hypervisor?.encapIp ?? h.endpoint.hypervisor?.chassis ?? '?').sort().join(',');
    if (hv(result.nb.hops) !== hv(result.sb.hops)) d.push(`hypervisor: NB ${hv(result.nb.hops)} vs SB ${hv(result.sb.hops)}`);
  }
  return result;
}
