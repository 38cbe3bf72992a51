// The affected-resource index: which PodCIDRRoutes a change touches. Each resource is indexed by
// the OVN identities its result depends on — router name, normalised prefix, nexthop IP, the
// nexthop's Logical_Switch_Port name and the chassis names involved — and an OVSDB RowChange is
// mapped to the same identities, so one NB/SB update recomputes only those resources.
// Pure; must not import the OVSDB client, the Kubernetes client or do I/O.
// Row interpretation (which identities a row carries) lives in operator/ovn/identities.ts.
import { canonicalIp, parseIp, parsePrefix } from '../ovn/ip.js';
import { key, type Key } from '../ovn/identities.js';
import { MultiMap } from '../runtime/multimap.js';

export { key, affectedBy } from '../ovn/identities.js';
export type { Key } from '../ovn/identities.js';

export class AffectedIndex {
  /** Key -> resource names (one name stored as itself: most prefix keys name one resource). */
  private readonly byKey = new MultiMap();
  private readonly keysOf = new Map<string, Set<Key>>();

  /** Replace the keys of one resource. */
  set(name: string, keys: Iterable<Key>): void {
    this.delete(name);
    const mine = new Set(keys);
    this.keysOf.set(name, mine);
    for (const k of mine) this.byKey.add(k, name);
  }

  delete(name: string): void {
    const old = this.keysOf.get(name);
    if (!old) return;
    for (const k of old) this.byKey.delete(k, name);
    this.keysOf.delete(name);
  }

  keys(name: string): ReadonlySet<Key> {
    return this.keysOf.get(name) ?? new Set();
  }

  /** Resources indexed under any of the keys. */
  lookup(keys: Iterable<Key>): Set<string> {
    const out = new Set<string>();
    for (const k of keys) this.byKey.collect(k, out);
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

