// Render-free helpers for the chart tests: where the chart lives, its values/schema, the `.Values`
// paths its templates use, and RBAC rules read out of templates/rbac.yaml (Go-template lines that
// only wrap whole documents are dropped; the rule lists themselves are plain YAML).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART = join(ROOT, 'charts/ovn-drift');

export function chartValues(): Record<string, unknown> {
  return parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
}

export function chartSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Record<string, unknown>;
}

/** Every template file (and NOTES.txt) with its text. */
export function templates(): { name: string; text: string }[] {
  const dir = join(CHART, 'templates');
  return readdirSync(dir)
    .sort()
    .map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
}

/** `.Values.a.b.c` paths used in the templates (also `$.Values...`), with the file they are in. */
export function valuesReferences(): { path: string; file: string }[] {
  const out: { path: string; file: string }[] = [];
  for (const t of templates()) {
    for (const m of t.text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) out.push({ path: m[1]!.slice(1), file: t.name });
  }
  return out;
}

/** True when `path` (a.b.c) exists in `values` (a key may hold null or an empty map). */
export function hasPath(values: unknown, path: string): boolean {
  let cur: unknown = values;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(k in (cur as object))) return false;
    cur = (cur as Record<string, unknown>)[k];
  }
  return true;
}

/** Leaf paths of values.yaml (maps are walked, lists and scalars are leaves). */
export function leafPaths(values: unknown, prefix = ''): string[] {
  if (values === null || typeof values !== 'object' || Array.isArray(values)) return [prefix];
  const entries = Object.entries(values as Record<string, unknown>);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

export interface Grant {
  role: string;
  apiGroup: string;
  resource: string;
  verb: string;
  resourceNames?: string[];
}

/**
 * The rules of every ClusterRole/Role in templates/rbac.yaml as (role, group, resource, verb).
 * Template expressions are replaced by placeholders ({{ include "x.fullname" . }}-agent ->
 * FULLNAME-agent); lines that are only template control ({{- if }} / {{- end }}) are dropped.
 */
export function chartGrants(): Grant[] {
  const text = readFileSync(join(CHART, 'templates/rbac.yaml'), 'utf8')
    .replace(/\{\{-? *\/\*[\s\S]*?\*\/ *-?\}\}/g, '')
    .split('\n')
    .filter((l) => !/^\s*\{\{-?\s*(if|end|else)\b/.test(l))
    .join('\n')
    .replace(/\{\{ include "ovn-drift\.fullname" \. \}\}/g, 'FULLNAME')
    // the Lease names of every operator Deployment (one per shard when sharded): LEASE stands for them
    .replace(/\{\{ include "ovn-drift\.leaseNames?" \. \}\}/g, 'LEASE')
    .replace(/labels: \{\{-[^}]*\}\}/g, 'labels: {}')
    .replace(/\{\{ \.Release\.Namespace \}\}/g, 'NAMESPACE');
  if (text.includes('{{')) throw new Error(`rbac.yaml: template expression left after substitution: ${text.slice(text.indexOf('{{'), text.indexOf('{{') + 80)}`);
  const grants: Grant[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`rbac.yaml: ${doc.errors[0]!.message}`);
    const obj = doc.toJSON() as { kind?: string; metadata?: { name: string }; rules?: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[] } | null;
    if (!obj || (obj.kind !== 'ClusterRole' && obj.kind !== 'Role')) continue;
    for (const r of obj.rules ?? []) {
      for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) grants.push({ role: obj.metadata!.name, apiGroup: g, resource: res, verb: v, ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) });
    }
  }
  return grants;
}
