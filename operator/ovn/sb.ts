// Typed read-only view of the OVN Southbound database: Datapath_Binding, the routing-stage
// Logical_Flows (lr_in_ip_routing, lr_in_ip_routing_ecmp) parsed, Port_Binding, Chassis, Encap,
// Chassis_Private and SB_Global (hypervisor resolution is the topology model's, topology.ts).
// Pure; must not import the OVSDB client.
import type { Row, RowChange, Uuid } from '../ovsdb/types.js';
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

// ---- routing-stage flows, parsed once per row version and indexed incrementally ----

/** One followed routing-stage flow, parsed when its row version arrives. */
interface ParsedFlow {
  uuid: Uuid;
  row: Row;
  group?: Uuid;
  datapaths: Uuid[];
  routing?: SbRoutingFlow;
  ecmp?: SbEcmpMember;
  pre?: { uuid: Uuid; inport: string; routeTableId: number };
}

/** What one datapath has; copied before a change once a snapshot has handed it out. */
interface DpFlows {
  gen: number;
  /** Highest priority first, ties by uuid. */
  list: SbRoutingFlow[];
  byKey: Map<string, SbRoutingFlow[]>;
  /** Candidates per `${group}/${member}` and per inport, lowest uuid first (the first one counts). */
  ecmp: Map<string, SbEcmpMember[]>;
  pre: Map<string, { uuid: Uuid; routeTableId: number }[]>;
}

function flowOrder(a: SbRoutingFlow, b: SbRoutingFlow): number {
  return b.priority - a.priority || (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0);
}

const byUuid = (a: { uuid: Uuid }, b: { uuid: Uuid }) => (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0);

/** Inserts into a list sorted by `order` (binary search). */
function insertSorted<T>(list: T[], x: T, order: (a: T, b: T) => number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (order(list[mid]!, x) < 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, x);
}

function removeFrom<T>(list: T[], x: T): void {
  const i = list.indexOf(x);
  if (i >= 0) list.splice(i, 1);
}

type SbFlowIndexes = Pick<SbView, 'routingFlows' | 'routingFlowIndex' | 'routeTableIds' | 'ecmpMembers'>;

/**
 * The routing-stage Logical_Flows of an SB source (lr_in_ip_routing, lr_in_ip_routing_ecmp,
 * lr_in_ip_routing_pre), each parsed once per row version, indexed by datapath. Kept up to date
 * from the replica's change events: a changed flow costs work bounded by its datapaths' flows
 * (a Logical_DP_Group change: by its flows), never a scan of the table. Snapshots are
 * copy-on-write: a datapath's lists are copied at most once per snapshot, on its first change.
 */
export class RoutingFlowIndex {
  private readonly flows = new Map<Uuid, ParsedFlow>();
  private readonly dps = new Map<Uuid, DpFlows>();
  private readonly byGroup = new Map<Uuid, Set<Uuid>>();
  private gen = 0;
  private last: SbFlowIndexes | undefined;

  constructor(private readonly source: RowSource) {
    for (const f of source.rows('Logical_Flow').values()) this.add(f, true);
    for (const rec of this.dps.values()) {
      rec.list.sort(flowOrder);
      for (const f of rec.list) {
        const key = routingFlowKey(f.route!.direction, f.route!.prefix.text);
        const l = rec.byKey.get(key);
        if (l) l.push(f);
        else rec.byKey.set(key, [f]);
      }
      for (const l of rec.ecmp.values()) l.sort(byUuid);
      for (const l of rec.pre.values()) l.sort(byUuid);
    }
  }

  /** Applies a batch of replica changes (other tables are ignored). */
  apply(changes: readonly RowChange[]): void {
    for (const c of changes) {
      if (c.table === 'Logical_Flow') {
        // the same row version again (the replica's held initial changes after a build): nothing to do
        if (c.new && this.flows.get(c.uuid)?.row === c.new) continue;
        this.remove(c.uuid);
        if (c.new) this.add(c.new, false);
      } else if (c.table === 'Logical_DP_Group') {
        for (const id of [...(this.byGroup.get(c.uuid) ?? [])]) {
          const f = this.flows.get(id)!;
          this.remove(id);
          this.add(f.row, false);
        }
      }
    }
  }

  /** The indexes as they are now; unchanged since the last call: the same objects. */
  snapshot(): SbFlowIndexes {
    if (this.last) return this.last;
    const routingFlows = new Map<Uuid, SbRoutingFlow[]>();
    const routingFlowIndex = new Map<Uuid, ReadonlyMap<string, SbRoutingFlow[]>>();
    const routeTableIds = new Map<Uuid, Map<string, number>>();
    const ecmpMembers = new Map<string, SbEcmpMember>();
    for (const [dp, rec] of this.dps) {
      if (rec.list.length > 0) {
        routingFlows.set(dp, rec.list);
        routingFlowIndex.set(dp, rec.byKey);
      }
      for (const [k, l] of rec.ecmp) ecmpMembers.set(`${dp}/${k}`, l[0]!);
      if (rec.pre.size > 0) routeTableIds.set(dp, new Map([...rec.pre].map(([inport, l]) => [inport, l[0]!.routeTableId])));
    }
    this.gen++; // from now on a datapath's lists belong to this snapshot: copy before changing
    this.last = { routingFlows, routingFlowIndex, routeTableIds, ecmpMembers };
    return this.last;
  }

  private datapathsOf(f: Row): { datapaths: Uuid[]; group?: Uuid } {
    const dp = optStr(f.logical_datapath);
    if (dp) return { datapaths: [dp] };
    const g = optStr(f.logical_dp_group);
    return g ? { datapaths: strSet(this.source.rows('Logical_DP_Group').get(g)?.datapaths), group: g } : { datapaths: [] };
  }

  /** The datapath's record, ready to change (copied when a snapshot holds it). */
  private writable(dp: Uuid): DpFlows {
    let rec = this.dps.get(dp);
    if (!rec) {
      rec = { gen: this.gen, list: [], byKey: new Map(), ecmp: new Map(), pre: new Map() };
      this.dps.set(dp, rec);
    } else if (rec.gen !== this.gen) {
      rec = {
        gen: this.gen,
        list: rec.list.slice(),
        byKey: new Map([...rec.byKey].map(([k, l]) => [k, l.slice()])),
        ecmp: new Map([...rec.ecmp].map(([k, l]) => [k, l.slice()])),
        pre: new Map([...rec.pre].map(([k, l]) => [k, l.slice()])),
      };
      this.dps.set(dp, rec);
    }
    this.last = undefined;
    return rec;
  }

  private add(f: Row, bulk: boolean): void {
    const ext = f.external_ids as Record<string, unknown> | undefined;
    const stage = ext && typeof ext === 'object' && !Array.isArray(ext) ? ext['stage-name'] : undefined;
    let parsed: ParsedFlow | undefined;
    if (stage === STAGE_ROUTING) {
      const match = str(f.match);
      const route = parseRoutingMatch(match);
      if (!route) return;
      const actions = str(f.actions);
      const { datapaths, group } = this.datapathsOf(f);
      const flow: SbRoutingFlow = { uuid: f._uuid, datapaths, priority: num(f.priority), match, actions, route, action: parseRoutingActions(actions) };
      const hint = ext!['stage-hint'];
      if (hint !== undefined) flow.stageHint = String(hint);
      parsed = { uuid: f._uuid, row: f, datapaths, routing: flow, ...(group ? { group } : {}) };
    } else if (stage === STAGE_ROUTING_ECMP) {
      const m = parseEcmpMemberMatch(str(f.match));
      if (!m) return;
      const { datapaths, group } = this.datapathsOf(f);
      parsed = { uuid: f._uuid, row: f, datapaths, ecmp: { uuid: f._uuid, group: m.group, member: m.member, action: parseRoutingActions(str(f.actions)) }, ...(group ? { group } : {}) };
    } else if (stage === STAGE_ROUTING_PRE) {
      const pre = parseRoutingPre(str(f.match), str(f.actions));
      if (!pre) return;
      const { datapaths, group } = this.datapathsOf(f);
      parsed = { uuid: f._uuid, row: f, datapaths, pre: { uuid: f._uuid, ...pre }, ...(group ? { group } : {}) };
    } else return;
    this.flows.set(parsed.uuid, parsed);
    if (parsed.group) {
      let s = this.byGroup.get(parsed.group);
      if (!s) this.byGroup.set(parsed.group, (s = new Set()));
      s.add(parsed.uuid);
    }
    for (const dp of new Set(parsed.datapaths)) {
      const rec = this.writable(dp);
      if (parsed.routing) {
        const flow = parsed.routing;
        if (bulk) {
          rec.list.push(flow);
          continue;
        }
        insertSorted(rec.list, flow, flowOrder);
        const key = routingFlowKey(flow.route!.direction, flow.route!.prefix.text);
        const l = rec.byKey.get(key);
        if (l) insertSorted(l, flow, flowOrder);
        else rec.byKey.set(key, [flow]);
      } else if (parsed.ecmp) {
        const key = `${parsed.ecmp.group}/${parsed.ecmp.member}`;
        const l = rec.ecmp.get(key);
        if (!l) rec.ecmp.set(key, [parsed.ecmp]);
        else if (bulk) l.push(parsed.ecmp);
        else insertSorted(l, parsed.ecmp, byUuid);
      } else if (parsed.pre) {
        const l = rec.pre.get(parsed.pre.inport);
        if (!l) rec.pre.set(parsed.pre.inport, [parsed.pre]);
        else if (bulk) l.push(parsed.pre);
        else insertSorted(l, parsed.pre, byUuid);
      }
    }
  }

  private remove(uuid: Uuid): void {
    const parsed = this.flows.get(uuid);
    if (!parsed) return;
    this.flows.delete(uuid);
    if (parsed.group) {
      const s = this.byGroup.get(parsed.group);
      s?.delete(uuid);
      if (s?.size === 0) this.byGroup.delete(parsed.group);
    }
    for (const dp of new Set(parsed.datapaths)) {
      const rec = this.writable(dp);
      if (parsed.routing) {
        removeFrom(rec.list, parsed.routing);
        const key = routingFlowKey(parsed.routing.route!.direction, parsed.routing.route!.prefix.text);
        const l = rec.byKey.get(key);
        if (l) {
          removeFrom(l, parsed.routing);
          if (l.length === 0) rec.byKey.delete(key);
        }
      } else if (parsed.ecmp) {
        const key = `${parsed.ecmp.group}/${parsed.ecmp.member}`;
        const l = rec.ecmp.get(key);
        if (l) {
          removeFrom(l, parsed.ecmp);
          if (l.length === 0) rec.ecmp.delete(key);
        }
      } else if (parsed.pre) {
        const l = rec.pre.get(parsed.pre.inport);
        if (l) {
          removeFrom(l, parsed.pre);
          if (l.length === 0) rec.pre.delete(parsed.pre.inport);
        }
      }
      if (rec.list.length === 0 && rec.ecmp.size === 0 && rec.pre.size === 0) this.dps.delete(dp);
    }
  }
}

/** A source that reports its changes (the OVSDB replica): its flow index is kept, not rebuilt. */
interface ChangingSource extends RowSource {
  prependListener(event: 'change', listener: (changes: RowChange[]) => void): unknown;
}

const liveIndexes = new WeakMap<RowSource, RoutingFlowIndex>();

/**
 * The routing-flow index of a source: for a replica that reports changes, one index kept up to
 * date from them (built on first use); for any other source (a scoped read, a test builder), one
 * built now.
 */
function routingFlowsOf(source: RowSource): RoutingFlowIndex {
  const live = liveIndexes.get(source);
  if (live) return live;
  const idx = new RoutingFlowIndex(source);
  const changing = source as Partial<ChangingSource>;
  if (typeof changing.prependListener === 'function') {
    // first in line, so any other listener reading a view already sees the change
    changing.prependListener.call(source, 'change', (changes: RowChange[]) => idx.apply(changes));
    liveIndexes.set(source, idx);
  }
  return idx;
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

  const { routingFlows, routingFlowIndex, routeTableIds, ecmpMembers } = routingFlowsOf(source).snapshot();

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
