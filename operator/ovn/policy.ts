// Logical_Router_Policy matches read by meaning: which destinations (and whether only some
// sources, ports or protocols) a policy selects. lr_in_policy runs after lr_in_ip_routing and its
// highest-priority matching flow wins (northd orders policies by `priority`). What this parser
// cannot decide (address sets `$as`, port groups `@pg`, disjunctions, unknown fields) is said as
// such, never guessed. Pure; must not import the OVSDB client.
import { parsePrefix, prefixContains, type IpAddress, type Prefix } from './ip.js';

export interface PolicyMatch {
  /** ip4 / ip6 when the match names a family (explicitly or through its address terms). */
  family?: 4 | 6;
  /** ip4.dst/ip6.dst terms: `==` a set of prefixes, or `!=` a set. */
  dst?: { op: '==' | '!='; prefixes: Prefix[] };
  src?: { op: '==' | '!='; prefixes: Prefix[]; text: string };
  /** `inport == "..."` and other terms that depend on where the packet comes from. */
  sourceTerms: string[];
  /** Protocol/port terms (tcp, udp.dst == 53, icmp4, ip.proto == 6): the policy selects only that traffic. */
  narrowing: string[];
  /** Set when the match cannot be decided: the reason. */
  undecidable?: string;
}

const L4 = /^(?:tcp|udp|sctp|icmp|icmp4|icmp6|ip\.proto\s*==\s*\d+|(?:tcp|udp|sctp)\.(?:src|dst)\s*(?:==|!=|<=|>=|<|>)\s*\{?[\d\s,]+\}?|icmp[46]?\.type\s*==\s*\d+)$/;

function splitTop(match: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < match.length; i++) {
    const c = match[i]!;
    if (c === '(' || c === '{') depth++;
    if (c === ')' || c === '}') depth--;
    if (depth === 0 && match.startsWith(sep, i)) {
      out.push(cur);
      cur = '';
      i += sep.length - 1;
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out.map((t) => t.trim());
}

function strip(t: string): string {
  let s = t.trim();
  while (s.startsWith('(') && s.endsWith(')') && balanced(s.slice(1, -1))) s = s.slice(1, -1).trim();
  return s;
}

function balanced(s: string): boolean {
  let d = 0;
  for (const c of s) {
    if (c === '(') d++;
    if (c === ')') d--;
    if (d < 0) return false;
  }
  return d === 0;
}

function prefixesOf(text: string, addressSets?: ReadonlyMap<string, string[]>): Prefix[] | string {
  const body = text.trim().replace(/^\{(.*)\}$/s, '$1');
  const out: Prefix[] = [];
  const words = body.split(/[\s,]+/).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w.startsWith('$')) {
      // an NB Address_Set is followed; one northd derives (port groups' $pg_ip4) is not in the NB
      const set = addressSets?.get(w.slice(1));
      if (!set) return `address set ${w} (not an NB Address_Set)`;
      words.push(...set);
      continue;
    }
    if (w.startsWith('@')) return `port group ${w}`;
    const p = parsePrefix(w);
    if (!p) return `value ${w}`;
    out.push(p);
  }
  return out;
}

const parsedMatches = new WeakMap<ReadonlyMap<string, string[]>, Map<string, PolicyMatch>>();
const NO_ADDRESS_SETS: ReadonlyMap<string, string[]> = new Map();

/**
 * Parses a Logical_Router_Policy match. Memoised per address-set map (one per NB view) and match
 * text: every route of a router walks the router's policies, so at field scale the same few matches
 * are read 200,000 times. The result is shared: never mutate it.
 */
export function parsePolicyMatch(match: string, addressSets?: ReadonlyMap<string, string[]>): PolicyMatch {
  const sets = addressSets ?? NO_ADDRESS_SETS;
  let byMatch = parsedMatches.get(sets);
  if (!byMatch) parsedMatches.set(sets, (byMatch = new Map()));
  let m = byMatch.get(match);
  if (!m) byMatch.set(match, (m = parsePolicyMatchUncached(match, addressSets)));
  return m;
}

function parsePolicyMatchUncached(match: string, addressSets?: ReadonlyMap<string, string[]>): PolicyMatch {
  const m: PolicyMatch = { sourceTerms: [], narrowing: [] };
  const whole = strip(match);
  if (splitTop(whole, '||').length > 1) return { ...m, undecidable: `disjunction in match "${match}"` };
  for (const raw of splitTop(whole, '&&')) {
    const t = strip(raw);
    if (t === '' || t === '1' || t === 'true' || t === 'ip') continue;
    if (t === 'ip4' || t === 'ip6') {
      m.family = t === 'ip4' ? 4 : 6;
      continue;
    }
    const addr = /^ip([46])\.(dst|src)\s*(==|!=)\s*(.+)$/.exec(t);
    if (addr) {
      const family = Number(addr[1]) as 4 | 6;
      m.family = family;
      const prefixes = prefixesOf(addr[4]!, addressSets);
      if (addr[2] === 'src') {
        // a source term makes the policy source-dependent; what it names does not matter per route
        m.src = { op: addr[3] as '==' | '!=', prefixes: typeof prefixes === 'string' ? [] : prefixes, text: t };
        if (typeof prefixes === 'string') m.sourceTerms.push(t);
        continue;
      }
      if (typeof prefixes === 'string') {
        m.undecidable ??= `${prefixes} in "${t}"`;
        continue;
      }
      m.dst ??= { op: addr[3] as '==' | '!=', prefixes }; // a conjunction: the first decidable term already bounds it
      continue;
    }
    if (/^(?:inport|outport)\s*==/.test(t) || /^eth\.src\b/.test(t)) {
      if (/@/.test(t) && t.startsWith('outport')) return { ...m, undecidable: `port group in "${t}"` };
      m.sourceTerms.push(t);
      continue;
    }
    if (/[$@]/.test(t)) {
      m.undecidable ??= `${t.includes('$') ? 'address set' : 'port group'} in "${t}"`;
      continue;
    }
    if (L4.test(t)) {
      m.narrowing.push(t);
      continue;
    }
    m.undecidable ??= `term "${t}" of match "${match}"`;
  }
  return m;
}

/** What a policy match selects of the traffic to `prefix`. */
export type PolicyCover =
  | { kind: 'none' }
  /** Selects traffic to the prefix only from some sources / ports: not decidable per route. */
  | { kind: 'sourceDependent'; terms: string[] }
  | { kind: 'undecidable'; reason: string }
  /** parts: the destination prefixes it selects (the whole prefix when full); narrowing: protocol terms. */
  | { kind: 'covers'; full: boolean; parts: Prefix[]; narrowing: string[] };

/** prefix minus hole, as prefixes (hole inside prefix). */
export function subtractPrefix(prefix: Prefix, hole: Prefix): Prefix[] {
  if (!prefixContains(prefix, { family: hole.family, value: hole.network }) || hole.length <= prefix.length) {
    return prefixContains(hole, { family: prefix.family, value: prefix.network }) && hole.length <= prefix.length ? [] : [prefix];
  }
  const bits = prefix.family === 4 ? 32 : 128;
  const out: Prefix[] = [];
  for (let len = prefix.length + 1; len <= hole.length; len++) {
    // the sibling at this level of the path towards the hole
    const bit = 1n << BigInt(bits - len);
    const net = (hole.network & ~((1n << BigInt(bits - len + 1)) - 1n)) | ((hole.network & bit) ^ bit);
    const p = parsePrefix(`${formatNet(prefix.family, net)}/${len}`);
    if (p) out.push(p);
  }
  return out;
}

function formatNet(family: 4 | 6, v: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.');
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  return groups.join(':');
}

const containsPrefix = (outer: Prefix, inner: Prefix) => outer.family === inner.family && outer.length <= inner.length && prefixContains(outer, { family: inner.family, value: inner.network });

/** Which part of the traffic to `prefix` (a dst-ip route's prefix) the policy match selects. */
export function policyCovers(m: PolicyMatch, prefix: Prefix): PolicyCover {
  if (m.family !== undefined && m.family !== prefix.family) return { kind: 'none' };
  let parts: Prefix[];
  if (!m.dst) parts = [prefix];
  else if (m.dst.op === '==') {
    parts = [];
    for (const q of m.dst.prefixes) {
      if (q.family !== prefix.family) continue;
      if (containsPrefix(q, prefix)) {
        parts = [prefix];
        break;
      }
      if (containsPrefix(prefix, q)) parts.push(q);
    }
  } else {
    parts = [prefix];
    for (const q of m.dst.prefixes) parts = parts.flatMap((p) => (containsPrefix(p, q) || containsPrefix(q, p) ? subtractPrefix(p, q) : [p]));
  }
  if (parts.length === 0) return { kind: 'none' };
  if (m.undecidable) return { kind: 'undecidable', reason: m.undecidable };
  if (m.src || m.sourceTerms.length > 0) return { kind: 'sourceDependent', terms: [...(m.src ? [m.src.text] : []), ...m.sourceTerms] };
  const full = parts.length === 1 && parts[0]!.text === prefix.text;
  return { kind: 'covers', full, parts, narrowing: m.narrowing };
}

/** Whether a concrete packet matches (trace): true, false, or why it cannot be told. */
export function policyMatchesPacket(m: PolicyMatch, dst: IpAddress, src?: IpAddress, inport?: string): boolean | string {
  if (m.family !== undefined && m.family !== dst.family) return false;
  const inSet = (ps: Prefix[], a: IpAddress) => ps.some((p) => prefixContains(p, a));
  if (m.dst) {
    const hit = inSet(m.dst.prefixes, dst);
    if (m.dst.op === '==' ? !hit : hit) return false;
  }
  if (m.undecidable) return `cannot decide: ${m.undecidable}`;
  if (m.src) {
    if (m.src.prefixes.length === 0) return `depends on the source (${m.src.text})`;
    if (!src) return `depends on the source (${m.src.text}): give --src`;
    const hit = inSet(m.src.prefixes, src);
    if (m.src.op === '==' ? !hit : hit) return false;
  }
  for (const t of m.sourceTerms) {
    const ip = /^inport\s*==\s*"?([^"\s]+)"?$/.exec(t);
    if (ip) {
      if (!inport) return `depends on the ingress port (${t}): give --inport`;
      if (ip[1] !== inport) return false;
    } else if (!t.startsWith('ip')) return `depends on ${t}`;
  }
  if (m.narrowing.length > 0) return `only ${m.narrowing.join(' && ')} traffic`;
  return true;
}

