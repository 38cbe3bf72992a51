// Small builders for NB/SB rows in the replica's decoded format (operator/ovsdb/types.ts), so the
// pure views, drift checks and repair planner can be tested without a server. Integration tests
// build the same topologies through real ovn-nbctl/ovn-sbctl and northd instead.
import type { Row } from '../../operator/ovsdb/types.js';
import type { RowSource } from '../../operator/ovn/rows.js';
import { validatePodCIDRRoute, type PodCIDRRoute } from '../../operator/api/podcidrroute.js';

let counter = 0;
function fakeUuid(): string {
  counter++;
  const hex = counter.toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-0000-4000-8000-${hex}`;
}

class RowsBuilder implements RowSource {
  readonly tables = new Map<string, Map<string, Row>>();
  staleReason?: string;

  insert(table: string, cols: Omit<Row, '_uuid'>, uuid = fakeUuid()): string {
    const t = this.tables.get(table) ?? new Map<string, Row>();
    t.set(uuid, { _uuid: uuid, ...cols } as Row);
    this.tables.set(table, t);
    return uuid;
  }

  get(table: string, uuid: string): Row {
    return this.tables.get(table)!.get(uuid)!;
  }

  /** Adds a uuid to a set column as the replica does: a new row version, never a mutated row. */
  protected addToSet(table: string, uuid: string, column: string, member: string): void {
    const row = this.get(table, uuid);
    this.tables.get(table)!.set(uuid, { ...row, [column]: [...(row[column] as string[]), member] } as Row);
  }

  rows(table: string): ReadonlyMap<string, Row> {
    return this.tables.get(table) ?? new Map();
  }

  assertFresh(): void {
    if (this.staleReason) throw Object.assign(new Error(this.staleReason), { code: 'StaleView' });
  }
}

/** NB builder: routers, router ports, switches, switch ports, static routes, NB_Global. */
export class NbBuilder extends RowsBuilder {
  constructor(nbCfg = 0, sbCfg = nbCfg) {
    super();
    this.insert('NB_Global', { nb_cfg: nbCfg, sb_cfg: sbCfg, hv_cfg: sbCfg, nb_cfg_timestamp: 0, sb_cfg_timestamp: 0 });
  }

  router(name: string): string {
    return this.insert('Logical_Router', { name, static_routes: [], policies: [], ports: [], options: {}, external_ids: {} });
  }

  routerUuid(name: string): string {
    return [...this.rows('Logical_Router').values()].find((r) => r.name === name)!._uuid;
  }

  lrp(router: string, name: string, mac: string, networks: string[]): string {
    const u = this.insert('Logical_Router_Port', { name, mac, networks, peer: [], options: {} });
    this.addToSet('Logical_Router', this.routerUuid(router), 'ports', u);
    return u;
  }

  sw(name: string): string {
    return this.insert('Logical_Switch', { name, ports: [] });
  }

  lsp(sw: string, name: string, addresses: string[], type = '', extra: { port_security?: string[]; options?: Record<string, string> } = {}): string {
    const u = this.insert('Logical_Switch_Port', { name, type, addresses, dynamic_addresses: [], port_security: extra.port_security ?? [], options: extra.options ?? {} });
    const s = [...this.rows('Logical_Switch').values()].find((r) => r.name === sw)!;
    this.addToSet('Logical_Switch', s._uuid as string, 'ports', u);
    return u;
  }

  /** Wires router port `lrp` to switch `sw` as ovn-nbctl does: a type=router switch port naming it. */
  link(lrp: string, sw: string): string {
    return this.lsp(sw, `${sw}-to-${lrp}`, ['router'], 'router', { options: { 'router-port': lrp } });
  }

  policy(router: string, priority: number, match: string, action: string, nexthops: string[] = []): string {
    const u = this.insert('Logical_Router_Policy', { priority, match, action, nexthop: [], nexthops, options: {}, external_ids: {} });
    this.addToSet('Logical_Router', this.routerUuid(router), 'policies', u);
    return u;
  }

  route(router: string, prefix: string, nexthop: string, opts: { policy?: string; routeTable?: string; externalIds?: Record<string, string> } = {}): string {
    const u = this.insert('Logical_Router_Static_Route', {
      ip_prefix: prefix,
      nexthop,
      policy: opts.policy ? [opts.policy] : [],
      route_table: opts.routeTable ?? '',
      output_port: [],
      external_ids: opts.externalIds ?? {},
      options: {},
      bfd: [],
    });
    this.addToSet('Logical_Router', this.routerUuid(router), 'static_routes', u);
    return u;
  }
}

/** SB builder: datapaths, routing flows, chassis with encaps, port bindings, SB_Global. */
export class SbBuilder extends RowsBuilder {
  constructor(nbCfg = 0) {
    super();
    this.insert('SB_Global', { nb_cfg: nbCfg });
  }

  datapath(name: string, nbRouterUuid: string): string {
    return this.insert('Datapath_Binding', { external_ids: { name, 'logical-router': nbRouterUuid }, tunnel_key: this.rows('Datapath_Binding').size + 1 });
  }

  flow(datapath: string, stage: 'lr_in_ip_routing' | 'lr_in_ip_routing_ecmp', priority: number, match: string, actions: string): string {
    return this.insert('Logical_Flow', {
      logical_datapath: [datapath],
      logical_dp_group: [],
      pipeline: 'ingress',
      table_id: 13,
      priority,
      match,
      actions,
      external_ids: { 'stage-name': stage },
    });
  }

  chassis(name: string, encapType: string, encapIp: string, hostname = ''): string {
    const e = this.insert('Encap', { type: encapType, ip: encapIp, options: { csum: 'true' }, chassis_name: name });
    return this.insert('Chassis', { name, hostname, encaps: [e] });
  }

  macBinding(logicalPort: string, ip: string, mac: string, timestamp = 0): string {
    return this.insert('MAC_Binding', { logical_port: logicalPort, ip, mac, datapath: '', timestamp });
  }

  bind(logicalPort: string, chassisName?: string, type = ''): string {
    const ch = chassisName ? [...this.rows('Chassis').values()].find((c) => c.name === chassisName)!._uuid : undefined;
    return this.insert('Port_Binding', {
      logical_port: logicalPort,
      datapath: '',
      type,
      chassis: ch ? [ch] : [],
      requested_chassis: [],
      additional_chassis: [],
      up: [ch !== undefined],
      mac: [],
      options: {},
    });
  }
}

/** A validated PodCIDRRoute (throws on invalid input, so fixtures cannot be silently wrong). */
export function pcr(name: string, spec: Record<string, unknown>): PodCIDRRoute {
  const r = validatePodCIDRRoute({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name }, spec });
  if (!r.route) throw new Error(`bad fixture ${name}: ${JSON.stringify(r.errors)}`);
  return r.route;
}

/** The router-port flow text northd 23.03 writes for a static route. */
export function routeFlow2303(prefix: string, nexthop: string, src: string, mac: string, lrp: string): { match: string; actions: string } {
  const v6 = prefix.includes(':');
  return {
    match: `reg7 == 0 && ${v6 ? 'ip6' : 'ip4'}.dst == ${prefix}`,
    actions: `ip.ttl--; reg8[0..15] = 0; ${v6 ? 'xxreg0' : 'reg0'} = ${nexthop}; ${v6 ? 'xxreg1' : 'reg1'} = ${src}; eth.src = ${mac}; outport = "${lrp}"; flags.loopback = 1; next;`,
  };
}

/** The same flow in the OVN 25.03 form (source in reg5 for IPv4, reg9[9] set). */
export function routeFlow2503(prefix: string, nexthop: string, src: string, mac: string, lrp: string): { match: string; actions: string } {
  const v6 = prefix.includes(':');
  return {
    match: `reg7 == 0 && ${v6 ? 'ip6' : 'ip4'}.dst == ${prefix}`,
    actions: `ip.ttl--; reg8[0..15] = 0; ${v6 ? 'xxreg0' : 'reg0'} = ${nexthop}; ${v6 ? 'xxreg1' : 'reg5'} = ${src}; eth.src = ${mac}; outport = "${lrp}"; flags.loopback = 1; reg9[9] = ${v6 ? 0 : 1}; next;`,
  };
}
