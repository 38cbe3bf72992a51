// IPv4/IPv6 addresses and prefixes as numbers: parse, normalise (mask host bits), format, contain.
// Pure and dependency-free; used by manifest validation, flow parsing, drift and trace.
// Must not import anything from the project.

export type Family = 4 | 6;

export interface IpAddress {
  family: Family;
  value: bigint;
}

export interface Prefix {
  family: Family;
  /** Network address with host bits masked. */
  network: bigint;
  length: number;
  /** Canonical text: normalised network "/" length (RFC 5952 for IPv6). */
  text: string;
  /** True when the input had host bits set (e.g. 10.9.52.145/28). */
  hadHostBits: boolean;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

function parseIpv4(s: string): bigint | undefined {
  const v = parseIpv4Number(s);
  return v === undefined ? undefined : BigInt(v);
}

/** The IPv4 address as an unsigned 32-bit number (no BigInt: the prefix parser's fast path). */
function parseIpv4Number(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0;
  for (const p of parts) {
    if (p.length === 0 || p.length > 3 || (p.length > 1 && p.charCodeAt(0) === 48)) return undefined;
    let n = 0;
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return undefined;
      n = n * 10 + c;
    }
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return v;
}

function parseIpv6(s: string): bigint | undefined {
  if (s.includes('%')) return undefined;
  let text = s;
  let v4tail: bigint | undefined;
  // Embedded IPv4 in the last 32 bits (::ffff:1.2.3.4): parse it, stand two zero groups in for it.
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    v4tail = parseIpv4(text.slice(lastColon + 1));
    if (v4tail === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const total = head.length + rest.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const all = [...head, ...Array(8 - total).fill('0'), ...rest];
  let v = 0n;
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  if (v4tail !== undefined) v = (v & ~0xffffffffn) | v4tail;
  return v;
}

/**
 * Parsing is memoised: the same few thousand addresses and prefixes recur across routes, flows
 * and ports, and checks run over tens of thousands of them. Results are shared: never mutate them.
 * The memo is bounded by two generations of `memoGeneration` entries: new results go to the young
 * one, a hit in the old one is moved to the young one, and when the young one is full it becomes
 * the old one (the previous old one is dropped). So whatever was used within the last generation
 * stays cached: a working set up to one generation never thrashes, unlike a cache dropped
 * whole when full. At field scale (200,000 routes: their manifest prefixes, the same texts in the
 * NB routes and SB flows, plus the ports' networks and addresses) the working set of parsePrefix is
 * about 215,000 texts: a generation of 200,000 made every lookup a young miss, an old hit and a
 * move (a third of evaluate's memo time); 2^19 leaves room for about twice that.
 */
let memoGeneration = 1 << 19;

/**
 * Sets the generation of every parse memo (existing ones too; they shrink at their next
 * rotation). `check` keeps the default: it evaluates every route at once. The operator parses a few
 * hundred texts per reconcile and holds the memos for its whole life, where two generations of
 * 2^19 parsed prefixes would cost ~150 MiB for a speed it does not need.
 */
export function setParseMemoGeneration(n: number): void {
  memoGeneration = n;
}

export function memo<T>(fn: (s: string) => T, generation?: number): (s: string) => T {
  let young = new Map<string, T>();
  let old = new Map<string, T>();
  return (s: string) => {
    const hit = young.get(s);
    if (hit !== undefined || young.has(s)) return hit as T;
    let v: T;
    if (old.has(s)) v = old.get(s) as T;
    else v = fn(s);
    if (young.size >= (generation ?? memoGeneration)) {
      old = young;
      young = new Map();
    }
    young.set(s, v);
    return v;
  };
}

/** Parses an IPv4 or IPv6 address (no prefix length); undefined when it is not one. */
export const parseIp = memo(parseIpUncached);

function parseIpUncached(s: string): IpAddress | undefined {
  const t = s.trim();
  if (t.includes(':')) {
    const v = parseIpv6(t);
    return v === undefined ? undefined : { family: 6, value: v };
  }
  const v = parseIpv4(t);
  return v === undefined ? undefined : { family: 4, value: v };
}

/**
 * RFC 5952 text of eight 16-bit groups: lower case, the longest run (>= 2) of zero groups — the
 * first one on ties — written as `::`. Shared by the manifest checks and the OVN views.
 */
export function formatIpv6Groups(groups: readonly number[]): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: readonly number[]) => g.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

export function formatIp(a: IpAddress): string {
  if (a.family === 4) {
    const v = a.value;
    return [24n, 16n, 8n, 0n].map((sh) => String((v >> sh) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((a.value >> BigInt(i * 16)) & 0xffffn));
  return formatIpv6Groups(groups);
}

/** Canonical text of an address, or the input unchanged when it is not an address. */
export const canonicalIp = memo((s: string): string => {
  const a = parseIp(s);
  return a ? formatIp(a) : s;
});

function mask(family: Family, length: number): bigint {
  const bits = BigInt(BITS[family]);
  const all = (1n << bits) - 1n;
  return length === 0 ? 0n : (all >> (bits - BigInt(length))) << (bits - BigInt(length));
}

/**
 * Parses "addr/len" (or a bare address, read as a host prefix /32 or /128). Host bits are masked;
 * `hadHostBits` tells the caller they were there.
 */
export const parsePrefix = memo(parsePrefixUncached);

function parsePrefixUncached(s: string): Prefix | undefined {
  const t = s.trim();
  const slash = t.indexOf('/');
  const addrText = (slash < 0 ? t : t.slice(0, slash)).trim();
  // IPv4 in 32-bit numbers, one BigInt at the end: 200,000 route prefixes are parsed at field scale
  if (!addrText.includes(':')) return parseIpv4Prefix(t, addrText, slash);
  const addr = parseIp(addrText);
  if (!addr) return undefined;
  let length = BITS[addr.family];
  if (slash >= 0) {
    const l = t.slice(slash + 1);
    if (!/^\d{1,3}$/.test(l)) return undefined;
    length = Number(l);
    if (length > BITS[addr.family]) return undefined;
  }
  const network = addr.value & mask(addr.family, length);
  return {
    family: addr.family,
    network,
    length,
    text: `${formatIp({ family: addr.family, value: network })}/${length}`,
    hadHostBits: network !== addr.value,
  };
}

function parseIpv4Prefix(t: string, addrText: string, slash: number): Prefix | undefined {
  const v = parseIpv4Number(addrText);
  if (v === undefined) return undefined;
  let length = 32;
  if (slash >= 0) {
    const l = t.slice(slash + 1);
    if (!/^\d{1,3}$/.test(l)) return undefined;
    length = Number(l);
    if (length > 32) return undefined;
  }
  const net = length === 0 ? 0 : (v & ((0xffffffff << (32 - length)) >>> 0)) >>> 0;
  return {
    family: 4,
    network: BigInt(net),
    length,
    text: `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${length}`,
    hadHostBits: net !== v,
  };
}

/** Whether `ip` lies inside `prefix`. */
export function prefixContains(prefix: Prefix, ip: IpAddress): boolean {
  return prefix.family === ip.family && (ip.value & mask(prefix.family, prefix.length)) === prefix.network;
}

/** Total order: family, network, length (for deterministic sorting). */
export function comparePrefixes(a: Prefix, b: Prefix): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.network !== b.network) return a.network < b.network ? -1 : 1;
  return a.length - b.length;
}

/** Sort key for prefix text; unparsable text sorts last, by string. */
export function comparePrefixText(a: string, b: string): number {
  const pa = parsePrefix(a);
  const pb = parsePrefix(b);
  if (pa && pb) return comparePrefixes(pa, pb);
  if (pa) return -1;
  if (pb) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sameIp(a: string, b: string): boolean {
  const pa = parseIp(a);
  const pb = parseIp(b);
  if (!pa || !pb) return a === b;
  return pa.family === pb.family && pa.value === pb.value;
}
