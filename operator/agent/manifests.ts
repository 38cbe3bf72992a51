// Reads TunnelNoTrackPolicy manifests from YAML files or directories (multi-document YAML; other
// kinds are skipped with a notice). Reading is operator/manifests/files.ts's; parsing is
// operator/api/manifests.ts's, and so is the wording of a file or YAML error (formatManifestError,
// the same line `check` prints); validation lives in operator/api/tunnelnotrackpolicy.ts.
// Must not import kube, iptables or ovsdb modules.
import { describeDocument, formatManifestError, type ManifestError } from '../api/manifests.js';
import { readManifestDocuments } from '../manifests/files.js';
import { isObject } from '../api/meta.js';
import { TUNNEL_NOTRACK_POLICY_KIND, formatFieldErrors, validateTunnelNoTrackPolicy, type ValidPolicy } from '../api/tunnelnotrackpolicy.js';
import { AgentError } from './errors.js';

export interface LoadedPolicies {
  policies: ValidPolicy[];
  /** One message per invalid TunnelNoTrackPolicy (file and document named). */
  invalid: string[];
  /** Documents of other kinds that were skipped. */
  skipped: string[];
}

/**
 * One line for a path or document the shared reader could not use. A document-level error without
 * a field is the YAML itself (syntax, unbounded aliases); the reader's message says which.
 */
function describeReadError(e: ManifestError): string {
  if (e.document > 0 && !e.field) return `${e.file}: document ${e.document} is not valid YAML (${e.message})`;
  return formatManifestError(e);
}

/**
 * Loads every TunnelNoTrackPolicy document under `paths` (read by the shared manifest reader).
 * Throws ManifestUnreadable for a missing path or a YAML syntax error; invalid policies are
 * returned in `invalid`, never silently dropped. Two documents with the same metadata.name are an
 * error too.
 */
export async function loadTunnelNoTrackPolicies(paths: string[]): Promise<LoadedPolicies> {
  const { documents, errors } = await readManifestDocuments(paths);
  if (errors.length > 0) throw new AgentError('ManifestUnreadable', describeReadError(errors[0]!));
  const result: LoadedPolicies = { policies: [], invalid: [], skipped: [] };
  const seen = new Map<string, string>();
  for (const { file, document, object: obj } of documents) {
    const where = `${file} (document ${document})`;
    const kind = isObject(obj) ? obj.kind : undefined;
    if (kind !== TUNNEL_NOTRACK_POLICY_KIND) {
      result.skipped.push(`${where}: ${describeDocument(obj)} skipped`);
      continue;
    }
    const v = validateTunnelNoTrackPolicy(obj);
    const name = ((obj as { metadata?: { name?: unknown } }).metadata?.name as string | undefined) ?? '';
    if (!v.policy) {
      result.invalid.push(`${where}: ${formatFieldErrors(name, v.errors)}`);
      continue;
    }
    const prev = seen.get(v.policy.name);
    if (prev) {
      result.invalid.push(`${where}: TunnelNoTrackPolicy ${v.policy.name} is defined twice (also in ${prev})`);
      continue;
    }
    seen.set(v.policy.name, where);
    result.policies.push(v.policy);
  }
  return result;
}
