// The TunnelNoTrackPolicy reconciler: a key (policy name) in, a result out. It aggregates the
// per-node NodeNoTrackState reports of the nodes the policy selects into the policy's status, and
// asks to be looked at again (requeueAfter) exactly when the next report goes stale or a
// missing-agent grace ends — staleness is a matter of time, not of a watch event.
// I/O only through operator/kube; must not import OVSDB code.
import { ApiException } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { validateTunnelNoTrackPolicy, formatFieldErrors, type NodeNoTrackState, type TunnelNoTrackPolicy } from '../api/tunnelnotrackpolicy.js';
import { TUNNELNOTRACKPOLICIES } from '../api/crds.js';
import type { TunnelNoTrackPolicyStatus } from '../api/status.js';
import { nextPolicyRecheck, renderPolicyStatus, statusEqual, type PolicyTiming } from './status.js';
import type { KubeObject } from '../kube/informer.js';
import type { StatusWriter } from '../kube/status.js';
import { WrittenCache } from '../kube/written.js';
import type { OperatorMetrics } from './metrics.js';
import { TerminalError, type ReconcileResult } from './queue.js';

export type TNTP = KubeObject & {
  spec?: Record<string, unknown>;
  status?: TunnelNoTrackPolicyStatus;
  metadata: { name: string; generation?: number; resourceVersion?: string; uid?: string };
};

export interface PolicyReconcilerDeps {
  get(name: string): TNTP | undefined;
  nodes(): KubeObject[];
  nodeStates(): KubeObject[];
  /** All three informers have synced (nothing is judged on a partial picture). */
  synced(): boolean;
  statusWriter: StatusWriter;
  metrics: OperatorMetrics;
  isLeader(): boolean;
  logger: Logger;
  timing?: Pick<PolicyTiming, 'staleAfterMs' | 'missingGraceMs'>;
}

export class PolicyReconciler {
  /** When this process first saw each policy's current generation (grace for missing agents). */
  private readonly generationSince = new Map<string, { generation: number; since?: Date }>();
  private readonly lastWritten = new WrittenCache<TunnelNoTrackPolicyStatus | undefined>();

  constructor(private readonly deps: PolicyReconcilerDeps) {}

  forget(name: string): void {
    this.generationSince.delete(name);
    this.lastWritten.forget(name);
  }

  async reconcile(name: string): Promise<ReconcileResult | void> {
    const deps = this.deps;
    const obj = deps.get(name);
    if (!obj) return this.forget(name);
    if (!deps.isLeader() || !deps.synced()) return;
    const now = new Date();
    const nodes = deps.nodes().map((n) => ({ name: n.metadata!.name!, labels: (n.metadata!.labels ?? {}) as Record<string, string>, creationTimestamp: n.metadata!.creationTimestamp as string | undefined }));
    const states = new Map<string, NodeNoTrackState>(deps.nodeStates().map((s) => [s.metadata!.name!, s as unknown as NodeNoTrackState]));
    const v = validateTunnelNoTrackPolicy(obj);
    const previous = this.lastWritten.current(name, obj.metadata.resourceVersion, obj.status);
    // The API keeps no time for a spec change: remember when this generation was first seen. A
    // generation some earlier operator already observed gets no extra grace after a restart.
    const generation = obj.metadata.generation ?? 0;
    let seen = this.generationSince.get(name);
    if (!seen || seen.generation !== generation) {
      seen = { generation, since: seen || obj.status?.observedGeneration !== generation ? now : undefined };
      this.generationSince.set(name, seen);
    }
    const timing: PolicyTiming = { ...deps.timing, generationSince: seen.since };
    const invalid = v.errors.length > 0 ? formatFieldErrors(name, v.errors) : undefined;
    const policy = obj as unknown as TunnelNoTrackPolicy;
    const next = renderPolicyStatus(previous, policy, nodes, states, now, invalid, timing);
    const at = invalid ? undefined : nextPolicyRecheck(policy, nodes, states, now, timing);
    if (!statusEqual(previous, next)) {
      try {
        const updated = await deps.statusWriter.patch<TNTP>(TUNNELNOTRACKPOLICIES, name, previous, next);
        deps.metrics.statusWrites.inc({ resource: 'TunnelNoTrackPolicy', result: 'ok' });
        if (updated) this.lastWritten.remember(name, obj.metadata.resourceVersion, updated.metadata.resourceVersion, updated.status ?? next);
      } catch (err) {
        if (err instanceof ApiException && err.code === 404) return this.forget(name);
        deps.metrics.statusWrites.inc({ resource: 'TunnelNoTrackPolicy', result: 'error' });
        deps.logger.warn({ policy: name, err: (err as Error).message }, 'policy status write failed');
        if (err instanceof ApiException && err.code === 422) throw new TerminalError(`the API refused the status of TunnelNoTrackPolicy ${name}: ${err.message}`, { cause: err });
        throw err;
      }
    }
    if (at) return { requeueAfterMs: Math.min(2 ** 31 - 1, Math.max(0, at.getTime() - Date.now()) + 10) };
  }
}
