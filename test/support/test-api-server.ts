// A strict in-process Kubernetes test API server (node:http on 127.0.0.1, port 0) for tests and
// benchmarks that drive the real @kubernetes/client-node. It is a test API server, not a cluster:
// one process, an in-memory store, no admission chain beyond the CRD schemas (and an optional
// validator hook that stands in for CEL rules).
//
// What it does the way kube-apiserver does:
// - resourceVersion is one global counter; every write bumps it; a stale resourceVersion on
//   update/patch is 409 Conflict; create of an existing name is 409 AlreadyExists; missing is 404.
// - custom resources from crds/ (apiextensions.k8s.io/v1): structural-schema pruning, defaults,
//   validation (422 Invalid), status subresource (the main endpoint ignores status, /status ignores
//   everything but status), metadata.generation bumped on spec changes only, finalizers.
// - merge-patch, json-patch and (for built-ins, approximated as merge) strategic-merge-patch.
// - watch from a resourceVersion with ADDED/MODIFIED/DELETED/BOOKMARK; a resourceVersion older
//   than the bounded history gets an ERROR event carrying a 410 Gone Status (like the real server).
// - label and field (metadata.name, metadata.namespace) selectors on list and watch, including the
//   ADDED/DELETED a watcher sees when a label change moves an object in or out of its selector.
// - discovery (/api, /api/v1, /apis, /apis/G/V) so KubernetesObjectApi resolves kinds.
// - built-ins: core v1 Nodes and Namespaces, coordination.k8s.io/v1 Leases, events.k8s.io/v1
//   and core v1 Events.
// Fault hooks for tests: compact() (old resourceVersions become 410), closeWatches(),
// silenceWatches() (connections stay open, nothing is sent: the client-node 1.x silent-watch
// case), failNext().
// Must not import anything from operator/ (it is the other side of the wire).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { KubeConfig } from '@kubernetes/client-node';
import { loadCrds } from '../../operator/api/crds.js';

// ajv-formats is CommonJS; under nodenext its default export is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = Record<string, any>;

export interface ResourceType {
  group: string; // '' for core
  version: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  statusSubresource: boolean;
  /** bump metadata.generation on changes outside metadata/status */
  generation: boolean;
  shortNames?: string[];
  categories?: string[];
  printerColumns?: { name: string; type: string; jsonPath: string; priority?: number }[];
  schema?: Obj;
  /** the CustomResourceDefinition a custom resource type was installed from */
  crd?: Obj;
  validate?: ValidateFunction;
  /** Another API of a stored resource (events.k8s.io/v1 Event over core v1 Event). */
  view?: ResourceView;
}

/** How one API version presents objects stored as another (Kubernetes' internal conversion). */
export interface ResourceView {
  storage: () => ResourceType;
  toView: (stored: Obj) => Obj;
  fromView: (obj: Obj) => Obj;
  /** A field selector label of this API mapped to the stored object's label. */
  field: (label: string) => string;
}

export interface TestApiServerOptions {
  /** directory with CustomResourceDefinition YAML (default: the repository's crds/) */
  crdDir?: string | false;
  /** how many watch events are kept; older resourceVersions get 410 Gone (default 1000) */
  historyLimit?: number;
  /** extra validation standing in for CEL rules: return messages to reject with 422 */
  validate?: (obj: Obj, old: Obj | undefined) => string[];
  /**
   * Path of Kubernetes' own validation binary (../shared/tools/crd-validate): when set, every
   * create and update of a custom resource is also decided by it (CEL rules, list types, formats),
   * as kube-apiserver would decide it. Slow (a process per write): for kubectl tests, not benchmarks.
   */
  crdValidate?: string;
}

interface WatchEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rt: ResourceType;
  object: Obj;
  old?: Obj;
}

interface Watcher {
  rt: ResourceType;
  namespace?: string;
  label: LabelSelector;
  field: FieldSelector;
  res: ServerResponse;
  silenced: boolean;
  lastRv: number;
  bookmarks: boolean;
}

interface Fault {
  method?: string;
  pathIncludes?: string;
  status: number;
  times: number;
}

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Obj,
  ) {
    super(message);
  }
}

/** Find a directory named `name` in this file's ancestors (works from test/ and from dist/test/). */
export function findRepoDir(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, name);
    if (existsSync(candidate) && statSync(candidate).isDirectory() && existsSync(join(dir, 'package.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no ${name}/ directory above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Build a KubeConfig for a test API server URL (plain HTTP, a dummy bearer token). */
export function kubeConfigFor(url: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test-api-server', server: url, skipTLSVerify: true }],
    users: [{ name: 'test', token: 'test-token' }],
    contexts: [{ name: 'test', cluster: 'test-api-server', user: 'test' }],
    currentContext: 'test',
  });
  return kc;
}

const BUILTINS: ResourceType[] = [
  { group: '', version: 'v1', plural: 'nodes', singular: 'node', kind: 'Node', listKind: 'NodeList', namespaced: false, statusSubresource: true, generation: false, shortNames: ['no'] },
  { group: '', version: 'v1', plural: 'namespaces', singular: 'namespace', kind: 'Namespace', listKind: 'NamespaceList', namespaced: false, statusSubresource: true, generation: false, shortNames: ['ns'] },
  { group: '', version: 'v1', plural: 'events', singular: 'event', kind: 'Event', listKind: 'EventList', namespaced: true, statusSubresource: false, generation: false, shortNames: ['ev'] },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', singular: 'lease', kind: 'Lease', listKind: 'LeaseList', namespaced: true, statusSubresource: false, generation: false },
  { group: 'events.k8s.io', version: 'v1', plural: 'events', singular: 'event', kind: 'Event', listKind: 'EventList', namespaced: true, statusSubresource: false, generation: false, shortNames: ['ev'] },
];

// ---- Events: one store, two APIs -----------------------------------------------------------------

/** core v1 Event field <-> events.k8s.io/v1 Event field (Kubernetes' conversion, field by field). */
const EVENT_FIELDS: [core: string, v1: string][] = [
  ['involvedObject', 'regarding'], ['related', 'related'], ['message', 'note'], ['reason', 'reason'], ['type', 'type'],
  ['action', 'action'], ['reportingComponent', 'reportingController'], ['reportingInstance', 'reportingInstance'],
  ['eventTime', 'eventTime'], ['series', 'series'], ['source', 'deprecatedSource'], ['firstTimestamp', 'deprecatedFirstTimestamp'],
  ['lastTimestamp', 'deprecatedLastTimestamp'], ['count', 'deprecatedCount'],
];

/** A stored core v1 Event as events.k8s.io/v1 presents it. */
function toEventsV1(core: Obj): Obj {
  const out: Obj = { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: core.metadata };
  for (const [c, v] of EVENT_FIELDS) if (core[c] !== undefined && core[c] !== null) out[v] = core[c];
  return out;
}

/** An events.k8s.io/v1 Event as the core v1 Event it is stored as. */
function fromEventsV1(ev: Obj): Obj {
  const out: Obj = { apiVersion: 'v1', kind: 'Event', metadata: ev.metadata };
  for (const [c, v] of EVENT_FIELDS) if (ev[v] !== undefined && ev[v] !== null) out[c] = ev[v];
  out.involvedObject ??= {};
  return out;
}

const EVENT_SELECTOR_LABELS: Record<string, string> = { reportingController: 'reportingComponent', 'deprecatedSource.component': 'source' };

/**
 * kube-apiserver's ValidateEventCreate for events.k8s.io/v1-style Events (eventTime set): an Event
 * about a cluster-scoped object (no regarding.namespace) lives in "default" or "kube-system".
 */
function validateEventNamespace(ev: Obj, namespace: string | undefined): void {
  if (!ev.eventTime) return;
  const ns = namespace ?? ev.metadata?.namespace ?? 'default';
  const regarding = ev.regarding ?? {};
  if (!regarding.namespace && ns !== 'default' && ns !== 'kube-system') {
    throw new ApiError(422, 'Invalid', `Event.events.k8s.io "${ev.metadata?.name ?? ev.metadata?.generateName ?? ''}" is invalid: regarding.namespace: Invalid value: "": does not match event.namespace`);
  }
  if (regarding.namespace && regarding.namespace !== ns) {
    throw new ApiError(422, 'Invalid', `Event.events.k8s.io "${ev.metadata?.name ?? ''}" is invalid: regarding.namespace: Invalid value: "${regarding.namespace}": does not match event.namespace`);
  }
}

// ---- what kubectl prints --------------------------------------------------------------------------

/** kubectl's and the apiserver's HumanDuration of a timestamp, <unknown> when absent. */
function age(ts: unknown, now: number): string {
  if (typeof ts !== 'string' || ts === '') return '<unknown>';
  const t = Date.parse(ts);
  return Number.isNaN(t) ? '<invalid>' : humanAge(now - t);
}

/** One printer-column cell as the apiextensions table convertor renders it. */
function printerCell(type: string, v: unknown, now: number): unknown {
  if (v === undefined || v === null) return null;
  if (type === 'date') return age(v, now);
  if (type === 'integer' || type === 'number') return typeof v === 'number' ? v : null;
  if (type === 'boolean') return typeof v === 'boolean' ? v : null;
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** The cells of Kubernetes' event printer (pkg/printers/internalversion printEvent), all columns. */
function eventCells(e: Obj, now: number): unknown[] {
  const first = e.firstTimestamp ? age(e.firstTimestamp, now) : age(e.eventTime, now);
  let last = e.lastTimestamp ? age(e.lastTimestamp, now) : first;
  let count = e.count ?? 0;
  if (e.series) {
    last = age(e.series.lastObservedTime, now);
    count = e.series.count;
  } else if (count === 0) count = 1;
  const io = e.involvedObject ?? {};
  const target = io.name ? `${String(io.kind ?? '').toLowerCase()}/${io.name}` : String(io.kind ?? '').toLowerCase();
  const component = e.source?.component || e.reportingComponent || '';
  const instance = e.source?.host || e.reportingInstance || '';
  return [last, e.type ?? '', e.reason ?? '', target, io.fieldPath ?? '', instance ? `${component}, ${instance}` : component, String(e.message ?? '').trim(), first, count, e.metadata?.name];
}

// ---- strict field validation ---------------------------------------------------------------------

const OBJECT_META_FIELDS = new Set([
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
]);

/** Paths of fields a structural schema does not declare (what strict decoding reports). */
function unknownFieldPaths(obj: Obj, schema: Obj): string[] {
  const out: string[] = [];
  for (const k of Object.keys(obj.metadata ?? {})) if (!OBJECT_META_FIELDS.has(k)) out.push(`metadata.${k}`);
  const walk = (v: unknown, sc: Obj | undefined, path: string): void => {
    if (!sc || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, sc.items, `${path}[${i}]`));
      return;
    }
    if (sc['x-kubernetes-preserve-unknown-fields'] === true && !sc.properties) return;
    for (const [k, x] of Object.entries(v)) {
      const p = path ? `${path}.${k}` : k;
      if (sc.properties?.[k]) walk(x, sc.properties[k], p);
      else if (sc.additionalProperties && typeof sc.additionalProperties === 'object') walk(x, sc.additionalProperties, p);
      else if (sc.additionalProperties !== true && sc['x-kubernetes-preserve-unknown-fields'] !== true) out.push(p);
    }
  };
  const { metadata: _m, ...rest } = obj;
  walk(rest, schema, '');
  return out;
}

/** The first field a JSON text gives twice in one object (`spec.router`), or undefined. */
function duplicateJsonField(text: string): string | undefined {
  const doc = parseDocument(text, { uniqueKeys: false });
  const walk = (node: unknown, path: string): string | undefined => {
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : '';
        const p = path ? `${path}.${k}` : k;
        if (seen.has(k)) return p;
        seen.add(k);
        const inner = walk(pair.value, p);
        if (inner) return inner;
      }
    } else if (isSeq(node)) {
      for (let i = 0; i < node.items.length; i++) {
        const inner = walk(node.items[i], `${path}[${i}]`);
        if (inner) return inner;
      }
    }
    return undefined;
  };
  return walk(doc.contents, '');
}

/** x-kubernetes-list-type set/map duplicates (kube-apiserver: "Duplicate value"). */
function listTypeErrors(v: unknown, sc: Obj | undefined, path: string): string[] {
  if (!sc || v === null || typeof v !== 'object') return [];
  const out: string[] = [];
  if (Array.isArray(v)) {
    const type = sc['x-kubernetes-list-type'];
    const keys: string[] = sc['x-kubernetes-list-map-keys'] ?? [];
    const seen = new Set<string>();
    v.forEach((x, i) => {
      out.push(...listTypeErrors(x, sc.items, `${path}[${i}]`));
      if (type !== 'set' && type !== 'map') return;
      const id = type === 'set' ? JSON.stringify(x) : JSON.stringify(keys.map((k) => (x as Obj)?.[k] ?? null));
      if (seen.has(id)) out.push(`${path}[${i}]: Duplicate value: ${type === 'set' ? JSON.stringify(x) : id}`);
      seen.add(id);
    });
    return out;
  }
  for (const [k, x] of Object.entries(v)) out.push(...listTypeErrors(x, sc.properties?.[k] ?? (typeof sc.additionalProperties === 'object' ? sc.additionalProperties : undefined), path ? `${path}.${k}` : k));
  return out;
}

const clone = <T>(v: T): T => structuredClone(v);

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ka = Object.keys(a as Obj).filter((k) => (a as Obj)[k] !== undefined);
  const kb = Object.keys(b as Obj).filter((k) => (b as Obj)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Obj)[k], (b as Obj)[k]));
}

// ---- patches -------------------------------------------------------------------------------------

/** RFC 7386 JSON merge patch. */
function mergePatch(target: Json, patch: Json): Json {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const out: Obj = target !== null && typeof target === 'object' && !Array.isArray(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] as Json, v);
  }
  return out as Json;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new ApiError(422, 'Invalid', `json patch: invalid path ${JSON.stringify(path)}`);
  return path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Obj, tokens: string[], path: string): [any, string] {
  let cur: any = doc;
  for (const t of tokens.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object' || !(t in cur)) {
      throw new ApiError(422, 'Invalid', `json patch: path ${path} does not exist`);
    }
    cur = cur[t];
  }
  return [cur, tokens[tokens.length - 1]!];
}

/** RFC 6902 JSON patch (add, remove, replace, move, copy, test). */
function jsonPatch(doc: Obj, ops: Obj[]): Obj {
  if (!Array.isArray(ops)) throw new ApiError(400, 'BadRequest', 'json patch: body must be an array of operations');
  let out = clone(doc);
  const get = (path: string): any => {
    let cur: any = out;
    for (const t of pointer(path)) {
      if (cur === null || typeof cur !== 'object' || !(t in cur)) throw new ApiError(422, 'Invalid', `json patch: path ${path} does not exist`);
      cur = cur[t];
    }
    return cur;
  };
  const remove = (path: string): any => {
    const tokens = pointer(path);
    const [parent, key] = parentOf(out, tokens, path);
    if (Array.isArray(parent)) {
      const i = Number(key);
      if (!(i >= 0 && i < parent.length)) throw new ApiError(422, 'Invalid', `json patch: index ${key} out of range in ${path}`);
      return parent.splice(i, 1)[0];
    }
    if (parent === null || typeof parent !== 'object' || !(key in parent)) throw new ApiError(422, 'Invalid', `json patch: path ${path} does not exist`);
    const v = parent[key];
    delete parent[key];
    return v;
  };
  const add = (path: string, value: any): void => {
    const tokens = pointer(path);
    if (tokens.length === 0) {
      out = clone(value);
      return;
    }
    const [parent, key] = parentOf(out, tokens, path);
    if (Array.isArray(parent)) {
      const i = key === '-' ? parent.length : Number(key);
      if (!(i >= 0 && i <= parent.length)) throw new ApiError(422, 'Invalid', `json patch: index ${key} out of range in ${path}`);
      parent.splice(i, 0, clone(value));
    } else if (parent !== null && typeof parent === 'object') {
      parent[key] = clone(value);
    } else {
      throw new ApiError(422, 'Invalid', `json patch: path ${path} does not exist`);
    }
  };
  for (const op of ops) {
    switch (op.op) {
      case 'add':
        add(op.path, op.value);
        break;
      case 'remove':
        remove(op.path);
        break;
      case 'replace':
        remove(op.path);
        add(op.path, op.value);
        break;
      case 'move':
        add(op.path, remove(op.from));
        break;
      case 'copy':
        add(op.path, get(op.from));
        break;
      case 'test':
        if (!deepEqual(get(op.path), op.value)) throw new ApiError(422, 'Invalid', `json patch: test operation failed at ${op.path}`);
        break;
      default:
        throw new ApiError(400, 'BadRequest', `json patch: unknown operation ${JSON.stringify(op.op)}`);
    }
  }
  return out;
}

// ---- selectors ---------------------------------------------------------------------------------

type LabelReq = { key: string; op: 'in' | 'notin' | 'exists' | '!exists'; values: string[] };
type LabelSelector = LabelReq[];
type FieldSelector = { path: string; op: '=' | '!='; value: string }[];

function parseLabelSelector(s: string | null): LabelSelector {
  if (!s) return [];
  const reqs: LabelReq[] = [];
  // split on commas that are not inside parentheses
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts) {
    const p = raw.trim();
    let m: RegExpMatchArray | null;
    if ((m = p.match(/^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      reqs.push({ key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()) });
    } else if ((m = p.match(/^([^\s!=]+)\s*!=\s*(\S*)$/))) {
      reqs.push({ key: m[1]!, op: 'notin', values: [m[2]!] });
    } else if ((m = p.match(/^([^\s!=]+)\s*==?\s*(\S*)$/))) {
      reqs.push({ key: m[1]!, op: 'in', values: [m[2]!] });
    } else if ((m = p.match(/^!([^\s!=]+)$/))) {
      reqs.push({ key: m[1]!, op: '!exists', values: [] });
    } else if ((m = p.match(/^([^\s!=()]+)$/))) {
      reqs.push({ key: m[1]!, op: 'exists', values: [] });
    } else {
      throw new ApiError(400, 'BadRequest', `unable to parse requirement: ${JSON.stringify(p)}`);
    }
  }
  return reqs;
}

function matchLabels(sel: LabelSelector, obj: Obj): boolean {
  const labels: Record<string, string> = obj.metadata?.labels ?? {};
  return sel.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case '!exists':
        return !has;
      case 'in':
        return has && r.values.includes(labels[r.key]!);
      case 'notin':
        return !has || !r.values.includes(labels[r.key]!);
    }
  });
}

/** Field labels a field selector may use: metadata.name/namespace everywhere, more for Events. */
const FIELD_LABELS: Record<string, string[]> = {
  Event: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
};

function parseFieldSelector(s: string | null, rt?: ResourceType): FieldSelector {
  if (!s) return [];
  return s.split(',').map((p) => {
    const m = p.trim().match(/^([\w.]+)\s*(!=|==|=)\s*(.*)$/);
    const label = m && rt?.view ? rt.view.field(m[1]!) : m?.[1];
    if (!m || !label || !['metadata.name', 'metadata.namespace', ...(FIELD_LABELS[rt?.kind ?? ''] ?? [])].includes(label)) {
      throw new ApiError(400, 'BadRequest', `field label not supported: ${m?.[1] ?? p}`);
    }
    return { path: label, op: m[2] === '!=' ? '!=' : '=', value: m[3]! };
  });
}

function fieldValue(obj: Obj, path: string): string {
  if (path === 'metadata.namespace') return obj.metadata?.namespace ?? '';
  if (path === 'source') return obj.source?.component ?? '';
  let cur: any = obj;
  for (const k of path.split('.')) cur = cur?.[k];
  return cur === undefined || cur === null ? '' : String(cur);
}

function matchFields(sel: FieldSelector, obj: Obj): boolean {
  return sel.every((f) => (f.op === '=' ? fieldValue(obj, f.path) === f.value : fieldValue(obj, f.path) !== f.value));
}

// ---- schema handling -----------------------------------------------------------------------------

/** OpenAPI v3 (Kubernetes flavour) -> a JSON schema ajv understands. */
function toJsonSchema(s: any): any {
  if (s === null || typeof s !== 'object') return s;
  if (Array.isArray(s)) return s.map(toJsonSchema);
  const out: Obj = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-kubernetes-') || k === 'example' || k === 'externalDocs') continue;
    if (k === 'properties' || k === 'patternProperties' || k === 'definitions') {
      out[k] = Object.fromEntries(Object.entries(v as Obj).map(([pk, pv]) => [pk, toJsonSchema(pv)]));
    } else out[k] = toJsonSchema(v);
  }
  if (s['x-kubernetes-int-or-string']) {
    return { anyOf: [{ type: 'integer' }, { type: 'string' }] };
  }
  if (s.nullable === true && typeof out.type === 'string') {
    out.type = [out.type, 'null'];
    delete out.nullable;
  }
  return out;
}

/** Drop fields a structural schema does not declare (what kube-apiserver calls pruning). */
function prune(value: any, schema: any): any {
  if (!schema || value === null || typeof value !== 'object') return value;
  if (schema['x-kubernetes-preserve-unknown-fields'] === true && !schema.properties) return value;
  if (Array.isArray(value)) return schema.items ? value.map((v) => prune(v, schema.items)) : value;
  if (schema.properties) {
    for (const k of Object.keys(value)) {
      if (schema.properties[k]) value[k] = prune(value[k], schema.properties[k]);
      else if (schema['x-kubernetes-preserve-unknown-fields'] !== true) delete value[k];
    }
  } else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    for (const k of Object.keys(value)) value[k] = prune(value[k], schema.additionalProperties);
  }
  return value;
}

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true, logger: false });
  addFormats(ajv);
  ajv.addFormat('cidr', {
    type: 'string',
    validate: (s: string) => {
      const m = s.match(/^(.+)\/(\d{1,3})$/);
      if (!m) return false;
      const v4 = /^(\d{1,3})(\.\d{1,3}){3}$/.test(m[1]!) && m[1]!.split('.').every((o) => Number(o) <= 255);
      const v6 = !v4 && m[1]!.includes(':') && /^[0-9a-fA-F:.]+$/.test(m[1]!);
      return (v4 && Number(m[2]) <= 32) || (v6 && Number(m[2]) <= 128);
    },
  });
  ajv.addFormat('ip', { type: 'string', validate: (s: string) => /^(\d{1,3})(\.\d{1,3}){3}$/.test(s) || (s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s)) });
  return ajv;
}

/** Turn an openAPIV3Schema into a validator; exported so CRD tests use the same conversion. */
export function compileCrdSchema(ajv: Ajv, openAPIV3Schema: Obj): ValidateFunction {
  const schema = toJsonSchema(openAPIV3Schema);
  // the API server validates metadata itself; the CRD schema may not constrain it
  if (schema.properties) delete schema.properties.metadata;
  return ajv.compile(schema);
}

export function newSchemaValidator(): Ajv {
  return newAjv();
}

export function pruneBySchema<T>(obj: T, openAPIV3Schema: Obj): T {
  const meta = (obj as Obj).metadata;
  const out = prune(obj, openAPIV3Schema);
  if (meta !== undefined) (out as Obj).metadata = meta;
  return out;
}

// ---- the server ----------------------------------------------------------------------------------

const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export class TestApiServer {
  readonly types: ResourceType[] = [];
  private readonly store = new Map<string, Obj>();
  private history: WatchEvent[] = [];
  private rv = 1;
  private compactedRv = 0;
  private readonly watchers = new Set<Watcher>();
  private readonly faults: Fault[] = [];
  private readonly ajv = newAjv();
  private server!: Server;
  /** requests served, by "METHOD path" without query (tests read this to prove e.g. relists) */
  readonly requests: { method: string; path: string; query: string }[] = [];
  url = '';

  private constructor(private readonly opts: TestApiServerOptions) {
    for (const t of BUILTINS) this.types.push({ ...t });
    const core = this.types.find((t) => t.group === '' && t.plural === 'events')!;
    this.types.find((t) => t.group === 'events.k8s.io')!.view = {
      storage: () => core,
      toView: toEventsV1,
      fromView: fromEventsV1,
      field: (label) => EVENT_SELECTOR_LABELS[label] ?? label.replace(/^regarding\./, 'involvedObject.'),
    };
  }

  static async start(opts: TestApiServerOptions = {}): Promise<TestApiServer> {
    const s = new TestApiServer(opts);
    const dir = opts.crdDir === undefined ? findRepoDir('crds') : opts.crdDir;
    if (dir) for (const { crd } of loadCrds(dir)) s.installCrd(crd as unknown as Obj); // the product's CRD loader (operator/api/crds.ts)
    await s.listen();
    return s;
  }

  /** A KubeConfig pointing at this server. */
  kubeConfig(): KubeConfig {
    return kubeConfigFor(this.url);
  }

  /** Register a CustomResourceDefinition (the served storage version). */
  installCrd(crd: Obj): void {
    const spec = crd.spec;
    const version = (spec.versions as Obj[]).find((v) => v.storage) ?? spec.versions[0];
    const schema = version.schema?.openAPIV3Schema;
    const rt: ResourceType = {
      group: spec.group,
      version: version.name,
      plural: spec.names.plural,
      singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
      kind: spec.names.kind,
      listKind: spec.names.listKind ?? `${spec.names.kind}List`,
      namespaced: spec.scope === 'Namespaced',
      statusSubresource: Boolean(version.subresources?.status),
      generation: true,
      shortNames: spec.names.shortNames,
      categories: spec.names.categories,
      printerColumns: version.additionalPrinterColumns,
      schema,
      crd,
      validate: schema ? compileCrdSchema(this.ajv, schema) : undefined,
    };
    const i = this.types.findIndex((t) => t.group === rt.group && t.plural === rt.plural);
    if (i >= 0) this.types.splice(i, 1);
    this.types.push(rt);
  }

  private async listen(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => this.sendError(res, err));
    });
    this.server.keepAliveTimeout = 1000;
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    const addr = this.server.address();
    if (!addr || typeof addr === 'string') throw new Error('test API server: no address');
    this.url = `http://127.0.0.1:${addr.port}`;
  }

  async close(): Promise<void> {
    if (this.crdBundle) rmSync(dirname(this.crdBundle), { recursive: true, force: true });
    this.closeWatches();
    this.server.closeAllConnections();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }

  // ---- test controls --------------------------------------------------------------------------

  /** Current global resourceVersion. */
  resourceVersion(): string {
    return String(this.rv);
  }

  /** Forget all watch history: any watch from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  /** End every open watch from the server side (clients see the stream end). */
  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /** Keep watch connections open but deliver nothing more on them (a silent watch). */
  silenceWatches(): void {
    for (const w of this.watchers) w.silenced = true;
  }

  /** Number of watches currently open and not silenced, per plural. */
  activeWatches(plural?: string): number {
    return [...this.watchers].filter((w) => !w.silenced && (!plural || w.rt.plural === plural)).length;
  }

  /** Fail the next `times` matching requests with `status`. */
  failNext(f: { method?: string; pathIncludes?: string; status: number; times?: number }): void {
    this.faults.push({ ...f, times: f.times ?? 1 });
  }

  /** Send a BOOKMARK on every watch that asked for them. */
  sendBookmarks(): void {
    for (const w of this.watchers) {
      if (w.bookmarks && !w.silenced) this.writeEvent(w, 'BOOKMARK', { apiVersion: apiVersionOf(w.rt), kind: w.rt.kind, metadata: { resourceVersion: String(this.rv) } });
    }
  }

  /** Direct read of the store (a copy), for assertions. */
  get(plural: string, name: string, namespace?: string, group?: string): Obj | undefined {
    const rt = this.typeByPlural(plural, group);
    const st = rt.view ? rt.view.storage() : rt;
    const o = this.store.get(this.key(st, namespace, name));
    return o ? clone(rt.view ? rt.view.toView(o) : o) : undefined;
  }

  /** Direct list of the store (copies), for assertions. */
  list(plural: string, namespace?: string, group?: string): Obj[] {
    const rt = this.typeByPlural(plural, group);
    const st = rt.view ? rt.view.storage() : rt;
    return [...this.store.entries()]
      .filter(([k]) => k.startsWith(this.prefix(st, namespace)))
      .map(([, o]) => clone(rt.view ? rt.view.toView(o) : o));
  }

  /** Direct write (create or replace, bypassing conflicts), for fixtures. Returns the stored copy. */
  put(input: Obj): Obj {
    const viewRt = this.typeByKind(input.apiVersion, input.kind);
    const rt = viewRt.view ? viewRt.view.storage() : viewRt;
    const obj = viewRt.view ? viewRt.view.fromView(input) : input;
    const ns = rt.namespaced ? (obj.metadata?.namespace ?? 'default') : undefined;
    const existing = this.store.get(this.key(rt, ns, obj.metadata.name));
    if (existing) {
      const next = clone(obj);
      next.metadata = { ...existing.metadata, ...next.metadata, resourceVersion: existing.metadata.resourceVersion };
      return this.commitUpdate(rt, existing, next, false, true);
    }
    const created = this.doCreate(rt, ns, clone(obj), true);
    return viewRt.view ? viewRt.view.toView(created) : created;
  }

  /**
   * The table `kubectl get <plural>` prints for the stored objects, from the CRD's
   * additionalPrinterColumns (priority 0 only unless wide), so docs can show real output.
   */
  printTable(plural: string, opts: { wide?: boolean; now?: Date } = {}): string {
    const rt = this.typeByPlural(plural);
    const cols = (rt.printerColumns ?? []).filter((c) => opts.wide || !c.priority);
    const now = opts.now ?? new Date();
    const rows = this.list(plural).sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1)).map((o) => [
      o.metadata.name,
      ...cols.map((c) => {
        const v = jsonPathValue(o, c.jsonPath);
        if (v === undefined || v === null || v === '') return '<none>';
        return c.type === 'date' ? humanAge(now.getTime() - Date.parse(String(v))) : String(v);
      }),
    ]);
    const header = ['NAME', ...cols.map((c) => c.name.toUpperCase())];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    return [header, ...rows].map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('')).join('\n');
  }

  private typeByPlural(plural: string, group?: string): ResourceType {
    const rt = this.types.find((t) => t.plural === plural && (group === undefined || t.group === group));
    if (!rt) throw new Error(`test API server: unknown resource ${plural}`);
    return rt;
  }

  private typeByKind(apiVersion: string, kind: string): ResourceType {
    const [g, v] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    const rt = this.types.find((t) => t.group === g && t.version === v && t.kind === kind);
    if (!rt) throw new ApiError(404, 'NotFound', `no matches for kind "${kind}" in version "${apiVersion}"`);
    return rt;
  }

  private prefix(rt: ResourceType, ns?: string): string {
    return `${rt.group}/${rt.plural}/${rt.namespaced && ns ? ns + '/' : ''}`;
  }

  private key(rt: ResourceType, ns: string | undefined, name: string): string {
    return `${rt.group}/${rt.plural}/${rt.namespaced ? (ns ?? '') + '/' : ''}${name}`;
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query: url.search });
    const fault = this.faults.find((f) => (!f.method || f.method === method) && (!f.pathIncludes || url.pathname.includes(f.pathIncludes)));
    if (fault) {
      if (--fault.times <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
      throw new ApiError(fault.status, fault.status === 410 ? 'Expired' : 'InternalError', `injected failure ${fault.status}`);
    }
    const body = method === 'GET' || method === 'DELETE' ? await readBody(req).catch(() => '') : await readBody(req);
    const parts = url.pathname.split('/').filter(Boolean);

    if (method === 'GET' && parts[0] === 'openapi') return sendJson(res, 200, this.openapi(parts));

    // discovery
    if (method === 'GET') {
      const d = this.discovery(parts);
      if (d) return sendJson(res, 200, d);
    }

    // /api/v1/... or /apis/G/V/...
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 2) {
      group = '';
      version = parts[1]!;
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 3) {
      group = parts[1]!;
      version = parts[2]!;
      rest = parts.slice(3);
    } else {
      throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, sub, ...more] = rest;
    const rt = this.types.find((t) => t.group === group && t.version === version && t.plural === plural);
    if (!rt || more.length > 0 || (sub !== undefined && sub !== 'status')) {
      throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${method} ${url.pathname})`);
    }
    if (rt.namespaced && name !== undefined && namespace === undefined) {
      throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    }
    if (!rt.namespaced && namespace !== undefined) {
      throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    }
    if (sub === 'status' && !rt.statusSubresource) {
      throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    }
    const q = url.searchParams;
    // events.k8s.io/v1 Events are a second API of the one core v1 Event store (as in Kubernetes)
    const view = rt.view;
    const st = view ? view.storage() : rt;
    const out = (o: Obj): Obj => (view ? view.toView(o) : o);
    const table = /as=Table/.test(String(req.headers.accept ?? ''));
    const send = (code: number, o: Obj) => sendJson(res, code, o, this.warnings);
    this.warnings = [];

    if (name === undefined) {
      if (method === 'GET' && q.get('watch') === 'true') return this.watch(rt, namespace, q, res);
      if (method === 'GET') {
        const list = this.doList(st, namespace, q, view ? rt : undefined);
        if (view) list.items = (list.items as Obj[]).map(out);
        return send(200, table ? this.toTable(rt, list.items as Obj[], list.metadata, q) : { ...list, apiVersion: apiVersionOf(rt), kind: rt.listKind });
      }
      if (method === 'POST') {
        const obj = this.decodeBody(rt, body, q);
        this.checkKind(rt, obj);
        if (rt.namespaced) {
          if (!namespace) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
          if (obj.metadata?.namespace && obj.metadata.namespace !== namespace) {
            throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
          }
        }
        if (rt.kind === 'Event') validateEventNamespace(view ? obj : toEventsV1(obj), namespace);
        return send(201, out(this.doCreate(st, namespace, view ? view.fromView(obj) : obj, false)));
      }
      throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported on a collection here`);
    }

    const key = this.key(st, namespace, name);
    const existing = this.store.get(key);
    if (method === 'GET') {
      if (!existing) throw notFound(rt, name);
      return send(200, table ? this.toTable(rt, [out(existing)], { resourceVersion: existing.metadata.resourceVersion }, q) : out(existing));
    }
    if (method === 'DELETE') {
      if (!existing) throw notFound(rt, name);
      const opts = body ? parseJson(body) : {};
      const pre = opts?.preconditions?.resourceVersion;
      if (pre && pre !== existing.metadata.resourceVersion) throw conflict(rt, name);
      return send(200, out(this.doDelete(st, existing)));
    }
    if (method === 'PUT') {
      if (!existing) throw notFound(rt, name);
      const obj = this.decodeBody(rt, body, q);
      this.checkKind(rt, obj);
      if (obj.metadata?.name !== name) throw new ApiError(400, 'BadRequest', `the name of the object (${obj.metadata?.name}) does not match the name on the URL (${name})`);
      const rv = obj.metadata?.resourceVersion;
      if (!rv && rt.generation) {
        throw new ApiError(422, 'Invalid', `${rt.kind}.${rt.group} "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`);
      }
      if (rv && rv !== existing.metadata.resourceVersion) throw conflict(rt, name);
      return send(200, out(this.doUpdate(st, existing, view ? view.fromView(obj) : obj, sub === 'status')));
    }
    if (method === 'PATCH') {
      if (!existing) throw notFound(rt, name);
      const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      const patch = this.decodeBody(rt, body, q, ct === 'application/json-patch+json');
      const base = out(existing);
      let patched: Obj;
      if (ct === 'application/merge-patch+json' || (ct === 'application/strategic-merge-patch+json' && rt.group !== 'ovndrift.io')) {
        if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) throw new ApiError(400, 'BadRequest', 'merge patch: body must be a JSON object');
        patched = mergePatch(base as Json, patch) as Obj;
      } else if (ct === 'application/json-patch+json') {
        patched = jsonPatch(base, patch as Obj[]);
      } else if (ct === 'application/strategic-merge-patch+json') {
        throw new ApiError(415, 'UnsupportedMediaType', 'strategic merge patch format is not supported for custom resources');
      } else {
        throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json${rt.group === 'ovndrift.io' ? '' : ', application/strategic-merge-patch+json'} (got ${ct || 'none'})`);
      }
      if (ct === 'application/json-patch+json') this.checkFields(rt, patched, q);
      const rv = patched.metadata?.resourceVersion;
      if (rv !== undefined && rv !== existing.metadata.resourceVersion) throw conflict(rt, name);
      patched.metadata = { ...(patched.metadata ?? {}), resourceVersion: existing.metadata.resourceVersion };
      return send(200, out(this.doUpdate(st, existing, view ? view.fromView(patched) : patched, sub === 'status')));
    }
    throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported`);
  }

  /** Warnings (`Warning: 299 - "..."` headers) collected while serving the current request. */
  private warnings: string[] = [];

  /**
   * Parses a request body the way kube-apiserver's decoder does with the request's
   * fieldValidation directive (kubectl sends Strict): a duplicate field or, for custom resources, a
   * field the CRD schema does not declare is 400 BadRequest (Strict), a Warning header (Warn, the
   * server default), or nothing (Ignore).
   */
  private decodeBody(rt: ResourceType, body: string, q: URLSearchParams, isJsonPatch = false): any {
    const obj = parseJson(body);
    const directive = q.get('fieldValidation') ?? 'Warn';
    if (!['Strict', 'Warn', 'Ignore'].includes(directive)) throw new ApiError(400, 'BadRequest', `fieldValidation parameter unsupported: ${directive}`);
    if (directive === 'Ignore') return obj;
    const problems: string[] = [];
    const dup = duplicateJsonField(body);
    if (dup) problems.push(`duplicate field "${dup}"`);
    if (!isJsonPatch && rt.schema && obj && typeof obj === 'object' && !Array.isArray(obj)) problems.push(...unknownFieldPaths(obj, rt.schema).map((f) => `unknown field "${f}"`));
    this.reportFieldProblems(rt, problems, directive);
    return obj;
  }

  /** Strict field validation of the result of a JSON patch (unknown fields only). */
  private checkFields(rt: ResourceType, obj: Obj, q: URLSearchParams): void {
    const directive = q.get('fieldValidation') ?? 'Warn';
    if (directive === 'Ignore' || !rt.schema) return;
    this.reportFieldProblems(rt, unknownFieldPaths(obj, rt.schema).map((f) => `unknown field "${f}"`), directive);
  }

  private reportFieldProblems(rt: ResourceType, problems: string[], directive: string): void {
    if (problems.length === 0) return;
    if (directive === 'Strict') {
      throw new ApiError(400, 'BadRequest', `${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: strict decoding error: ${problems.join(', ')}`);
    }
    this.warnings.push(...problems);
  }

  /**
   * A meta.k8s.io/v1 Table, as kube-apiserver answers `Accept: application/json;as=Table;...`:
   * for custom resources the CRD's additionalPrinterColumns evaluated with JSONPath on each object
   * (dates as ages, missing values as null, which kubectl prints as <none>), for Events the columns
   * of Kubernetes' event printer, else Name and Age.
   */
  private toTable(rt: ResourceType, items: Obj[], meta: Obj | undefined, q: URLSearchParams): Obj {
    const now = Date.now();
    const nameCol = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 };
    let columns: Obj[];
    let cells: (o: Obj) => unknown[];
    if (rt.printerColumns) {
      const cols = rt.printerColumns;
      columns = [nameCol, ...cols.map((c) => ({ name: c.name, type: c.type, format: (c as Obj).format ?? '', description: (c as Obj).description ?? '', priority: c.priority ?? 0 }))];
      cells = (o) => [o.metadata.name, ...cols.map((c) => printerCell(c.type, jsonPathValue(o, c.jsonPath), now))];
    } else if (rt.kind === 'Event') {
      columns = ['Last Seen', 'Type', 'Reason', 'Object', 'Subobject', 'Source', 'Message', 'First Seen', 'Count', 'Name'].map((n, i) => ({
        name: n, type: n === 'Count' ? 'integer' : 'string', format: '', description: '', priority: [4, 5, 7, 8, 9].includes(i) ? 1 : 0,
      }));
      cells = (o) => eventCells(rt.view ? rt.view.fromView(o) : o, now);
    } else {
      columns = [nameCol, { name: 'Age', type: 'string', format: '', description: 'CreationTimestamp', priority: 0 }];
      cells = (o) => [o.metadata.name, age(o.metadata.creationTimestamp, now)];
    }
    const includeObject = q.get('includeObject') ?? 'Metadata';
    return {
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      metadata: { resourceVersion: meta?.resourceVersion ?? String(this.rv), ...(meta?.continue ? { continue: meta.continue } : {}) },
      columnDefinitions: columns,
      rows: items.map((o) => ({
        cells: cells(o),
        object: includeObject === 'None' ? undefined : includeObject === 'Object' ? o : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
      })),
    };
  }

  private checkKind(rt: ResourceType, obj: Obj): void {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new ApiError(400, 'BadRequest', 'body must be a JSON object');
    const av = apiVersionOf(rt);
    if (obj.kind !== undefined && obj.kind !== rt.kind) throw new ApiError(400, 'BadRequest', `kind ${obj.kind} does not match the URL (${rt.kind})`);
    if (obj.apiVersion !== undefined && obj.apiVersion !== av) throw new ApiError(400, 'BadRequest', `apiVersion ${obj.apiVersion} does not match the URL (${av})`);
  }

  /**
   * OpenAPI v3, derived at run time from the installed CRDs as kube-apiserver derives it:
   * `/openapi/v3` lists one document per group-version, each document has the resource paths (with
   * the `fieldValidation` query parameter on PATCH, which is how kubectl learns that the server
   * validates fields itself) and the schemas with their x-kubernetes-group-version-kind.
   */
  private openapi(parts: string[]): Obj {
    const gvs = new Map<string, ResourceType[]>();
    for (const t of this.types) if (t.crd) gvs.set(`apis/${t.group}/${t.version}`, [...(gvs.get(`apis/${t.group}/${t.version}`) ?? []), t]);
    const doc = (types: ResourceType[]): Obj => {
      const paths: Obj = {};
      const schemas: Obj = { 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': { type: 'object', properties: Object.fromEntries([...OBJECT_META_FIELDS].map((f) => [f, {}])) } };
      const q = (name: string) => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } });
      for (const t of types) {
        const gvk = { group: t.group, version: t.version, kind: t.kind };
        const ref = `${t.group.split('.').reverse().join('.')}.${t.version}.${t.kind}`;
        const schema = clone(t.schema ?? { type: 'object' });
        schema.properties = { ...(schema.properties ?? {}), metadata: { allOf: [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }] } };
        schemas[ref] = { ...schema, 'x-kubernetes-group-version-kind': [gvk] };
        schemas[`${ref}List`] = { type: 'object', required: ['items'], properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, items: { type: 'array', items: { $ref: `#/components/schemas/${ref}` } } }, 'x-kubernetes-group-version-kind': [{ ...gvk, kind: `${t.kind}List` }] };
        const body = { content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } };
        const ok = { responses: { '200': body } };
        const op = (action: string, params: Obj[], extra: Obj = {}) => ({ 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk, parameters: params, ...ok, ...extra });
        const base = `/apis/${t.group}/${t.version}/${t.plural}`;
        const write = [q('dryRun'), q('fieldManager'), q('fieldValidation')];
        const patchBody = { requestBody: { content: Object.fromEntries(['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'].map((c) => [c, { schema: { type: 'object' } }])) } };
        paths[base] = { get: op('list', [q('labelSelector'), q('fieldSelector'), q('limit'), q('continue'), q('resourceVersion'), q('watch')]), post: op('post', write, { requestBody: body }) };
        const named = { parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } }] };
        paths[`${base}/{name}`] = { ...named, get: op('get', []), put: op('put', write, { requestBody: body }), patch: op('patch', [...write, q('force')], patchBody), delete: op('delete', [q('dryRun')]) };
        if (t.statusSubresource) paths[`${base}/{name}/status`] = { ...named, get: op('get', []), put: op('put', write, { requestBody: body }), patch: op('patch', [...write, q('force')], patchBody) };
      }
      return { openapi: '3.0.0', info: { title: 'Kubernetes CRD Swagger', version: 'v0.1.0' }, paths, components: { schemas } };
    };
    if (parts.length === 2 && parts[1] === 'v3') {
      return {
        paths: Object.fromEntries([...gvs].map(([gv, types]) => [gv, { serverRelativeURL: `/openapi/v3/${gv}?hash=${createHash('sha512').update(JSON.stringify(doc(types))).digest('hex').slice(0, 32).toUpperCase()}` }])),
      };
    }
    const types = parts[1] === 'v3' ? gvs.get(parts.slice(2).join('/')) : undefined;
    if (!types) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (/${parts.join('/')})`);
    return doc(types);
  }

  private discovery(parts: string[]): Obj | undefined {
    const resources = (g: string, v: string) =>
      this.types
        .filter((t) => t.group === g && t.version === v)
        .flatMap((t) => {
          const main = {
            name: t.plural,
            singularName: t.singular,
            namespaced: t.namespaced,
            kind: t.kind,
            verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
            ...(t.shortNames ? { shortNames: t.shortNames } : {}),
            ...(t.categories ? { categories: t.categories } : {}),
          };
          const status = { name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] };
          return t.statusSubresource ? [main, status] : [main];
        });
    if (parts.length === 1 && parts[0] === 'api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
    if (parts.length === 2 && parts[0] === 'api' && parts[1] === 'v1') return { kind: 'APIResourceList', groupVersion: 'v1', resources: resources('', 'v1') };
    if (parts.length === 1 && parts[0] === 'apis') {
      const groups = new Map<string, string[]>();
      for (const t of this.types) if (t.group) groups.set(t.group, [...new Set([...(groups.get(t.group) ?? []), t.version])]);
      return {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [...groups].map(([name, vs]) => ({
          name,
          versions: vs.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
          preferredVersion: { groupVersion: `${name}/${vs[0]}`, version: vs[0] },
        })),
      };
    }
    if (parts.length === 3 && parts[0] === 'apis' && this.types.some((t) => t.group === parts[1] && t.version === parts[2])) {
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${parts[1]}/${parts[2]}`, resources: resources(parts[1]!, parts[2]!) };
    }
    if (parts.length === 2 && parts[0] === 'version') return undefined;
    if (parts.length === 1 && parts[0] === 'version') return { major: '1', minor: '31', gitVersion: 'v1.31.0-ovn-drift-test-api-server' };
    return undefined;
  }

  // ---- verbs ----------------------------------------------------------------------------------

  /**
   * A list. `limit` pages it (metadata.continue, remainingItemCount) unless resourceVersion=0,
   * which kube-apiserver serves whole from its watch cache. A continue token older than the
   * compacted history is 410 Expired. Pages are cut from the current state (the real server reads
   * each page at the first page's revision; documented approximation).
   */
  private doList(rt: ResourceType, namespace: string | undefined, q: URLSearchParams, selectorType: ResourceType = rt): Obj {
    const label = parseLabelSelector(q.get('labelSelector'));
    const field = parseFieldSelector(q.get('fieldSelector'), selectorType);
    let items = [...this.store.entries()]
      .filter(([k]) => k.startsWith(this.prefix(rt, namespace)))
      .map(([, o]) => o)
      .filter((o) => matchLabels(label, o) && matchFields(field, o))
      .sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`));
    const limit = Number(q.get('limit') ?? 0);
    const token = q.get('continue');
    let listRv = String(this.rv);
    const metadata: Obj = {};
    if (token) {
      let t: { rv: string; after: string };
      try {
        t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
      } catch {
        throw new ApiError(400, 'BadRequest', 'continue key is not valid');
      }
      if (Number(t.rv) < this.compactedRv) {
        throw new ApiError(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      }
      listRv = t.rv;
      items = items.filter((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`.localeCompare(t.after) > 0);
    }
    if (limit > 0 && q.get('resourceVersion') !== '0' && items.length > limit) {
      const last = items[limit - 1]!;
      metadata.continue = Buffer.from(JSON.stringify({ rv: listRv, after: `${last.metadata.namespace ?? ''}/${last.metadata.name}` })).toString('base64url');
      metadata.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    return { apiVersion: apiVersionOf(rt), kind: rt.listKind, metadata: { resourceVersion: listRv, ...metadata }, items };
  }

  private doCreate(rt: ResourceType, namespace: string | undefined, obj: Obj, fixture: boolean): Obj {
    obj.apiVersion = apiVersionOf(rt);
    obj.kind = rt.kind;
    const meta = (obj.metadata ??= {});
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomUUID().slice(0, 5)}`;
    if (!meta.name) throw new ApiError(422, 'Invalid', `${rt.kind} is invalid: metadata.name: Required value: name or generateName is required`);
    if (!NAME_RE.test(meta.name) || meta.name.length > 253) {
      throw new ApiError(422, 'Invalid', `${rt.kind} "${meta.name}" is invalid: metadata.name: Invalid value: "${meta.name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
    }
    if (meta.resourceVersion && !fixture) throw new ApiError(422, 'Invalid', `${rt.kind} "${meta.name}" is invalid: metadata.resourceVersion: Invalid value: must not be set on create`);
    const ns = rt.namespaced ? namespace ?? meta.namespace ?? 'default' : undefined;
    const key = this.key(rt, ns, meta.name);
    if (this.store.has(key)) {
      throw new ApiError(409, 'AlreadyExists', `${rt.plural}${rt.group ? '.' + rt.group : ''} "${meta.name}" already exists`, { name: meta.name, group: rt.group, kind: rt.plural });
    }
    if (rt.namespaced) meta.namespace = ns;
    else delete meta.namespace;
    if (rt.statusSubresource && !fixture) delete obj.status;
    this.admit(rt, obj, undefined);
    meta.uid = randomUUID();
    meta.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    if (rt.generation) meta.generation = 1;
    delete meta.deletionTimestamp;
    meta.resourceVersion = String(++this.rv);
    this.store.set(key, obj);
    this.emit({ rv: this.rv, type: 'ADDED', rt, object: obj });
    return obj;
  }

  private doUpdate(rt: ResourceType, existing: Obj, incoming: Obj, statusOnly: boolean): Obj {
    let next: Obj;
    if (statusOnly) {
      next = clone(existing);
      if (incoming.status === undefined) delete next.status;
      else next.status = clone(incoming.status);
    } else {
      next = clone(incoming);
      next.apiVersion = existing.apiVersion;
      next.kind = existing.kind;
      const m = (next.metadata ??= {});
      // immutable / server-owned metadata
      for (const k of ['name', 'namespace', 'uid', 'creationTimestamp', 'generation', 'deletionTimestamp']) {
        if (existing.metadata[k] === undefined) delete m[k];
        else m[k] = existing.metadata[k];
      }
      if (rt.statusSubresource) {
        if (existing.status === undefined) delete next.status;
        else next.status = clone(existing.status);
      }
    }
    return this.commitUpdate(rt, existing, next, statusOnly, false);
  }

  private commitUpdate(rt: ResourceType, existing: Obj, next: Obj, statusOnly: boolean, fixture: boolean): Obj {
    this.admit(rt, next, existing);
    const strip = (o: Obj) => {
      const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
      return rest;
    };
    const strippedMeta = (o: Obj) => {
      const { resourceVersion: _r, managedFields: _f, ...rest } = o.metadata ?? {};
      return rest;
    };
    if (deepEqual(strip(next), strip(existing)) && deepEqual(next.status, existing.status) && deepEqual(strippedMeta(next), strippedMeta(existing))) {
      // a no-op write does not bump resourceVersion (kube-apiserver behaves the same)
      return existing;
    }
    if (rt.generation && !statusOnly && !deepEqual(strip(next), strip(existing))) {
      next.metadata.generation = (existing.metadata.generation ?? 0) + 1;
    }
    next.metadata.resourceVersion = String(++this.rv);
    const key = this.key(rt, next.metadata.namespace, next.metadata.name);
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
      this.store.delete(key);
      this.emit({ rv: this.rv, type: 'DELETED', rt, object: next, old: existing });
      return next;
    }
    this.store.set(key, next);
    this.emit({ rv: this.rv, type: 'MODIFIED', rt, object: next, old: existing });
    void fixture;
    return next;
  }

  private doDelete(rt: ResourceType, existing: Obj): Obj {
    const key = this.key(rt, existing.metadata.namespace, existing.metadata.name);
    if ((existing.metadata.finalizers ?? []).length > 0) {
      if (existing.metadata.deletionTimestamp) return existing;
      const next = clone(existing);
      next.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      next.metadata.resourceVersion = String(++this.rv);
      this.store.set(key, next);
      this.emit({ rv: this.rv, type: 'MODIFIED', rt, object: next, old: existing });
      return next;
    }
    this.store.delete(key);
    const gone = clone(existing);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit({ rv: this.rv, type: 'DELETED', rt, object: gone, old: existing });
    if (existing.metadata?.uid) this.collectGarbage(existing.metadata.uid);
    return rt.generation
      ? gone
      : { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: existing.metadata.name, group: rt.group, kind: rt.plural, uid: existing.metadata.uid } };
  }

  private admit(rt: ResourceType, obj: Obj, old: Obj | undefined): void {
    const name = obj.metadata?.name;
    if (rt.schema) pruneBySchema(obj, rt.schema);
    if (rt.validate && !rt.validate(obj)) {
      const msgs = (rt.validate.errors ?? []).map((e) => {
        const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '<root>';
        return `${path}: Invalid value: ${e.message}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}`;
      });
      throw new ApiError(422, 'Invalid', `${rt.kind}.${rt.group} "${name}" is invalid: ${msgs.join(', ')}`, { name, group: rt.group, kind: rt.kind, causes: msgs.map((m) => ({ message: m })) });
    }
    if (rt.schema) {
      const dups = listTypeErrors(obj, rt.schema, '');
      if (dups.length > 0) throw new ApiError(422, 'Invalid', `${rt.kind}.${rt.group} "${name}" is invalid: ${dups.join(', ')}`, { name, group: rt.group, kind: rt.kind, causes: dups.map((m) => ({ message: m })) });
    }
    if (rt.crd && this.opts.crdValidate) this.admitWithCrdValidate(rt, obj);
    if (rt.group === 'ovndrift.io' && this.opts.validate) {
      const msgs = this.opts.validate(obj, old);
      if (msgs.length > 0) throw new ApiError(422, 'Invalid', `${rt.kind}.${rt.group} "${name}" is invalid: ${msgs.join(', ')}`, { name, group: rt.group, kind: rt.kind });
    }
  }

  private crdBundle?: string;

  /**
   * Lets Kubernetes' own validation code decide (crd-validate cr): CEL rules with their messages,
   * formats, list types. Server-owned metadata is left out, as on a create.
   */
  private admitWithCrdValidate(rt: ResourceType, obj: Obj): void {
    if (!this.crdBundle) {
      const dir = mkdtempSync(join(tmpdir(), 'test-api-server-crds-'));
      this.crdBundle = join(dir, 'crds.yaml');
      writeFileSync(this.crdBundle, this.types.filter((t) => t.crd).map((t) => `---\n${JSON.stringify(t.crd)}\n`).join(''));
    }
    const { uid: _u, resourceVersion: _r, creationTimestamp: _c, generation: _g, managedFields: _f, deletionTimestamp: _d, ...metadata } = obj.metadata ?? {};
    const r = spawnSync(this.opts.crdValidate!, ['cr', this.crdBundle, '-'], { input: JSON.stringify({ ...obj, metadata }), encoding: 'utf8' });
    if (r.status === 0) return;
    const line = /^\s*apiserver: (.*)$/m.exec(r.stdout)?.[1] ?? `${r.stdout}${r.stderr}`.trim();
    // `* field: message` lines: kubectl prints "The Kind "name" is invalid: field: message" from causes
    const causes = [...r.stdout.matchAll(/^\s*\* (.*?): (.*)$/gm)].map((m) => ({ reason: 'FieldValueInvalid', field: m[1]!, message: m[2]! }));
    if (/REJECTED \(BadRequest\)/.test(r.stdout)) throw new ApiError(400, 'BadRequest', line);
    throw new ApiError(422, 'Invalid', line, { name: obj.metadata?.name, group: rt.group, kind: rt.kind, causes });
  }

  /**
   * Garbage collection (background propagation): objects whose every ownerReference points at a
   * deleted object are deleted too (a NodeNoTrackState goes with its Node).
   */
  private collectGarbage(deletedUid: string): void {
    const existing = new Set([...this.store.values()].map((o) => o.metadata?.uid));
    for (const [key, o] of [...this.store]) {
      const refs: Obj[] = o.metadata?.ownerReferences ?? [];
      if (!refs.some((r) => r.uid === deletedUid) || refs.some((r) => existing.has(r.uid))) continue;
      const rt = this.types.find((t) => !t.view && key.startsWith(this.prefix(t)));
      if (rt && this.store.has(key)) this.doDelete(rt, o);
    }
  }

  // ---- watch ----------------------------------------------------------------------------------

  private readonly writeListeners = new Set<(type: string, object: Obj) => void>();

  /** Observe every stored write (benchmarks time status writes with it). Returns an unsubscribe. */
  onWrite(listener: (type: 'ADDED' | 'MODIFIED' | 'DELETED', object: Obj) => void): () => void {
    this.writeListeners.add(listener as (type: string, object: Obj) => void);
    return () => this.writeListeners.delete(listener as (type: string, object: Obj) => void);
  }

  private emit(ev: WatchEvent): void {
    for (const l of this.writeListeners) l(ev.type, ev.object);
    this.history.push({ ...ev, object: clone(ev.object), old: ev.old ? clone(ev.old) : undefined });
    const limit = this.opts.historyLimit ?? 1000;
    if (this.history.length > limit) {
      const dropped = this.history.splice(0, this.history.length - limit);
      this.compactedRv = Math.max(this.compactedRv, dropped[dropped.length - 1]!.rv);
    }
    for (const w of this.watchers) this.deliver(w, ev);
  }

  private deliver(w: Watcher, ev: WatchEvent): void {
    if (w.silenced || ev.rt !== (w.rt.view?.storage() ?? w.rt) || ev.rv <= w.lastRv) return;
    if (w.namespace && ev.object.metadata.namespace !== w.namespace) return;
    const now = matchLabels(w.label, ev.object) && matchFields(w.field, ev.object);
    const before = ev.old ? matchLabels(w.label, ev.old) && matchFields(w.field, ev.old) : false;
    let type: string | undefined = ev.type;
    if (ev.type === 'MODIFIED') type = now && before ? 'MODIFIED' : now ? 'ADDED' : before ? 'DELETED' : undefined;
    else if (!now && !(ev.type === 'DELETED' && before)) type = undefined;
    w.lastRv = ev.rv;
    if (type) this.writeEvent(w, type, ev.object);
  }

  private writeEvent(w: Watcher, type: string, object: Obj): void {
    w.res.write(JSON.stringify({ type, object: w.rt.view && type !== 'BOOKMARK' ? w.rt.view.toView(object) : object }) + '\n');
  }

  private watch(rt: ResourceType, namespace: string | undefined, q: URLSearchParams, res: ServerResponse): void {
    const label = parseLabelSelector(q.get('labelSelector'));
    const field = parseFieldSelector(q.get('fieldSelector'), rt);
    const st = rt.view ? rt.view.storage() : rt;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { rt, namespace, label, field, res, silenced: false, lastRv: 0, bookmarks: q.get('allowWatchBookmarks') === 'true' };
    const rvParam = q.get('resourceVersion');
    if (!rvParam || rvParam === '0') {
      // no resourceVersion: synthetic ADDED for the current state, then changes
      const initial = new URLSearchParams(q);
      initial.delete('limit');
      for (const o of this.doList(st, namespace, initial, rt).items as Obj[]) this.writeEvent(w, 'ADDED', o);
      w.lastRv = this.rv;
    } else {
      const from = Number(rvParam);
      if (!Number.isInteger(from) || from < 0) {
        res.end(JSON.stringify({ type: 'ERROR', object: statusBody(400, 'BadRequest', `invalid resourceVersion ${rvParam}`) }) + '\n');
        return;
      }
      if (from < this.compactedRv) {
        // what kube-apiserver does: HTTP 200, then one ERROR event with a 410 Status, then the end
        res.end(JSON.stringify({ type: 'ERROR', object: statusBody(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`) }) + '\n');
        return;
      }
      w.lastRv = from;
      for (const ev of this.history) if (ev.rv > from) this.deliver(w, ev);
    }
    this.watchers.add(w);
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    // a silenced watch stays silent (a dead connection does not end on the server's timeout either)
    const timer = timeout > 0 ? setTimeout(() => (w.silenced ? undefined : res.end()), timeout * 1000) : undefined;
    res.on('close', () => {
      if (timer) clearTimeout(timer);
      this.watchers.delete(w);
    });
  }

  private sendError(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    if (err instanceof ApiError) return sendJson(res, err.code, { ...statusBody(err.code, err.reason, err.message), ...(err.details ? { details: err.details } : {}) });
    sendJson(res, 500, statusBody(500, 'InternalError', `test API server: ${(err as Error)?.stack ?? String(err)}`));
  }
}

/** The JSONPath subset printer columns use: .a.b and .list[?(@.k=="v")].field */
function jsonPathValue(obj: unknown, path: string): unknown {
  let cur: any = obj;
  const re = /\.([A-Za-z0-9_-]+)(\[\?\(@\.([A-Za-z0-9_]+)==\"([^"]*)\"\)\])?/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(path))) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = cur[m[1]!];
    if (m[2]) {
      if (!Array.isArray(cur)) return undefined;
      cur = cur.find((x) => x && x[m![3]!] === m![4]);
    }
  }
  return cur;
}

/** kubectl's human-readable age (HumanDuration). */
function humanAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

function apiVersionOf(rt: ResourceType): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

function statusBody(code: number, reason: string, message: string): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function notFound(rt: ResourceType, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${rt.plural}${rt.group ? '.' + rt.group : ''} "${name}" not found`, { name, group: rt.group, kind: rt.plural });
}

function conflict(rt: ResourceType, name: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${rt.plural}${rt.group ? '.' + rt.group : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: rt.group, kind: rt.plural },
  );
}

function sendJson(res: ServerResponse, code: number, body: unknown, warnings: string[] = []): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number | string[]> = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) };
  if (warnings.length > 0) headers.Warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  res.writeHead(code, headers);
  res.end(text);
}

function parseJson(body: string): any {
  try {
    return JSON.parse(body);
  } catch (err) {
    throw new ApiError(400, 'BadRequest', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => ok(Buffer.concat(chunks).toString('utf8')));
    req.on('error', fail);
  });
}

