// Typed read-only view of the OVN Northbound database: Logical_Router with its static routes,
// policies and ports, Logical_Switch with its ports and their IPs (addresses, dynamic_addresses,
// port_security, virtual-ip) indexed per switch, the wiring router port <-> switch, NB_Global
// counters. Built from any RowSource as plain data; the indexes live here, the resolution rules in
// topology.ts. Pure; must not import the OVSDB client.
import type { Row, Uuid } from '../ovsdb/types.js';
import { parsePrefix, type Prefix } from './ip.js';
import { routerPortIps, switchPortIps, switchPortWiring, type IpSource } from './addresses.js';
import { num, optStr, sortedRows, staleness, staticRouteSet, str, strMap, strSet, type RowSource } from './rows.js';
import { OWNER_KEY } from './ownership.js';

export interface NbStaticRoute {
  uuid: Uuid;
  router: string;
  routerUuid: Uuid;
  /** ip_prefix as stored. */
  ipPrefix: string;
  /** Normalised prefix (undefined when ip_prefix does not parse). */
  prefix?: Prefix;
  /** nexthop as stored ("" or "discard" are possible). */
  nexthop: string;
  policy: 'dst-ip' | 'src-ip';
  routeTable: string;
  outputPort?: string;
  /** options:ecmp_symmetric_reply=true. */
  ecmpSymmetricReply: boolean;
  /** nexthop is "discard": traffic is dropped. */
  discard: boolean;
  /** The route is BFD-monitored (bfd column set). */
  bfd: boolean;
  /** The NB BFD row monitoring it, when set. */
  bfdUuid?: Uuid;
  externalIds: Record<string, string>;
  /** ovndrift.io/owner, when ovn-drift owns the row. */
  owner?: string;
  /** The row as read, for transaction guards. */
  row: Row;
}

export interface NbRouterPort {
  uuid: Uuid;
  name: string;
  router: string;
  mac: string;
  /** networks, e.g. 10.215.88.1/22. */
  networks: string[];
  /** networks parsed (host bits masked), in the order stored. */
  prefixes: Prefix[];
  /** The router port's own addresses (networks without the length). */
  ips: string[];
  peer?: string;
  /** options:route_table: the route table packets entering on this port use ("" = main). */
  routeTable: string;
  options: Record<string, string>;
  /** The Logical_Switch behind this port (a type=router switch port names it in options:router-port). */
  switch?: string;
}

/** A Logical_Router_Policy row. */
export interface NbRouterPolicy {
  uuid: Uuid;
  router: string;
  priority: number;
  match: string;
  /** allow | drop | reroute (others are kept verbatim). */
  action: string;
  /** reroute nexthops (nexthops column, else the legacy nexthop column). */
  nexthops: string[];
  options: Record<string, string>;
}

/** A Logical_Switch_Port with its IPs and wiring. */
export interface NbSwitchPort {
  uuid: Uuid;
  name: string;
  switch: string;
  type: string;
  ips: { ip: string; mac?: string; source: IpSource }[];
  /** options:router-port of a type=router port. */
  routerPort?: string;
  virtualParents: string[];
  options: Record<string, string>;
}

export interface NbLogicalSwitch {
  uuid: Uuid;
  name: string;
  ports: NbSwitchPort[];
  /** The switch has a localnet port: traffic leaves through the physical network, not a tunnel. */
  localnet: boolean;
  /** Canonical IP -> switch ports of this switch carrying it (addresses first, then dynamic, port_security, virtual-ip). */
  ipIndex: ReadonlyMap<string, NbSwitchPort[]>;
}

export interface NbLogicalRouter {
  uuid: Uuid;
  name: string;
  staticRoutes: NbStaticRoute[];
  /** Static routes by normalised prefix text. */
  routesByPrefix: ReadonlyMap<string, NbStaticRoute[]>;
  ports: NbRouterPort[];
  /** Ports in the order northd walks them (the `ports` set as OVSDB orders it: by uuid). */
  portsInNorthdOrder: NbRouterPort[];
  /** Logical_Router_Policy rows, highest priority first (ties by uuid). */
  policies: NbRouterPolicy[];
  options: Record<string, string>;
  row: Row;
}

/** A port that carries an IP: a Logical_Switch_Port (addresses) or a Logical_Router_Port (networks). */
export interface NbPortAddress {
  kind: 'Logical_Switch_Port' | 'Logical_Router_Port';
  uuid: Uuid;
  /** Port name = Port_Binding logical_port. */
  name: string;
  /** Logical_Switch or Logical_Router name. */
  parent: string;
  type: string;
  mac?: string;
}

export interface NbGlobal {
  nbCfg: number;
  sbCfg: number;
  hvCfg: number;
  nbCfgTimestamp: number;
  sbCfgTimestamp: number;
}

export interface NbView {
  /** Routers by name (the lowest uuid wins when a name is duplicated). */
  routers: ReadonlyMap<string, NbLogicalRouter>;
  /** Every static route by uuid. */
  staticRoutes: ReadonlyMap<Uuid, NbStaticRoute>;
  /** Canonical IP -> ports that carry it (sorted by parent, name). A global index: it does not say
   * which one northd would pick; resolution goes through topology.ts, which scopes by router port. */
  ipIndex: ReadonlyMap<string, NbPortAddress[]>;
  switches: ReadonlyMap<string, NbLogicalSwitch>;
  switchPorts: ReadonlyMap<string, NbSwitchPort>;
  routerPorts: ReadonlyMap<string, NbRouterPort>;
  /** NB Address_Set addresses by name (what `$name` in a policy match stands for). */
  addressSets: ReadonlyMap<string, string[]>;
  /** Routers by Logical_Router_Port name. */
  routerOfPort: ReadonlyMap<string, string>;
  global: NbGlobal;
  /** NB BFD sessions by uuid (status: up, down, init, admin_down). */
  bfd: ReadonlyMap<Uuid, NbBfd>;
  /** Set when the replica is a follower cut off from its cluster. */
  stale?: string;
}

/** An NB BFD row: the session ovn-controller runs for a BFD-monitored route. */
export interface NbBfd {
  uuid: Uuid;
  logicalPort: string;
  dstIp: string;
  /** up, down, init or admin_down ("" when ovn-controller has not reported yet). */
  status: string;
}

export function nbView(source: RowSource): NbView {
  const stale = staleness(source);
  const portRows = new Map<Uuid, Row>(source.rows('Logical_Router_Port'));
  const routeRows = source.rows('Logical_Router_Static_Route');
  const policyRows = source.rows('Logical_Router_Policy');
  const routerPorts = new Map<string, NbRouterPort>();
  const routerOfPort = new Map<string, string>();
  const routers = new Map<string, NbLogicalRouter>();
  const staticRoutes = new Map<Uuid, NbStaticRoute>();
  const ipIndex = new Map<string, NbPortAddress[]>();
  const addIp = (ip: string, p: NbPortAddress) => {
    const list = ipIndex.get(ip) ?? [];
    if (!list.some((x) => x.uuid === p.uuid)) list.push(p);
    ipIndex.set(ip, list);
  };

  for (const r of sortedRows(source, 'Logical_Router')) {
    const name = str(r.name);
    const routes: NbStaticRoute[] = [];
    // a scoped read holds a few routes: look them up in the router's set instead of walking all
    // of its routes (1,000 routers x 200 routes per reconcile at field scale)
    const own = staticRouteSet(r);
    const uuids = routeRows.size < own.size ? [...routeRows.keys()].filter((u) => own.has(u)) : own;
    for (const uuid of uuids) {
      const row = routeRows.get(uuid);
      if (!row) continue;
      const externalIds = strMap(row.external_ids);
      const ipPrefix = str(row.ip_prefix);
      const route: NbStaticRoute = {
        uuid,
        router: name,
        routerUuid: r._uuid,
        ipPrefix,
        nexthop: str(row.nexthop),
        policy: str(row.policy) === 'src-ip' ? 'src-ip' : 'dst-ip',
        routeTable: str(row.route_table),
        ecmpSymmetricReply: strMap(row.options).ecmp_symmetric_reply === 'true',
        discard: str(row.nexthop) === 'discard',
        bfd: strSet(row.bfd).length > 0,
        ...(strSet(row.bfd)[0] ? { bfdUuid: strSet(row.bfd)[0] } : {}),
        externalIds,
        row,
      };
      const prefix = parsePrefix(ipPrefix);
      if (prefix) route.prefix = prefix;
      const outputPort = optStr(row.output_port);
      if (outputPort) route.outputPort = outputPort;
      const owner = externalIds[OWNER_KEY];
      if (owner) route.owner = owner;
      routes.push(route);
      staticRoutes.set(uuid, route);
    }
    routes.sort((a, b) => (a.uuid < b.uuid ? -1 : 1));
    const ports: NbRouterPort[] = [];
    for (const uuid of strSet(r.ports)) {
      const p = portRows.get(uuid);
      if (!p) continue;
      const networks = strSet(p.networks);
      const options = strMap(p.options);
      const port: NbRouterPort = {
        uuid,
        name: str(p.name),
        router: name,
        mac: str(p.mac),
        networks,
        prefixes: networks.map((n) => parsePrefix(n)).filter((x): x is Prefix => x !== undefined),
        ips: routerPortIps(p),
        routeTable: options.route_table ?? '',
        options,
      };
      const peer = optStr(p.peer);
      if (peer) port.peer = peer;
      ports.push(port);
      if (!routerPorts.has(port.name)) {
        routerPorts.set(port.name, port);
        routerOfPort.set(port.name, name);
      }
      for (const ip of port.ips) addIp(ip, { kind: 'Logical_Router_Port', uuid, name: port.name, parent: name, type: 'router', mac: port.mac });
    }
    const portsInNorthdOrder = [...ports].sort((a, b) => (a.uuid < b.uuid ? -1 : 1));
    ports.sort((a, b) => (a.name < b.name ? -1 : 1));
    const policies: NbRouterPolicy[] = [];
    for (const uuid of strSet(r.policies)) {
      const row = policyRows.get(uuid);
      if (!row) continue;
      const nexthops = [...strSet(row.nexthops), ...strSet(row.nexthop)];
      policies.push({ uuid, router: name, priority: num(row.priority), match: str(row.match), action: str(row.action), nexthops: [...new Set(nexthops)], options: strMap(row.options) });
    }
    policies.sort((a, b) => b.priority - a.priority || (a.uuid < b.uuid ? -1 : 1));
    const routesByPrefix = new Map<string, NbStaticRoute[]>();
    for (const route of routes) {
      if (!route.prefix) continue;
      const list = routesByPrefix.get(route.prefix.text);
      if (list) list.push(route);
      else routesByPrefix.set(route.prefix.text, [route]);
    }
    if (!routers.has(name)) routers.set(name, { uuid: r._uuid, name, staticRoutes: routes, routesByPrefix, ports, portsInNorthdOrder, policies, options: strMap(r.options), row: r });
  }

  const lspRows = source.rows('Logical_Switch_Port');
  const switches = new Map<string, NbLogicalSwitch>();
  const switchPorts = new Map<string, NbSwitchPort>();
  const SOURCE_ORDER: Record<IpSource, number> = { addresses: 0, dynamic_addresses: 1, port_security: 2, 'virtual-ip': 3 };
  for (const s of sortedRows(source, 'Logical_Switch')) {
    const swName = str(s.name);
    const ports: NbSwitchPort[] = [];
    const swIndex = new Map<string, NbSwitchPort[]>();
    let localnet = false;
    for (const uuid of strSet(s.ports)) {
      const p = lspRows.get(uuid);
      if (!p) continue;
      const wiring = switchPortWiring(p);
      const port: NbSwitchPort = { uuid, name: str(p.name), switch: swName, type: wiring.type, ips: switchPortIps(p), virtualParents: wiring.virtualParents, options: wiring.options };
      if (wiring.routerPort) {
        port.routerPort = wiring.routerPort;
        const lrp = routerPorts.get(wiring.routerPort);
        if (lrp && !lrp.switch) lrp.switch = swName;
      }
      if (wiring.type === 'localnet') localnet = true;
      ports.push(port);
      if (!switchPorts.has(port.name)) switchPorts.set(port.name, port);
      if (wiring.type === 'router') continue; // its IPs belong to the peer Logical_Router_Port
      for (const a of port.ips) {
        const list = swIndex.get(a.ip) ?? [];
        if (!list.includes(port)) list.push(port);
        swIndex.set(a.ip, list);
        if (a.source !== 'virtual-ip') addIp(a.ip, { kind: 'Logical_Switch_Port', uuid, name: port.name, parent: swName, type: port.type, ...(a.mac ? { mac: a.mac } : {}) });
      }
    }
    ports.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const [ip, list] of swIndex) {
      const rank = (p: NbSwitchPort) => Math.min(...p.ips.filter((x) => x.ip === ip).map((x) => SOURCE_ORDER[x.source]));
      list.sort((a, b) => rank(a) - rank(b) || (a.name < b.name ? -1 : 1));
    }
    if (!switches.has(swName)) switches.set(swName, { uuid: s._uuid, name: swName, ports, localnet, ipIndex: swIndex });
  }
  for (const list of ipIndex.values()) {
    list.sort((a, b) => (a.kind !== b.kind ? (a.kind === 'Logical_Switch_Port' ? -1 : 1) : a.parent !== b.parent ? (a.parent < b.parent ? -1 : 1) : a.name < b.name ? -1 : 1));
  }

  const g = sortedRows(source, 'NB_Global')[0];
  const global: NbGlobal = {
    nbCfg: num(g?.nb_cfg),
    sbCfg: num(g?.sb_cfg),
    hvCfg: num(g?.hv_cfg),
    nbCfgTimestamp: num(g?.nb_cfg_timestamp),
    sbCfgTimestamp: num(g?.sb_cfg_timestamp),
  };
  const addressSets = new Map<string, string[]>();
  for (const a of sortedRows(source, 'Address_Set')) if (!addressSets.has(str(a.name))) addressSets.set(str(a.name), strSet(a.addresses));
  const bfd = new Map<Uuid, NbBfd>();
  for (const b of sortedRows(source, 'BFD')) bfd.set(b._uuid, { uuid: b._uuid, logicalPort: str(b.logical_port), dstIp: str(b.dst_ip), status: str(b.status) });
  return { routers, staticRoutes, ipIndex, addressSets, switches, switchPorts, routerPorts, routerOfPort, global, bfd, ...(stale ? { stale } : {}) };
}
