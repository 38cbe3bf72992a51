// Reads TunnelNoTrackPolicy manifests from YAML files or directories (multi-document YAML; other
// kinds are skipped with a notice). File I/O and YAML parsing only: validation lives in
// operator/api/tunnelnotrackpolicy.ts. Must not import kube, iptables or ovsdb modules.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { TUNNEL_NOTRACK_POLICY_KIND, formatFieldErrors, validateTunnelNoTrackPolicy, type ValidPolicy } from '../api/tunnelnotrackpolicy.js';
import { AgentError } from './errors.js';

export interface LoadedPolicies {
  policies: ValidPolicy[];
  /** One message per invalid TunnelNoTrackPolicy (file and document named). */
  invalid: string[];
  /** Documents of other kinds that were skipped. */
  skipped: string[];
}

async function listYamlFiles(path: string): Promise<string[]> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw new AgentError('ManifestUnreadable', `cannot read manifest path ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  if (!st.isDirectory()) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  const out: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(path, e.name);
    if (e.isDirectory()) out.push(...(await listYamlFiles(full)));
    else if (/\.(ya?ml|json)$/i.test(e.name)) out.push(full);
  }
  return out;
}

/**
 * Loads every TunnelNoTrackPolicy document under `paths`. Throws ManifestUnreadable for a missing
 * path or a YAML syntax error; invalid policies are returned in `invalid`, never silently dropped.
 * Two documents with the same metadata.name are an error too.
 */
export async function loadTunnelNoTrackPolicies(paths: string[]): Promise<LoadedPolicies> {
  const result: LoadedPolicies = { policies: [], invalid: [], skipped: [] };
  const seen = new Map<string, string>();
  for (const path of paths) {
    for (const file of await listYamlFiles(path)) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw new AgentError('ManifestUnreadable', `cannot read manifest ${file}: ${(err as Error).message}`, { cause: err });
      }
      const docs = parseAllDocuments(text);
      if (!Array.isArray(docs)) continue; // empty stream
      docs.forEach((doc, i) => {
        if (doc.errors.length > 0) {
          throw new AgentError('ManifestUnreadable', `${file}: document ${i + 1} is not valid YAML: ${doc.errors[0]!.message}`, { cause: doc.errors[0] });
        }
        const obj: unknown = doc.toJS();
        if (obj === null || obj === undefined) return;
        const where = `${file} (document ${i + 1})`;
        const kind = typeof obj === 'object' && !Array.isArray(obj) ? (obj as { kind?: unknown }).kind : undefined;
        if (kind !== TUNNEL_NOTRACK_POLICY_KIND) {
          result.skipped.push(`${where}: kind ${typeof kind === 'string' ? kind : '(none)'} skipped`);
          return;
        }
        const v = validateTunnelNoTrackPolicy(obj);
        const name = ((obj as { metadata?: { name?: unknown } }).metadata?.name as string | undefined) ?? '';
        if (!v.policy) {
          result.invalid.push(`${where}: ${formatFieldErrors(name, v.errors)}`);
          return;
        }
        const prev = seen.get(v.policy.name);
        if (prev) {
          result.invalid.push(`${where}: TunnelNoTrackPolicy ${v.policy.name} is defined twice (also in ${prev})`);
          return;
        }
        seen.set(v.policy.name, where);
        result.policies.push(v.policy);
      });
    }
  }
  return result;
}
