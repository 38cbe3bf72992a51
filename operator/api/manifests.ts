// Reads PodCIDRRoute manifests from YAML files and directories (multi-document files, `kind: List`),
// validates each one and then all of them together. Other kinds are skipped with a notice.
// File reading is the only I/O; must not import the OVSDB client or drift code.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Loads every PodCIDRRoute from the given files/directories (directories recursively, *.yaml,
 * *.yml, *.json, in name order). Validation errors, duplicate resource names and conflicting
 * prefixes are all returned; callers must not touch OVN when `errors` is non-empty.
 */
export async function loadPodCIDRRoutes(paths: string[]): Promise<LoadResult> {
  const errors: ManifestError[] = [];
  const notices: string[] = [];
  const routes: LoadedRoute[] = [];
  const files: string[] = [];
  for (const p of paths) files.push(...(await expand(p, errors)));
  if (paths.length > 0 && files.length === 0 && errors.length === 0) {
    errors.push({ file: paths.join(', '), document: 0, message: 'no YAML manifests found (*.yaml, *.yml, *.json)' });
  }

  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      errors.push({ file, document: 0, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      continue;
    }
    const docs = parseAllDocuments(text);
    const list = Array.isArray(docs) ? docs : [docs];
    list.forEach((doc, i) => {
      const document = i + 1;
      if (doc.errors.length > 0) {
        errors.push({ file, document, message: `YAML syntax error: ${doc.errors[0]!.message.split('\n')[0]}` });
        return;
      }
      const value: unknown = doc.toJS();
      if (value === null || value === undefined) return; // empty document (e.g. trailing ---)
      const objects = isObject(value) && value.kind === 'List' && Array.isArray(value.items) ? value.items : [value];
      for (const obj of objects) {
        const kind = isObject(obj) ? obj.kind : undefined;
        const apiVersion = isObject(obj) ? obj.apiVersion : undefined;
        const ours = kind === KIND && (typeof apiVersion !== 'string' || apiVersion.startsWith(`${GROUP}/`));
        if (!ours) {
          const name = isObject(obj) && isObject(obj.metadata) ? ` ${String(obj.metadata.name ?? '')}` : '';
          notices.push(`${file} (document ${document}): skipped ${String(kind ?? 'a document without kind')}${name}${apiVersion ? ` (${String(apiVersion)})` : ''}: not a PodCIDRRoute`);
          continue;
        }
        const resource = isObject(obj) && isObject(obj.metadata) && typeof obj.metadata.name === 'string' ? obj.metadata.name : undefined;
        const result = validatePodCIDRRoute(obj);
        for (const e of result.errors) errors.push({ file, document, resource, field: e.field, message: e.message });
        if (result.route) routes.push({ route: result.route, source: { file, document } });
      }
    });
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
