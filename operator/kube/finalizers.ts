// Adds and removes one finalizer on a cluster-scoped ovndrift.io resource with a JSON merge patch
// guarded by the resourceVersion read (a concurrent change gets a 409 and is retried by the caller).
// Narrow wrapper over @kubernetes/client-node; must not import OVSDB or drift code.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { ResourceName } from '../api/crds.js';

export const ROUTE_FINALIZER = 'ovndrift.io/owned-routes';

export interface FinalizerTarget {
  metadata: { name: string; resourceVersion?: string; finalizers?: string[] };
}

export class Finalizers {
  private readonly api: CustomObjectsApi;
  private readonly merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

  constructor(
    kc: KubeConfig,
    private readonly resource: ResourceName,
    readonly finalizer = ROUTE_FINALIZER,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  has(obj: FinalizerTarget): boolean {
    return (obj.metadata.finalizers ?? []).includes(this.finalizer);
  }

  async add(obj: FinalizerTarget): Promise<void> {
    if (this.has(obj)) return;
    await this.write(obj, [...(obj.metadata.finalizers ?? []), this.finalizer]);
  }

  async remove(obj: FinalizerTarget): Promise<void> {
    if (!this.has(obj)) return;
    await this.write(obj, (obj.metadata.finalizers ?? []).filter((f) => f !== this.finalizer));
  }

  private async write(obj: FinalizerTarget, finalizers: string[]): Promise<void> {
    const metadata: Record<string, unknown> = { finalizers: finalizers.length > 0 ? finalizers : null };
    if (obj.metadata.resourceVersion) metadata.resourceVersion = obj.metadata.resourceVersion;
    await this.api.patchClusterCustomObject(
      { group: this.resource.group, version: this.resource.version, plural: this.resource.plural, name: obj.metadata.name, body: { metadata } },
      this.merge,
    );
  }
}
