// IP address and CIDR syntax exactly as Kubernetes' CEL IP/CIDR libraries accept it (`isIP`,
// `ip.isCanonical`, `isCIDR`, `cidr(...).masked()`): Go's net/netip parsing (no leading zeros in
// IPv4 octets or prefix lengths, at most four hex digits per IPv6 group, one `::`), minus what
// Kubernetes refuses on top (IPv6 zones, IPv4-mapped IPv6 addresses). The CLI's validator uses it
// so that it accepts exactly what the CRD's CEL rules accept. Reading OVN's own address fields is
// operator/ovn/ip.ts's business, not this module's. Pure; imports only the RFC 5952 formatter of
// operator/ovn/ip.ts (itself dependency-free), so IPv6 text is written one way in the product.
import { formatIpv6Groups } from '../ovn/ip.js';

export interface NetIp {
  family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: number[];
}

export interface NetPrefix extends NetIp {
  bits: number;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Dotted decimal, four octets, no leading zeros (netip.ParseAddr); a hand loop, it is hot. */
function parse4(s: string): number[] | undefined {
  const out: number[] = [];
  let n = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46; // a final '.' closes the last octet
    if (c >= 48 && c <= 57) {
      if (digits === 1 && n === 0) return undefined; // leading zero
      n = n * 10 + (c - 48);
      if (++digits > 3 || n > 255) return undefined;
    } else if (c === 46) {
      if (digits === 0) return undefined;
      out.push(n);
      n = 0;
      digits = 0;
    } else return undefined;
  }
  return out.length === 4 ? out : undefined;
}

function parse6(s: string): number[] | undefined {
  if (s.includes('%')) return undefined; // zones: Kubernetes refuses them
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (text: string, last: boolean): number[] | undefined => {
    if (text === '') return [];
    const parts = text.split(':');
    const out: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (last && i === parts.length - 1 && p.includes('.')) {
        const v4 = parse4(p);
        if (!v4) return undefined;
        out.push(...v4);
        continue;
      }
      if (!HEX_GROUP.test(p)) return undefined;
      const n = parseInt(p, 16);
      out.push(n >> 8, n & 0xff);
    }
    return out;
  };
  if (halves.length === 1) {
    const all = groups(s, true);
    return all && all.length === 16 ? all : undefined;
  }
  const head = groups(halves[0]!, false);
  const tail = groups(halves[1]!, true);
  if (!head || !tail || head.length + tail.length > 14) return undefined;
  return [...head, ...new Array<number>(16 - head.length - tail.length).fill(0), ...tail];
}

function isMapped4in6(b: number[]): boolean {
  return b.length === 16 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
}

/** `isIP(s)` / `ip(s)`: undefined when Kubernetes' CEL would reject the string. */
export function parseNetIp(s: string): NetIp | undefined {
  if (s.includes(':')) {
    const bytes = parse6(s);
    if (!bytes || isMapped4in6(bytes)) return undefined;
    return { family: 6, bytes };
  }
  const bytes = parse4(s);
  return bytes ? { family: 4, bytes } : undefined;
}

/** `isCIDR(s)` / `cidr(s)`: address/length with a decimal length without leading zeros. */
export function parseNetPrefix(s: string): NetPrefix | undefined {
  const slash = s.lastIndexOf('/');
  if (slash < 0) return undefined;
  const ip = parseNetIp(s.slice(0, slash));
  const bitsText = s.slice(slash + 1);
  if (!ip || bitsText === '' || bitsText.length > 3 || (bitsText.length > 1 && bitsText[0] === '0')) return undefined;
  let bits = 0;
  for (let i = 0; i < bitsText.length; i++) {
    const c = bitsText.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    bits = bits * 10 + (c - 48);
  }
  if (bits > (ip.family === 4 ? 32 : 128)) return undefined;
  return { ...ip, bits };
}

/** Are bits past the prefix length set (`cidr(s).masked() != cidr(s)`)? */
export function hostBitsSet(p: NetPrefix): boolean {
  for (let i = 0; i < p.bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, p.bits - i * 8));
    if ((p.bytes[i]! & ~((0xff << (8 - keep)) & 0xff) & 0xff) !== 0) return true;
  }
  return false;
}

/** Go's netip.Addr.String(): dotted decimal, or RFC 5952 IPv6 (lower case, longest zero run as `::`). */
function formatNetIp(ip: NetIp): string {
  if (ip.family === 4) return ip.bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip.bytes[i]! << 8) | ip.bytes[i + 1]!);
  return formatIpv6Groups(groups);
}

/** `ip.isCanonical(s)`: s parses and is already written the way Go prints it. */
export function isCanonicalIp(s: string): boolean {
  const ip = parseNetIp(s);
  // IPv4 that parses is canonical (no leading zeros are accepted); IPv6 is compared with Go's form.
  return ip !== undefined && (ip.family === 4 || formatNetIp(ip) === s);
}
