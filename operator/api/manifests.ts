// Decodes PodCIDRRoute manifests (multi-document YAML, `kind: List`), validates each one and then
// all of them together. Other kinds are skipped with a notice.
// Decoding is as strict as kubectl's and kube-apiserver's (sigs.k8s.io/yaml over go-yaml v2, then
// strict field validation): YAML 1.1 scalars (`yes` is true), a duplicate key, a syntax error or
// an alias expansion past a fixed bound is bad input naming file, document, resource and field.
// One parser: the `yaml` library, no hand-written reader and no fast path (docs/architecture.md).
// Pure text in, data out: reading files and directories is operator/manifests/files.ts's.
// A leaf: imports only operator/api and `yaml`.
import { isAlias, isMap, isScalar, isSeq, parseAllDocuments, type Node as YamlNode } from 'yaml';
import { isObject } from './meta.js';
import { findConflicts, validatePodCIDRRoute, KIND, GROUP, type PodCIDRRoute } from './podcidrroute.js';

/** A validated route and where it came from. */
export interface LoadedRoute {
  route: PodCIDRRoute;
  source: { file: string; document: number };
}

export interface ManifestError {
  file: string;
  /** 1-based document index inside the file (0 when the file itself failed). */
  document: number;
  /** metadata.name when known. */
  resource?: string;
  /** The document's kind when known (default PodCIDRRoute, the kind this loader validates). */
  kind?: string;
  field?: string;
  message: string;
}

export interface LoadResult {
  routes: LoadedRoute[];
  errors: ManifestError[];
  /** Human-readable notes, e.g. documents of other kinds that were skipped. */
  notices: string[];
}

/** One line naming file, document, resource and field. */
export function formatManifestError(e: ManifestError): string {
  const where = [e.document > 0 ? `${e.file} (document ${e.document})` : e.file];
  if (e.resource) where.push(`${e.kind ?? 'PodCIDRRoute'} ${e.resource}`);
  if (e.field) where.push(e.field);
  return `${where.join(': ')}: ${e.message}`;
}

/** One parsed YAML document (an item of a `kind: List` counts as its own document). */
export interface ManifestDocument {
  file: string;
  /** 1-based document index inside the file. */
  document: number;
  object: unknown;
}

/**
 * The documents of one file's text (an item of a `kind: List` is its own document; empty
 * documents dropped), and its decoding errors naming `file`. Pure: the reading is
 * operator/manifests/files.ts's.
 */
export function manifestDocuments(file: string, text: string): { documents: ManifestDocument[]; errors: ManifestError[] } {
  const errors: ManifestError[] = [];
  const documents: ManifestDocument[] = [];
  decodeManifest(text).forEach((doc, i) => {
    const document = i + 1;
    if (doc.error !== undefined) {
      errors.push({ file, document, ...(doc.resource ? { resource: doc.resource } : {}), ...(doc.kind ? { kind: doc.kind } : {}), ...(doc.field ? { field: doc.field } : {}), message: doc.error });
      return;
    }
    const value = doc.value;
    if (value === null || value === undefined) return; // empty document (e.g. trailing ---)
    const objects = isObject(value) && value.kind === 'List' && Array.isArray(value.items) ? value.items : [value];
    for (const object of objects) documents.push({ file, document, object });
  });
  return { documents, errors };
}

/** "ConfigMap cm (v1)": what a skipped document was, for notices. */
export function describeDocument(obj: unknown): string {
  const kind = isObject(obj) ? obj.kind : undefined;
  const apiVersion = isObject(obj) ? obj.apiVersion : undefined;
  const name = isObject(obj) && isObject(obj.metadata) ? ` ${String(obj.metadata.name ?? '')}` : '';
  return `${String(kind ?? 'a document without kind')}${name}${apiVersion ? ` (${String(apiVersion)})` : ''}`;
}

/**
 * Every PodCIDRRoute among the documents read from `paths` (other kinds skipped with a notice),
 * validated one by one and then together. Validation errors, duplicate resource names and
 * conflicting prefixes are all returned (after `readErrors`); callers must not touch OVN when
 * `errors` is non-empty. Pure.
 */
export function podCIDRRoutesOf(paths: readonly string[], documents: readonly ManifestDocument[], readErrors: readonly ManifestError[]): LoadResult {
  const errors = [...readErrors];
  const notices: string[] = [];
  const routes: LoadedRoute[] = [];
  for (const { file, document, object: obj } of documents) {
    const kind = isObject(obj) ? obj.kind : undefined;
    const apiVersion = isObject(obj) ? obj.apiVersion : undefined;
    const ours = kind === KIND && (typeof apiVersion !== 'string' || apiVersion.startsWith(`${GROUP}/`));
    if (!ours) {
      notices.push(`${file} (document ${document}): skipped ${describeDocument(obj)}: not a PodCIDRRoute`);
      continue;
    }
    const resource = isObject(obj) && isObject(obj.metadata) && typeof obj.metadata.name === 'string' ? obj.metadata.name : undefined;
    const result = validatePodCIDRRoute(obj);
    for (const e of result.errors) errors.push({ file, document, resource, field: e.field, message: e.message });
    if (result.route) routes.push({ route: result.route, source: { file, document } });
  }

  // Manifests that hold no PodCIDRRoute at all are a wrong path, not a clean bill: a pipeline
  // pointed at the wrong file must not read "in sync".
  if (routes.length === 0 && errors.length === 0) {
    const seen = documents.length === 0 ? 'no YAML manifests (*.yaml, *.yml, *.json) with documents' : `${notices.length} document${notices.length === 1 ? '' : 's'} of other kinds skipped`;
    errors.push({ file: paths.join(', '), document: 0, message: `no PodCIDRRoute found (${seen})` });
  }

  // Across resources: unique names, and no prefix claimed with two different nexthops.
  const byName = new Map<string, LoadedRoute>();
  for (const r of routes) {
    const first = byName.get(r.route.metadata.name);
    if (first) {
      errors.push({
        file: r.source.file,
        document: r.source.document,
        resource: r.route.metadata.name,
        field: 'metadata.name',
        message: `duplicate resource name (also defined in ${first.source.file} document ${first.source.document})`,
      });
    } else byName.set(r.route.metadata.name, r);
  }
  for (const c of findConflicts(routes.map((r) => r.route))) {
    const r = byName.get(c.route)!;
    errors.push({ file: r.source.file, document: r.source.document, resource: c.route, field: c.field, message: `conflict: ${c.message}` });
  }
  return { routes, errors, notices };
}

/** Alias expansions allowed in one document (the yaml library's default; go-yaml refuses similar). */
const MAX_ALIAS_COUNT = 100;

/** One decoded document: its value, or an error (with the resource and field when known). */
export interface DecodedDocument {
  value?: unknown;
  error?: string;
  resource?: string;
  kind?: string;
  field?: string;
}

/** The first duplicate mapping key in a document, as a field path (`spec.router`). */
function duplicateKey(node: YamlNode | null | undefined, path: string): string | undefined {
  if (!node || isAlias(node)) return undefined;
  if (isMap(node)) {
    const seen = new Set<string>();
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : JSON.stringify(pair.key);
      const p = path === '' ? k : `${path}.${k}`;
      if (k !== '<<' && seen.has(k)) return p;
      seen.add(k);
      const inner = duplicateKey(pair.value as YamlNode | null, p);
      if (inner) return inner;
    }
  } else if (isSeq(node)) {
    for (let i = 0; i < node.items.length; i++) {
      const inner = duplicateKey(node.items[i] as YamlNode | null, `${path}[${i}]`);
      if (inner) return inner;
    }
  }
  return undefined;
}

function nameOf(value: unknown): string | undefined {
  return isObject(value) && isObject(value.metadata) && typeof value.metadata.name === 'string' ? value.metadata.name : undefined;
}

/**
 * Decodes every document of a manifest file the way kubectl does before it sends it: YAML 1.1
 * scalars and merge keys, duplicate keys refused, alias expansion bounded. Never throws.
 */
function decodeManifest(text: string): DecodedDocument[] {
  const docs = parseAllDocuments(text, { version: '1.1', uniqueKeys: false, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [];
  return list.map((doc): DecodedDocument => {
    if (doc.errors.length > 0) return { error: `YAML syntax error: ${doc.errors[0]!.message.split('\n')[0]!}` };
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      // The yaml library throws a ReferenceError both for an alias with no anchor before it and for
      // too many alias expansions: only the second is an alias bomb.
      if (err instanceof ReferenceError && /^Unresolved alias/.test(err.message)) {
        return { error: `YAML alias without an anchor: ${err.message.replace(/^Unresolved alias \(the anchor must be set before the alias\): /, '*')}` };
      }
      if (err instanceof ReferenceError || /alias/i.test((err as Error).message)) {
        return { error: `YAML expands without bound: more than ${MAX_ALIAS_COUNT} aliases resolved in one document (an alias bomb?)` };
      }
      return { error: `YAML cannot be decoded: ${(err as Error).message}` };
    }
    const dup = duplicateKey(doc.contents as YamlNode | null, '');
    const kind = isObject(value) && typeof value.kind === 'string' ? value.kind : undefined;
    if (dup !== undefined) return { error: `duplicate key "${dup.slice(dup.lastIndexOf('.') + 1)}"`, field: dup, ...(nameOf(value) ? { resource: nameOf(value) } : {}), ...(kind ? { kind } : {}) };
    return { value };
  });
}
