// The affected-resource index: which PodCIDRRoutes a change touches. Each resource is indexed by
// the OVN identities its result depends on — router name, normalised prefix, nexthop IP, the
// nexthop's Logical_Switch_Port name and the chassis names involved — and an OVSDB RowChange is
// mapped to the same identities, so one NB/SB update recomputes only those resources.
// Pure; must not import the OVSDB client, the Kubernetes client or do I/O.
import type { Row, RowChange, Value } from '../ovsdb/types.js';
import { canonicalIp, parseIp, parsePrefix } from '../ovn/ip.js';
import { parseRoutingMatch } from '../ovn/flows.js';

export type KeyKind = 'router' | 'prefix' | 'nexthop' | 'port' | 'chassis';
export type Key = `${KeyKind}:${string}`;

export const key = (kind: KeyKind, value: string): Key => `${kind}:${value}`;

/** What a change means for the index: some keys, or "everything" (rare, structural changes). */
export interface Affected {
  keys: Set<Key>;
  all: boolean;
  /** NB_Global / SB_Global moved: nb_cfg lag may have changed. */
  global: boolean;
}

export class AffectedIndex {
  private readonly byKey = new Map<Key, Set<string>>();
  private readonly keysOf = new Map<string, Set<Key>>();

  /** Replace the keys of one resource. */
  set(name: string, keys: Iterable<Key>): void {
    this.delete(name);
    const mine = new Set(keys);
    this.keysOf.set(name, mine);
    for (const k of mine) {
      let s = this.byKey.get(k);
      if (!s) this.byKey.set(k, (s = new Set()));
      s.add(name);
    }
  }

  delete(name: string): void {
    const old = this.keysOf.get(name);
    if (!old) return;
    for (const k of old) {
      const s = this.byKey.get(k);
      s?.delete(name);
      if (s && s.size === 0) this.byKey.delete(k);
    }
    this.keysOf.delete(name);
  }

  names(): string[] {
    return [...this.keysOf.keys()];
  }

  keys(name: string): ReadonlySet<Key> {
    return this.keysOf.get(name) ?? new Set();
  }

  /** Resources indexed under any of the keys. */
  lookup(keys: Iterable<Key>): Set<string> {
    const out = new Set<string>();
    for (const k of keys) for (const n of this.byKey.get(k) ?? []) out.add(n);
    return out;
  }
}

/** The keys a PodCIDRRoute spec depends on before anything is learned from OVN. */
export function specKeys(spec: { router: string; nexthop: string; cidrs: readonly string[]; expectedChassis?: string }): Key[] {
  const out: Key[] = [key('router', spec.router)];
  const ip = parseIp(spec.nexthop);
  if (ip) out.push(key('nexthop', canonicalIp(spec.nexthop)));
  for (const c of spec.cidrs) {
    const p = parsePrefix(c);
    out.push(key('prefix', p ? p.text : c));
  }
  if (spec.expectedChassis) out.push(key('chassis', spec.expectedChassis));
  return out;
}

function strs(v: Value | undefined): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'object') return [];
  return [String(v)];
}

function mapOf(v: Value | undefined): Record<string, string> {
  if (v && typeof v === 'object' && !Array.isArray(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
  return {};
}

/** IPs in Logical_Switch_Port addresses ("MAC IP IP", "dynamic", "router") or LRP networks. */
function ipsIn(entries: string[]): string[] {
  const out: string[] = [];
  for (const e of entries) {
    for (const w of e.trim().split(/\s+/)) {
      const a = w.replace(/\/\d+$/, '');
      if (parseIp(a)) out.push(canonicalIp(a));
    }
  }
  return out;
}

function keysOfRow(table: string, row: Row, out: Affected): void {
  switch (table) {
    case 'Logical_Router':
      out.keys.add(key('router', String(row.name ?? '')));
      return;
    case 'Logical_Router_Static_Route': {
      const p = parsePrefix(String(row.ip_prefix ?? '').trim());
      // a route matters to the resources routing its prefix, whatever its nexthop
      if (p) out.keys.add(key('prefix', p.text));
      return;
    }
    case 'Logical_Switch_Port':
      out.keys.add(key('port', String(row.name ?? '')));
      for (const ip of ipsIn([...strs(row.addresses), ...strs(row.dynamic_addresses)])) out.keys.add(key('nexthop', ip));
      return;
    case 'Logical_Router_Port':
      out.keys.add(key('port', String(row.name ?? '')));
      for (const ip of ipsIn(strs(row.networks))) out.keys.add(key('nexthop', ip));
      return;
    case 'Logical_Flow': {
      const m = parseRoutingMatch(String(row.match ?? ''));
      if (m) out.keys.add(key('prefix', m.prefix.text));
      else if (mapOf(row.external_ids)['stage-name'] === 'lr_in_ip_routing_ecmp') out.all = true; // member flows carry no prefix
      return;
    }
    case 'Port_Binding':
      out.keys.add(key('port', String(row.logical_port ?? '')));
      return;
    case 'Chassis':
      out.keys.add(key('chassis', String(row.name ?? '')));
      if (row.hostname) out.keys.add(key('chassis', String(row.hostname)));
      return;
    case 'Encap':
      out.keys.add(key('chassis', String(row.chassis_name ?? '')));
      return;
    case 'Chassis_Private':
      out.keys.add(key('chassis', String(row.name ?? '')));
      return;
    case 'NB_Global':
    case 'SB_Global':
      out.global = true;
      return;
    case 'Logical_Switch':
    case 'Logical_DP_Group':
      return; // membership changes show up on the ports / flows themselves
    default:
      // Datapath_Binding and anything unknown: structural, recompute everything (rare).
      out.all = true;
  }
}

/** The identities one row carries (for the scoped row index); ECMP member flows get 'prefix:*ecmp'. */
export function rowKeys(table: string, row: Row): Key[] {
  const out: Affected = { keys: new Set(), all: false, global: false };
  keysOfRow(table, row, out);
  if (table === 'Logical_Flow' && out.all) out.keys.add(key('prefix', '*ecmp'));
  return [...out.keys];
}

/** Map a batch of OVSDB row changes to the identities they touch (old and new values both count). */
export function affectedBy(changes: readonly RowChange[]): Affected {
  const out: Affected = { keys: new Set(), all: false, global: false };
  for (const c of changes) {
    if (c.old) keysOfRow(c.table, c.old, out);
    if (c.new) keysOfRow(c.table, c.new, out);
  }
  return out;
}
