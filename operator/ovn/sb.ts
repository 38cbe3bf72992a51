// Typed read-only view of the OVN Southbound database: Datapath_Binding, the routing-stage
// Logical_Flows (lr_in_ip_routing, lr_in_ip_routing_ecmp) parsed, Port_Binding, Chassis, Encap,
// Chassis_Private and SB_Global (hypervisor resolution is the topology model's, topology.ts).
// Pure; must not import the OVSDB client.
import type { Row, Uuid } from '../ovsdb/types.js';
import {
  parseEcmpMemberMatch,
  parseRoutingActions,
  parseRoutingMatch,
  parseRoutingPre,
  STAGE_ROUTING,
  STAGE_ROUTING_ECMP,
  STAGE_ROUTING_PRE,
  type RoutingAction,
  type RoutingMatch,
} from './flows.js';
import { canonicalIp, parseIp } from './ip.js';
import { num, optStr, sortedRows, staleness, str, strMap, strSet, type RowSource } from './rows.js';

/** ovn-controller's preference among tunnel types (best first): geneve, stt, vxlan. */
const ENCAP_PREFERENCE = ['geneve', 'stt', 'vxlan'] as const;
export function encapRank(type: string): number {
  const i = (ENCAP_PREFERENCE as readonly string[]).indexOf(type);
  return i < 0 ? ENCAP_PREFERENCE.length : i;
}

/** Where traffic lands: the chassis a port is bound to and its tunnel endpoint. */
export interface Hypervisor {
  chassis: string;
  hostname?: string;
  encapType?: string;
  encapIp?: string;
}

export interface SbDatapath {
  uuid: Uuid;
  name: string;
  /** NB Logical_Router uuid (external_ids:logical-router). */
  logicalRouter?: Uuid;
  logicalSwitch?: Uuid;
}

export interface SbRoutingFlow {
  uuid: Uuid;
  datapaths: Uuid[];
  priority: number;
  match: string;
  actions: string;
  /** Parsed match; undefined for flows that are not a route (drop, nd_rs, ...). */
  route?: RoutingMatch;
  action: RoutingAction;
  /** First 8 hex digits of the NB row that produced the flow. */
  stageHint?: string;
}

export interface SbEcmpMember {
  uuid: Uuid;
  group: number;
  member: number;
  action: RoutingAction;
}

export interface SbPortBinding {
  uuid: Uuid;
  logicalPort: string;
  datapath: Uuid;
  type: string;
  chassis?: Uuid;
  requestedChassis?: Uuid;
  additionalChassis: Uuid[];
  up?: boolean;
  mac: string[];
  options: Record<string, string>;
  /** virtual_parent: the parent port that claimed a type=virtual port. */
  virtualParent?: string;
  /** encap: the Encap row the port's chassis uses for it (several ovn-encap-ip). */
  encap?: Uuid;
  haChassisGroup?: Uuid;
}

/** An SB MAC_Binding row: an IP learned (ARP/ND) on a logical port. */
export interface SbMacBinding {
  uuid: Uuid;
  logicalPort: string;
  ip: string;
  mac: string;
  datapath: Uuid;
  /** Milliseconds since the epoch (0 when the release has no timestamp column). */
  timestamp: number;
}

/** An HA_Chassis_Group: members by priority, highest first. */
export interface SbHaChassisGroup {
  uuid: Uuid;
  name: string;
  members: { chassis: Uuid; priority: number }[];
}

export interface SbEncap {
  uuid: Uuid;
  type: string;
  ip: string;
  options: Record<string, string>;
}

export interface SbChassis {
  uuid: Uuid;
  name: string;
  hostname: string;
  encaps: SbEncap[];
}

export interface SbView {
  datapaths: ReadonlyMap<Uuid, SbDatapath>;
  /** Datapath by NB Logical_Router uuid and by router name. */
  routerDatapaths: ReadonlyMap<string, Uuid>;
  /** lr_in_ip_routing flows per datapath, highest priority first. */
  routingFlows: ReadonlyMap<Uuid, SbRoutingFlow[]>;
  /** The same flows by datapath, then by `${direction} ${prefix}` (see routingFlowKey). */
  routingFlowIndex: ReadonlyMap<Uuid, ReadonlyMap<string, SbRoutingFlow[]>>;
  /** Route table ids by datapath and router port (lr_in_ip_routing_pre: `inport == P` -> `reg7 = N`). */
  routeTableIds: ReadonlyMap<Uuid, ReadonlyMap<string, number>>;
  /** lr_in_ip_routing_ecmp member flows by `${datapath}/${group}/${member}`. */
  ecmpMembers: ReadonlyMap<string, SbEcmpMember>;
  portBindings: ReadonlyMap<string, SbPortBinding>;
  chassis: ReadonlyMap<Uuid, SbChassis>;
  chassisByName: ReadonlyMap<string, SbChassis>;
  encaps: ReadonlyMap<Uuid, SbEncap>;
  haChassisGroups: ReadonlyMap<Uuid, SbHaChassisGroup>;
  /** MAC_Binding rows by canonical IP, newest first. */
  macBindings: ReadonlyMap<string, SbMacBinding[]>;
  /** Chassis_Private.nb_cfg by chassis name (what each ovn-controller has caught up to). */
  chassisNbCfg: ReadonlyMap<string, number>;
  /** Chassis_Private.nb_cfg_timestamp by chassis name: when that ovn-controller last caught up (ms). */
  chassisNbCfgTimestamp: ReadonlyMap<string, number>;
  /** SB_Global.nb_cfg: the NB_Global.nb_cfg northd has reflected into the SB. */
  nbCfg: number;
  stale?: string;
}

export function routingFlowKey(direction: 'dst' | 'src', prefix: string): string {
  return `${direction} ${prefix}`;
}

export function ecmpKey(datapath: Uuid, group: number, member: number): string {
  return `${datapath}/${group}/${member}`;
}

export function sbView(source: RowSource): SbView {
  const stale = staleness(source);
  const datapaths = new Map<Uuid, SbDatapath>();
  const routerDatapaths = new Map<string, Uuid>();
  for (const r of sortedRows(source, 'Datapath_Binding')) {
    const ext = strMap(r.external_ids);
    const dp: SbDatapath = {
      uuid: r._uuid,
      name: ext.name ?? '',
      ...(ext['logical-router'] ? { logicalRouter: ext['logical-router'] } : {}),
      ...(ext['logical-switch'] ? { logicalSwitch: ext['logical-switch'] } : {}),
    };
    datapaths.set(r._uuid, dp);
    if (dp.logicalRouter) {
      routerDatapaths.set(dp.logicalRouter, r._uuid);
      if (dp.name && !routerDatapaths.has(dp.name)) routerDatapaths.set(dp.name, r._uuid);
    }
  }

  const groups = source.rows('Logical_DP_Group');
  const flowDatapaths = (f: Row): Uuid[] => {
    const dp = optStr(f.logical_datapath);
    if (dp) return [dp];
    const g = optStr(f.logical_dp_group);
    return g ? strSet(groups.get(g)?.datapaths) : [];
  };

  const routingFlows = new Map<Uuid, SbRoutingFlow[]>();
  const ecmpMembers = new Map<string, SbEcmpMember>();
  const routeTableIds = new Map<Uuid, Map<string, number>>();
  for (const f of source.rows('Logical_Flow').values()) {
    const ext = f.external_ids as Record<string, unknown> | undefined;
    const stage = ext && typeof ext === 'object' && !Array.isArray(ext) ? ext['stage-name'] : undefined;
    if (stage === STAGE_ROUTING) {
      const match = str(f.match);
      const route = parseRoutingMatch(match);
      if (!route) continue;
      const actions = str(f.actions);
      const flow: SbRoutingFlow = { uuid: f._uuid, datapaths: flowDatapaths(f), priority: num(f.priority), match, actions, route, action: parseRoutingActions(actions) };
      const hint = ext!['stage-hint'];
      if (hint !== undefined) flow.stageHint = String(hint);
      for (const dp of flow.datapaths) {
        const list = routingFlows.get(dp);
        if (list) list.push(flow);
        else routingFlows.set(dp, [flow]);
      }
    } else if (stage === STAGE_ROUTING_ECMP) {
      const m = parseEcmpMemberMatch(str(f.match));
      if (!m) continue;
      const action = parseRoutingActions(str(f.actions));
      for (const dp of flowDatapaths(f)) ecmpMembers.set(ecmpKey(dp, m.group, m.member), { uuid: f._uuid, group: m.group, member: m.member, action });
    } else if (stage === STAGE_ROUTING_PRE) {
      const pre = parseRoutingPre(str(f.match), str(f.actions));
      if (!pre) continue;
      for (const dp of flowDatapaths(f)) {
        const ids = routeTableIds.get(dp) ?? new Map<string, number>();
        ids.set(pre.inport, pre.routeTableId);
        routeTableIds.set(dp, ids);
      }
    }
  }
  const routingFlowIndex = new Map<Uuid, Map<string, SbRoutingFlow[]>>();
  for (const [dp, list] of routingFlows) {
    list.sort((a, b) => b.priority - a.priority || (a.uuid < b.uuid ? -1 : 1));
    const byKey = new Map<string, SbRoutingFlow[]>();
    for (const f of list) {
      const key = routingFlowKey(f.route!.direction, f.route!.prefix.text);
      const l = byKey.get(key);
      if (l) l.push(f);
      else byKey.set(key, [f]);
    }
    routingFlowIndex.set(dp, byKey);
  }

  const portBindings = new Map<string, SbPortBinding>();
  for (const p of sortedRows(source, 'Port_Binding')) {
    const lp = str(p.logical_port);
    if (portBindings.has(lp)) continue;
    const up = p.up === undefined ? undefined : strSet(p.up)[0];
    portBindings.set(lp, {
      uuid: p._uuid,
      logicalPort: lp,
      datapath: str(p.datapath),
      type: str(p.type),
      ...(optStr(p.chassis) ? { chassis: optStr(p.chassis) } : {}),
      ...(optStr(p.requested_chassis) ? { requestedChassis: optStr(p.requested_chassis) } : {}),
      additionalChassis: strSet(p.additional_chassis),
      ...(up !== undefined ? { up: up === 'true' } : {}),
      mac: strSet(p.mac),
      options: strMap(p.options),
      ...(optStr(p.virtual_parent) ? { virtualParent: optStr(p.virtual_parent) } : {}),
      ...(optStr(p.encap) ? { encap: optStr(p.encap) } : {}),
      ...(optStr(p.ha_chassis_group) ? { haChassisGroup: optStr(p.ha_chassis_group) } : {}),
    });
  }
  const haRows = source.rows('HA_Chassis');
  const haChassisGroups = new Map<Uuid, SbHaChassisGroup>();
  for (const g of sortedRows(source, 'HA_Chassis_Group')) {
    const members = strSet(g.ha_chassis)
      .map((u) => haRows.get(u))
      .filter((m): m is Row => m !== undefined && optStr(m.chassis) !== undefined)
      .map((m) => ({ chassis: optStr(m.chassis)!, priority: num(m.priority) }))
      .sort((a, b) => b.priority - a.priority || (a.chassis < b.chassis ? -1 : 1));
    haChassisGroups.set(g._uuid, { uuid: g._uuid, name: str(g.name), members });
  }
  const macBindings = new Map<string, SbMacBinding[]>();
  for (const m of sortedRows(source, 'MAC_Binding')) {
    const ipText = str(m.ip);
    if (!parseIp(ipText)) continue;
    const ip = canonicalIp(ipText);
    const b: SbMacBinding = { uuid: m._uuid, logicalPort: str(m.logical_port), ip, mac: str(m.mac).toLowerCase(), datapath: str(m.datapath), timestamp: num(m.timestamp) };
    const list = macBindings.get(ip) ?? [];
    list.push(b);
    macBindings.set(ip, list);
  }
  for (const list of macBindings.values()) list.sort((a, b) => b.timestamp - a.timestamp || (a.uuid < b.uuid ? -1 : 1));

  const encapRows = source.rows('Encap');
  const encaps = new Map<Uuid, SbEncap>();
  const chassis = new Map<Uuid, SbChassis>();
  const chassisByName = new Map<string, SbChassis>();
  for (const c of sortedRows(source, 'Chassis')) {
    const chEncaps = strSet(c.encaps)
      .map((u) => encapRows.get(u))
      .filter((e): e is Row => e !== undefined)
      .map((e) => ({ uuid: e._uuid, type: str(e.type), ip: str(e.ip), options: strMap(e.options) }))
      .sort((a, b) => encapRank(a.type) - encapRank(b.type) || (a.type !== b.type ? (a.type < b.type ? -1 : 1) : a.ip < b.ip ? -1 : 1));
    for (const e of chEncaps) encaps.set(e.uuid, e);
    const ch: SbChassis = { uuid: c._uuid, name: str(c.name), hostname: str(c.hostname), encaps: chEncaps };
    chassis.set(c._uuid, ch);
    if (!chassisByName.has(ch.name)) chassisByName.set(ch.name, ch);
  }

  const chassisNbCfg = new Map<string, number>();
  const chassisNbCfgTimestamp = new Map<string, number>();
  for (const cp of sortedRows(source, 'Chassis_Private')) {
    chassisNbCfg.set(str(cp.name), num(cp.nb_cfg));
    chassisNbCfgTimestamp.set(str(cp.name), num(cp.nb_cfg_timestamp));
  }

  const g = sortedRows(source, 'SB_Global')[0];
  return {
    datapaths,
    routerDatapaths,
    routingFlows,
    routingFlowIndex,
    routeTableIds,
    ecmpMembers,
    portBindings,
    chassis,
    chassisByName,
    encaps,
    haChassisGroups,
    macBindings,
    chassisNbCfg,
    chassisNbCfgTimestamp,
    nbCfg: num(g?.nb_cfg),
    ...(stale ? { stale } : {}),
  };
}

/** The datapath of an NB router: by its NB uuid, else by name. */
export function routerDatapath(sb: SbView, router: { uuid: Uuid; name: string }): Uuid | undefined {
  return sb.routerDatapaths.get(router.uuid) ?? sb.routerDatapaths.get(router.name);
}
