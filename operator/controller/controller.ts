// The operator's controller: wiring only. Informers (PodCIDRRoutes, TunnelNoTrackPolicies,
// NodeNoTrackStates, Nodes) and the OVSDB replicas (replicas.ts) turn changes into keys on two
// rate-limited work queues (queue.ts); workers hand each key to its reconciler (routes.ts,
// policies.ts), which re-reads the world for that key and returns when to look again. A change
// only says WHICH keys to look at — through the affected-resource index for OVSDB changes — never
// what to do. A periodic full resync is the safety net. Writes happen only while this replica
// holds the Lease; standbys keep their informers and OVSDB replicas warm.
// I/O only through operator/kube (informers, status, events, lease, finalizers; this module builds
// the client-node API objects they use) and, via replicas.ts and routes.ts, operator/ovn/connect;
// OVSDB code only as types. Status rendering is status.ts's (pure).
import { performance } from 'node:perf_hooks';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Database } from '../ovsdb/database.js';
import type { TlsFiles } from '../ovsdb/client.js';
import type { RowChange } from '../ovsdb/types.js';
import { NODENOTRACKSTATES, PODCIDRROUTES, TUNNELNOTRACKPOLICIES, collectionPath, type ResourceName } from '../api/crds.js';
import type { PolicyTiming } from './status.js';
import { Informer, type KubeObject } from '../kube/informer.js';
import { StatusWriter } from '../kube/status.js';
import { EventRecorder } from '../kube/events.js';
import { LeaderElector } from '../kube/lease.js';
import { Finalizers } from '../kube/finalizers.js';
import { compactObject, nodeMetadata } from '../kube/compact.js';
import { AffectedIndex, affectedBy, specKeys, type Key } from './affected.js';
import { OperatorMetrics } from './metrics.js';
import type { Readiness } from './health.js';
import { WorkQueue, runWorkers } from './queue.js';
import { Replicas, type Which } from './replicas.js';
import { RouteReconciler, type PCR } from './routes.js';
import { ShardFlows } from './shard.js';
import { SB_TABLES } from '../ovn/tables.js';
import { FOLLOW_NO_FLOWS } from '../ovn/shard.js';
import { PolicyReconciler, type TNTP } from './policies.js';

/** A batch of OVSDB row changes larger than this marks every resource instead of being mapped row by row. */
const LARGE_CHANGE_BATCH = 20_000;
export interface ControllerOptions {
  kubeConfig: KubeConfig;
  nbRemote: string;
  sbRemote: string;
  tls?: TlsFiles;
  /** This replica's identity (pod name). */
  identity: string;
  /** Leader election; false = always active (single replica, tests). */
  lease?: { namespace: string; name: string; durationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number } | false;
  /** Full resync period (default 5 minutes). */
  resyncMs?: number;
  /**
   * When an agent's NodeNoTrackState counts as stale / a missing one as failing (defaults
   * AGENT_STALE_AFTER_MS, AGENT_MISSING_GRACE_MS in operator/api/status.ts, applied by status.ts). Policies are
   * re-evaluated at the moment the next report goes stale, with no watch event needed.
   */
  policyTiming?: Pick<PolicyTiming, 'staleAfterMs' | 'missingGraceMs'>;
  /** Bound on waiting for the SB to reflect a repair (default 5 s). */
  repairTimeoutMs?: number;
  /** Settle window for flow findings without evidence that northd is behind (default 10 s; 0 = off). */
  settleMs?: number;
  /** A nexthop's chassis that has not confirmed the newest nb_cfg this long is down (default 60 s). */
  chassisDownAfterMs?: number;
  /** How long a deleted PodCIDRRoute (deletionPolicy Delete) waits for OVN before its finalizer is dropped (default 5 min). */
  finalizerTimeoutMs?: number;
  /** Concurrent PodCIDRRoute reconciles (default 4); a repair waiting for the SB never holds a worker. */
  workers?: number;
  connectTimeoutMs?: number;
  /** OVSDB inactivity probe interval (--inactivity-probe; 0 disables; the client default when absent). */
  inactivityProbeMs?: number;
  ovsdbBackoff?: { minMs?: number; maxMs?: number };
  informer?: { watchdogMs?: number; watchTimeoutSeconds?: number; backoff?: { initialMs?: number; maxMs?: number } };
  /** Namespace for Events about cluster-scoped resources (default "default"). */
  eventNamespace?: string;
  logger: Logger;
  metrics?: OperatorMetrics;
  /** Called with the PodCIDRRoute names of every reconciled chunk (tests, benchmarks). */
  onReconcile?: (names: string[]) => void;
  /**
   * Shard: only PodCIDRRoutes and TunnelNoTrackPolicies matching this label selector (validated by
   * watchLabelSelector in shard.ts) are reconciled, and the SB replica follows only the
   * Logical_Flow rows of the routers they name. Every PodCIDRRoute's spec is still read (for
   * cross-shard conflicts). Unset: one operator for everything.
   */
  watchLabelSelector?: string;
}

type AnyInformer = Pick<Informer<KubeObject>, 'start' | 'stop' | 'hasSynced' | 'lastError'>;

/**
 * A change that can move a shard's router datapaths or the groups containing them: any
 * Datapath_Binding or Logical_DP_Group change, a Logical_Router added, removed or renamed (not the
 * route or port edits that touch Logical_Router on every NB change).
 */
function movesShardDatapaths(c: RowChange): boolean {
  if (c.table === 'Datapath_Binding' || c.table === 'Logical_DP_Group') return true;
  return c.table === 'Logical_Router' && (!c.old || !c.new || c.old.name !== c.new.name);
}

/** The prefix keys of a PodCIDRRoute's spec (none for a spec that does not parse). */
function prefixKeysOf(o?: PCR): Key[] {
  try {
    return o?.spec ? specKeys(o.spec as never).filter((k) => k.startsWith('prefix:')) : [];
  } catch {
    return [];
  }
}

export class Controller {
  readonly metrics: OperatorMetrics;
  readonly index = new AffectedIndex();
  private readonly log: Logger;
  private readonly elector?: LeaderElector;
  readonly routes: Informer<PCR>;
  readonly policies: Informer<TNTP>;
  readonly nodeStates: Informer<KubeObject>;
  readonly nodes: Informer<KubeObject>;
  /** Shard only: every PodCIDRRoute (specs for cross-shard conflicts); never reconciled here. */
  readonly allRoutes?: Informer<PCR>;
  /** Shard only: the SB Logical_Flow condition of this shard. */
  readonly shardFlows?: ShardFlows;
  private readonly replicas: Replicas;
  private readonly routeQueue = new WorkQueue<string>();
  private readonly policyQueue = new WorkQueue<string>();
  private readonly routeReconciler: RouteReconciler;
  private readonly policyReconciler: PolicyReconciler;
  private workers?: Promise<void>;
  private stopped = false;
  private resyncTimer?: NodeJS.Timeout;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: ControllerOptions) {
    this.log = opts.logger;
    this.metrics = opts.metrics ?? new OperatorMetrics(false);
    const kc = opts.kubeConfig;
    const custom = kc.makeApiClient(CustomObjectsApi);
    const core = kc.makeApiClient(CoreV1Api);
    const mk = <T extends KubeObject>(r: ResourceName | 'nodes', labelSelector?: string, name: string = r === 'nodes' ? 'nodes' : r.plural): Informer<T> => {
      return new Informer<T>({
        kubeConfig: kc,
        path: r === 'nodes' ? '/api/v1/nodes' : collectionPath(r),
        // pass resourceVersion=0, limit and continue on: the first list is served from the cache, relists are paged
        list: r === 'nodes' ? (s) => core.listNode(s) as Promise<any> : (s) => custom.listClusterCustomObject({ group: r.group, version: r.version, plural: r.plural, ...s }) as Promise<any>,
        ...(labelSelector ? { labelSelector } : {}),
        // a Node is cached as its labels (all the policies read); everything else without
        // managedFields and with its strings shared (kube/compact.ts)
        transform: r === 'nodes' ? nodeMetadata : compactObject,
        ...(opts.informer ?? {}),
        logger: this.log.child({ informer: name }),
        onRelist: (reason) => this.metrics.kubeRelists.inc({ resource: name, reason }),
        onWatchRestart: (reason) => this.metrics.kubeWatchRestarts.inc({ resource: name, reason }),
      });
    };
    const selector = opts.watchLabelSelector;
    this.routes = mk<PCR>(PODCIDRROUTES, selector);
    this.policies = mk<TNTP>(TUNNELNOTRACKPOLICIES, selector);
    if (selector) this.allRoutes = mk<PCR>(PODCIDRROUTES, undefined, 'podcidrroutes-all');
    this.nodeStates = mk<KubeObject>(NODENOTRACKSTATES);
    this.nodes = mk<KubeObject>('nodes');
    this.replicas = new Replicas(
      {
        nbRemote: opts.nbRemote,
        sbRemote: opts.sbRemote,
        ...(opts.tls ? { tls: opts.tls } : {}),
        connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
        ...(opts.inactivityProbeMs !== undefined ? { probeIntervalMs: opts.inactivityProbeMs } : {}),
        ...(opts.ovsdbBackoff ? { backoff: opts.ovsdbBackoff } : {}),
        logger: this.log,
        metrics: this.metrics,
        // a shard starts following no flows; ShardFlows widens the condition to its routers
        ...(selector ? { sbTables: SB_TABLES.map((t) => (t.table === 'Logical_Flow' ? { ...t, where: FOLLOW_NO_FLOWS } : t)) } : {}),
      },
      {
        onChange: (which, changes) => {
          if (this.shardFlows && changes.some(movesShardDatapaths)) this.shardFlows.request();
          this.onOvsdbChange(which, changes);
        },
        onStateChange: () => {
          this.shardFlows?.request();
          this.markAll();
        },
      },
    );
    if (selector) {
      this.shardFlows = new ShardFlows({
        databases: () => ({ nb: this.replicas.nb, sb: this.replicas.sb }),
        routers: () => this.shardRouters(),
        onCovered: (routers) => this.mark(this.routes.list().filter((r) => routers.has(String(r.spec?.router ?? ''))).map((r) => r.metadata.name)),
        logger: this.log.child({ component: 'shard' }),
      });
    }
    const statusWriter = new StatusWriter(kc);
    const isLeader = () => this.isLeader();
    const shardFlows = this.shardFlows;
    this.routeReconciler = new RouteReconciler({
      get: (n) => this.routes.get(n),
      // conflicts are judged over every PodCIDRRoute, in every shard: the same verdict everywhere
      list: () => (this.allRoutes ?? this.routes).list(),
      ...(shardFlows ? { covers: (router: string) => shardFlows.covers(router) } : {}),
      replicas: this.replicas,
      statusWriter,
      events: new EventRecorder({ kubeConfig: kc, instance: opts.identity, namespace: opts.eventNamespace, logger: this.log }),
      finalizers: new Finalizers(kc, PODCIDRROUTES),
      index: this.index,
      metrics: this.metrics,
      isLeader,
      logger: this.log,
      ...(opts.repairTimeoutMs !== undefined ? { repairTimeoutMs: opts.repairTimeoutMs } : {}),
      ...(opts.finalizerTimeoutMs !== undefined ? { finalizerTimeoutMs: opts.finalizerTimeoutMs } : {}),
      ...(opts.settleMs !== undefined ? { settleMs: opts.settleMs } : {}),
      ...(opts.chassisDownAfterMs !== undefined ? { chassisDownAfterMs: opts.chassisDownAfterMs } : {}),
      ...(opts.onReconcile ? { onReconcile: opts.onReconcile } : {}),
    });
    this.policyReconciler = new PolicyReconciler({
      get: (n) => this.policies.get(n),
      nodes: () => this.nodes.list(),
      nodeStates: () => this.nodeStates.list(),
      synced: () => this.policies.hasSynced() && this.nodes.hasSynced() && this.nodeStates.hasSynced(),
      statusWriter,
      metrics: this.metrics,
      isLeader,
      logger: this.log,
      ...(opts.policyTiming ? { timing: opts.policyTiming } : {}),
    });
    if (opts.lease) {
      this.elector = new LeaderElector({
        kubeConfig: kc,
        namespace: opts.lease.namespace,
        name: opts.lease.name,
        identity: opts.identity,
        leaseDurationMs: opts.lease.durationMs,
        renewDeadlineMs: opts.lease.renewDeadlineMs,
        retryPeriodMs: opts.lease.retryPeriodMs,
        logger: this.log.child({ component: 'leader-election' }),
        onStartedLeading: () => {
          this.metrics.leader.set(1);
          this.markAll();
        },
        onStoppedLeading: () => {
          this.routeReconciler.clearMetrics();
          this.metrics.clearLeaderGauges();
        },
      });
    } else {
      this.metrics.leader.set(1);
    }
  }

  /** Counters for tests and benchmarks. */
  get stats() {
    return this.routeReconciler.stats;
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  async start(): Promise<void> {
    this.routes.on((ev, obj, old) => {
      if (this.shardFlows && (ev !== 'update' || obj.spec?.router !== old?.spec?.router)) this.shardFlows.request();
      this.onRouteEvent(ev, obj, old);
    });
    this.allRoutes?.on((ev, obj, old) => this.onForeignRouteEvent(ev, obj, old));
    this.policies.on((_ev, obj) => this.policyQueue.add(obj.metadata.name));
    this.nodeStates.on(() => this.markPolicies());
    this.nodes.on((ev, obj, old) => {
      if (ev !== 'update' || JSON.stringify(obj.metadata?.labels ?? {}) !== JSON.stringify(old?.metadata?.labels ?? {})) this.markPolicies();
    });
    for (const inf of this.informers()) await inf.start();
    this.elector?.start();
    this.replicas.start();
    const onError = (what: string) => (key: string, err: unknown, retryInMs: number | undefined) => {
      const fields = { [what]: key, err: (err as Error).message, code: (err as { code?: string | number }).code };
      if (retryInMs === undefined) this.log.warn(fields, `${what} reconcile failed for good; waiting for the next change`);
      else this.log.warn({ ...fields, retryInMs }, `${what} reconcile failed; retrying`);
    };
    const onIdle = () => this.wakeIdle();
    this.workers = Promise.all([
      runWorkers(this.routeQueue, this.opts.workers ?? 4, (k) => this.timed('PodCIDRRoute', () => this.routeReconciler.reconcile(k)), { onError: onError('route'), onIdle }),
      runWorkers(this.policyQueue, 1, (k) => this.timed('TunnelNoTrackPolicy', () => this.policyReconciler.reconcile(k)), { onError: onError('policy'), onIdle }),
    ]).then(() => undefined);
    this.markAll();
    const resyncMs = this.opts.resyncMs ?? 300_000;
    if (resyncMs > 0) {
      this.resyncTimer = setInterval(() => {
        this.log.debug('periodic resync');
        this.markAll();
      }, resyncMs);
      this.resyncTimer.unref?.();
    }
  }

  private async timed<T>(resource: string, fn: () => Promise<T>): Promise<T> {
    const end = this.metrics.reconcileDuration.startTimer({ resource });
    try {
      return await fn();
    } finally {
      end();
    }
  }

  /** Stop writing at once, release the Lease (hand-over), stop informers, close the databases. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.resyncTimer);
    this.routeQueue.shutDown();
    this.policyQueue.shutDown();
    await this.elector?.release();
    this.routeReconciler.clearMetrics();
    this.metrics.clearLeaderGauges();
    for (const inf of this.informers()) inf.stop();
    // a reconcile in flight finishes its current request; nothing waits for a timer
    await Promise.race([this.workers ?? Promise.resolve(), new Promise((r) => setTimeout(r, 1000).unref?.())]);
    this.shardFlows?.close();
    await this.replicas.close();
    this.wakeIdle(true);
  }

  isLeader(): boolean {
    if (this.stopped) return false;
    return this.elector ? this.elector.isLeader() : true;
  }

  readiness(): Readiness {
    const checks: Record<string, string> = {};
    const informers: [string, AnyInformer][] = [['podcidrroutes', this.routes], ['tunnelnotrackpolicies', this.policies], ['nodenotrackstates', this.nodeStates], ['nodes', this.nodes]];
    if (this.allRoutes) informers.push(['podcidrroutes-all', this.allRoutes]);
    for (const [name, inf] of informers) {
      checks[`informer:${name}`] = inf.hasSynced() ? 'ok' : `not synced${inf.lastError ? `: ${inf.lastError.message}` : ''}`;
    }
    Object.assign(checks, this.replicas.readiness());
    checks.leader = this.isLeader() ? 'leader' : `standby${this.elector?.leader() ? ` (leader: ${this.elector.leader()})` : ''}`;
    const ready = Object.entries(checks).every(([k, v]) => k === 'leader' || v === 'ok');
    return { ready, checks };
  }

  private busy(): boolean {
    return this.routeQueue.active > 0 || this.policyQueue.active > 0;
  }

  private wakeIdle(force = false): void {
    if (!force && this.busy()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * Resolves when no key is queued or being reconciled (tests, benchmarks). Keys waiting for a
   * later time (requeueAfter, backoff) do not count.
   */
  async idle(): Promise<void> {
    while (!this.stopped && this.busy()) await new Promise<void>((ok) => this.idleWaiters.push(ok));
  }

  /** The databases (for tests and the bench, which measure against the same replicas). */
  databases(): { nb?: Database; sb?: Database } {
    return { nb: this.replicas.nb, sb: this.replicas.sb };
  }

  // ---- what a change concerns -------------------------------------------------------------------

  private onOvsdbChange(_which: Which, changes: RowChange[]): void {
    const t = performance.now();
    // a resync's worth of changes touches nearly everything: mapping each row to its resources
    // would cost more (and block the event loop longer) than marking them all
    if (changes.length > LARGE_CHANGE_BATCH) return this.markAll(t);
    const a = affectedBy(changes);
    if (a.all) return this.markAll(t);
    const names = this.index.lookup(a.keys);
    if (a.global) {
      // nb_cfg counters moved: only resources that currently show drift (or wait for a repair) mention the lag
      for (const r of this.routes.list()) {
        const ready = r.status?.conditions?.find((c) => c.type === 'Ready');
        if (ready && ready.status !== 'True') names.add(r.metadata.name);
      }
    }
    this.mark(names, t);
  }

  private informers(): AnyInformer[] {
    return [this.routes, this.policies, this.nodeStates, this.nodes, ...(this.allRoutes ? [this.allRoutes] : [])];
  }

  /** The routers this shard's PodCIDRRoutes name (what its SB replica follows flows of). */
  private shardRouters(): Set<string> {
    const out = new Set<string>();
    for (const r of this.routes.list()) if (typeof r.spec?.router === 'string' && !r.metadata.deletionTimestamp) out.add(r.spec.router);
    return out;
  }

  /**
   * Shard: any PodCIDRRoute's spec changed (ours or another shard's). Conflicts are recomputed and
   * our resources claiming the same prefixes looked at again; the resource itself is reconciled
   * only by the shard whose selector it matches (its own informer's events).
   */
  private onForeignRouteEvent(ev: string, obj: PCR, old?: PCR): void {
    if (ev === 'update' && old && old.metadata.generation === obj.metadata.generation) return;
    this.routeReconciler.specsChanged();
    this.mark(this.index.lookup([...prefixKeysOf(obj), ...prefixKeysOf(old)]));
  }

  private onRouteEvent(ev: string, obj: PCR, old?: PCR): void {
    const name = obj.metadata.name;
    if (ev !== 'delete') this.routeReconciler.observed(name, obj.metadata.resourceVersion);
    if (
      ev === 'update' &&
      old &&
      old.metadata.generation === obj.metadata.generation &&
      JSON.stringify(old.metadata.labels ?? {}) === JSON.stringify(obj.metadata.labels ?? {}) &&
      old.metadata.deletionTimestamp === obj.metadata.deletionTimestamp
    ) {
      return; // a status-only update (usually our own write): nothing to reconcile
    }
    this.routeReconciler.specsChanged();
    const names = new Set([name]);
    // resources sharing a prefix may gain or lose a conflict with this one
    for (const n of this.index.lookup([...prefixKeysOf(obj), ...prefixKeysOf(old)])) names.add(n);
    this.mark(names);
  }

  /** Queue these resources ahead of any backlog (a change that names them); `back`: behind it. */
  mark(names: Iterable<string>, t: number = performance.now(), back = false): void {
    if (this.stopped) return;
    for (const n of names) {
      this.routeReconciler.marked(n, t);
      if (back) this.routeQueue.add(n);
      else this.routeQueue.addFirst(n);
    }
  }

  markAll(t?: number): void {
    this.mark(
      this.routes.list().map((r) => r.metadata.name),
      t,
      true,
    );
    this.markPolicies();
  }

  private markPolicies(): void {
    if (this.stopped) return;
    for (const p of this.policies.list()) this.policyQueue.add(p.metadata.name);
  }
}
