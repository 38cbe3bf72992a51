// The PodCIDRRoute reconciler: a key (resource name) in, a result out. Level-based: it re-reads the
// resource from the informer cache and the NB/SB replicas (scoped to what the resource depends on),
// evaluates, repairs owned NB rows in Repair mode, renders status, and writes /status and Events
// only when something changed. A repair never blocks: the NB transaction is committed, and the key
// comes back (requeueAfter) until the SB reflects it or the bound passes. Deletion with
// spec.deletionPolicy Delete goes through a finalizer that removes the owned NB rows.
// Errors: a 422 (the API refuses the status) is terminal until the next change; any other error
// is retried by the queue with per-key backoff. I/O only through operator/kube and ovn/connect.
import { performance } from 'node:perf_hooks';
import { ApiException } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { applyRepair } from '../ovn/connect.js';
import type { NbView } from '../ovn/nb.js';
import type { SbView } from '../ovn/sb.js';
import { routeDependencyKeys } from '../ovn/identities.js';
import { evaluate, planRepair, type Evaluation, type Finding } from '../drift/index.js';
import { isRepairable } from '../drift/repair.js';
import { planRemoval } from '../drift/removal.js';
import { outlastedWindow, settle, type SettleMemory } from '../drift/settle.js';
import { findConflicts, validatePodCIDRRoute, type PodCIDRRoute, type ValidationResult } from '../api/podcidrroute.js';
import { PODCIDRROUTES } from '../api/crds.js';
import type { PodCIDRRouteStatus } from '../api/status.js';
import { renderStatus, statusEqual, type RouteEvaluation } from './status.js';
import type { KubeObject } from '../kube/informer.js';
import type { StatusWriter } from '../kube/status.js';
import { WrittenCache } from '../kube/written.js';
import type { EventRecorder } from '../kube/events.js';
import type { Finalizers } from '../kube/finalizers.js';
import { key, specKeys, type AffectedIndex } from './affected.js';
import { gatherViews, ownedRoutesView, type Views } from './gather.js';
import { plannedEvents } from './events.js';
import type { OperatorMetrics } from './metrics.js';
import { TerminalError, type ReconcileResult } from './queue.js';
import type { Replicas } from './replicas.js';

export type PCR = KubeObject & {
  spec?: Record<string, unknown>;
  status?: PodCIDRRouteStatus;
  metadata: { name: string; generation?: number; resourceVersion?: string; uid?: string; finalizers?: string[]; deletionTimestamp?: string };
};

export interface RouteReconcilerDeps {
  get(name: string): PCR | undefined;
  list(): PCR[];
  replicas: Replicas;
  statusWriter: StatusWriter;
  events: EventRecorder;
  finalizers: Finalizers;
  index: AffectedIndex;
  metrics: OperatorMetrics;
  isLeader(): boolean;
  logger: Logger;
  /** Bound on waiting for the SB to reflect a repair (default 5 s). */
  repairTimeoutMs?: number;
  /** Settle window for flow findings without evidence that northd is behind (default 10 s; 0 = off). */
  settleMs?: number;
  /** A nexthop's chassis that has not confirmed the newest nb_cfg this long is down (default 60 s). */
  chassisDownAfterMs?: number;
  /** How long a deleted resource waits for OVN before its finalizer is dropped anyway (default 5 min). */
  finalizerTimeoutMs?: number;
  onReconcile?: (names: string[]) => void;
  /**
   * Shard: whether the SB replica already holds the Logical_Flow rows of this router (see
   * controller/shard.ts). Until it does, the resource is not evaluated: no flow would read as missing.
   */
  covers?(router: string): boolean;
}

/** A repair committed to the NB and not yet reflected by the SB. */
interface PendingRepair {
  target: number;
  startedMs: number;
  changed: number;
  message: string;
  repairedPrefixes: string[];
}

/** What `views` holds once it is no longer read (see reconcile). */
const UNREAD: Views = { ok: false, reason: 'released' };

/** How often a key waiting for the SB after a repair looks again. */
const REPAIR_POLL_MS = 50;

/** How often a shard's resource looks again while its router's flows are not followed yet (a safety net: ShardFlows marks it). */
const SHARD_WAIT_MS = 1000;

function isStatus(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

export class RouteReconciler {
  private readonly lastWritten = new WrittenCache<PodCIDRRouteStatus | undefined>();
  private readonly validated = new Map<string, { generation?: number; result: ValidationResult }>();
  private conflicts?: Map<string, string[]>;
  private readonly pending = new Map<string, PendingRepair>();
  /** Resources whose last reported state was drift (for DriftResolved across unavailable spells). */
  private readonly drifted = new Set<string>();
  /** Settle-window memory per resource (prefix -> since when its flow finding is seen). */
  private readonly settling = new Map<string, SettleMemory>();
  /** When each key was first marked since it was last reconciled (detection latency). */
  private readonly markedAt = new Map<string, number>();
  private readonly perResource = new Map<string, { states: Record<string, number>; kinds: Record<string, number> }>();
  private readonly totals = { states: {} as Record<string, number>, kinds: {} as Record<string, number> };
  readonly stats = { batches: 0, evaluated: 0, statusWrites: 0, repairs: 0, gatherMs: 0, evaluateMs: 0, renderMs: 0, writeMs: 0 };

  private readonly evalOpts: { chassisDownAfterMs?: number };

  constructor(private readonly deps: RouteReconcilerDeps) {
    this.evalOpts = deps.chassisDownAfterMs !== undefined ? { chassisDownAfterMs: deps.chassisDownAfterMs } : {};
  }

  /** Remember when a change that concerns `name` was seen (the earliest one counts). */
  marked(name: string, t: number): void {
    if (!this.markedAt.has(name)) this.markedAt.set(name, t);
  }

  /** The informer shows `resourceVersion` for `name`: a written status it holds need not be kept. */
  observed(name: string, resourceVersion: string | undefined): void {
    this.lastWritten.observe(name, resourceVersion);
  }

  /** The spec changed somewhere: conflicts between resources must be recomputed. */
  specsChanged(): void {
    this.conflicts = undefined;
  }

  /** Clear what this replica published (it lost the Lease, or stops). */
  clearMetrics(): void {
    for (const name of [...this.perResource.keys()]) this.dropResourceMetrics(name);
    this.updateAggregateMetrics();
  }

  private validate(obj: PCR): ValidationResult {
    const cached = this.validated.get(obj.metadata.name);
    if (cached && cached.generation === obj.metadata.generation) return cached.result;
    const result = validatePodCIDRRoute(obj);
    this.validated.set(obj.metadata.name, { generation: obj.metadata.generation, result });
    return result;
  }

  private conflictMap(): Map<string, string[]> {
    if (this.conflicts) return this.conflicts;
    const valid = this.deps.list().map((o) => this.validate(o).route).filter((r): r is PodCIDRRoute => r !== undefined);
    const m = new Map<string, string[]>();
    for (const c of findConflicts(valid)) m.set(c.route, [...(m.get(c.route) ?? []), `${c.field}: ${c.message}`]);
    this.conflicts = m;
    return m;
  }

  /**
   * Our last write wins over an informer copy that has not caught up with it yet. resourceVersions
   * are opaque: the only question is whether the cache still shows the version we wrote over.
   */
  private previousStatus(obj: PCR): PodCIDRRouteStatus | undefined {
    return this.lastWritten.current(obj.metadata.name, obj.metadata.resourceVersion, obj.status);
  }

  async reconcile(name: string): Promise<ReconcileResult | void> {
    const deps = this.deps;
    this.stats.batches++;
    deps.onReconcile?.([name]);
    const obj = deps.get(name);
    if (!obj) {
      this.forget(name);
      return;
    }
    if (!deps.isLeader()) return; // standby: becoming leader re-queues everything
    const log = deps.logger.child({ route: name, reconcile: this.stats.batches });
    const result = this.validate(obj);
    const route = result.route;
    if (obj.metadata.deletionTimestamp) return this.finalize(obj, log);
    await this.keepFinalizer(obj, route);

    if (route && deps.covers && !deps.covers(route.spec.router)) return { requeueAfterMs: SHARD_WAIT_MS };

    const now = new Date();
    const conflicts = this.conflictMap().get(name) ?? [];
    const { replicas } = deps;
    const tg = performance.now();
    const scope =
      route && replicas.nbIndex && replicas.sbIndex
        ? { nbIndex: replicas.nbIndex, sbIndex: replicas.sbIndex, prefixes: route.spec.cidrs, nexthops: [route.spec.nexthop], routers: [route.spec.router] }
        : undefined;
    const read = () => gatherViews(replicas.nb, replicas.sb, replicas.openError, scope);
    let views = read();
    const te = performance.now();
    let evaluation: Evaluation | undefined = views.ok && route ? evaluate([route], views.nb, views.sb, now, this.evalOpts) : undefined;
    const tr = performance.now();
    this.stats.gatherMs += te - tg;
    this.stats.evaluateMs += tr - te;
    if (route) this.stats.evaluated++;

    // Repair: Repair mode, drift an NB repair can fix (ConflictingRoute too when adopting, exactly
    // as `check --repair --adopt`), never while another resource claims the same prefix.
    let repair: RouteEvaluation['repair'];
    const pending = this.pending.get(name);
    if (pending) {
      const sbNbCfg = views.ok ? views.sb.nbCfg : -1;
      const waited = Date.now() - pending.startedMs;
      if (sbNbCfg < pending.target && waited < (deps.repairTimeoutMs ?? 5000)) return { requeueAfterMs: REPAIR_POLL_MS };
      this.pending.delete(name);
      const late = sbNbCfg < pending.target ? ` (SB not caught up after ${waited} ms)` : '';
      repair = { ok: true, changed: pending.changed, message: `${pending.message}${late}`, repairedPrefixes: pending.repairedPrefixes };
      log.info({ changes: pending.changed, sbSynced: late === '', waitedMs: waited }, 'repair confirmed');
    } else if (views.ok && evaluation && route && route.spec.remediation === 'Repair' && conflicts.length === 0) {
      const repairable = (f: Finding) => isRepairable(f.kind, route.spec.adopt === true);
      if (evaluation.findings.some((f) => f.route === name && repairable(f))) {
        const plan = planRepair([route], views.nb, { adopt: route.spec.adopt === true });
        for (const s of plan.skipped) log.info({ router: s.router, prefix: s.prefix, reason: s.reason }, 'repair skipped');
        if (plan.skipped.length > 0) deps.metrics.repairs.inc({ result: 'skipped' }, plan.skipped.length);
        if (plan.operations.length > 0) {
          const what = plan.touched.map((t) => `${t.action} ${t.prefix} via ${t.to ?? t.from} on ${t.router}`).join('; ');
          try {
            const res = await applyRepair(replicas.nb!, replicas.sb!, plan, { timeoutMs: 0 });
            this.stats.repairs++;
            deps.metrics.repairs.inc({ result: 'applied' }, plan.touched.length);
            this.pending.set(name, { target: res.nbCfg ?? 0, startedMs: Date.now(), changed: plan.touched.length, message: `NB repaired: ${what}`, repairedPrefixes: plan.touched.map((t) => t.prefix) });
            log.info({ changes: plan.touched.length }, 'repaired; waiting for the SB');
            return { requeueAfterMs: REPAIR_POLL_MS };
          } catch (err) {
            deps.metrics.repairs.inc({ result: 'failed' }, plan.touched.length);
            repair = { ok: false, changed: 0, message: (err as Error).message };
            log.warn({ err: (err as Error).message, code: (err as { code?: string }).code }, 'repair failed');
            views = read();
            evaluation = views.ok ? evaluate([route], views.nb, views.sb, new Date(), this.evalOpts) : undefined;
          }
        }
      }
    }

    // Flow findings with no evidence that northd is behind are Pending until the window passes.
    let findings = evaluation?.findings ?? [];
    let settlingPrefixes: Map<string, Finding[]> | undefined;
    let settleAt: number | undefined;
    if (evaluation && route) {
      const memory = this.settling.get(name) ?? new Map();
      this.settling.set(name, memory);
      const byPrefix = (p: string) => findings.filter((f) => f.route === name && f.prefix === p);
      const nowMs = Date.now();
      const windowMs = deps.settleMs ?? 10_000;
      const result = settle(route.spec.cidrs.map((p) => ({ key: p, findings: byPrefix(p) })), memory, nowMs, windowMs);
      for (const k of [...memory.keys()]) if (!route.spec.cidrs.includes(k)) memory.delete(k);
      // an NB route with no flow for longer than the window: evidence northd is behind, since then
      const evidence = route.spec.cidrs.map((p) => outlastedWindow(byPrefix(p), memory.get(p), nowMs, windowMs)).filter((x): x is Finding => x !== undefined);
      if (evidence.length > 0) findings = [...findings, ...evidence];
      if (result.pending.size > 0) {
        settlingPrefixes = new Map([...result.pending].map((p) => [p, byPrefix(p)]));
        findings = findings.filter((f) => !(f.route === name && result.pending.has(f.prefix)));
        settleAt = result.nextAtMs;
      }
    }
    const observed = new Map<string, { expected?: Finding['expected']; actual?: Finding['actual']; owned?: boolean }>();
    for (const r of evaluation?.routes ?? []) observed.set(r.prefix, { expected: r.expected, actual: r.actual, owned: r.nb.some((x) => x.owner === name) });
    const undecided = new Map<string, string>();
    for (const r of evaluation?.routes ?? []) if (r.state === 'Unknown' && r.reason && r.kinds.length === 0) undecided.set(r.prefix, r.reason);
    const lag = evaluation ? Math.max(0, evaluation.summary.nbCfg - evaluation.summary.sbNbCfg) : undefined;
    if (lag !== undefined) deps.metrics.northdLag.set(lag);
    const ev: RouteEvaluation = {
      prefixes: route?.spec.cidrs ?? [],
      remediation: route?.spec.remediation ?? 'Report',
      adopt: route?.spec.adopt === true,
      findings,
      observed,
      ...(undecided.size > 0 ? { undecided } : {}),
      ...(lag !== undefined ? { northdLag: lag } : {}),
      ...(views.ok ? {} : { ovsdbUnavailable: views.reason }),
      ...(result.errors.length > 0 ? { invalid: result.errors } : {}),
      ...(conflicts.length > 0 ? { conflicts } : {}),
      ...(repair ? { repair } : {}),
      ...(settlingPrefixes ? { pending: settlingPrefixes } : {}),
    };
    const previous = this.previousStatus(obj);
    const next = renderStatus(previous, ev, obj.metadata.generation ?? 0, now);
    if (route) this.indexDependencies(name, route, views.ok ? views : undefined, observed);
    this.recordResourceMetrics(name, next, findings);
    this.updateAggregateMetrics();
    const events = plannedEvents(previous, next, repair, this.drifted.has(name));
    // Nothing below reads the views or the evaluation: drop them before awaiting the API server.
    // A suspended async function keeps its locals; with 8 workers waiting on status writes, every
    // reconcile's scoped views outlived two scavenges and were promoted, so the initial sync filled
    // the old generation with garbage (issue 14: RSS after sync).
    views = UNREAD;
    evaluation = undefined;
    const tw = performance.now();
    this.stats.renderMs += tw - tr;
    try {
      if (!statusEqual(previous, next)) await this.writeStatus(obj, previous, next);
      for (const e of events) {
        if (!deps.isLeader() || !deps.get(name)) return;
        deps.metrics.events.inc({ reason: e.reason });
        await deps.events.record({
          regarding: { apiVersion: obj.apiVersion ?? 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', name, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
          ...e,
        });
        if (e.reason === 'DriftDetected') this.drifted.add(name);
        if (e.reason === 'DriftResolved') this.drifted.delete(name);
      }
    } finally {
      this.stats.writeMs += performance.now() - tw;
    }
    const t0 = this.markedAt.get(name);
    this.markedAt.delete(name);
    if (t0 !== undefined && !statusEqual(previous, next)) deps.metrics.detectionLatency.observe((performance.now() - t0) / 1000);
    log.debug({ findings: findings.length, pending: settlingPrefixes?.size ?? 0, scoped: scope !== undefined }, 'reconciled');
    if (settleAt !== undefined) return { requeueAfterMs: Math.max(0, settleAt - Date.now()) + 10 };
  }

  private async writeStatus(obj: PCR, previous: PodCIDRRouteStatus | undefined, next: PodCIDRRouteStatus): Promise<void> {
    const name = obj.metadata.name;
    if (!this.deps.isLeader()) return;
    // sharding: the resource left this shard (its label changed) while it was being reconciled
    if (!this.deps.get(name)) return;
    try {
      const updated = await this.deps.statusWriter.patch<PCR>(PODCIDRROUTES, name, previous, next);
      this.stats.statusWrites++;
      this.deps.metrics.statusWrites.inc({ resource: 'PodCIDRRoute', result: 'ok' });
      // remembered only while the informer still shows the version written over: when its event
      // for the write came before the answer, nothing is left to bridge (and nothing would drop it)
      if (updated && this.deps.get(name)?.metadata.resourceVersion === obj.metadata.resourceVersion) {
        this.lastWritten.remember(name, obj.metadata.resourceVersion, updated.metadata.resourceVersion, updated.status ?? next);
      }
    } catch (err) {
      if (isStatus(err, 404)) return this.forget(name);
      this.deps.metrics.statusWrites.inc({ resource: 'PodCIDRRoute', result: 'error' });
      if (isStatus(err, 422)) throw new TerminalError(`the API refused the status of PodCIDRRoute ${name}: ${(err as Error).message}`, { cause: err });
      throw err;
    }
  }

  /** Index what this resource depends on, learned from OVN where possible. */
  private indexDependencies(name: string, route: PodCIDRRoute, views: { nb: NbView; sb: SbView } | undefined, observed: Map<string, { expected?: Finding['expected']; actual?: Finding['actual'] }>): void {
    const keys = specKeys(route.spec);
    if (views) keys.push(...routeDependencyKeys(views.nb, views.sb, route.spec.router, route.spec.nexthop));
    for (const o of observed.values()) {
      for (const e of [o.expected, o.actual]) {
        if (e?.hypervisor?.chassis) keys.push(key('chassis', e.hypervisor.chassis));
        for (const m of e?.ecmp ?? []) if (m.hypervisor?.chassis) keys.push(key('chassis', m.hypervisor.chassis));
      }
    }
    this.deps.index.set(name, keys);
  }

  /** Repair mode with deletionPolicy Delete keeps a finalizer; anything else carries none of ours. */
  private async keepFinalizer(obj: PCR, route: PodCIDRRoute | undefined): Promise<void> {
    const f = this.deps.finalizers;
    if (!route) return; // an invalid spec: leave the finalizers as they are
    const policy = (route.spec as { deletionPolicy?: string }).deletionPolicy ?? obj.spec?.deletionPolicy;
    const want = route.spec.remediation === 'Repair' && policy === 'Delete';
    if (want && !f.has(obj)) await f.add(obj);
    else if (!want && f.has(obj)) await f.remove(obj);
  }

  /**
   * A deleted resource with our finalizer: remove the NB rows it owns in one guarded transaction,
   * then the finalizer. While OVN is unreachable the key is retried; past finalizerTimeoutMs the
   * finalizer is removed anyway with a Warning Event naming what was left behind.
   */
  private async finalize(obj: PCR, log: Logger): Promise<ReconcileResult | void> {
    const deps = this.deps;
    const name = obj.metadata.name;
    if (!deps.finalizers.has(obj)) return;
    const { replicas } = deps;
    // only the routes it owns and their routers: a whole NB view costs seconds at field scale
    const views = ownedRoutesView(replicas.nb, replicas.sb, replicas.openError, replicas.nbIndex, name);
    const regarding = { apiVersion: obj.apiVersion ?? 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', name, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion };
    if (views.ok && !views.nb.stale) {
      const plan = planRemoval(name, views.nb);
      if (plan.operations.length > 0) {
        await applyRepair(replicas.nb!, replicas.sb!, plan, { timeoutMs: 0 });
        const what = plan.rows.map((r) => `${r.prefix} via ${r.nexthop} on ${r.router}`).join('; ');
        log.info({ rows: plan.rows.length }, 'removed owned NB routes of a deleted resource');
        deps.metrics.events.inc({ reason: 'RoutesRemoved' });
        await deps.events.record({ regarding, type: 'Normal', reason: 'RoutesRemoved', action: 'Delete', note: `deletionPolicy Delete: removed ${plan.rows.length} owned NB route(s): ${what}` });
      }
      await deps.finalizers.remove(obj);
      this.forget(name);
      return;
    }
    const since = Date.parse(obj.metadata.deletionTimestamp!);
    const limit = deps.finalizerTimeoutMs ?? 300_000;
    const waited = Date.now() - (Number.isFinite(since) ? since : Date.now());
    const reason = views.ok ? `the NB replica is stale: ${views.nb.stale}` : views.reason;
    if (waited < limit) {
      log.warn({ reason, waitedMs: waited }, 'cannot remove owned NB routes yet; retrying');
      throw new Error(`cannot remove the NB routes PodCIDRRoute ${name} owns: ${reason}`);
    }
    const left = (obj.status?.routes ?? []).filter((r) => r.owned).map((r) => r.prefix);
    const note = `OVN unreachable for ${Math.round(waited / 1000)}s (${reason}): finalizer removed, NB routes owned by ${name} left behind${left.length > 0 ? `: ${left.join(', ')}` : ''} (find them with ovn-nbctl find Logical_Router_Static_Route external_ids:ovndrift.io/owner=${name})`;
    deps.metrics.events.inc({ reason: 'RoutesLeftBehind' });
    await deps.events.record({ regarding, type: 'Warning', reason: 'RoutesLeftBehind', action: 'Delete', note });
    await deps.finalizers.remove(obj);
    this.forget(name);
  }

  forget(name: string): void {
    this.deps.index.delete(name);
    this.lastWritten.forget(name);
    this.validated.delete(name);
    this.pending.delete(name);
    this.drifted.delete(name);
    this.settling.delete(name);
    this.markedAt.delete(name);
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

  /** Publish the running totals (kept incrementally: O(1) per reconciled resource). */
  private updateAggregateMetrics(): void {
    const m = this.deps.metrics;
    for (const state of ['InSync', 'Drifted', 'Pending', 'Unknown']) m.routes.set({ state }, this.totals.states[state] ?? 0);
    for (const [kind, v] of Object.entries(this.totals.kinds)) {
      if (v > 0) m.findings.set({ kind }, v);
      else {
        m.findings.remove({ kind });
        delete this.totals.kinds[kind];
      }
    }
  }
}
