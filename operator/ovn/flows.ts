// Parses the SB Logical_Flow match and actions of the routing stages (lr_in_ip_routing and
// lr_in_ip_routing_ecmp) by meaning, not position, so both the 22.03–24.09 form
// (`reg0 = NH; reg1 = SRC; ...`, IPv6 in xxreg0/xxreg1) and the 25.03 form (source in `reg5`,
// `reg9[9] = ...`) are read. Pure; must not import the OVSDB client.
import { memo, parseIp, parsePrefix, canonicalIp, type Prefix } from './ip.js';

export const STAGE_ROUTING = 'lr_in_ip_routing';
export const STAGE_ROUTING_ECMP = 'lr_in_ip_routing_ecmp';
/** Sets reg7 (the route table id) from the inport: maps route_table names to ids. */
export const STAGE_ROUTING_PRE = 'lr_in_ip_routing_pre';

/** An lr_in_ip_routing_pre flow: packets entering on `inport` use route table `routeTableId`. */
export function parseRoutingPre(match: string, actions: string): { inport: string; routeTableId: number } | undefined {
  const m = /^\s*inport\s*==\s*"([^"]+)"\s*$/.exec(match);
  const a = /(?:^|;)\s*reg7\s*=\s*(\d+)\s*;/.exec(actions);
  return m && a ? { inport: m[1]!, routeTableId: Number(a[1]) } : undefined;
}

/** What an lr_in_ip_routing match selects. */
export interface RoutingMatch {
  /** `ip4.dst`/`ip6.dst` (dst-ip policy, connected routes) or `ip4.src`/`ip6.src` (src-ip policy). */
  direction: 'dst' | 'src';
  prefix: Prefix;
  /** `reg7 == N`: the route table id (0 = main). Absent for connected and (in 23.03) src-ip routes. */
  routeTableId?: number;
}

export type RoutingAction =
  /** A static route to one nexthop. */
  | { kind: 'nexthop'; nexthop: string; source?: string; outport?: string; ethSrc?: string }
  /** A connected route: the nexthop is the destination itself (`reg0 = ip4.dst`). */
  | { kind: 'connected'; source?: string; outport?: string; ethSrc?: string }
  /** An ECMP group: members are flows in lr_in_ip_routing_ecmp. */
  | { kind: 'ecmp'; group: number; members: number[] }
  | { kind: 'drop' }
  | { kind: 'other' };

/** What an lr_in_ip_routing_ecmp member flow matches: `reg8[0..15] == G && reg8[16..31] == M`. */
export interface EcmpMemberMatch {
  group: number;
  member: number;
}

function matchTerms(match: string): string[] {
  return match.split('&&').map((t) => t.trim().replace(/^\((.*)\)$/, '$1').trim());
}

const ADDRESS_TERM = /(?:^|&&|\()\s*ip([46])\.(dst|src)\s*==\s*([0-9a-fA-F.:]+(?:\/[0-9.]+)?)\s*(?=$|&&|\))/g;
const EXACT_TERM = /^(?:ip[46]\.(?:dst|src)\s*==\s*[0-9a-fA-F.:]+(?:\/[0-9.]+)?|reg7\s*==\s*\d+)$/;
const ROUTE_TABLE_TERM = /(?:^|&&|\()\s*reg7\s*==\s*(\d+)\s*(?=$|&&|\))/;

/** Parses the match of an lr_in_ip_routing flow; undefined when it is not a route match. */
export function parseRoutingMatch(match: string): RoutingMatch | undefined {
  if (match.includes('||')) return undefined;
  // A route flow matches exactly its prefix (and the route table): the ecmp_symmetric_reply reply
  // flows (`ct.rpl && ct_mark.ecmp_reply_port == K ...`, priority 10300), BFD flows
  // (`udp.dst == 3784`) and anything else carrying more terms are not the route's flow.
  if (!matchTerms(match).every((t) => EXACT_TERM.test(t))) return undefined;
  const terms = [...match.matchAll(ADDRESS_TERM)];
  if (terms.length !== 1) return undefined; // none, or two address terms: not a plain route flow
  const [, family, direction, text] = terms[0]! as unknown as [string, string, RoutingMatch['direction'], string];
  const prefix = parseMaskedPrefix(text);
  if (!prefix || String(prefix.family) !== family) return undefined;
  const rt = ROUTE_TABLE_TERM.exec(match);
  return rt ? { direction, prefix, routeTableId: Number(rt[1]) } : { direction, prefix };
}

/** `10.0.0.0/24`, a bare address (a host prefix), or the netmask form `10.0.0.0/255.255.255.0`. */
function parseMaskedPrefix(s: string): Prefix | undefined {
  const slash = s.indexOf('/');
  if (slash > 0 && s.slice(slash + 1).includes('.')) {
    const mask = parseIp(s.slice(slash + 1));
    if (!mask || mask.family !== 4) return undefined;
    const len = mask.value.toString(2).replace(/0+$/, '').length;
    return parsePrefix(`${s.slice(0, slash)}/${mask.value === 0n ? 0 : len}`);
  }
  return parsePrefix(s);
}

const NEXTHOP_REGS = new Set(['reg0', 'xxreg0']);
const SOURCE_REGS = new Set(['reg1', 'reg5', 'xxreg1']);

/** `lhs = rhs` of the registers and fields a routing action sets (one pass over the text). */
const ASSIGNMENT = /(?:^|;)\s*(reg0|xxreg0|reg1|reg5|xxreg1|outport|eth\.src|reg8\[0\.\.15\]|reg8\[16\.\.31\])\s*=\s*([^;]+)/g;

/**
 * Parses the actions of an lr_in_ip_routing or lr_in_ip_routing_ecmp flow. Memoised: the flows of
 * the prefixes routed to one nexthop on one router carry the same actions text (at field scale,
 * 200,000 route flows have about 10,000 distinct actions). The result is shared: never mutate it.
 */
export const parseRoutingActions: (actions: string) => RoutingAction = memo(parseRoutingActionsUncached);

function parseRoutingActionsUncached(actions: string): RoutingAction {
  let nexthop: string | undefined;
  let connected = false;
  let source: string | undefined;
  let outport: string | undefined;
  let ethSrc: string | undefined;
  let group: number | undefined;
  let members: number[] | undefined;
  for (const m of actions.matchAll(ASSIGNMENT)) {
    const lhs = m[1]!;
    const rhs = m[2]!.trim();
    if (NEXTHOP_REGS.has(lhs)) {
      if (rhs === 'ip4.dst' || rhs === 'ip6.dst') connected = true;
      else if (parseIp(rhs)) nexthop = canonicalIp(rhs);
    } else if (SOURCE_REGS.has(lhs)) {
      if (parseIp(rhs)) source = canonicalIp(rhs);
    } else if (lhs === 'outport') outport = rhs.replace(/^"(.*)"$/, '$1');
    else if (lhs === 'eth.src') ethSrc = rhs;
    else if (lhs === 'reg8[0..15]') group = Number(rhs);
    else {
      const sel = /^select\((.*)\)$/.exec(rhs);
      // A one-member group (ecmp_symmetric_reply on 23.09.6+/24.03.4+/25.03): `reg8[16..31] = 1;`.
      if (/^\d+$/.test(rhs)) members = [Number(rhs)];
      else if (sel) {
        // `select(1, 2)`, `select(1=100, 2=50)` (weights) or `select(values=(1, 2))`.
        members = [...sel[1]!.replace(/values\s*=/, '').matchAll(/(\d+)\s*(?:=\s*\d+)?/g)].map((x) => Number(x[1]));
      }
    }
  }
  if (group !== undefined && group !== 0 && members) return { kind: 'ecmp', group, members };
  if (nexthop || connected) {
    const a: { kind: 'nexthop' | 'connected'; nexthop?: string; source?: string; outport?: string; ethSrc?: string } = { kind: nexthop ? 'nexthop' : 'connected' };
    if (nexthop) a.nexthop = nexthop;
    if (source) a.source = source;
    if (outport !== undefined) a.outport = outport;
    if (ethSrc) a.ethSrc = ethSrc;
    return a as RoutingAction;
  }
  if (/(^|;)\s*drop\s*;/.test(actions)) return { kind: 'drop' };
  return { kind: 'other' };
}

/** Parses the match of an lr_in_ip_routing_ecmp member flow. */
export function parseEcmpMemberMatch(match: string): EcmpMemberMatch | undefined {
  let group: number | undefined;
  let member: number | undefined;
  for (const t of matchTerms(match)) {
    const g = /^reg8\[0\.\.15\]\s*==\s*(\d+)$/.exec(t);
    if (g) group = Number(g[1]);
    const m = /^reg8\[16\.\.31\]\s*==\s*(\d+)$/.exec(t);
    if (m) member = Number(m[1]);
  }
  return group !== undefined && member !== undefined ? { group, member } : undefined;
}
