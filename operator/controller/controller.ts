// The operator's reconciler. Level-based: a change on either side (a PodCIDRRoute, a
// TunnelNoTrackPolicy, a NodeNoTrackState, a Node, or an NB/SB row) only marks resources dirty —
// through the affected-resource index for OVSDB changes — and one worker then re-reads the world
// for the dirty keys: gather -> evaluate (the pure drift core) -> repair (Repair mode, owned rows)
// -> render status -> patch /status only when it changed -> Events on transitions. A periodic full
// resync is the safety net, not the mechanism. Writes happen only while this replica holds the
// Lease; standbys keep their informers and OVSDB replicas warm.
// Does I/O through operator/kube, operator/ovsdb and operator/ovn/connect only.
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { ApiException, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Database } from '../ovsdb/database.js';
import type { TlsFiles } from '../ovsdb/client.js';
import type { RowChange } from '../ovsdb/types.js';
import { NB_TABLES, SB_TABLES } from '../ovn/tables.js';
import { portsWithIp } from '../ovn/nb.js';
import { applyRepair } from '../ovn/connect.js';
import { evaluate, planRepair, type Evaluation, type Finding } from '../drift/index.js';
import { findConflicts, validatePodCIDRRoute, type PodCIDRRoute, type ValidationResult } from '../api/podcidrroute.js';
import { validateTunnelNoTrackPolicy, formatFieldErrors, type NodeNoTrackState, type TunnelNoTrackPolicy } from '../api/tunnelnotrackpolicy.js';
import { NODENOTRACKSTATES, PODCIDRROUTES, TUNNELNOTRACKPOLICIES, collectionPath, type ResourceName } from '../api/crds.js';
import { REPAIRABLE, nextPolicyRecheck, renderPolicyStatus, renderStatus, statusEqual, type PodCIDRRouteStatus, type PolicyTiming, type RouteEvaluation, type TunnelNoTrackPolicyStatus } from '../api/status.js';
import { Informer, type KubeObject } from '../kube/informer.js';
import { StatusWriter } from '../kube/status.js';
import { EventRecorder } from '../kube/events.js';
import { LeaderElector } from '../kube/lease.js';
import { AffectedIndex, affectedBy, key, specKeys, type Key } from './affected.js';
import { gatherViews, type Views } from './gather.js';
import { RowKeyIndex } from './scope.js';
import { plannedEvents } from './events.js';
import { OperatorMetrics } from './metrics.js';
import type { Readiness } from './health.js';

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
   * AGENT_STALE_AFTER_MS, AGENT_MISSING_GRACE_MS in operator/api/status.ts). Policies are
   * re-evaluated at the moment the next report goes stale, with no watch event needed.
   */
  policyTiming?: Pick<PolicyTiming, 'staleAfterMs' | 'missingGraceMs'>;
  /** Bound on waiting for the SB to reflect a repair (default 5 s). */
  repairTimeoutMs?: number;
  connectTimeoutMs?: number;
  ovsdbBackoff?: { minMs?: number; maxMs?: number };
  informer?: { watchdogMs?: number; watchTimeoutSeconds?: number; backoff?: { initialMs?: number; maxMs?: number } };
  /** Namespace for Events about cluster-scoped resources (default "default"). */
  eventNamespace?: string;
  /** Concurrent status writes (default 16). */
  writeConcurrency?: number;
  logger: Logger;
  metrics?: OperatorMetrics;
  /** Called with the PodCIDRRoute names of every reconciled chunk (tests, benchmarks). */
  onReconcile?: (names: string[]) => void;
}

type PCR = KubeObject & { spec?: Record<string, unknown>; status?: PodCIDRRouteStatus; metadata: { name: string; generation?: number; resourceVersion?: string; uid?: string } };
type TNTP = KubeObject & { spec?: Record<string, unknown>; status?: TunnelNoTrackPolicyStatus; metadata: { name: string; generation?: number; resourceVersion?: string; uid?: string } };


function newerRv(a: string | undefined, b: string | undefined): boolean {
  if (!a) return false;
  if (!b) return true;
  const x = Number(a);
  const y = Number(b);
  return Number.isFinite(x) && Number.isFinite(y) ? x > y : false;
}

async function pool<T>(items: T[], size: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  const workers = Array.from({ length: Math.min(size, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]!);
  });
  await Promise.all(workers);
}

export class Controller {
  readonly metrics: OperatorMetrics;
  readonly index = new AffectedIndex();
  private readonly log: Logger;
  private readonly custom: CustomObjectsApi;
  private readonly statusWriter: StatusWriter;
  private readonly events: EventRecorder;
  private readonly elector?: LeaderElector;
  readonly routes: Informer<PCR>;
  readonly policies: Informer<TNTP>;
  readonly nodeStates: Informer<KubeObject>;
  readonly nodes: Informer<KubeObject>;
  private nb?: Database;
  private sb?: Database;
  private nbIndex?: RowKeyIndex;
  private sbIndex?: RowKeyIndex;
  private readonly openError: { NB?: string; SB?: string } = {};
  private dirty = new Map<string, number | undefined>();
  private policiesDirty = false;
  private scheduled = false;
  private running?: Promise<void>;
  private stopped = false;
  private resyncTimer?: NodeJS.Timeout;
  /** Fires markPolicies() when the next NodeNoTrackState goes stale or a missing-agent grace ends. */
  private policyRecheckTimer?: NodeJS.Timeout;
  /** When this process first saw each policy's current generation (grace for missing agents). */
  private readonly policyGenerationSince = new Map<string, { generation: number; since?: Date }>();
  private readonly lastWritten = new Map<string, { status: unknown; rv?: string }>();
  private readonly lastPolicyWritten = new Map<string, { status: unknown; rv?: string }>();
  private readonly validated = new Map<string, { rv?: string; result: ValidationResult }>();
  private conflicts?: Map<string, string[]>;
  private readonly perResource = new Map<string, { states: Record<string, number>; kinds: Record<string, number> }>();
  private readonly totals = { states: {} as Record<string, number>, kinds: {} as Record<string, number> };
  private idleWaiters: (() => void)[] = [];
  /** Counters for tests and benchmarks. */
  readonly stats = { batches: 0, evaluated: 0, statusWrites: 0, repairs: 0, gatherMs: 0, evaluateMs: 0, renderMs: 0, writeMs: 0 };

  constructor(private readonly opts: ControllerOptions) {
    this.log = opts.logger;
    this.metrics = opts.metrics ?? new OperatorMetrics(false);
    const kc = opts.kubeConfig;
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.statusWriter = new StatusWriter(kc);
    this.events = new EventRecorder({ kubeConfig: kc, instance: opts.identity, namespace: opts.eventNamespace, logger: this.log });
    const core = kc.makeApiClient(CoreV1Api);
    const mk = <T extends KubeObject>(r: ResourceName | 'nodes'): Informer<T> => {
      const name = r === 'nodes' ? 'nodes' : r.plural;
      return new Informer<T>({
        kubeConfig: kc,
        path: r === 'nodes' ? '/api/v1/nodes' : collectionPath(r),
        list: r === 'nodes' ? () => core.listNode() as Promise<any> : () => this.custom.listClusterCustomObject({ group: r.group, version: r.version, plural: r.plural }) as Promise<any>,
        ...(opts.informer ?? {}),
        logger: this.log.child({ informer: name }),
        onRelist: (reason) => this.metrics.kubeRelists.inc({ resource: name, reason }),
        onWatchRestart: (reason) => this.metrics.kubeWatchRestarts.inc({ resource: name, reason }),
      });
    };
    this.routes = mk<PCR>(PODCIDRROUTES);
    this.policies = mk<TNTP>(TUNNELNOTRACKPOLICIES);
    this.nodeStates = mk<KubeObject>(NODENOTRACKSTATES);
    this.nodes = mk<KubeObject>('nodes');
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
        onStoppedLeading: () => this.metrics.clearLeaderGauges(),
      });
    } else {
      this.metrics.leader.set(1);
    }
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  async start(): Promise<void> {
    this.routes.on((ev, obj, old) => this.onRouteEvent(ev, obj, old));
    this.policies.on(() => this.markPolicies());
    this.nodeStates.on(() => this.markPolicies());
    this.nodes.on((ev, obj, old) => {
      if (ev !== 'update' || JSON.stringify(obj.metadata?.labels ?? {}) !== JSON.stringify(old?.metadata?.labels ?? {})) this.markPolicies();
    });
    for (const inf of [this.routes, this.policies, this.nodeStates, this.nodes]) await inf.start();
    this.elector?.start();
    void this.openLoop('NB');
    void this.openLoop('SB');
    const resyncMs = this.opts.resyncMs ?? 300_000;
    if (resyncMs > 0) {
      this.resyncTimer = setInterval(() => {
        this.log.debug('periodic resync');
        this.markAll();
      }, resyncMs);
      this.resyncTimer.unref?.();
    }
  }

  /** Stop writing at once, release the Lease (hand-over), stop informers, close the databases. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.resyncTimer);
    clearTimeout(this.policyRecheckTimer);
    await this.elector?.release();
    this.metrics.clearLeaderGauges();
    for (const inf of [this.routes, this.policies, this.nodeStates, this.nodes]) inf.stop();
    await Promise.race([this.running ?? Promise.resolve(), sleep(5000, undefined, { ref: false })]); // unref'd: must not hold the process after SIGTERM
    await Promise.all([this.nb?.close(), this.sb?.close()]);
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Crash-like stop for tests: no Lease release. */
  async kill(): Promise<void> {
    this.elector?.stop();
    this.stopped = true;
    clearInterval(this.resyncTimer);
    clearTimeout(this.policyRecheckTimer);
    for (const inf of [this.routes, this.policies, this.nodeStates, this.nodes]) inf.stop();
    await Promise.all([this.nb?.close(), this.sb?.close()]);
  }

  isLeader(): boolean {
    if (this.stopped) return false;
    return this.elector ? this.elector.isLeader() : true;
  }

  readiness(): Readiness {
    const checks: Record<string, string> = {};
    for (const [name, inf] of [['podcidrroutes', this.routes], ['tunnelnotrackpolicies', this.policies], ['nodenotrackstates', this.nodeStates], ['nodes', this.nodes]] as const) {
      checks[`informer:${name}`] = inf.hasSynced() ? 'ok' : `not synced${inf.lastError ? `: ${inf.lastError.message}` : ''}`;
    }
    for (const [which, db] of [['NB', this.nb], ['SB', this.sb]] as const) {
      const s = db?.status();
      checks[`ovsdb:${which}`] = !s ? `not connected${this.openError[which] ? `: ${this.openError[which]}` : ''}` : !s.connected ? 'disconnected' : s.stale ? 'stale (follower cut off from its cluster)' : 'ok';
    }
    checks.leader = this.isLeader() ? 'leader' : `standby${this.elector?.leader() ? ` (leader: ${this.elector.leader()})` : ''}`;
    const ready = Object.entries(checks).every(([k, v]) => k === 'leader' || v === 'ok');
    return { ready, checks };
  }

  /** Resolves when no reconcile is queued or running (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.scheduled || this.running || this.dirty.size > 0 || this.policiesDirty) {
      await new Promise<void>((ok) => this.idleWaiters.push(ok));
    }
  }

  /** The databases (for tests and the bench, which measure against the same replicas). */
  databases(): { nb?: Database; sb?: Database } {
    return { nb: this.nb, sb: this.sb };
  }

  // ---- OVSDB ----------------------------------------------------------------------------------

  private async openLoop(which: 'NB' | 'SB'): Promise<void> {
    const remote = which === 'NB' ? this.opts.nbRemote : this.opts.sbRemote;
    const backoff = this.opts.ovsdbBackoff ?? {};
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const db = await Database.open({
          remote,
          db: which === 'NB' ? 'OVN_Northbound' : 'OVN_Southbound',
          tables: which === 'NB' ? NB_TABLES : SB_TABLES,
          connectTimeoutMs: this.opts.connectTimeoutMs ?? 5000,
          ...(this.opts.tls ? { tls: this.opts.tls } : {}),
          ...(backoff.minMs ? { backoffMinMs: backoff.minMs } : {}),
          ...(backoff.maxMs ? { backoffMaxMs: backoff.maxMs } : {}),
          logger: this.log.child({ ovsdb: which }),
        });
        if (this.stopped) {
          await db.close();
          return;
        }
        this.attach(which, db);
        delete this.openError[which];
        this.log.info({ db: which, remote }, 'ovsdb replica connected');
        this.markAll();
        return;
      } catch (err) {
        const first = this.openError[which] === undefined;
        this.openError[which] = (err as Error).message;
        if (first) {
          this.log.warn({ db: which, remote, err: (err as Error).message, code: (err as { code?: string }).code }, 'cannot open ovsdb replica; retrying');
          this.markAll();
        }
        const min = backoff.minMs ?? 500;
        const max = backoff.maxMs ?? 10_000;
        await sleep(Math.min(max, min * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random() / 2));
      }
    }
  }

  private attach(which: 'NB' | 'SB', db: Database): void {
    const tables = (which === 'NB' ? NB_TABLES : SB_TABLES).map((t) => t.table);
    const reindex = () => {
      if (which === 'NB') this.nbIndex = new RowKeyIndex(db, tables);
      else this.sbIndex = new RowKeyIndex(db, tables);
    };
    if (which === 'NB') this.nb = db;
    else this.sb = db;
    reindex();
    const sync = () => {
      const s = db.status();
      this.metrics.ovsdbConnected.set({ db: which }, s.connected ? 1 : 0);
      this.metrics.ovsdbStale.set({ db: which }, s.stale ? 1 : 0);
    };
    sync();
    db.on('change', (changes: RowChange[]) => {
      (which === 'NB' ? this.nbIndex : this.sbIndex)?.apply(changes);
      this.onOvsdbChange(changes);
    });
    db.on('connected', () => {
      reindex();
      sync();
      this.metrics.ovsdbReconnects.inc({ db: which });
      this.log.info({ db: which }, 'ovsdb reconnected');
      this.markAll();
    });
    db.on('disconnected', (err?: Error) => {
      sync();
      this.log.warn({ db: which, err: err?.message }, 'ovsdb disconnected');
      this.markAll();
    });
    db.on('stale', () => {
      sync();
      this.markAll();
    });
  }

  private onOvsdbChange(changes: RowChange[]): void {
    const t = performance.now();
    const a = affectedBy(changes);
    if (a.all) return this.markAll(t);
    const names = this.index.lookup(a.keys);
    if (a.global) {
      // nb_cfg counters moved: only resources that currently show drift mention the lag
      for (const r of this.routes.list()) {
        const ready = this.previousStatus(r)?.conditions?.find((c) => c.type === 'Ready');
        if (ready && ready.status !== 'True') names.add(r.metadata.name);
      }
    }
    this.mark(names, t);
  }

  // ---- queue ----------------------------------------------------------------------------------

  private onRouteEvent(ev: string, obj: PCR, old?: PCR): void {
    const name = obj.metadata.name;
    if (ev === 'update' && old && old.metadata.generation === obj.metadata.generation && JSON.stringify(old.metadata.labels ?? {}) === JSON.stringify(obj.metadata.labels ?? {})) {
      return; // a status-only update (usually our own write): nothing to reconcile
    }
    this.conflicts = undefined;
    const names = new Set([name]);
    // resources sharing a prefix may gain or lose a conflict with this one
    const prefixKeys = (o?: PCR): Key[] => {
      try {
        return o?.spec ? specKeys(o.spec as never).filter((k) => k.startsWith('prefix:')) : [];
      } catch {
        return [];
      }
    };
    for (const n of this.index.lookup([...prefixKeys(obj), ...prefixKeys(old)])) names.add(n);
    this.mark(names);
  }

  mark(names: Iterable<string>, t?: number): void {
    for (const n of names) {
      const prior = this.dirty.get(n);
      this.dirty.set(n, prior === undefined ? t : t === undefined ? prior : Math.min(prior, t));
    }
    this.schedule();
  }

  markAll(t?: number): void {
    this.mark(
      this.routes.list().map((r) => r.metadata.name),
      t,
    );
    this.markPolicies();
  }

  private markPolicies(): void {
    this.policiesDirty = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.running = this.drain().finally(() => {
        this.running = undefined;
        if ((this.dirty.size > 0 || this.policiesDirty) && !this.stopped) this.schedule();
        else for (const w of this.idleWaiters.splice(0)) w();
      });
    });
  }

  private async drain(): Promise<void> {
    while (!this.stopped && (this.dirty.size > 0 || this.policiesDirty)) {
      if (!this.isLeader()) {
        // standby: nothing to write; becoming leader marks everything again
        this.dirty.clear();
        this.policiesDirty = false;
        return;
      }
      if (this.dirty.size > 0) {
        const batch = this.dirty;
        this.dirty = new Map();
        const end = this.metrics.reconcileDuration.startTimer({ resource: 'PodCIDRRoute' });
        try {
          await this.reconcileRoutes(batch);
        } catch (err) {
          this.log.error({ err }, 'reconcile failed; retrying');
          setTimeout(() => this.mark(batch.keys()), 1000).unref?.();
        }
        end();
      }
      if (this.policiesDirty) {
        this.policiesDirty = false;
        const end = this.metrics.reconcileDuration.startTimer({ resource: 'TunnelNoTrackPolicy' });
        try {
          await this.reconcilePolicies();
        } catch (err) {
          this.log.error({ err }, 'policy reconcile failed; retrying');
          setTimeout(() => this.markPolicies(), 1000).unref?.();
        }
        end();
      }
    }
  }

  // ---- PodCIDRRoute ---------------------------------------------------------------------------

  private validate(obj: PCR): ValidationResult {
    const cached = this.validated.get(obj.metadata.name);
    if (cached && cached.rv === String(obj.metadata.generation)) return cached.result;
    const result = validatePodCIDRRoute(obj);
    this.validated.set(obj.metadata.name, { rv: String(obj.metadata.generation), result });
    return result;
  }

  private conflictMap(): Map<string, string[]> {
    if (this.conflicts) return this.conflicts;
    const valid = this.routes.list().map((o) => this.validate(o).route).filter((r): r is PodCIDRRoute => r !== undefined);
    const m = new Map<string, string[]>();
    for (const c of findConflicts(valid)) m.set(c.route, [...(m.get(c.route) ?? []), `${c.field}: ${c.message}`]);
    this.conflicts = m;
    return m;
  }

  private previousStatus(obj: PCR): PodCIDRRouteStatus | undefined {
    const lw = this.lastWritten.get(obj.metadata.name);
    if (lw && newerRv(lw.rv, obj.metadata.resourceVersion)) return lw.status as PodCIDRRouteStatus;
    return obj.status;
  }

  /**
   * Reconcile in chunks of scoped reads: each chunk reads only the rows its resources depend on,
   * and the event loop gets a turn between chunks (OVSDB echo probes, watches, Lease renewals),
   * so a full resync of thousands of resources never stalls the process.
   */
  private async reconcileRoutes(batch: Map<string, number | undefined>): Promise<void> {
    const CHUNK = 64;
    if (batch.size <= CHUNK) return this.reconcileChunk(batch);
    const entries = [...batch];
    for (let i = 0; i < entries.length && !this.stopped; i += CHUNK) {
      await this.reconcileChunk(new Map(entries.slice(i, i + CHUNK)));
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  private async reconcileChunk(batch: Map<string, number | undefined>): Promise<void> {
    this.stats.batches++;
    this.opts.onReconcile?.([...batch.keys()]);
    const log = this.log.child({ reconcile: this.stats.batches });
    const now = new Date();
    const items: { name: string; obj: PCR; result: ValidationResult; conflicts: string[] }[] = [];
    const conflicts = this.conflictMap();
    for (const name of batch.keys()) {
      const obj = this.routes.get(name);
      if (!obj) {
        this.forget(name);
        continue;
      }
      items.push({ name, obj, result: this.validate(obj), conflicts: conflicts.get(name) ?? [] });
    }
    if (items.length === 0) return;
    const tg = performance.now();
    const valid = items.filter((i) => i.result.route).map((i) => i.result.route!);
    // a few dirty resources: read only the rows they can depend on; many: the whole replicas
    const scoped = this.nbIndex !== undefined && this.sbIndex !== undefined;
    const scope = scoped
      ? { nbIndex: this.nbIndex!, sbIndex: this.sbIndex!, prefixes: valid.flatMap((r) => r.spec.cidrs), nexthops: valid.map((r) => r.spec.nexthop) }
      : undefined;
    let views: Views = gatherViews(this.nb, this.sb, this.openError, scope);
    const te = performance.now();
    let evaluation: Evaluation | undefined = views.ok ? evaluate(valid, views.nb, views.sb, now) : undefined;
    const tr = performance.now();
    this.stats.gatherMs += te - tg;
    this.stats.evaluateMs += tr - te;
    this.stats.evaluated += valid.length;

    // Repair: only Repair-mode resources with drift a repair of the NB can fix, never conflicting ones.
    const repairs = new Map<string, { ok: boolean; changed: number; message: string; repairedPrefixes?: string[] }>();
    if (views.ok && evaluation) {
      const candidates = items
        .filter((i) => i.result.route && i.result.route.spec.remediation === 'Repair' && i.conflicts.length === 0)
        .filter((i) => evaluation!.findings.some((f) => f.route === i.name && REPAIRABLE.has(f.kind)))
        .map((i) => i.result.route!);
      if (candidates.length > 0) {
        const plan = planRepair(candidates, views.nb);
        for (const s of plan.skipped) log.info({ route: s.route, router: s.router, prefix: s.prefix, reason: s.reason }, 'repair skipped');
        if (plan.skipped.length > 0) this.metrics.repairs.inc({ result: 'skipped' }, plan.skipped.length);
        if (plan.operations.length > 0 && this.isLeader()) {
          const touchedBy = new Map<string, typeof plan.touched>();
          for (const t of plan.touched) touchedBy.set(t.route, [...(touchedBy.get(t.route) ?? []), t]);
          try {
            const res = await applyRepair(this.nb!, this.sb!, plan, { timeoutMs: this.opts.repairTimeoutMs ?? 5000 });
            this.stats.repairs++;
            this.metrics.repairs.inc({ result: 'applied' }, plan.touched.length);
            for (const [route, touched] of touchedBy) {
              const what = touched.map((t) => `${t.action} ${t.prefix} via ${t.to ?? t.from} on ${t.router}`).join('; ');
              repairs.set(route, { ok: true, changed: touched.length, message: `NB repaired: ${what}${res.sbSynced ? '' : ` (SB not caught up after ${res.waitedMs} ms)`}`, repairedPrefixes: touched.map((t) => t.prefix) });
              log.info({ route, changes: touched.length, sbSynced: res.sbSynced }, 'repaired');
            }
          } catch (err) {
            this.metrics.repairs.inc({ result: 'failed' }, plan.touched.length);
            const message = (err as Error).message;
            for (const route of touchedBy.keys()) repairs.set(route, { ok: false, changed: 0, message });
            log.warn({ err: message, code: (err as { code?: string }).code }, 'repair failed');
          }
          views = gatherViews(this.nb, this.sb, this.openError, scope);
          evaluation = views.ok ? evaluate(valid, views.nb, views.sb, new Date()) : undefined;
        }
      }
    }

    // Render and write.
    const byRoute = new Map<string, Finding[]>();
    const global: Finding[] = [];
    for (const f of evaluation?.findings ?? []) {
      if (f.route === '') global.push(f);
      else byRoute.set(f.route, [...(byRoute.get(f.route) ?? []), f]);
    }
    const observed = new Map<string, Map<string, { expected?: Finding['expected']; actual?: Finding['actual']; owned?: boolean }>>();
    for (const r of evaluation?.routes ?? []) {
      let m = observed.get(r.route);
      if (!m) observed.set(r.route, (m = new Map()));
      m.set(r.prefix, { expected: r.expected, actual: r.actual, owned: r.nb.some((x) => x.owner === r.route) });
    }
    const lag = evaluation ? Math.max(0, evaluation.summary.nbCfg - evaluation.summary.sbNbCfg) : undefined;
    if (lag !== undefined) this.metrics.northdLag.set(lag);
    const writes: (() => Promise<void>)[] = [];
    for (const it of items) {
      const { name, obj, result } = it;
      const route = result.route;
      const ev: RouteEvaluation = {
        prefixes: route?.spec.cidrs ?? [],
        remediation: route?.spec.remediation ?? 'Report',
        findings: [...(byRoute.get(name) ?? []), ...global],
        observed: observed.get(name),
        ...(lag !== undefined ? { northdLag: lag } : {}),
        ...(views.ok ? {} : { ovsdbUnavailable: views.reason }),
        ...(result.errors.length > 0 ? { invalid: result.errors } : {}),
        ...(it.conflicts.length > 0 ? { conflicts: it.conflicts } : {}),
        ...(repairs.has(name) ? { repair: repairs.get(name) } : {}),
      };
      const previous = this.previousStatus(obj);
      const next = renderStatus(previous, ev, obj.metadata.generation ?? 0, now);
      // index what this resource depends on, learned from OVN where possible
      if (route) {
        const keys = specKeys(route.spec);
        if (views.ok) for (const p of portsWithIp(views.nb, route.spec.nexthop)) keys.push(key('port', p.name));
        for (const o of observed.get(name)?.values() ?? []) {
          for (const e of [o.expected, o.actual]) {
            if (e?.hypervisor?.chassis) keys.push(key('chassis', e.hypervisor.chassis));
            for (const m of e?.ecmp ?? []) if (m.hypervisor?.chassis) keys.push(key('chassis', m.hypervisor.chassis));
          }
        }
        this.index.set(name, keys);
      }
      this.recordResourceMetrics(name, next, ev.findings);
      const events = plannedEvents(previous, next, repairs.get(name));
      if (statusEqual(previous, next) && events.length === 0) continue;
      const t0 = batch.get(name);
      writes.push(async () => {
        if (!this.isLeader()) return;
        if (!statusEqual(previous, next)) {
          try {
            const updated = await this.statusWriter.patch<PCR>(PODCIDRROUTES, name, previous, next);
            this.stats.statusWrites++;
            this.metrics.statusWrites.inc({ resource: 'PodCIDRRoute', result: 'ok' });
            if (updated) this.lastWritten.set(name, { status: updated.status ?? next, rv: updated.metadata.resourceVersion });
            if (t0 !== undefined) this.metrics.detectionLatency.observe((performance.now() - t0) / 1000);
          } catch (err) {
            if (err instanceof ApiException && err.code === 404) return this.forget(name);
            this.metrics.statusWrites.inc({ resource: 'PodCIDRRoute', result: 'error' });
            log.warn({ route: name, err: (err as Error).message }, 'status write failed; retrying');
            setTimeout(() => this.mark([name]), 1000).unref?.();
            return;
          }
        }
        for (const e of events) {
          if (!this.isLeader()) return;
          this.metrics.events.inc({ reason: e.reason });
          await this.events.record({
            regarding: { apiVersion: obj.apiVersion ?? 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', name, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
            ...e,
          });
        }
      });
    }
    this.updateAggregateMetrics();
    log.debug({ resources: items.length, writes: writes.length, scoped, findings: evaluation?.findings.length ?? 0 }, 'reconciled');
    const tw = performance.now();
    this.stats.renderMs += tw - tr;
    await pool(writes, this.opts.writeConcurrency ?? 16, (w) => w());
    this.stats.writeMs += performance.now() - tw;
  }

  private forget(name: string): void {
    this.index.delete(name);
    this.lastWritten.delete(name);
    this.validated.delete(name);
    this.dropResourceMetrics(name);
    this.conflicts = undefined;
    this.updateAggregateMetrics();
  }

  private recordResourceMetrics(name: string, status: PodCIDRRouteStatus, findings: Finding[]): void {
    const states: Record<string, number> = {};
    for (const r of status.routes ?? []) states[r.state] = (states[r.state] ?? 0) + 1;
    const kinds: Record<string, number> = {};
    for (const f of findings) if (f.route !== '') kinds[f.kind] = (kinds[f.kind] ?? 0) + 1;
    this.dropResourceMetrics(name);
    this.perResource.set(name, { states, kinds });
    for (const [k, v] of Object.entries(states)) this.totals.states[k] = (this.totals.states[k] ?? 0) + v;
    for (const [k, v] of Object.entries(kinds)) this.totals.kinds[k] = (this.totals.kinds[k] ?? 0) + v;
  }

  private dropResourceMetrics(name: string): void {
    const old = this.perResource.get(name);
    if (!old) return;
    for (const [k, v] of Object.entries(old.states)) this.totals.states[k] = (this.totals.states[k] ?? 0) - v;
    for (const [k, v] of Object.entries(old.kinds)) this.totals.kinds[k] = (this.totals.kinds[k] ?? 0) - v;
    this.perResource.delete(name);
  }

  /** Publish the running totals (kept incrementally: O(changed resources) per batch). */
  private updateAggregateMetrics(): void {
    for (const state of ['InSync', 'Drifted', 'Unknown']) this.metrics.routes.set({ state }, this.totals.states[state] ?? 0);
    for (const [kind, v] of Object.entries(this.totals.kinds)) {
      if (v > 0) this.metrics.findings.set({ kind }, v);
      else {
        this.metrics.findings.remove({ kind });
        delete this.totals.kinds[kind];
      }
    }
  }

  // ---- TunnelNoTrackPolicy --------------------------------------------------------------------

  private async reconcilePolicies(): Promise<void> {
    if (!this.policies.hasSynced() || !this.nodes.hasSynced() || !this.nodeStates.hasSynced()) return;
    const now = new Date();
    const nodes = this.nodes.list().map((n) => ({ name: n.metadata!.name!, labels: (n.metadata!.labels ?? {}) as Record<string, string>, creationTimestamp: n.metadata!.creationTimestamp as string | undefined }));
    const states = new Map<string, NodeNoTrackState>(this.nodeStates.list().map((s) => [s.metadata!.name!, s as unknown as NodeNoTrackState]));
    const writes: (() => Promise<void>)[] = [];
    const live = new Set<string>();
    let recheck: Date | undefined;
    for (const obj of this.policies.list()) {
      const name = obj.metadata.name;
      live.add(name);
      const v = validateTunnelNoTrackPolicy(obj);
      const lw = this.lastPolicyWritten.get(name);
      const previous = (lw && newerRv(lw.rv, obj.metadata.resourceVersion) ? lw.status : obj.status) as TunnelNoTrackPolicyStatus | undefined;
      // The API keeps no time for a spec change: remember when this generation was first seen. A
      // generation some earlier operator already observed gets no extra grace after a restart.
      const generation = obj.metadata.generation ?? 0;
      let seen = this.policyGenerationSince.get(name);
      if (!seen || seen.generation !== generation) {
        seen = { generation, since: seen || obj.status?.observedGeneration !== generation ? now : undefined };
        this.policyGenerationSince.set(name, seen);
      }
      const timing: PolicyTiming = { ...this.opts.policyTiming, generationSince: seen.since };
      const invalid = v.errors.length > 0 ? formatFieldErrors(name, v.errors) : undefined;
      const next = renderPolicyStatus(previous, obj as unknown as TunnelNoTrackPolicy, nodes, states, now, invalid, timing);
      const at = invalid ? undefined : nextPolicyRecheck(obj as unknown as TunnelNoTrackPolicy, nodes, states, now, timing);
      if (at && (!recheck || at < recheck)) recheck = at;
      if (statusEqual(previous, next)) continue;
      writes.push(async () => {
        if (!this.isLeader()) return;
        try {
          const updated = await this.statusWriter.patch<TNTP>(TUNNELNOTRACKPOLICIES, name, previous, next);
          this.metrics.statusWrites.inc({ resource: 'TunnelNoTrackPolicy', result: 'ok' });
          if (updated) this.lastPolicyWritten.set(name, { status: updated.status ?? next, rv: updated.metadata.resourceVersion });
        } catch (err) {
          if (err instanceof ApiException && err.code === 404) return;
          this.metrics.statusWrites.inc({ resource: 'TunnelNoTrackPolicy', result: 'error' });
          this.log.warn({ policy: name, err: (err as Error).message }, 'policy status write failed; retrying');
          setTimeout(() => this.markPolicies(), 1000).unref?.();
        }
      });
    }
    for (const n of [...this.lastPolicyWritten.keys()]) if (!live.has(n)) this.lastPolicyWritten.delete(n);
    for (const n of [...this.policyGenerationSince.keys()]) if (!live.has(n)) this.policyGenerationSince.delete(n);
    // Staleness is a matter of time, not of a watch event: re-evaluate exactly when the next report
    // goes stale or a missing-agent grace ends (the periodic resync, 5 min by default, would notice
    // up to a whole resync late, and is off in tests).
    clearTimeout(this.policyRecheckTimer);
    this.policyRecheckTimer = undefined;
    if (recheck && !this.stopped) {
      const delay = Math.min(2 ** 31 - 1, Math.max(0, recheck.getTime() - Date.now()) + 10);
      this.policyRecheckTimer = setTimeout(() => this.markPolicies(), delay);
      this.policyRecheckTimer.unref?.();
    }
    await pool(writes, this.opts.writeConcurrency ?? 16, (w) => w());
  }
}
