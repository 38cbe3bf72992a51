// The one model of OVN topology everyone asks: where northd sends a nexthop and which hypervisor
// that reaches. Rules (northd/northd.c, find_static_route_outport / find_lrp_member_ip):
// - the router port is the route's output_port, else the FIRST port of the router (the `ports`
//   set in OVSDB order, i.e. by uuid — not the longest prefix) whose network contains the nexthop;
// - the nexthop is then looked up only behind that port: the switch it is wired to (a type=router
//   switch port naming it in options:router-port), or its direct peer router port. Overlapping
//   tenant subnets (the same IP behind two routers) are therefore never confused;
// - behind the port, the IP is found in addresses, dynamic_addresses, port_security, a virtual
//   port's options:virtual-ip (bound to the parent that claimed it), another router's port
//   (gateway router: options:chassis / l3gateway-chassis; distributed gateway port: its cr- binding,
//   else the HA chassis group's highest-priority member), and as a last resort SB MAC_Binding
//   (the newest row wins; the resolution says so);
// - a switch with a localnet port means the last hop is the physical network, not a tunnel;
// - the encap is the one ovn-controller uses: Port_Binding.encap when set, else the best type
//   (geneve > stt > vxlan) that the chassis shares with the other chassis.
// Pure; must not import the OVSDB client.
import type { IpSource } from './addresses.js';
import { canonicalIp, parseIp, prefixContains } from './ip.js';
import type { NbLogicalRouter, NbRouterPort, NbView } from './nb.js';
import { encapRank, type Hypervisor, type SbChassis, type SbEncap, type SbPortBinding, type SbView } from './sb.js';

export type NexthopProblem =
  /** The route's output_port names no port of the router. */
  | 'BadOutputPort'
  /** No router port's network contains the nexthop ("No path for static route"). */
  | 'NoRouterPort'
  /** Nothing behind the chosen router port carries the nexthop. */
  | 'NoPort'
  /** The port carrying it is not bound to any chassis (or a virtual port no parent claimed). */
  | 'Unbound';

export interface NexthopPort {
  kind: 'Logical_Switch_Port' | 'Logical_Router_Port';
  name: string;
  /** Logical_Switch (switch port) or Logical_Router (router port) name. */
  parent: string;
  type: string;
  /** Where the IP was found. */
  source: IpSource | 'networks' | 'MAC_Binding';
}

export interface NexthopResolution {
  nexthop: string;
  /** The router port northd sends the traffic out of. */
  routerPort?: string;
  /** The switch behind that port, when there is one. */
  switch?: string;
  port?: NexthopPort;
  chassis?: SbChassis;
  hypervisor?: Hypervisor;
  /** Every chassis involved when there are several (additional_chassis, HA group members). */
  hypervisors?: Hypervisor[];
  lastHop?: 'localnet';
  /** Facts worth saying (e.g. "newest of 2 MAC_Binding rows"). */
  notes: string[];
  problem?: { kind: NexthopProblem; message: string };
}

export class Topology {
  private typeCounts?: Map<string, number>;
  private readonly hvCache = new Map<string, Hypervisor>();
  /**
   * Resolutions by router, nexthop and port: the 20 prefixes of one resource share one nexthop, so
   * at field scale 200,000 routes resolve 10,000 nexthops. Shared results: never mutate them.
   */
  private readonly resolved = new Map<string, NexthopResolution>();

  constructor(
    readonly nb: NbView,
    readonly sb: SbView,
  ) {}

  /** The router port northd picks for a nexthop: output_port, else the first port whose network contains it. */
  routerPortFor(router: NbLogicalRouter, nexthop: string, outputPort?: string): NbRouterPort | undefined {
    if (outputPort) return router.ports.find((p) => p.name === outputPort);
    const ip = parseIp(nexthop);
    if (!ip) return undefined;
    return router.portsInNorthdOrder.find((p) => p.prefixes.some((n) => prefixContains(n, ip)));
  }

  /** Resolves a nexthop of a route (or policy) on `routerName` the way northd and ovn-controller do. */
  resolveNexthop(routerName: string, nexthopText: string, outputPort?: string): NexthopResolution {
    const key = `${routerName}\u0000${nexthopText}\u0000${outputPort ?? ''}`;
    let r = this.resolved.get(key);
    if (!r) this.resolved.set(key, (r = this.resolveNexthopUncached(routerName, nexthopText, outputPort)));
    return r;
  }

  private resolveNexthopUncached(routerName: string, nexthopText: string, outputPort?: string): NexthopResolution {
    const ipAddr = parseIp(nexthopText);
    const nexthop = ipAddr ? canonicalIp(nexthopText) : nexthopText;
    const out: NexthopResolution = { nexthop, notes: [] };
    const router = this.nb.routers.get(routerName);
    if (!router || !ipAddr) {
      out.problem = { kind: 'NoRouterPort', message: !router ? `no NB Logical_Router named ${routerName}` : `${nexthopText} is not an IP address` };
      return out;
    }
    const lrp = this.routerPortFor(router, nexthop, outputPort);
    if (!lrp) {
      out.problem = outputPort
        ? { kind: 'BadOutputPort', message: `output_port ${outputPort} is not a port of router ${routerName}` }
        : { kind: 'NoRouterPort', message: `no port of router ${routerName} has a network containing ${nexthop}, so ovn-northd builds no flow ("No path for static route")` };
      return out;
    }
    out.routerPort = lrp.name;
    return this.resolveBehind(out, router, lrp);
  }

  /** Like resolveNexthop, from the router port a flow's `outport` names (the SB side). */
  resolveOnPort(routerName: string, nexthopText: string, routerPort: string | undefined): NexthopResolution {
    if (!routerPort) return this.resolveNexthop(routerName, nexthopText);
    const key = `${routerName}\u0000${nexthopText}\u0000\u0000${routerPort}`;
    let r = this.resolved.get(key);
    if (!r) this.resolved.set(key, (r = this.resolveOnPortUncached(routerName, nexthopText, routerPort)));
    return r;
  }

  private resolveOnPortUncached(routerName: string, nexthopText: string, routerPort: string): NexthopResolution {
    const router = this.nb.routers.get(routerName);
    const lrp = router?.ports.find((p) => p.name === routerPort);
    const nexthop = parseIp(nexthopText) ? canonicalIp(nexthopText) : nexthopText;
    if (!router || !lrp) return this.resolveNexthop(routerName, nexthopText);
    return this.resolveBehind({ nexthop, notes: [], routerPort: lrp.name }, router, lrp);
  }

  private resolveBehind(out: NexthopResolution, router: NbLogicalRouter, lrp: NbRouterPort): NexthopResolution {
    const ip = out.nexthop;
    if (lrp.ips.includes(ip)) {
      out.port = { kind: 'Logical_Router_Port', name: lrp.name, parent: router.name, type: 'router', source: 'networks' };
      out.notes.push(`${ip} is router ${router.name}'s own port ${lrp.name}`);
      return out;
    }
    if (lrp.peer) {
      const peer = this.nb.routerPorts.get(lrp.peer);
      if (peer && peer.ips.includes(ip)) return this.routerPortTarget(out, peer);
    }
    const sw = lrp.switch ? this.nb.switches.get(lrp.switch) : undefined;
    if (!sw) {
      out.problem = { kind: 'NoPort', message: `router port ${lrp.name} of ${router.name} has no switch or peer carrying ${ip}` };
      return out;
    }
    out.switch = sw.name;
    if (sw.localnet) out.lastHop = 'localnet';
    const lsp = sw.ipIndex.get(ip)?.[0];
    if (lsp) {
      const source = lsp.ips.find((a) => a.ip === ip)!.source;
      out.port = { kind: 'Logical_Switch_Port', name: lsp.name, parent: sw.name, type: lsp.type, source };
      return this.bindSwitchPort(out, lsp.name, lsp.type, lsp.virtualParents);
    }
    // Another router's port on this switch (a gateway router behind a join switch, a distributed gateway port).
    for (const p of sw.ports) {
      if (!p.routerPort || p.routerPort === lrp.name) continue;
      const other = this.nb.routerPorts.get(p.routerPort);
      if (other && other.ips.includes(ip)) return this.routerPortTarget(out, other);
    }
    // Last resort: an IP learned in SB MAC_Binding on this router port, MAC -> switch port.
    const learned = (this.sb.macBindings.get(ip) ?? []).filter((m) => m.logicalPort === lrp.name);
    const newest = learned[0];
    if (newest) {
      if (learned.length > 1) out.notes.push(`newest of ${learned.length} MAC_Binding rows for ${ip} on ${lrp.name} (MAC ${newest.mac})`);
      const byMac = sw.ports.find((p) => p.ips.some((a) => a.mac === newest.mac) || (this.sb.portBindings.get(p.name)?.mac ?? []).some((m) => m.toLowerCase().startsWith(newest.mac)));
      if (byMac) {
        out.port = { kind: 'Logical_Switch_Port', name: byMac.name, parent: sw.name, type: byMac.type, source: 'MAC_Binding' };
        return this.bindSwitchPort(out, byMac.name, byMac.type, byMac.virtualParents);
      }
      out.problem = { kind: 'NoPort', message: `${ip} is known only from MAC_Binding (MAC ${newest.mac} on ${lrp.name}), and no port of switch ${sw.name} has that MAC` };
      return out;
    }
    out.problem = { kind: 'NoPort', message: `no port of switch ${sw.name} (behind router port ${lrp.name} of ${router.name}) carries ${ip} in addresses, dynamic_addresses, port_security or virtual-ip, and no MAC_Binding knows it` };
    return out;
  }

  private bindSwitchPort(out: NexthopResolution, name: string, type: string, virtualParents: string[]): NexthopResolution {
    const pb = this.sb.portBindings.get(name);
    const ch = pb?.chassis ? this.sb.chassis.get(pb.chassis) : undefined;
    if (!pb || !ch) {
      const why = type === 'virtual'
        ? `virtual port ${name} is not claimed by any of its parents${virtualParents.length ? ` (${virtualParents.join(', ')})` : ''}`
        : pb ? `port ${name} has no chassis in its Port_Binding` : `port ${name} has no Port_Binding`;
      out.problem = { kind: 'Unbound', message: `nexthop ${out.nexthop} is on ${out.port!.kind === 'Logical_Switch_Port' ? `port ${name} (switch ${out.port!.parent})` : name}, but ${why}` };
      return out;
    }
    if (type === 'virtual' && pb.virtualParent) out.notes.push(`virtual port ${name} claimed by ${pb.virtualParent}`);
    out.chassis = ch;
    out.hypervisor = this.hypervisorOf(ch, pb);
    const extra = pb.additionalChassis.map((u) => this.sb.chassis.get(u)).filter((c): c is SbChassis => c !== undefined);
    if (extra.length > 0) out.hypervisors = [out.hypervisor, ...extra.map((c) => this.hypervisorOf(c))];
    return out;
  }

  /** A nexthop that is another router's port: that router's chassis. */
  private routerPortTarget(out: NexthopResolution, port: NbRouterPort): NexthopResolution {
    out.port = { kind: 'Logical_Router_Port', name: port.name, parent: port.router, type: 'router', source: 'networks' };
    const gw = this.gatewayChassis(port);
    if (gw.active) {
      out.chassis = gw.active;
      out.hypervisor = this.hypervisorOf(gw.active);
      if (gw.all.length > 1) out.hypervisors = gw.all.map((c) => this.hypervisorOf(c));
      if (gw.how) out.notes.push(gw.how);
    } else out.notes.push(`router port ${port.name} of ${port.router} is distributed (no gateway chassis)`);
    return out;
  }

  /** Where a router port is: gateway router (options:chassis), cr- binding, HA chassis group. */
  gatewayChassis(port: NbRouterPort): { active?: SbChassis; all: SbChassis[]; how?: string } {
    const router = this.nb.routers.get(port.router);
    const byName = (n: string | undefined) => (n ? this.sb.chassisByName.get(n) : undefined);
    const gwRouter = byName(router?.options.chassis) ?? byName(this.sb.portBindings.get(port.name)?.options['l3gateway-chassis']);
    if (gwRouter) return { active: gwRouter, all: [gwRouter], how: `gateway router ${port.router} on chassis ${gwRouter.name}` };
    const pb = this.sb.portBindings.get(port.name);
    if (pb?.chassis) {
      const c = this.sb.chassis.get(pb.chassis);
      if (c) return { active: c, all: [c] };
    }
    const cr = this.sb.portBindings.get(`cr-${port.name}`);
    if (!cr) return { all: [] };
    const group = cr.haChassisGroup ? this.sb.haChassisGroups.get(cr.haChassisGroup) : undefined;
    const members = (group?.members ?? []).map((m) => this.sb.chassis.get(m.chassis)).filter((c): c is SbChassis => c !== undefined);
    const claimed = cr.chassis ? this.sb.chassis.get(cr.chassis) : undefined;
    if (claimed) return { active: claimed, all: members.length ? members : [claimed], how: `distributed gateway port ${port.name}: cr-${port.name} claimed by ${claimed.name}` };
    if (members[0]) return { active: members[0], all: members, how: `distributed gateway port ${port.name}: cr-${port.name} unclaimed, highest-priority HA chassis ${members[0].name}` };
    return { all: [] };
  }

  /** The tunnel endpoint ovn-controller uses to reach `ch` (for port `pb` when known). */
  hypervisorOf(ch: SbChassis, pb?: SbPortBinding): Hypervisor {
    const pinned = pb?.encap ? ch.encaps.find((e) => e.uuid === pb.encap) : undefined;
    const cacheKey = `${ch.uuid}/${pinned?.uuid ?? ''}`;
    const hit = this.hvCache.get(cacheKey);
    if (hit) return hit;
    const encap = pinned ?? this.bestEncap(ch);
    const h: Hypervisor = { chassis: ch.name };
    if (ch.hostname) h.hostname = ch.hostname;
    if (encap) {
      h.encapType = encap.type;
      h.encapIp = encap.ip;
    }
    this.hvCache.set(cacheKey, h);
    return h;
  }

  private bestEncap(ch: SbChassis): SbEncap | undefined {
    if (!this.typeCounts) {
      // how many chassis offer each tunnel type
      this.typeCounts = new Map();
      for (const c of this.sb.chassis.values()) for (const t of new Set(c.encaps.map((e) => e.type))) this.typeCounts.set(t, (this.typeCounts.get(t) ?? 0) + 1);
    }
    const counts = this.typeCounts;
    const sorted = [...ch.encaps].sort((a, b) => encapRank(a.type) - encapRank(b.type));
    return sorted.find((e) => (counts.get(e.type) ?? 0) > 1) ?? sorted[0];
  }
}

const topologies = new WeakMap<NbView, WeakMap<SbView, Topology>>();

/** The topology of a pair of views (built once per pair, its caches live as long as the views). */
export function topologyOf(nb: NbView, sb: SbView): Topology {
  let inner = topologies.get(nb);
  if (!inner) topologies.set(nb, (inner = new WeakMap()));
  let t = inner.get(sb);
  if (!t) inner.set(sb, (t = new Topology(nb, sb)));
  return t;
}
