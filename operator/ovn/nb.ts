// Typed read-only view of the OVN Northbound database: Logical_Router with its static routes and
// ports, Logical_Switch_Port addresses indexed by IP, NB_Global counters. Built from any RowSource
// as plain data. Pure; must not import the OVSDB client.
import type { Row, Uuid } from '../ovsdb/types.js';
import { canonicalIp, parseIp, parsePrefix, type Prefix } from './ip.js';
import { num, optStr, sortedRows, staleness, str, strMap, strSet, type RowSource } from './rows.js';
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
  peer?: string;
  /** options:route_table: the route table packets entering on this port use ("" = main). */
  routeTable: string;
}

export interface NbLogicalRouter {
  uuid: Uuid;
  name: string;
  staticRoutes: NbStaticRoute[];
  /** Static routes by normalised prefix text. */
  routesByPrefix: ReadonlyMap<string, NbStaticRoute[]>;
  ports: NbRouterPort[];
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
  /** Canonical IP -> ports that carry it (sorted by parent, name). */
  ipIndex: ReadonlyMap<string, NbPortAddress[]>;
  global: NbGlobal;
  /** Set when the replica is a follower cut off from its cluster. */
  stale?: string;
}

/** Reads `addresses`/`dynamic_addresses` entries: "MAC IP IP...", "router", "unknown", "dynamic". */
function addressIps(entries: string[]): { mac?: string; ips: string[] }[] {
  const out: { mac?: string; ips: string[] }[] = [];
  for (const e of entries) {
    const words = e.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0 || ['router', 'unknown', 'dynamic'].includes(words[0]!)) continue;
    const mac = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(words[0]!) ? words.shift() : undefined;
    const ips = words.map((w) => w.replace(/\/\d+$/, '')).filter((w) => parseIp(w) !== undefined).map(canonicalIp);
    out.push({ ...(mac ? { mac } : {}), ips });
  }
  return out;
}

export function nbView(source: RowSource): NbView {
  const stale = staleness(source);
  const portRows = new Map<Uuid, Row>(source.rows('Logical_Router_Port'));
  const routeRows = source.rows('Logical_Router_Static_Route');
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
    for (const uuid of strSet(r.static_routes)) {
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
      const port: NbRouterPort = { uuid, name: str(p.name), router: name, mac: str(p.mac), networks: strSet(p.networks), routeTable: strMap(p.options).route_table ?? '' };
      const peer = optStr(p.peer);
      if (peer) port.peer = peer;
      ports.push(port);
      for (const n of port.networks) {
        const ip = parseIp(n.replace(/\/\d+$/, ''));
        if (ip) addIp(canonicalIp(n.replace(/\/\d+$/, '')), { kind: 'Logical_Router_Port', uuid, name: port.name, parent: name, type: 'router', mac: port.mac });
      }
    }
    ports.sort((a, b) => (a.name < b.name ? -1 : 1));
    const routesByPrefix = new Map<string, NbStaticRoute[]>();
    for (const route of routes) {
      if (!route.prefix) continue;
      const list = routesByPrefix.get(route.prefix.text);
      if (list) list.push(route);
      else routesByPrefix.set(route.prefix.text, [route]);
    }
    if (!routers.has(name)) routers.set(name, { uuid: r._uuid, name, staticRoutes: routes, routesByPrefix, ports, row: r });
  }

  const lspRows = source.rows('Logical_Switch_Port');
  for (const s of sortedRows(source, 'Logical_Switch')) {
    const swName = str(s.name);
    for (const uuid of strSet(s.ports)) {
      const p = lspRows.get(uuid);
      if (!p) continue;
      const type = str(p.type);
      if (type === 'router') continue; // its IPs belong to the peer Logical_Router_Port
      const entries = [...strSet(p.addresses), ...strSet(p.dynamic_addresses)];
      for (const { mac, ips } of addressIps(entries)) {
        for (const ip of ips) addIp(ip, { kind: 'Logical_Switch_Port', uuid, name: str(p.name), parent: swName, type, ...(mac ? { mac } : {}) });
      }
    }
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
  return { routers, staticRoutes, ipIndex, global, ...(stale ? { stale } : {}) };
}

/** Ports carrying `ip` (switch ports first), or []. */
export function portsWithIp(nb: NbView, ip: string): NbPortAddress[] {
  return nb.ipIndex.get(canonicalIp(ip)) ?? [];
}
