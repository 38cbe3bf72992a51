// Cluster mode of the agent: watches TunnelNoTrackPolicy objects and this node's Node object
// (informers of @kubernetes/client-node 1.x, restarted with backoff on error and re-listed
// periodically against silent watches), runs agent passes, and writes this node's NodeNoTrackState
// (created if missing, status written through the status subresource only when it changed, plus a
// heartbeat). Must not import ovsdb modules; iptables work stays in agent.ts.
import { CoreV1Api, CustomObjectsApi, KubeConfig, ListWatch, Watch, type KubernetesObject, type V1Node } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  API_VERSION,
  GROUP,
  NODE_NOTRACK_STATE_KIND,
  NODE_NOTRACK_STATE_PLURAL,
  TUNNEL_NOTRACK_POLICY_PLURAL,
  VERSION,
  formatFieldErrors,
  validateTunnelNoTrackPolicy,
  type NodeNoTrackStateStatus,
  type ValidPolicy,
} from '../api/tunnelnotrackpolicy.js';
import { NoTrackAgent, nodeStateStatus, runLoop, type PassInput, type PassResult } from './agent.js';
import { AgentError } from './errors.js';
import type { AgentMetrics } from './metrics.js';
import { startMetricsServer, stopSignal } from './runtime.js';

export interface ClusterModeOptions {
  agent: NoTrackAgent;
  nodeName: string;
  kubeconfig?: string;
  /** Pre-built KubeConfig (tests); wins over `kubeconfig`. */
  kubeConfig?: KubeConfig;
  intervalMs: number;
  once: boolean;
  logger: Logger;
  metrics: AgentMetrics;
  signal?: AbortSignal;
  metricsAddress?: string;
  backoffBaseMs?: number;
  /** Write the status at least this often even when nothing changed (default 5 min). */
  heartbeatMs?: number;
  /** Re-list both informers this often (guards against silently stopped watches; default 10 min). */
  relistMs?: number;
  onResult?: (r: PassResult) => void;
}

type Obj = KubernetesObject & Record<string, unknown>;

/** An informer that restarts itself with backoff after an error and re-lists on a timer. */
class ResilientInformer<T extends KubernetesObject> {
  private lw: ListWatch<T>;
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private relistTimer?: NodeJS.Timeout;
  private stopped = false;
  synced = false;

  constructor(
    private readonly make: () => ListWatch<T>,
    private readonly what: string,
    private readonly logger: Logger,
    private readonly onChange: () => void,
    private readonly relistMs: number,
  ) {
    this.lw = this.wire(make());
  }

  private wire(lw: ListWatch<T>): ListWatch<T> {
    lw.on('change', () => this.onChange());
    lw.on('connect', () => {
      this.failures = 0;
    });
    lw.on('error', (err) => {
      if (this.stopped) return;
      this.failures++;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this.failures - 1, 6));
      this.logger.warn({ informer: this.what, err: String((err as Error)?.message ?? err), retryInMs: delay }, 'watch failed; restarting');
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.restart(), delay);
    });
    return lw;
  }

  async start(): Promise<void> {
    await this.lw.start();
    this.synced = true;
    this.onChange();
    this.relistTimer = setInterval(() => void this.restart(), this.relistMs);
    this.relistTimer.unref();
  }

  private async restart(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.lw.stop();
    } catch {
      // already stopped
    }
    this.lw = this.wire(this.make());
    try {
      await this.lw.start();
      this.synced = true;
      this.onChange();
    } catch (err) {
      this.failures++;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this.failures - 1, 6));
      this.logger.warn({ informer: this.what, err: (err as Error).message, retryInMs: delay }, 'list failed; retrying');
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.restart(), delay);
    }
  }

  list(): readonly T[] {
    return this.lw.list();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.relistTimer);
    await this.lw.stop().catch(() => undefined);
  }
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: number })?.code === 404;
}
function isConflict(err: unknown): boolean {
  return (err as { code?: number })?.code === 409;
}

/** Creates or updates NodeNoTrackState/<node> status; returns what was written. */
export class NodeStateWriter {
  private last?: { status: NodeNoTrackStateStatus; at: number };
  constructor(
    private readonly api: CustomObjectsApi,
    private readonly nodeName: string,
    private readonly heartbeatMs: number,
  ) {}

  /** Same status apart from the check time? */
  private static same(a: NodeNoTrackStateStatus, b: NodeNoTrackStateStatus): boolean {
    const strip = (s: NodeNoTrackStateStatus): string => JSON.stringify({ ...s, lastCheckTime: undefined });
    return strip(a) === strip(b);
  }

  async write(status: NodeNoTrackStateStatus, nowMs: number): Promise<boolean> {
    if (this.last && NodeStateWriter.same(this.last.status, status) && nowMs - this.last.at < this.heartbeatMs) return false;
    const ref = { group: GROUP, version: VERSION, plural: NODE_NOTRACK_STATE_PLURAL, name: this.nodeName };
    for (let attempt = 0; attempt < 5; attempt++) {
      let current: Obj;
      try {
        current = (await this.api.getClusterCustomObject(ref)) as Obj;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        try {
          current = (await this.api.createClusterCustomObject({
            group: GROUP,
            version: VERSION,
            plural: NODE_NOTRACK_STATE_PLURAL,
            body: { apiVersion: API_VERSION, kind: NODE_NOTRACK_STATE_KIND, metadata: { name: this.nodeName, labels: { 'app.kubernetes.io/managed-by': 'ovn-drift-agent' } } },
          })) as Obj;
        } catch (e) {
          if (isConflict(e)) continue; // created concurrently: read again
          throw e;
        }
      }
      try {
        await this.api.replaceClusterCustomObjectStatus({ ...ref, body: { ...current, status } });
        this.last = { status, at: nowMs };
        return true;
      } catch (err) {
        if (isConflict(err)) continue; // someone wrote in between: re-read and write again
        throw err;
      }
    }
    throw new AgentError('IptablesFailed', `NodeNoTrackState ${this.nodeName}: status kept conflicting after 5 attempts`);
  }
}

/** Plain-data input of one pass from the informer caches. Pure. */
export function gatherFromCaches(policies: readonly Obj[], node: V1Node | undefined, nodeName: string): PassInput {
  if (!node) throw new AgentError('IptablesFailed', `Node ${nodeName} not found: cannot match nodeSelectors`);
  const valid: ValidPolicy[] = [];
  const invalid: string[] = [];
  for (const obj of policies) {
    const v = validateTunnelNoTrackPolicy(obj);
    const name = (obj.metadata?.name as string | undefined) ?? '';
    if (v.policy) valid.push(v.policy);
    else invalid.push(formatFieldErrors(name, v.errors));
  }
  return { policies: valid, invalid, nodeLabels: { ...(node.metadata?.labels ?? {}) } };
}

export async function runClusterMode(opts: ClusterModeOptions): Promise<number> {
  const kc = opts.kubeConfig ?? new KubeConfig();
  if (!opts.kubeConfig) {
    try {
      if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
      else kc.loadFromDefault();
    } catch (err) {
      console.error(`ovn-drift agent: cannot load kubeconfig: ${(err as Error).message}`);
      return 1;
    }
  }
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const log = opts.logger.child({ node: opts.nodeName });
  let wake: (() => void) | undefined;
  const changed = (): void => wake?.();
  const relistMs = opts.relistMs ?? 600_000;
  const policyInformer = new ResilientInformer<Obj>(
    () =>
      new ListWatch<Obj>(`/apis/${GROUP}/${VERSION}/${TUNNEL_NOTRACK_POLICY_PLURAL}`, new Watch(kc), async () =>
        (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: TUNNEL_NOTRACK_POLICY_PLURAL })) as never, false),
    'TunnelNoTrackPolicy',
    log,
    changed,
    relistMs,
  );
  const fieldSelector = `metadata.name=${opts.nodeName}`;
  const nodeInformer = new ResilientInformer<V1Node>(
    () => new ListWatch<V1Node>('/api/v1/nodes', new Watch(kc), () => core.listNode({ fieldSelector }), false, undefined, fieldSelector),
    'Node',
    log,
    changed,
    relistMs,
  );
  const writer = new NodeStateWriter(custom, opts.nodeName, opts.heartbeatMs ?? 300_000);
  let previous: NodeNoTrackStateStatus | undefined;
  const report = async (r: PassResult): Promise<void> => {
    opts.onResult?.(r);
    const status = nodeStateStatus(r, opts.agent.backend, new Date(), previous);
    previous = status;
    try {
      if (await writer.write(status, Date.now())) log.debug({ ready: status.conditions[0]?.status }, 'NodeNoTrackState written');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'NodeNoTrackState not written');
    }
  };
  const gather = async (): Promise<PassInput> => gatherFromCaches(policyInformer.list(), nodeInformer.list()[0], opts.nodeName);

  try {
    try {
      await Promise.all([policyInformer.start(), nodeInformer.start()]);
    } catch (err) {
      console.error(`ovn-drift agent: Kubernetes API unreachable: ${(err as Error).message}`);
      return 2;
    }
    if (opts.once) {
      let input: PassInput;
      try {
        input = await gather();
      } catch (err) {
        console.error(`ovn-drift agent: ${(err as Error).message}`);
        return 2;
      }
      const r = await opts.agent.pass(input);
      await report(r);
      return r.outcome === 'InvalidInput' ? 1 : r.outcome === 'IptablesFailed' ? 2 : 0;
    }
    const { signal, dispose } = stopSignal(opts.signal);
    const server = await startMetricsServer(opts.metricsAddress, opts.metrics, log, () => opts.agent.lastResult);
    try {
      await runLoop(opts.agent, {
        intervalMs: opts.intervalMs,
        backoffBaseMs: opts.backoffBaseMs,
        maxBackoffMs: Math.max(opts.intervalMs * 6, 1_000),
        signal,
        gather,
        onResult: report,
        wake: (cb) => {
          wake = cb;
        },
      });
    } finally {
      dispose();
      server?.close();
    }
    return 0;
  } finally {
    await Promise.all([policyInformer.stop(), nodeInformer.stop()]);
  }
}
