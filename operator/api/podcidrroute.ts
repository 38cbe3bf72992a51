// The PodCIDRRoute custom resource (ovndrift.io/v1alpha1): its types, defaults and a pure
// validator that returns field-path errors. Cross-resource checks (the same prefix claimed by two
// resources with different nexthops) live here too, as a pure function over many resources.
// No I/O; must not import the OVSDB client, Kubernetes client or drift code.
import { parseIp, parsePrefix, type Family } from '../ovn/ip.js';
import { GROUP, VERSION, API_VERSION, DNS_SUBDOMAIN, isObject } from './meta.js';
export { GROUP, VERSION, API_VERSION };

export const KIND = 'PodCIDRRoute';

export type RoutePolicy = 'dst-ip' | 'src-ip';
export type Remediation = 'Report' | 'Repair';

export interface PodCIDRRouteSpec {
  /** NB Logical_Router name. */
  router: string;
  /** IP of the VM's logical switch port (IPv4 or IPv6). */
  nexthop: string;
  /** 1..N prefixes, same family as nexthop. */
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
}

export interface ValidationResult {
  /** The resource with defaults applied and prefixes normalised; present when there are no errors. */
  route?: PodCIDRRoute;
  errors: FieldError[];
}

function familyName(f: Family): string {
  return f === 4 ? 'IPv4' : 'IPv6';
}

/**
 * Validates one PodCIDRRoute object (as parsed from YAML or read from the API server) and applies
 * the defaults. Errors name the field path. Prefixes are normalised (host bits masked), since
 * OVN compares normalised prefixes too.
 */
export function validatePodCIDRRoute(obj: unknown): ValidationResult {
  const errors: FieldError[] = [];
  const err = (field: string, message: string) => errors.push({ field, message });
  if (!isObject(obj)) return { errors: [{ field: '', message: 'a PodCIDRRoute must be a YAML/JSON object' }] };

  if (obj.apiVersion !== API_VERSION) err('apiVersion', `must be ${API_VERSION}, got ${JSON.stringify(obj.apiVersion)}`);
  if (obj.kind !== KIND) err('kind', `must be ${KIND}, got ${JSON.stringify(obj.kind)}`);
  const metadata = isObject(obj.metadata) ? obj.metadata : undefined;
  const name = metadata?.name;
  if (typeof name !== 'string' || name === '') err('metadata.name', 'is required');
  else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) err('metadata.name', `${JSON.stringify(name)} is not a valid Kubernetes object name (DNS subdomain)`);

  const spec = isObject(obj.spec) ? obj.spec : undefined;
  if (!spec) {
    err('spec', 'is required');
    return { errors };
  }
  const router = spec.router;
  if (typeof router !== 'string' || router.trim() === '') err('spec.router', 'is required (the NB Logical_Router name)');

  let nexthopFamily: Family | undefined;
  let nexthop = '';
  if (typeof spec.nexthop !== 'string' || spec.nexthop === '') err('spec.nexthop', 'is required (an IPv4 or IPv6 address)');
  else {
    const ip = parseIp(spec.nexthop);
    if (!ip) err('spec.nexthop', `${JSON.stringify(spec.nexthop)} is not an IPv4 or IPv6 address`);
    else {
      nexthopFamily = ip.family;
      nexthop = spec.nexthop.trim();
    }
  }

  const cidrs: string[] = [];
  if (!Array.isArray(spec.cidrs)) err('spec.cidrs', 'is required (a list of 1..N prefixes)');
  else if (spec.cidrs.length === 0) err('spec.cidrs', 'must list at least one prefix');
  else {
    const seen = new Map<string, number>();
    spec.cidrs.forEach((c, i) => {
      const field = `spec.cidrs[${i}]`;
      if (typeof c !== 'string') return err(field, `must be a string prefix like 10.9.52.144/28, got ${JSON.stringify(c)}`);
      const p = c.includes('/') ? parsePrefix(c) : undefined;
      if (!p) return err(field, `${JSON.stringify(c)} is not a valid CIDR prefix (address/length)`);
      if (nexthopFamily !== undefined && p.family !== nexthopFamily) {
        return err(field, `${c} is ${familyName(p.family)} but nexthop ${nexthop} is ${familyName(nexthopFamily)}`);
      }
      const first = seen.get(p.text);
      if (first !== undefined) return err(field, `duplicate prefix ${p.text} (same as spec.cidrs[${first}])`);
      seen.set(p.text, i);
      cidrs.push(p.text);
    });
  }

  const policy = spec.policy ?? 'dst-ip';
  if (policy !== 'dst-ip' && policy !== 'src-ip') err('spec.policy', `must be dst-ip or src-ip, got ${JSON.stringify(policy)}`);
  const routeTable = spec.routeTable ?? '';
  if (typeof routeTable !== 'string') err('spec.routeTable', 'must be a string ("" = main route table)');
  const expectedChassis = spec.expectedChassis ?? '';
  if (typeof expectedChassis !== 'string') err('spec.expectedChassis', 'must be a string (chassis name or hostname)');
  const remediation = spec.remediation ?? 'Report';
  if (remediation !== 'Report' && remediation !== 'Repair') err('spec.remediation', `must be Report or Repair, got ${JSON.stringify(remediation)}`);
  const adopt = spec.adopt ?? false;
  if (typeof adopt !== 'boolean') err('spec.adopt', `must be true or false, got ${JSON.stringify(adopt)}`);

  if (errors.length > 0) return { errors };
  return {
    errors,
    route: {
      ...(obj as object),
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { ...(metadata as PodCIDRRoute['metadata']) },
      spec: {
        router: (router as string).trim(),
        nexthop,
        cidrs,
        policy: policy as RoutePolicy,
        routeTable: routeTable as string,
        expectedChassis: expectedChassis as string,
        remediation: remediation as Remediation,
        adopt: adopt as boolean,
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
