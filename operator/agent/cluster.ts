// Cluster mode of the agent: watches TunnelNoTrackPolicy objects and this node's Node object
// through the shared informer of operator/kube (backoff after errors, relist on 410 Gone, a watchdog
// for silent watches; the Node with fieldSelector metadata.name=<node>, so each agent caches only its
// own Node), runs agent passes, and writes this node's NodeNoTrackState (created if missing and owned
// by its Node through an ownerReference, so it is garbage-collected with the Node; status written
// through the status subresource only when it changed, plus a heartbeat). Must not import
// ovsdb modules; iptables work stays in agent.ts.
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions, type KubernetesObject, type V1Node } from '@kubernetes/client-node';
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
import { AGENT_HEARTBEAT_MS } from '../api/status.js';
import { Informer, type KubeObject } from '../kube/informer.js';
import { loadKubeConfig } from '../kube/config.js';
import { EXIT, exitCodeOf, messageOf } from '../errors.js';
import { NoTrackAgent, nodeStateStatus, runLoop, type PassInput, type PassResult } from './agent.js';
import { AgentError } from './errors.js';
import { agentHealth, type AgentMetrics } from './metrics.js';
import { startHttpServer } from '../runtime/http.js';
import { stopSignal } from '../runtime/signals.js';

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
  /** Write the status at least this often even when nothing changed (default AGENT_HEARTBEAT_MS, 5 min). */
  heartbeatMs?: number;
  onResult?: (r: PassResult) => void;
}

type Obj = KubernetesObject & Record<string, unknown>;

function isNotFound(err: unknown): boolean {
  return (err as { code?: number })?.code === 404;
}
function isConflict(err: unknown): boolean {
  return (err as { code?: number })?.code === 409;
}

/**
 * The ownerReference that makes a NodeNoTrackState belong to its Node: Kubernetes' garbage collector
 * deletes the state when the Node is deleted. Not a controller reference and no
 * blockOwnerDeletion (that would need update rights on nodes/finalizers).
 */
function nodeOwnerReference(node: { name: string; uid: string }): { apiVersion: string; kind: string; name: string; uid: string } {
  return { apiVersion: 'v1', kind: 'Node', name: node.name, uid: node.uid };
}

/** Creates or updates NodeNoTrackState/<node> status; returns what was written. */
export class NodeStateWriter {
  private last?: { status: NodeNoTrackStateStatus; at: number };
  constructor(
    private readonly api: CustomObjectsApi,
    private readonly nodeName: string,
    private readonly heartbeatMs: number,
    /** The node's uid when known (from the Node informer): the state is created owned by it. */
    private readonly nodeUid: () => string | undefined = () => undefined,
  ) {}

  /** Adds the Node ownerReference to a state created before the uid was known (or by an older agent). */
  private async adopt(current: Obj): Promise<Obj> {
    const uid = this.nodeUid();
    const refs = ((current.metadata as { ownerReferences?: { uid?: string }[] } | undefined)?.ownerReferences ?? []);
    if (!uid || refs.some((r) => r.uid === uid)) return current;
    const others = refs.filter((r) => (r as { kind?: string }).kind !== 'Node');
    return (await this.api.patchClusterCustomObject(
      { group: GROUP, version: VERSION, plural: NODE_NOTRACK_STATE_PLURAL, name: this.nodeName, body: { metadata: { ownerReferences: [...others, nodeOwnerReference({ name: this.nodeName, uid })], resourceVersion: current.metadata?.resourceVersion } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as Obj;
  }

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
            body: {
              apiVersion: API_VERSION,
              kind: NODE_NOTRACK_STATE_KIND,
              metadata: {
                name: this.nodeName,
                labels: { 'app.kubernetes.io/managed-by': 'ovn-drift-agent' },
                ...(this.nodeUid() ? { ownerReferences: [nodeOwnerReference({ name: this.nodeName, uid: this.nodeUid()! })] } : {}),
              },
            },
          })) as Obj;
        } catch (e) {
          if (isConflict(e)) continue; // created concurrently: read again
          throw e;
        }
      }
      try {
        current = await this.adopt(current);
        await this.api.replaceClusterCustomObjectStatus({ ...ref, body: { ...current, status } });
        this.last = { status, at: nowMs };
        return true;
      } catch (err) {
        if (isConflict(err)) continue; // someone wrote in between: re-read and write again
        throw err;
      }
    }
    throw new AgentError('NodeStateConflict', `NodeNoTrackState ${this.nodeName}: status kept conflicting after 5 attempts`);
  }
}

/** Plain-data input of one pass from the informer caches. Pure. */
function gatherFromCaches(policies: readonly Obj[], node: V1Node | undefined, nodeName: string): PassInput {
  if (!node) throw new AgentError('NodeNotFound', `Node ${nodeName} not found: cannot match nodeSelectors`);
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
  let kc: KubeConfig;
  try {
    kc = opts.kubeConfig ?? loadKubeConfig(opts.kubeconfig);
  } catch (err) {
    console.error(`ovn-drift agent: ${messageOf(err)}`);
    return exitCodeOf(err);
  }
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const log = opts.logger.child({ node: opts.nodeName });
  let wake: (() => void) | undefined;
  const changed = (): void => wake?.();
  const policyInformer = new Informer<KubeObject>({
    kubeConfig: kc,
    path: `/apis/${GROUP}/${VERSION}/${TUNNEL_NOTRACK_POLICY_PLURAL}`,
    list: async (s) => (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: TUNNEL_NOTRACK_POLICY_PLURAL, ...s })) as never,
    logger: log,
  });
  const nodeInformer = new Informer<KubeObject>({
    kubeConfig: kc,
    path: '/api/v1/nodes',
    fieldSelector: `metadata.name=${opts.nodeName}`,
    list: async (s) => (await core.listNode(s)) as never,
    logger: log,
  });
  for (const inf of [policyInformer, nodeInformer]) inf.on(changed);
  const writer = new NodeStateWriter(custom, opts.nodeName, opts.heartbeatMs ?? AGENT_HEARTBEAT_MS, () => nodeInformer.get(opts.nodeName)?.metadata?.uid);
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
  const gather = async (): Promise<PassInput> =>
    gatherFromCaches(policyInformer.list() as Obj[], nodeInformer.get(opts.nodeName) as V1Node | undefined, opts.nodeName);

  try {
    try {
      await Promise.all([policyInformer, nodeInformer].map(async (inf) => {
        await inf.start();
        await inf.waitForSync({ failOnListError: true });
      }));
    } catch (err) {
      console.error(`ovn-drift agent: Kubernetes API unreachable: ${messageOf(err)}`);
      return EXIT.runtime;
    }
    if (opts.once) {
      let input: PassInput;
      try {
        input = await gather();
      } catch (err) {
        console.error(`ovn-drift agent: ${messageOf(err)}`);
        return exitCodeOf(err);
      }
      const r = await opts.agent.pass(input);
      await report(r);
      return r.outcome === 'InvalidInput' ? EXIT.badInput : r.outcome === 'IptablesFailed' ? EXIT.runtime : EXIT.ok;
    }
    const { signal, dispose } = stopSignal(opts.signal);
    const server = opts.metricsAddress ? await startHttpServer({ addr: opts.metricsAddress, registry: opts.metrics.registry, health: agentHealth(() => opts.agent.lastResult) }) : undefined;
    if (server) log.info({ address: server.url }, 'metrics server listening');
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
      await server?.close();
    }
    return EXIT.ok;
  } finally {
    policyInformer.stop();
    nodeInformer.stop();
  }
}
