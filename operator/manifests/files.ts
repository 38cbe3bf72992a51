// Reads manifests from the file system: files and directories (recursively, *.yaml, *.yml, *.json,
// in name order) -> the YAML documents they hold (decoded by operator/api/manifests.ts), and the
// PodCIDRRoutes among them. The only file I/O of manifest handling, so operator/api stays pure.
// Imports only operator/api and node:fs; must not import kube, OVSDB, ovn or drift code.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { manifestDocuments, podCIDRRoutesOf, type LoadResult, type ManifestDocument, type ManifestError } from '../api/manifests.js';

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
    const decoded = manifestDocuments(file, text);
    documents.push(...decoded.documents);
    errors.push(...decoded.errors);
  }
  return { documents, errors };
}

/**
 * Loads every PodCIDRRoute from the given files/directories. Validation errors, duplicate
 * resource names and conflicting prefixes are all returned; callers must not touch OVN when
 * `errors` is non-empty.
 */
export async function loadPodCIDRRoutes(paths: string[]): Promise<LoadResult> {
  const { documents, errors } = await readManifestDocuments(paths);
  return podCIDRRoutesOf(paths, documents, errors);
}
