// Reads PodCIDRRoute manifests from YAML files and directories (multi-document files, `kind: List`),
// validates each one and then all of them together. Other kinds are skipped with a notice.
// File reading is the only I/O; must not import the OVSDB client or drift code.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Composer, Parser, type Document } from 'yaml';
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
  if (e.resource) where.push(`PodCIDRRoute ${e.resource}`);
  if (e.field) where.push(e.field);
  return `${where.join(': ')}: ${e.message}`;
}

const YAML_FILE = /\.(ya?ml|json)$/i;

async function expand(path: string, errors: ManifestError[]): Promise<string[]> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    errors.push({ file: path, document: 0, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    return [];
  }
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = join(path, e.name);
    if (e.isDirectory()) out.push(...(await expand(p, errors)));
    else if (YAML_FILE.test(e.name)) out.push(p);
  }
  return out;
}


/** One parsed YAML document (an item of a `kind: List` counts as its own document). */
export interface ManifestDocument {
  file: string;
  /** 1-based document index inside the file. */
  document: number;
  object: unknown;
}

/**
 * Reads every YAML document under the given files/directories (directories recursively, *.yaml,
 * *.yml, *.json, in name order; `kind: List` flattened; empty documents dropped). Unreadable paths
 * and syntax errors are returned in `errors`, never thrown. Kind-agnostic: shared by the
 * PodCIDRRoute loader below and the agent's TunnelNoTrackPolicy loader.
 */
export async function readManifestDocuments(paths: string[]): Promise<{ documents: ManifestDocument[]; errors: ManifestError[] }> {
  const errors: ManifestError[] = [];
  const documents: ManifestDocument[] = [];
  const files: string[] = [];
  for (const p of paths) files.push(...(await expand(p, errors)));
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      errors.push({ file, document: 0, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      continue;
    }
    // The plain subset manifests use is read by a fast reader; anything else (and every syntax
    // error) goes through the yaml library.
    const fast = parseSimpleYaml(text);
    const list: { value?: unknown; error?: string }[] = fast
      ? fast.map((value) => ({ value }))
      : [...new Composer().compose(new Parser().parse(text), true)].map((doc: Document.Parsed) =>
          doc.errors.length > 0 ? { error: doc.errors[0]!.message.split('\n')[0]! } : { value: doc.toJS() as unknown },
        );
    list.forEach((doc, i) => {
      const document = i + 1;
      if (doc.error !== undefined) {
        errors.push({ file, document, message: `YAML syntax error: ${doc.error}` });
        return;
      }
      const value = doc.value;
      if (value === null || value === undefined) return; // empty document (e.g. trailing ---)
      const objects = isObject(value) && value.kind === 'List' && Array.isArray(value.items) ? value.items : [value];
      for (const object of objects) documents.push({ file, document, object });
    });
  }
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
 * Loads every PodCIDRRoute from the given files/directories. Validation errors, duplicate
 * resource names and conflicting prefixes are all returned; callers must not touch OVN when
 * `errors` is non-empty.
 */
export async function loadPodCIDRRoutes(paths: string[]): Promise<LoadResult> {
  const { documents, errors } = await readManifestDocuments(paths);
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
// ---------------------------------------------------------------------------------------------
// A fast reader for the plain subset of YAML that Kubernetes manifests use (block mappings and
// sequences, one-line flow collections, plain and simply quoted scalars, `---` separators,
// comments), resolving scalars like the yaml library's YAML 1.2 core schema. Anything outside the
// subset (anchors, tags, block scalars, multi-line scalars or flows, escapes, duplicate keys, tabs)
// returns undefined and the caller falls back to the yaml library, which also produces every error
// message. 20-30x faster than the full parser on large route lists.

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
class Unsupported extends Error {}
const bail = (): never => {
  throw new Unsupported();
};

interface Line {
  indent: number;
  text: string;
}

/** Strips a trailing comment (a `#` at the start or after whitespace, outside quotes). */
function stripComment(s: string): string {
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || s[i - 1] === ' ')) return s.slice(0, i);
  }
  return s;
}

const INT = /^[-+]?[0-9]+$/;
const FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

function plainScalar(s: string): Json {
  if (s === '' || s === '~' || s === 'null' || s === 'Null' || s === 'NULL') return null;
  if (s === 'true' || s === 'True' || s === 'TRUE') return true;
  if (s === 'false' || s === 'False' || s === 'FALSE') return false;
  if (/^[&*!|>%@`?]/.test(s) || s.startsWith('- ') || s === '-' || s.includes(': ') || s.endsWith(':')) bail();
  if (INT.test(s) || FLOAT.test(s) || /^0[xo]/.test(s) || /^[-+]?\.(inf|Inf|INF|nan|NaN|NAN)$/.test(s)) {
    if (INT.test(s) && Math.abs(Number(s)) <= Number.MAX_SAFE_INTEGER) return Number(s);
    if (FLOAT.test(s) && !INT.test(s)) return Number(s);
    bail(); // hex, octal, huge ints, .inf: leave to the library
  }
  return s;
}

function quoted(s: string): string {
  const q = s[0]!;
  if (s.length < 2 || s[s.length - 1] !== q) bail();
  const body = s.slice(1, -1);
  if (q === '"' ? /["\\]/.test(body) : body.includes("'")) bail();
  return body;
}

/** One-line flow collection or scalar value. */
function inlineValue(s: string): Json {
  if (s.startsWith('[') || s.startsWith('{')) {
    const [v, end] = flow(s, 0);
    if (s.slice(end).trim() !== '') bail();
    return v;
  }
  if (s.startsWith('"') || s.startsWith("'")) return quoted(s);
  return plainScalar(s);
}

function flow(s: string, i: number): [Json, number] {
  const open = s[i]!;
  const close = open === '[' ? ']' : '}';
  const out: Json[] = [];
  const obj: Record<string, Json> = {};
  i++;
  for (;;) {
    while (s[i] === ' ') i++;
    if (s[i] === close) return [open === '[' ? out : obj, i + 1];
    let item: Json;
    if (s[i] === '[' || s[i] === '{') [item, i] = flow(s, i);
    else {
      let j = i;
      if (s[i] === '"' || s[i] === "'") {
        j = s.indexOf(s[i]!, i + 1);
        if (j < 0) bail();
        item = quoted(s.slice(i, j + 1));
        j++;
      } else {
        while (j < s.length && !',[]{}'.includes(s[j]!) && !(s[j] === ':' && (s[j + 1] === ' ' || s[j + 1] === undefined))) j++;
        item = plainScalar(s.slice(i, j).trim());
      }
      i = j;
    }
    while (s[i] === ' ') i++;
    if (open === '{') {
      if (s[i] !== ':' || typeof item !== 'string') bail();
      i++;
      while (s[i] === ' ') i++;
      let value: Json;
      if (s[i] === '[' || s[i] === '{') [value, i] = flow(s, i);
      else {
        let j = i;
        while (j < s.length && !',[]{}'.includes(s[j]!)) j++;
        const t = s.slice(i, j).trim();
        value = t.startsWith('"') || t.startsWith("'") ? quoted(t) : plainScalar(t);
        i = j;
      }
      if (Object.prototype.hasOwnProperty.call(obj, item as string)) bail();
      obj[item as string] = value;
    } else {
      if (s[i] === ':') bail(); // single-pair mapping inside a flow sequence
      out.push(item);
    }
    while (s[i] === ' ') i++;
    if (s[i] === ',') i++;
    else if (s[i] !== close) bail();
  }
}

const KEY = /^("[^"\\]*"|'[^']*'|[^\s"'#&*!|>%@`?{}[\],-][^:#]*?|-[^\s:#][^:#]*?)\s*:(?:\s+(.*))?$/;

function node(lines: Line[], i: number, indent: number): [Json, number] {
  const line = lines[i]!;
  if (line.indent < indent) bail();
  if (line.text === '-' || line.text.startsWith('- ')) return sequence(lines, i, line.indent);
  if (KEY.test(line.text)) return mapping(lines, i, line.indent);
  if (i + 1 < lines.length && lines[i + 1]!.indent > line.indent) bail(); // multi-line scalar
  return [inlineValue(line.text), i + 1];
}

function valueAfter(lines: Line[], i: number, indent: number, rest: string | undefined, inSequenceOk: boolean): [Json, number] {
  if (rest !== undefined && rest.trim() !== '') {
    if (i + 1 < lines.length && lines[i + 1]!.indent > indent) bail();
    return [inlineValue(rest.trim()), i + 1];
  }
  const next = lines[i + 1];
  if (next && next.indent > indent) return node(lines, i + 1, next.indent);
  if (inSequenceOk && next && next.indent === indent && (next.text === '-' || next.text.startsWith('- '))) return sequence(lines, i + 1, indent);
  return [null, i + 1];
}

function mapping(lines: Line[], i: number, indent: number): [Json, number] {
  const obj: Record<string, Json> = {};
  while (i < lines.length && lines[i]!.indent >= indent) {
    const line = lines[i]!;
    if (line.indent > indent) bail();
    const m = KEY.exec(line.text);
    if (!m) {
      if (line.text === '-' || line.text.startsWith('- ')) break;
      bail();
    }
    const rawKey = m![1]!.trim();
    const key = rawKey.startsWith('"') || rawKey.startsWith("'") ? quoted(rawKey) : rawKey;
    if (Object.prototype.hasOwnProperty.call(obj, key) || key === '<<') bail();
    let value: Json;
    [value, i] = valueAfter(lines, i, indent, m![2], true);
    obj[key] = value;
  }
  return [obj, i];
}

function sequence(lines: Line[], i: number, indent: number): [Json, number] {
  const out: Json[] = [];
  while (i < lines.length && lines[i]!.indent === indent && (lines[i]!.text === '-' || lines[i]!.text.startsWith('- '))) {
    const text = lines[i]!.text;
    const rest = text.slice(1);
    const content = rest.trimStart();
    if (content === '') {
      let v: Json;
      [v, i] = valueAfter(lines, i, indent, undefined, false);
      out.push(v);
      continue;
    }
    // "- key: value" or "- - x": the item is a node starting on this line, indented past the dash.
    const itemIndent = indent + 1 + (rest.length - content.length);
    lines[i] = { indent: itemIndent, text: content }; // consumed here: rewriting it in place is safe
    let v: Json;
    [v, i] = node(lines, i, itemIndent);
    out.push(v);
  }
  if (i < lines.length && lines[i]!.indent > indent) bail();
  return [out, i];
}

/** The documents of a file, or undefined when the text leaves the supported subset. */
export function parseSimpleYaml(text: string): unknown[] | undefined {
  try {
    const docs: Line[][] = [[]];
    let sawContent = false;
    let separators = 0;
    for (const raw of text.split(/\r?\n/)) {
      if (raw.includes('\t') || raw.includes('\r')) bail();
      if (/^---(\s|$)/.test(raw)) {
        if (stripComment(raw.slice(3)).trim() !== '') bail();
        if (separators > 0 || sawContent) docs.push([]);
        else docs[0] = [];
        separators++;
        continue;
      }
      if (raw.startsWith('...') || raw.startsWith('%')) bail();
      const t = stripComment(raw).trimEnd();
      if (t.trim() === '') continue;
      sawContent = true;
      docs[docs.length - 1]!.push({ indent: t.length - t.trimStart().length, text: t.trimStart() });
    }
    if (separators === 0 && !sawContent) return [];
    return docs.map((lines) => {
      if (lines.length === 0) return null;
      const [v, end] = node(lines, 0, lines[0]!.indent);
      if (end !== lines.length) bail();
      return v;
    });
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}
