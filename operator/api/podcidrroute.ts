// The PodCIDRRoute custom resource (ovndrift.io/v1alpha1): its types, defaults and a validator
// that accepts exactly what kube-apiserver accepts for the CRD in crds/: the structural part
// (unknown fields, types, enums, lengths, list types) is checked against the CRD's own schema, and
// the CRD's CEL rules are implemented here, one named check each, with the same messages.
// Cross-resource checks (the same prefix claimed by two resources with different nexthops) live
// here too, as a pure function over many resources.
// The CRD schema comes from crds/ through crds.ts (read once). A leaf: imports only operator/api and
// the dependency-free operator/ovn/ip.ts.
import { parseIp } from '../ovn/ip.js';
import { crdSchema } from './crds.js';
import { GROUP, API_VERSION, DNS_SUBDOMAIN, isObject } from './meta.js';
import { hostBitsSet, isCanonicalIp, parseNetIp, parseNetPrefix, type NetPrefix } from './netip.js';
import { unknownFields, unknownMetadataFields, validateValue } from './schema.js';
export { GROUP };

export const KIND = 'PodCIDRRoute';

export type RoutePolicy = 'dst-ip' | 'src-ip';
export type Remediation = 'Report' | 'Repair';
export type DeletionPolicy = 'Orphan' | 'Delete';

export interface PodCIDRRouteSpec {
  /** NB Logical_Router name. */
  router: string;
  /** IP of the VM's logical switch port (IPv4 or IPv6). */
  nexthop: string;
  /** 1..N prefixes (network address, canonical form), same family as nexthop. */
  cidrs: string[];
  /** Default dst-ip. */
  policy: RoutePolicy;
  /** OVN route_table; "" = main (default). */
  routeTable: string;
  /** Optional chassis name or hostname the nexthop port must be bound to ("" = any). */
  expectedChassis: string;
  /** Default Report. */
  remediation: Remediation;
  /** Repair may take over an existing unowned route for this exact prefix (default false). */
  adopt: boolean;
  /**
   * What happens to the NB rows the resource owns when it is deleted: Orphan (default) leaves
   * them, Delete removes them (Repair mode, behind a finalizer).
   */
  deletionPolicy: DeletionPolicy;
}

export interface PodCIDRRoute {
  apiVersion: string;
  kind: string;
  metadata: { name: string; generation?: number; resourceVersion?: string; uid?: string; [k: string]: unknown };
  spec: PodCIDRRouteSpec;
  status?: unknown;
}

export interface FieldError {
  /** Field path, e.g. `spec.cidrs[1]`. */
  field: string;
  message: string;
  /** `unknown`: a field the CRD does not declare (kube-apiserver answers 400 BadRequest). */
  type?: 'unknown' | 'invalid';
}

export interface ValidationResult {
  /** The resource with defaults applied; present when there are no errors. */
  route?: PodCIDRRoute;
  errors: FieldError[];
}

// ---- the CRD's CEL rules, one check each (rule text in the comment) -------------------------

/** nexthop: `isIP(self)` */
function checkNexthopIsIp(nexthop: string): FieldError[] {
  return parseNetIp(nexthop) ? [] : [{ field: 'spec.nexthop', message: `${JSON.stringify(nexthop)} is not an IPv4 or IPv6 address` }];
}

/** cidrs[i]: `isCIDR(self)`, `cidr(self).masked() == cidr(self)`, `ip.isCanonical(<address part>)` */
function checkCidr(c: string, field: string, p: NetPrefix | undefined): FieldError[] {
  if (!p) return [{ field, message: `${JSON.stringify(c)} is not a valid CIDR prefix (address/length)` }];
  const out: FieldError[] = [];
  if (hostBitsSet(p)) out.push({ field, message: `host bits set in ${c}: give the network address of the prefix` });
  if (p.family === 6 && !isCanonicalIp(c.slice(0, c.lastIndexOf('/')))) out.push({ field, message: `must be written in canonical form (lower case, shortest IPv6 notation), got ${c}` });
  return out;
}

/**
 * spec: `self.cidrs.all(c, !isCIDR(c) || cidr(c).ip().family() == ip(self.nexthop).family())`.
 * Same verdict as the rule; the message names the item, which the CRD's spec-level rule cannot.
 */
function checkSameFamily(nexthop: string, cidrs: string[], parsed: (NetPrefix | undefined)[]): FieldError[] {
  const ip = parseNetIp(nexthop);
  if (!ip) return [];
  const out: FieldError[] = [];
  cidrs.forEach((c, i) => {
    const p = parsed[i];
    if (p && p.family !== ip.family) out.push({ field: `spec.cidrs[${i}]`, message: `${c} is IPv${p.family} but nexthop ${nexthop} is IPv${ip.family}: every prefix in spec.cidrs must be of the same IP family as spec.nexthop` });
  });
  return out;
}

/**
 * Validates one PodCIDRRoute object (as parsed from YAML or read from the API server) as
 * kube-apiserver would with fieldValidation=Strict, and applies the defaults. Errors name the
 * field path.
 */
export function validatePodCIDRRoute(obj: unknown): ValidationResult {
  const errors: FieldError[] = [];
  const err = (field: string, message: string) => errors.push({ field, message });
  if (!isObject(obj)) return { errors: [{ field: '', message: 'a PodCIDRRoute must be a YAML/JSON object' }] };

  if (obj.apiVersion !== API_VERSION) err('apiVersion', `must be ${API_VERSION}, got ${JSON.stringify(obj.apiVersion)}`);
  if (obj.kind !== KIND) err('kind', `must be ${KIND}, got ${JSON.stringify(obj.kind)}`);
  const schema = crdSchema(KIND);
  const { metadata: rawMeta, ...rest } = obj;
  errors.push(...unknownMetadataFields(rawMeta), ...unknownFields(rest, schema));
  const metadata = isObject(rawMeta) ? rawMeta : undefined;
  const name = metadata?.name;
  if (typeof name !== 'string' || name === '') err('metadata.name', 'is required');
  else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) err('metadata.name', `${JSON.stringify(name)} is not a valid Kubernetes object name (DNS subdomain)`);

  const spec = isObject(obj.spec) ? obj.spec : undefined;
  if (!spec) {
    err('spec', 'is required');
    return { errors };
  }
  const structural = validateValue(spec, schema.properties.spec, 'spec');
  errors.push(...structural);
  // CEL rules run on values that passed the schema (kube-apiserver skips them otherwise).
  if (typeof spec.nexthop === 'string') errors.push(...checkNexthopIsIp(spec.nexthop));
  if (Array.isArray(spec.cidrs)) {
    const parsed = spec.cidrs.map((c) => (typeof c === 'string' ? parseNetPrefix(c) : undefined));
    spec.cidrs.forEach((c, i) => {
      if (typeof c === 'string') errors.push(...checkCidr(c, `spec.cidrs[${i}]`, parsed[i]));
    });
    if (typeof spec.nexthop === 'string' && spec.cidrs.every((c) => typeof c === 'string')) errors.push(...checkSameFamily(spec.nexthop, spec.cidrs as string[], parsed));
  }

  if (errors.length > 0) return { errors };
  return {
    errors,
    route: {
      ...(obj as object),
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { ...(metadata as PodCIDRRoute['metadata']) },
      spec: {
        router: spec.router as string,
        nexthop: spec.nexthop as string,
        cidrs: [...(spec.cidrs as string[])],
        policy: (spec.policy ?? 'dst-ip') as RoutePolicy,
        routeTable: (spec.routeTable ?? '') as string,
        expectedChassis: (spec.expectedChassis ?? '') as string,
        remediation: (spec.remediation ?? 'Report') as Remediation,
        adopt: (spec.adopt ?? false) as boolean,
        deletionPolicy: (spec.deletionPolicy ?? 'Orphan') as DeletionPolicy,
      },
    } as PodCIDRRoute,
  };
}

/** A conflict between resources: the same router/policy/route table/prefix with different nexthops. */
export interface RouteConflict {
  route: string;
  field: string;
  message: string;
  prefix: string;
  others: string[];
}

/** Key under which one prefix is routed in the NB: router, route table, policy, normalised prefix. */
export function routeKey(spec: Pick<PodCIDRRouteSpec, 'router' | 'routeTable' | 'policy'>, prefix: string): string {
  return `${spec.router}\u0000${spec.routeTable}\u0000${spec.policy}\u0000${prefix}`;
}

/**
 * Finds prefixes claimed by two or more resources with different nexthops; every claimant gets a
 * conflict naming the others. Claims with the same nexthop are not conflicts.
 */
export function findConflicts(routes: readonly PodCIDRRoute[]): RouteConflict[] {
  const claims = new Map<string, { route: string; index: number; nexthop: string }[]>();
  for (const r of routes) {
    r.spec.cidrs.forEach((prefix, index) => {
      const key = routeKey(r.spec, prefix);
      const list = claims.get(key) ?? [];
      list.push({ route: r.metadata.name, index, nexthop: r.spec.nexthop });
      claims.set(key, list);
    });
  }
  const conflicts: RouteConflict[] = [];
  for (const [key, list] of claims) {
    const nexthops = new Set(list.map((c) => parseIp(c.nexthop)?.value.toString() ?? c.nexthop));
    if (nexthops.size < 2) continue;
    const [router, , , prefix] = key.split('\u0000') as [string, string, string, string];
    for (const c of list) {
      const others = list.filter((o) => o !== c);
      conflicts.push({
        route: c.route,
        field: `spec.cidrs[${c.index}]`,
        prefix,
        others: others.map((o) => o.route),
        message:
          `prefix ${prefix} on router ${router} is also claimed by ` +
          others.map((o) => `${o.route} (nexthop ${o.nexthop})`).join(', ') +
          ` with a different nexthop than ${c.nexthop}`,
      });
    }
  }
  return conflicts;
}
