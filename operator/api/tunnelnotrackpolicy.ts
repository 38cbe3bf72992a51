// TunnelNoTrackPolicy (ovndrift.io/v1alpha1, cluster-scoped) and the per-node NodeNoTrackState the
// agent writes: TypeScript types, a pure validator returning field-path-named errors, and
// Kubernetes label-selector matching. No I/O here; must not import kube, agent or ovsdb modules.
import type { Condition } from './conditions.js';
import { crdSchema } from './crds.js';
import { GROUP, VERSION, API_VERSION, DNS_SUBDOMAIN, isObject } from './meta.js';
import { unknownFields, unknownMetadataFields } from './schema.js';
export { GROUP, VERSION, API_VERSION };

export const TUNNEL_NOTRACK_POLICY_KIND = 'TunnelNoTrackPolicy';
export const TUNNEL_NOTRACK_POLICY_PLURAL = 'tunnelnotrackpolicies';
export const NODE_NOTRACK_STATE_KIND = 'NodeNoTrackState';
export const NODE_NOTRACK_STATE_PLURAL = 'nodenotrackstates';

export const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
export type Protocol = (typeof PROTOCOLS)[number];
export const IP_FAMILIES = ['IPv4', 'IPv6'] as const;
export type IpFamily = (typeof IP_FAMILIES)[number];

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
export interface LabelSelectorRequirement {
  key: string;
  operator: SelectorOperator;
  values?: string[];
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface TunnelPort {
  name?: string;
  protocol: Protocol;
  port: number;
}

export interface TunnelNoTrackPolicySpec {
  nodeSelector?: LabelSelector;
  ports: TunnelPort[];
  ipFamilies?: IpFamily[];
}

export interface TunnelNoTrackPolicyStatus {
  observedGeneration?: number;
  desiredNodes?: number;
  appliedNodes?: number;
  failures?: { node: string; message: string }[];
  conditions?: Condition[];
}

export interface ObjectMeta {
  name: string;
  generation?: number;
  resourceVersion?: string;
  uid?: string;
  labels?: Record<string, string>;
  [k: string]: unknown;
}

export interface TunnelNoTrackPolicy {
  apiVersion: typeof API_VERSION;
  kind: typeof TUNNEL_NOTRACK_POLICY_KIND;
  metadata: ObjectMeta;
  spec: TunnelNoTrackPolicySpec;
  status?: TunnelNoTrackPolicyStatus;
}

/** What one agent reports about its node (metadata.name = node name). */
export interface NodeNoTrackStateStatus {
  backend?: 'legacy' | 'nft';
  appliedPolicies: { name: string; generation?: number }[];
  ports: { protocol: Protocol; port: number; ipFamilies: IpFamily[]; policies: string[] }[];
  rules: number;
  lastCheckTime: string;
  lastError?: string;
  conditions: Condition[];
}
export interface NodeNoTrackState {
  apiVersion: typeof API_VERSION;
  kind: typeof NODE_NOTRACK_STATE_KIND;
  metadata: ObjectMeta;
  status?: NodeNoTrackStateStatus;
}

/** A spec that passed validation, with defaults filled in. */
export interface ValidPolicy {
  name: string;
  generation?: number;
  nodeSelector: LabelSelector;
  ports: TunnelPort[];
  ipFamilies: IpFamily[];
}

export interface FieldError {
  /** e.g. `spec.ports[1].port` */
  field: string;
  message: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const LABEL_VALUE = /^(([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?)$/;


function labelKeyError(key: unknown): string | undefined {
  if (typeof key !== 'string' || key === '') return 'must be a non-empty string';
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : '';
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (slash >= 0 && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return `label key prefix '${prefix}' must be a DNS subdomain`;
  if (name.length > 63 || !LABEL_NAME.test(name)) return `label key '${key}' is not a valid label name`;
  return undefined;
}

function labelValueError(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length > 63 || !LABEL_VALUE.test(value)) return `label value '${value}' is not valid`;
  return undefined;
}

function validateSelector(sel: unknown, path: string, errors: FieldError[]): LabelSelector {
  if (sel === undefined || sel === null) return {};
  if (!isObject(sel)) {
    errors.push({ field: path, message: 'must be an object with matchLabels and/or matchExpressions' });
    return {};
  }
  const out: LabelSelector = {};
  if (sel.matchLabels !== undefined) {
    if (!isObject(sel.matchLabels)) {
      errors.push({ field: `${path}.matchLabels`, message: 'must be a map of label key to value' });
    } else {
      out.matchLabels = {};
      for (const [k, v] of Object.entries(sel.matchLabels)) {
        const ke = labelKeyError(k);
        if (ke) errors.push({ field: `${path}.matchLabels[${k}]`, message: ke });
        const ve = labelValueError(v);
        if (ve) errors.push({ field: `${path}.matchLabels[${k}]`, message: ve });
        if (!ke && !ve) out.matchLabels[k] = v as string;
      }
    }
  }
  if (sel.matchExpressions !== undefined) {
    if (!Array.isArray(sel.matchExpressions)) {
      errors.push({ field: `${path}.matchExpressions`, message: 'must be a list' });
    } else {
      out.matchExpressions = [];
      sel.matchExpressions.forEach((req: unknown, i: number) => {
        const p = `${path}.matchExpressions[${i}]`;
        if (!isObject(req)) {
          errors.push({ field: p, message: 'must be an object with key, operator and values' });
          return;
        }
        const ke = labelKeyError(req.key);
        if (ke) errors.push({ field: `${p}.key`, message: ke });
        const op = req.operator;
        if (op !== 'In' && op !== 'NotIn' && op !== 'Exists' && op !== 'DoesNotExist') {
          errors.push({ field: `${p}.operator`, message: `must be one of In, NotIn, Exists, DoesNotExist (got ${JSON.stringify(op)})` });
          return;
        }
        const values = req.values;
        if (op === 'In' || op === 'NotIn') {
          if (!Array.isArray(values) || values.length === 0) {
            errors.push({ field: `${p}.values`, message: `must be a non-empty list for operator ${op}` });
            return;
          }
          values.forEach((v, j) => {
            const ve = labelValueError(v);
            if (ve) errors.push({ field: `${p}.values[${j}]`, message: ve });
          });
        } else if (values !== undefined && (!Array.isArray(values) || values.length > 0)) {
          errors.push({ field: `${p}.values`, message: `must be empty for operator ${op}` });
          return;
        }
        if (!ke) out.matchExpressions!.push({ key: req.key as string, operator: op, values: (values as string[] | undefined) ?? [] });
      });
    }
  }
  return out;
}

/**
 * Validates one TunnelNoTrackPolicy object as read from a manifest or the API.
 * Returns the policy with defaults applied, or the list of field errors (never both).
 */
export function validateTunnelNoTrackPolicy(obj: unknown): { policy: ValidPolicy; errors: [] } | { policy?: undefined; errors: FieldError[] } {
  const errors: FieldError[] = [];
  if (!isObject(obj)) return { errors: [{ field: '', message: 'must be an object' }] };
  if (obj.apiVersion !== API_VERSION) errors.push({ field: 'apiVersion', message: `must be ${API_VERSION} (got ${JSON.stringify(obj.apiVersion)})` });
  if (obj.kind !== TUNNEL_NOTRACK_POLICY_KIND) errors.push({ field: 'kind', message: `must be ${TUNNEL_NOTRACK_POLICY_KIND}` });
  const meta = obj.metadata;
  // Strict field validation, as kube-apiserver does for kubectl: fields the CRD does not declare.
  const { metadata: _m, ...rest } = obj;
  for (const e of [...unknownMetadataFields(meta), ...unknownFields(rest, crdSchema(TUNNEL_NOTRACK_POLICY_KIND))]) errors.push({ field: e.field, message: e.message });
  let name = '';
  if (!isObject(meta) || typeof meta.name !== 'string' || meta.name === '') {
    errors.push({ field: 'metadata.name', message: 'is required' });
  } else {
    name = meta.name;
    if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) errors.push({ field: 'metadata.name', message: `'${name}' must be a lowercase DNS subdomain` });
  }
  const generation = isObject(meta) && typeof meta.generation === 'number' ? meta.generation : undefined;
  const spec = obj.spec;
  if (!isObject(spec)) {
    errors.push({ field: 'spec', message: 'is required and must be an object' });
    return { errors };
  }
  const nodeSelector = validateSelector(spec.nodeSelector, 'spec.nodeSelector', errors);

  const ports: TunnelPort[] = [];
  if (!Array.isArray(spec.ports) || spec.ports.length === 0) {
    errors.push({ field: 'spec.ports', message: 'must list at least one port' });
  } else {
    const seen = new Set<string>();
    spec.ports.forEach((p: unknown, i: number) => {
      const path = `spec.ports[${i}]`;
      if (!isObject(p)) {
        errors.push({ field: path, message: 'must be an object with name, protocol and port' });
        return;
      }
      let ok = true;
      if (p.name !== undefined && (typeof p.name !== 'string' || p.name.length > 63 || !DNS_LABEL.test(p.name))) {
        errors.push({ field: `${path}.name`, message: `${JSON.stringify(p.name)} must be a lowercase DNS label (a-z, 0-9, '-')` });
        ok = false;
      }
      if (typeof p.protocol !== 'string' || !(PROTOCOLS as readonly string[]).includes(p.protocol)) {
        errors.push({ field: `${path}.protocol`, message: `must be one of TCP, UDP, SCTP (got ${JSON.stringify(p.protocol)})` });
        ok = false;
      }
      if (typeof p.port !== 'number' || !Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
        errors.push({ field: `${path}.port`, message: `must be an integer in 1..65535 (got ${JSON.stringify(p.port)})` });
        ok = false;
      }
      if (!ok) return;
      const key = `${p.protocol}/${p.port}`;
      if (seen.has(key)) {
        errors.push({ field: `${path}`, message: `duplicates ${key} listed earlier in this policy` });
        return;
      }
      seen.add(key);
      ports.push({ ...(p.name !== undefined ? { name: p.name as string } : {}), protocol: p.protocol as Protocol, port: p.port as number });
    });
  }

  let ipFamilies: IpFamily[] = ['IPv4', 'IPv6'];
  if (spec.ipFamilies !== undefined) {
    if (!Array.isArray(spec.ipFamilies) || spec.ipFamilies.length === 0) {
      errors.push({ field: 'spec.ipFamilies', message: 'must be a non-empty list of IPv4 and/or IPv6 (omit it for both)' });
    } else {
      const fams = new Set<IpFamily>();
      spec.ipFamilies.forEach((f: unknown, i: number) => {
        if (f !== 'IPv4' && f !== 'IPv6') errors.push({ field: `spec.ipFamilies[${i}]`, message: `must be IPv4 or IPv6 (got ${JSON.stringify(f)})` });
        else if (fams.has(f)) errors.push({ field: `spec.ipFamilies[${i}]`, message: `${f} is listed twice` });
        else fams.add(f);
      });
      ipFamilies = IP_FAMILIES.filter((f) => fams.has(f));
    }
  }
  if (errors.length > 0) return { errors };
  return { policy: { name, generation, nodeSelector, ports, ipFamilies }, errors: [] };
}

export function formatFieldErrors(name: string, errors: FieldError[]): string {
  return `TunnelNoTrackPolicy ${name || '(unnamed)'} is invalid: ${errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ')}`;
}

/** Kubernetes label-selector semantics: empty selector matches every node; all terms are ANDed. */
export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, req.key);
    const values = req.values ?? [];
    switch (req.operator) {
      case 'In':
        if (!has || !values.includes(labels[req.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[req.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** Parses `k=v,k2=v2` (the --node-labels flag). A bare `k` means an empty value. */
export function parseLabelList(text: string): { labels: Record<string, string>; errors: string[] } {
  const labels: Record<string, string> = {};
  const errors: string[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = part.indexOf('=');
    const key = eq >= 0 ? part.slice(0, eq) : part;
    const value = eq >= 0 ? part.slice(eq + 1) : '';
    const ke = labelKeyError(key);
    const ve = labelValueError(value);
    if (ke || ve) errors.push(`label '${part}': ${ke ?? ve}`);
    else labels[key] = value;
  }
  return { labels, errors };
}
