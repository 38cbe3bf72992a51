// The OVN identities an NB/SB row carries — router name, normalised prefix, nexthop IP, logical
// port name, chassis name, policy uuid — so a change can be mapped to the resources that depend on
// it (controller/affected.ts) and a scoped read can pick the rows a resource needs (scoped.ts).
// Row interpretation lives here, next to the views; pure; must not import the OVSDB client.
import type { Row, RowChange } from '../ovsdb/types.js';
import { canonicalIp, parseIp, parsePrefix } from './ip.js';
import { parseRoutingMatch } from './flows.js';
import { routerPortIps, switchPortIps, switchPortWiring } from './addresses.js';
import { optStr, str, strMap } from './rows.js';
import type { NbView } from './nb.js';
import type { SbView } from './sb.js';
import { topologyOf } from './topology.js';

export type KeyKind = 'router' | 'prefix' | 'nexthop' | 'port' | 'chassis' | 'policy' | 'infra';
export type Key = `${KeyKind}:${string}`;

export const key = (kind: KeyKind, value: string): Key => `${kind}:${value}`;

/** What a change means for the index: some keys, or "everything" (rare, structural changes). */
export interface Affected {
  keys: Set<Key>;
  all: boolean;
  /** NB_Global / SB_Global moved: nb_cfg lag may have changed. */
  global: boolean;
}

function keysOfRow(table: string, row: Row, out: Affected): void {
  switch (table) {
    case 'Logical_Router':
      out.keys.add(key('router', str(row.name)));
      return;
    case 'Logical_Router_Static_Route': {
      const p = parsePrefix(str(row.ip_prefix).trim());
      // a route matters to the resources routing its prefix, whatever its nexthop
      if (p) out.keys.add(key('prefix', p.text));
      return;
    }
    case 'Logical_Router_Policy':
      // resources are indexed under the policies of their router (learned from the view)
      out.keys.add(key('policy', row._uuid));
      return;
    case 'Logical_Switch_Port': {
      out.keys.add(key('port', str(row.name)));
      for (const a of switchPortIps(row)) out.keys.add(key('nexthop', a.ip));
      const w = switchPortWiring(row);
      // ports that wire the topology (router ports' switch side, localnet, virtual): always in scope
      if (w.type === 'router' || w.type === 'localnet' || w.type === 'virtual') out.keys.add(key('infra', w.type));
      for (const p of w.virtualParents) out.keys.add(key('port', p));
      return;
    }
    case 'Logical_Router_Port':
      out.keys.add(key('port', str(row.name)));
      for (const ip of routerPortIps(row)) out.keys.add(key('nexthop', ip));
      return;
    case 'Logical_Flow': {
      const m = parseRoutingMatch(str(row.match));
      if (m) out.keys.add(key('prefix', m.prefix.text));
      else if (strMap(row.external_ids)['stage-name'] === 'lr_in_ip_routing_ecmp') out.all = true; // member flows carry no prefix
      return;
    }
    case 'Port_Binding':
      out.keys.add(key('port', str(row.logical_port)));
      if (str(row.virtual_parent)) out.keys.add(key('port', str(row.virtual_parent)));
      return;
    case 'MAC_Binding': {
      const ip = str(row.ip);
      if (parseIp(ip)) out.keys.add(key('nexthop', canonicalIp(ip)));
      out.keys.add(key('port', str(row.logical_port)));
      return;
    }
    case 'Chassis':
      out.keys.add(key('chassis', str(row.name)));
      if (row.hostname) out.keys.add(key('chassis', str(row.hostname)));
      return;
    case 'Encap':
      out.keys.add(key('chassis', str(row.chassis_name)));
      return;
    case 'BFD': {
      // a BFD session matters to the resources whose nexthop it monitors
      const ip = str(row.dst_ip);
      if (parseIp(ip)) out.keys.add(key('nexthop', canonicalIp(ip)));
      return;
    }
    case 'Chassis_Private':
      out.keys.add(key('chassis', str(row.name)));
      return;
    case 'NB_Global':
    case 'SB_Global':
      out.global = true;
      return;
    case 'Logical_Switch':
    case 'Logical_DP_Group':
      return; // membership changes show up on the ports / flows themselves
    default:
      // Datapath_Binding, Address_Set, HA groups and anything unknown: recompute everything (rare).
      out.all = true;
  }
}

/**
 * The identities one row carries (for the scoped row index). ECMP member flows carry no prefix: a
 * flow of one router's datapath gets 'prefix:*ecmp@<datapath uuid>' (a scoped read picks those of
 * its routers only: at field scale every router has ECMP groups), a flow shared through a
 * Logical_DP_Group gets 'prefix:*ecmp' (always picked).
 */
export function rowKeys(table: string, row: Row): Key[] {
  const out: Affected = { keys: new Set(), all: false, global: false };
  keysOfRow(table, row, out);
  if (table === 'Logical_Flow' && out.all) {
    const dp = optStr(row.logical_datapath);
    out.keys.add(dp && !optStr(row.logical_dp_group) ? ecmpKey(dp) : key('prefix', '*ecmp'));
  }
  return [...out.keys];
}

/** The scoped-index key of the ECMP member flows of one datapath. */
export const ecmpKey = (datapath: string): Key => key('prefix', `*ecmp@${datapath}`);

/**
 * Map a batch of OVSDB row changes to the identities they touch (old and new values both count).
 * For a port whose row changed (not inserted or deleted), only the IPs it gained or lost count as
 * nexthop identities: an IP it keeps says nothing new to resources elsewhere that use the same IP
 * (overlapping tenant subnets); resources that resolved to this port are found by its port key.
 */
export function affectedBy(changes: readonly RowChange[]): Affected {
  const out: Affected = { keys: new Set(), all: false, global: false };
  for (const c of changes) {
    if (c.old && c.new && (c.table === 'Logical_Switch_Port' || c.table === 'Logical_Router_Port')) {
      const before: Affected = { keys: new Set(), all: false, global: false };
      const after: Affected = { keys: new Set(), all: false, global: false };
      keysOfRow(c.table, c.old, before);
      keysOfRow(c.table, c.new, after);
      for (const k of before.keys) if (!k.startsWith('nexthop:') || !after.keys.has(k)) out.keys.add(k);
      for (const k of after.keys) if (!k.startsWith('nexthop:') || !before.keys.has(k)) out.keys.add(k);
      continue;
    }
    if (c.old) keysOfRow(c.table, c.old, out);
    if (c.new) keysOfRow(c.table, c.new, out);
  }
  return out;
}

/**
 * The identities a route on `router` via `nexthop` depends on beyond its spec, learned from the
 * topology: the port that carries the nexthop (and a virtual port's parents), the router port it
 * leaves by, and the router's Logical_Router_Policy rows.
 */
export function routeDependencyKeys(nb: NbView, sb: SbView, router: string, nexthop: string): Key[] {
  const out: Key[] = [];
  const r = topologyOf(nb, sb).resolveNexthop(router, nexthop);
  if (r.port) out.push(key('port', r.port.name));
  if (r.routerPort) out.push(key('port', r.routerPort));
  const lsp = r.port ? nb.switchPorts.get(r.port.name) : undefined;
  for (const p of lsp?.virtualParents ?? []) out.push(key('port', p));
  for (const p of nb.routers.get(router)?.policies ?? []) out.push(key('policy', p.uuid));
  return out;
}
