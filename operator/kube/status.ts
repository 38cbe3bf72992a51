// Writes the status subresource of cluster-scoped ovndrift.io resources with a JSON merge patch
// (Content-Type set through client-node's setHeaderOptions). The patch is the difference between
// the status the caller last saw and the new one, so fields that disappeared are removed (null).
// Kubernetes I/O only; must not import OVSDB, drift or controller code.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { ResourceName } from '../api/crds.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** RFC 7386 merge patch that turns `from` into `to` (arrays are replaced whole). */
export function mergePatchDiff(from: unknown, to: unknown): Json | undefined {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(from) || !isObj(to)) return JSON.stringify(from) === JSON.stringify(to) ? undefined : ((to ?? null) as Json);
  const out: Record<string, Json> = {};
  for (const k of Object.keys(from)) if (from[k] !== undefined && to[k] === undefined) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (v === undefined) continue;
    const d = mergePatchDiff(from[k], v);
    if (d !== undefined) out[k] = d;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export class StatusWriter {
  private readonly api: CustomObjectsApi;
  private readonly merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

  constructor(kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  /**
   * Patch /status from `previous` to `next`. Returns the updated object, or undefined when there
   * was nothing to change (no request is sent).
   */
  async patch<T = Record<string, unknown>>(resource: ResourceName, name: string, previous: unknown, next: unknown): Promise<T | undefined> {
    const diff = mergePatchDiff(previous ?? {}, next);
    if (diff === undefined) return undefined;
    return (await this.api.patchClusterCustomObjectStatus(
      { group: resource.group, version: resource.version, plural: resource.plural, name, body: { status: diff } },
      this.merge,
    )) as T;
  }
}
