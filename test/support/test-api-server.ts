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
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { KubeConfig } from '@kubernetes/client-node';

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
  validate?: ValidateFunction;
}

export interface TestApiServerOptions {
  /** directory with CustomResourceDefinition YAML (default: the repository's crds/) */
  crdDir?: string | false;
  /** how many watch events are kept; older resourceVersions get 410 Gone (default 1000) */
  historyLimit?: number;
  /** extra validation standing in for CEL rules: return messages to reject with 422 */
  validate?: (obj: Obj, old: Obj | undefined) => string[];
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

export class ApiError extends Error {
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

/** Read every CustomResourceDefinition document in a directory of YAML files. */
export function loadCrdDocuments(dir: string): Obj[] {
  const out: Obj[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!/\.ya?ml$/.test(file)) continue;
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      const value = doc.toJS() as Obj | null;
      if (value && value.kind === 'CustomResourceDefinition') out.push(value);
    }
  }
  return out;
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
export function mergePatch(target: Json, patch: Json): Json {
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
export function jsonPatch(doc: Obj, ops: Obj[]): Obj {
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

export function parseLabelSelector(s: string | null): LabelSelector {
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

function parseFieldSelector(s: string | null): FieldSelector {
  if (!s) return [];
  return s.split(',').map((p) => {
    const m = p.trim().match(/^([\w.]+)\s*(!=|==|=)\s*(.*)$/);
    if (!m || !['metadata.name', 'metadata.namespace'].includes(m[1]!)) {
      throw new ApiError(400, 'BadRequest', `field label not supported: ${p}`);
    }
    return { path: m[1]!, op: m[2] === '!=' ? '!=' : '=', value: m[3]! };
  });
}

function matchFields(sel: FieldSelector, obj: Obj): boolean {
  return sel.every((f) => {
    const v = f.path === 'metadata.name' ? obj.metadata?.name : obj.metadata?.namespace ?? '';
    return f.op === '=' ? v === f.value : v !== f.value;
  });
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
  }

  static async start(opts: TestApiServerOptions = {}): Promise<TestApiServer> {
    const s = new TestApiServer(opts);
    const dir = opts.crdDir === undefined ? findRepoDir('crds') : opts.crdDir;
    if (dir) for (const crd of loadCrdDocuments(dir)) s.installCrd(crd);
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
    const o = this.store.get(this.key(rt, namespace, name));
    return o ? clone(o) : undefined;
  }

  /** Direct list of the store (copies), for assertions. */
  list(plural: string, namespace?: string, group?: string): Obj[] {
    const rt = this.typeByPlural(plural, group);
    return [...this.store.entries()]
      .filter(([k]) => k.startsWith(this.prefix(rt, namespace)))
      .map(([, o]) => clone(o));
  }

  /** Direct write (create or replace, bypassing conflicts), for fixtures. Returns the stored copy. */
  put(obj: Obj): Obj {
    const rt = this.typeByKind(obj.apiVersion, obj.kind);
    const ns = rt.namespaced ? (obj.metadata?.namespace ?? 'default') : undefined;
    const existing = this.store.get(this.key(rt, ns, obj.metadata.name));
    if (existing) {
      const next = clone(obj);
      next.metadata = { ...existing.metadata, ...next.metadata, resourceVersion: existing.metadata.resourceVersion };
      return this.commitUpdate(rt, existing, next, false, true);
    }
    return this.doCreate(rt, ns, clone(obj), true);
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

    if (name === undefined) {
      if (method === 'GET' && q.get('watch') === 'true') return this.watch(rt, namespace, q, res);
      if (method === 'GET') return sendJson(res, 200, this.doList(rt, namespace, q));
      if (method === 'POST') {
        const obj = parseJson(body);
        this.checkKind(rt, obj);
        if (rt.namespaced) {
          if (!namespace) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
          if (obj.metadata?.namespace && obj.metadata.namespace !== namespace) {
            throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
          }
        }
        return sendJson(res, 201, this.doCreate(rt, namespace, obj, false));
      }
      throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported on a collection here`);
    }

    const key = this.key(rt, namespace, name);
    const existing = this.store.get(key);
    if (method === 'GET') {
      if (!existing) throw notFound(rt, name);
      return sendJson(res, 200, existing);
    }
    if (method === 'DELETE') {
      if (!existing) throw notFound(rt, name);
      const opts = body ? parseJson(body) : {};
      const pre = opts?.preconditions?.resourceVersion;
      if (pre && pre !== existing.metadata.resourceVersion) throw conflict(rt, name);
      return sendJson(res, 200, this.doDelete(rt, existing));
    }
    if (method === 'PUT') {
      if (!existing) throw notFound(rt, name);
      const obj = parseJson(body);
      this.checkKind(rt, obj);
      if (obj.metadata?.name !== name) throw new ApiError(400, 'BadRequest', `the name of the object (${obj.metadata?.name}) does not match the name on the URL (${name})`);
      const rv = obj.metadata?.resourceVersion;
      if (!rv && rt.generation) {
        throw new ApiError(422, 'Invalid', `${rt.kind}.${rt.group} "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`);
      }
      if (rv && rv !== existing.metadata.resourceVersion) throw conflict(rt, name);
      return sendJson(res, 200, this.doUpdate(rt, existing, obj, sub === 'status'));
    }
    if (method === 'PATCH') {
      if (!existing) throw notFound(rt, name);
      const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      const patch = parseJson(body);
      let patched: Obj;
      if (ct === 'application/merge-patch+json' || (ct === 'application/strategic-merge-patch+json' && rt.group !== 'ovndrift.io')) {
        if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) throw new ApiError(400, 'BadRequest', 'merge patch: body must be a JSON object');
        patched = mergePatch(existing as Json, patch) as Obj;
      } else if (ct === 'application/json-patch+json') {
        patched = jsonPatch(existing, patch as Obj[]);
      } else if (ct === 'application/strategic-merge-patch+json') {
        throw new ApiError(415, 'UnsupportedMediaType', 'strategic merge patch format is not supported for custom resources');
      } else {
        throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json${rt.group === 'ovndrift.io' ? '' : ', application/strategic-merge-patch+json'} (got ${ct || 'none'})`);
      }
      const rv = patched.metadata?.resourceVersion;
      if (rv !== undefined && rv !== existing.metadata.resourceVersion) throw conflict(rt, name);
      patched.metadata = { ...(patched.metadata ?? {}), resourceVersion: existing.metadata.resourceVersion };
      return sendJson(res, 200, this.doUpdate(rt, existing, patched, sub === 'status'));
    }
    throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported`);
  }

  private checkKind(rt: ResourceType, obj: Obj): void {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new ApiError(400, 'BadRequest', 'body must be a JSON object');
    const av = apiVersionOf(rt);
    if (obj.kind !== undefined && obj.kind !== rt.kind) throw new ApiError(400, 'BadRequest', `kind ${obj.kind} does not match the URL (${rt.kind})`);
    if (obj.apiVersion !== undefined && obj.apiVersion !== av) throw new ApiError(400, 'BadRequest', `apiVersion ${obj.apiVersion} does not match the URL (${av})`);
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

  private doList(rt: ResourceType, namespace: string | undefined, q: URLSearchParams): Obj {
    const label = parseLabelSelector(q.get('labelSelector'));
    const field = parseFieldSelector(q.get('fieldSelector'));
    const items = [...this.store.entries()]
      .filter(([k]) => k.startsWith(this.prefix(rt, namespace)))
      .map(([, o]) => o)
      .filter((o) => matchLabels(label, o) && matchFields(field, o))
      .sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`));
    return { apiVersion: apiVersionOf(rt), kind: rt.listKind, metadata: { resourceVersion: String(this.rv) }, items };
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
    if (rt.group === 'ovndrift.io' && this.opts.validate) {
      const msgs = this.opts.validate(obj, old);
      if (msgs.length > 0) throw new ApiError(422, 'Invalid', `${rt.kind}.${rt.group} "${name}" is invalid: ${msgs.join(', ')}`, { name, group: rt.group, kind: rt.kind });
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
    if (w.silenced || ev.rt !== w.rt || ev.rv <= w.lastRv) return;
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
    w.res.write(JSON.stringify({ type, object }) + '\n');
  }

  private watch(rt: ResourceType, namespace: string | undefined, q: URLSearchParams, res: ServerResponse): void {
    const label = parseLabelSelector(q.get('labelSelector'));
    const field = parseFieldSelector(q.get('fieldSelector'));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { rt, namespace, label, field, res, silenced: false, lastRv: 0, bookmarks: q.get('allowWatchBookmarks') === 'true' };
    const rvParam = q.get('resourceVersion');
    if (!rvParam || rvParam === '0') {
      // no resourceVersion: synthetic ADDED for the current state, then changes
      for (const o of this.doList(rt, namespace, q).items as Obj[]) this.writeEvent(w, 'ADDED', o);
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
export function jsonPathValue(obj: unknown, path: string): unknown {
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
export function humanAge(ms: number): string {
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

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
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

