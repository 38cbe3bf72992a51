// One NOTRACK agent pass and the keep-it-so loop: gather (read the raw table of each family, one
// process each) -> decide (render.ts, pure) -> apply (one iptables-restore --noflush per family) ->
// clear conntrack for newly exempted ports -> report. Inputs (policies, node labels) are handed in
// by the caller (file mode or cluster mode). Must not import kube or ovsdb modules.
import type { Logger } from 'pino';
import { k8sTime, mergeConditions } from '../api/conditions.js';
import { Ready } from '../api/status.js';
import type { IpFamily, NodeNoTrackStateStatus, ValidPolicy } from '../api/tunnelnotrackpolicy.js';
import { AgentError, asAgentError } from './errors.js';
import { backoffDelay } from '../runtime/backoff.js';
import { RawTable, clearConntrack, detectBackend, type Backend, type CommandRunner } from './iptables.js';
import type { AgentMetrics } from './metrics.js';
import { FAMILIES, parseRawTable, planCleanup, planFamily, renderRuleset, type DriftKind, type Family, type Ruleset } from './render.js';

export interface PassInput {
  policies: ValidPolicy[];
  /** Messages for TunnelNoTrackPolicies that failed validation: the pass then changes nothing new. */
  invalid: string[];
  nodeLabels: Record<string, string>;
}

export type PassOutcome = 'InSync' | 'Applied' | 'Repaired' | 'Removed' | 'InvalidInput' | 'IptablesFailed';

export interface FamilyResult {
  family: Family;
  drift: DriftKind[];
  rules: number;
  changed: boolean;
  /** The table had drifted from the ruleset applied before (not a policy change). */
  repaired: boolean;
  error?: string;
}

export interface PassResult {
  outcome: PassOutcome;
  /** The ruleset the pass enforced (the last good one when the input was invalid), if any. */
  ruleset?: Ruleset;
  families: FamilyResult[];
  conntrackDeleted: number;
  /** Input errors (invalid policies). */
  invalid: string[];
  /** First runtime error, if any. */
  error?: AgentError;
  /** Non-fatal problems (conntrack not cleared, stale rules in the other backend). */
  warnings: string[];
  /** iptables commands of the other backend that failed (also in warnings): `--once` exits 2. */
  otherBackendErrors?: AgentError[];
}

export interface NoTrackAgentOptions {
  runner: CommandRunner;
  /** A fixed backend, or `auto`: detected on the first pass that can (retried until it succeeds). */
  backend: Backend | 'auto';
  logger: Logger;
  metrics: AgentMetrics;
  /** Families the agent manages; default both. */
  families?: Family[];
}

const REPAIR_LOG = 'NOTRACK drift repaired';

export class NoTrackAgent {
  private chosen?: Backend;
  private tables = new Map<Family, RawTable>();
  private lastGood?: ValidPolicy[];
  /** Per family: the chain rules last applied (to tell a policy change from drift). */
  private readonly applied = new Map<Family, string>();
  private otherBackendChecked = false;
  lastResult?: PassResult;

  constructor(private readonly opts: NoTrackAgentOptions) {
    if (opts.backend !== 'auto') this.use(opts.backend);
  }

  /** The iptables backend in use; undefined until detection succeeded. */
  get backend(): Backend | undefined {
    return this.chosen;
  }

  private use(backend: Backend): void {
    this.chosen = backend;
    this.tables = new Map((this.opts.families ?? FAMILIES).map((f) => [f, new RawTable(this.opts.runner, f, backend)]));
  }

  /** Detects the backend if not known yet; an error here (iptables missing) fails the pass. */
  private async ensureBackend(): Promise<void> {
    if (this.chosen) return;
    const d = await detectBackend(this.opts.runner);
    this.use(d.backend);
    this.opts.logger.info({ backend: d.backend, reason: d.reason, where: this.opts.runner.where }, 'iptables backend detected');
  }

  /** One level-based pass: re-reads the raw tables, never relies on what the last pass saw. */
  async pass(input: PassInput): Promise<PassResult> {
    const end = this.opts.metrics.checkDuration.startTimer();
    const log = this.opts.logger;
    const result: PassResult = { outcome: 'InSync', families: [], conntrackDeleted: 0, invalid: input.invalid, warnings: [] };
    let policies: ValidPolicy[] | undefined = input.policies;
    const labels = input.nodeLabels;
    if (input.invalid.length > 0) {
      for (const m of input.invalid) log.error({ reason: m }, 'TunnelNoTrackPolicy rejected');
      this.opts.metrics.errors.inc({ code: 'PolicyInvalid' });
      // Keep enforcing the last valid set of policies (node labels are current); never apply a
      // partial new set.
      policies = this.lastGood;
    }
    if (policies) result.ruleset = renderRuleset(policies, labels);

    try {
      await this.ensureBackend();
    } catch (err) {
      const e = asAgentError(err);
      result.error = e;
      result.outcome = input.invalid.length > 0 ? 'InvalidInput' : 'IptablesFailed';
      this.opts.metrics.errors.inc({ code: e.code });
      log.error({ code: e.code, err: e.message }, 'iptables backend not detected; nothing changed');
      end();
      this.lastResult = result;
      return result;
    }

    if (!this.otherBackendChecked) {
      this.otherBackendChecked = true;
      await this.removeFromOtherBackend(result);
    }

    if (result.ruleset) {
      const ruleset = result.ruleset;
      const perFamily = await Promise.all([...this.tables.values()].map((t) => this.syncFamily(t, ruleset, result)));
      result.families = perFamily;
    }
    const failed = result.families.find((f) => f.error);
    if (input.invalid.length > 0) result.outcome = 'InvalidInput';
    else if (failed) result.outcome = 'IptablesFailed';
    else if (result.families.some((f) => f.changed)) {
      const anyRules = result.families.some((f) => f.rules > 0);
      const repaired = result.families.some((f) => f.repaired);
      result.outcome = !anyRules ? 'Removed' : repaired ? 'Repaired' : 'Applied';
    }
    if (input.invalid.length === 0 && !failed && policies) {
      this.lastGood = policies;
    }
    for (const f of result.families) if (!f.error) this.applied.set(f.family, (result.ruleset?.families[f.family].chainRules ?? []).join('\n'));
    if (!failed) this.opts.metrics.lastSuccess.set(Date.now() / 1000);
    end();
    this.lastResult = result;
    return result;
  }

  private async syncFamily(table: RawTable, ruleset: Ruleset, result: PassResult): Promise<FamilyResult> {
    const family = table.family;
    const desired = ruleset.families[family];
    const m = this.opts.metrics;
    const log = this.opts.logger;
    try {
      const observed = parseRawTable(await table.list());
      const plan = planFamily(desired, observed);
      const key = desired.chainRules.join('\n');
      // Drift = the table no longer holds what we applied for this very ruleset.
      const isRepair = this.applied.has(family) && this.applied.get(family) === key && plan.restore !== null;
      if (plan.restore === null) {
        m.checks.inc({ family, result: 'in_sync' });
        m.rules.set({ family }, plan.rules);
        return { family, drift: [], rules: plan.rules, changed: false, repaired: false };
      }
      await table.restore(plan.restore);
      m.rules.set({ family }, plan.rules);
      if (isRepair) {
        m.checks.inc({ family, result: 'repaired' });
        for (const kind of plan.drift) m.driftRepairs.inc({ family, kind });
        log.warn({ family, backend: table.backend, drift: plan.drift, rules: plan.rules }, REPAIR_LOG);
      } else {
        m.checks.inc({ family, result: plan.rules === 0 ? 'removed' : 'applied' });
        log.info({ family, backend: table.backend, ports: desired.ports.map((p) => `${p.protocol}/${p.port}`), rules: plan.rules, found: plan.drift }, plan.rules === 0 ? 'NOTRACK rules removed' : 'NOTRACK rules applied');
      }
      if (plan.newlyEffective.length > 0) {
        try {
          const n = await clearConntrack(this.opts.runner, family, plan.newlyEffective);
          result.conntrackDeleted += n;
          m.conntrackDeleted.inc(n);
          if (n > 0) log.info({ family, deleted: n, ports: plan.newlyEffective.map((p) => `${p.protocol}/${p.port}`) }, 'conntrack entries of exempted ports deleted');
        } catch (err) {
          const msg = (err as Error).message;
          result.warnings.push(msg);
          m.errors.inc({ code: err instanceof AgentError ? err.code : 'ConntrackFailed' });
          log.warn({ family, err: msg }, 'conntrack entries not cleared');
        }
      }
      return { family, drift: plan.drift, rules: plan.rules, changed: true, repaired: isRepair };
    } catch (err) {
      const e = asAgentError(err);
      result.error ??= e;
      m.checks.inc({ family, result: 'failed' });
      m.errors.inc({ code: e.code });
      log.error({ family, backend: table.backend, code: e.code, err: e.message }, 'NOTRACK pass failed; previous rules left in place');
      return { family, drift: [], rules: 0, changed: false, repaired: false, error: e.message };
    }
  }

  /** A backend switch (legacy <-> nft) must not leave our rules behind in the old one. */
  private async removeFromOtherBackend(result: PassResult): Promise<void> {
    const other: Backend = this.chosen === 'nft' ? 'legacy' : 'nft';
    for (const family of this.tables.keys()) {
      const table = new RawTable(this.opts.runner, family, other);
      try {
        const raw = await savedRawTable(this.opts.runner, table);
        if (raw === null) continue;
        const restore = planCleanup(family, parseRawTable(raw));
        if (restore) {
          await table.restore(restore);
          this.opts.logger.warn({ family, backend: other }, 'stale NOTRACK rules removed from the other iptables backend');
        }
      } catch (err) {
        result.warnings.push(`stale rules in ${other} ${family} not removed: ${(err as Error).message}`);
        (result.otherBackendErrors ??= []).push(asAgentError(err));
      }
    }
  }

  /** Removes everything of ours from both families of both backends. */
  cleanup(): Promise<{ removed: string[]; errors: AgentError[] }> {
    return cleanupAll(this.opts.runner, this.opts.logger);
  }
}

/**
 * Removes every chain and jump of ours from both families of both backends (`agent --cleanup`).
 * A backend whose save binary is not installed holds nothing of ours and is skipped; when no
 * backend is installed at all, or any command fails, the failure is returned (never "nothing to
 * remove").
 */
export async function cleanupAll(runner: CommandRunner, logger: Logger): Promise<{ removed: string[]; errors: AgentError[] }> {
  const removed: string[] = [];
  const errors: AgentError[] = [];
  let looked = 0;
  for (const backend of ['nft', 'legacy'] as const) {
    for (const family of FAMILIES) {
      const table = new RawTable(runner, family, backend);
      try {
        const raw = await savedRawTable(runner, table);
        if (raw === null) continue;
        looked++;
        const restore = planCleanup(family, parseRawTable(raw));
        if (!restore) continue;
        await table.restore(restore);
        removed.push(`${backend}/${family}`);
        logger.info({ family, backend }, 'NOTRACK rules removed (cleanup)');
      } catch (err) {
        looked++;
        errors.push(asAgentError(err));
      }
    }
  }
  if (looked === 0) errors.push(new AgentError('IptablesMissing', 'no iptables save binary is installed (iptables-nft-save, iptables-legacy-save, ip6tables-*): nothing could be checked'));
  return { removed, errors };
}

/**
 * The raw table of one family/backend in `-S` form, or null when that backend's save binary is not
 * installed. A save that runs and fails throws (IptablesFailed naming the command): it must never
 * read as "no table". Uses `*-save` without `-t` for legacy: naming a table would instantiate it
 * in the namespace.
 */
async function savedRawTable(runner: CommandRunner, table: RawTable): Promise<string | null> {
  if (!(await runner.has(table.bin.save))) return null;
  const argv = table.backend === 'legacy' ? [table.bin.save] : [table.bin.save, '-t', 'raw'];
  const saved = await runner.run(argv);
  if (saved.code !== 0) {
    const why = saved.stderr.split('\n').map((l) => l.trim()).filter(Boolean).join(' | ').slice(0, 400) || '(no output)';
    throw new AgentError('IptablesFailed', `${argv.join(' ')} failed (exit ${saved.code}, ${runner.where}): ${why}`);
  }
  return saveToRules(saved.stdout);
}

/** The `*raw` section of `iptables-save` text in the `-S` form parseRawTable reads (`:C -` -> `-N C`). */
function saveToRules(save: string): string {
  const out: string[] = [];
  let inRaw = false;
  for (const l of save.split('\n')) {
    if (l.startsWith('*')) inRaw = l.trim() === '*raw';
    else if (l.trim() === 'COMMIT') inRaw = false;
    else if (inRaw) {
      const m = /^:(\S+) (\S+)/.exec(l);
      out.push(!m ? l : m[2] === '-' ? `-N ${m[1]}` : `-P ${m[1]} ${m[2]}`);
    }
  }
  return out.join('\n');
}

/** The NodeNoTrackState status of this node after a pass. Pure (time handed in). */
export function nodeStateStatus(result: PassResult, backend: Backend | undefined, now: Date, previous?: NodeNoTrackStateStatus): NodeNoTrackStateStatus {
  const rs = result.ruleset;
  const ports = new Map<string, { protocol: 'TCP' | 'UDP' | 'SCTP'; port: number; ipFamilies: IpFamily[]; policies: string[] }>();
  for (const fam of FAMILIES) {
    for (const p of rs?.families[fam].ports ?? []) {
      const key = `${p.protocol}/${p.port}`;
      const e = ports.get(key) ?? { protocol: p.protocol, port: p.port, ipFamilies: [], policies: [] };
      e.ipFamilies.push(fam === 'ipv4' ? 'IPv4' : 'IPv6');
      e.policies = [...new Set([...e.policies, ...p.policies])].sort();
      ports.set(key, e);
    }
  }
  const familyErrors = result.families.flatMap((f) => (f.error ? [f.error] : []));
  const runtime = familyErrors.length > 0 ? familyErrors : result.error ? [result.error.message] : [];
  const errors = [...result.invalid, ...runtime, ...result.warnings];
  const ready = result.outcome !== 'InvalidInput' && result.outcome !== 'IptablesFailed';
  const reason = result.outcome === 'IptablesFailed' ? (result.error?.code ?? 'IptablesFailed') : result.outcome === 'InvalidInput' ? 'PolicyInvalid' : rs && rs.selected.length > 0 ? 'RulesApplied' : 'NoPolicySelectsNode';
  const message = ready ? (rs && rs.selected.length > 0 ? `${[...ports.keys()].join(', ')} exempted from conntrack (${backend ?? 'iptables'})` : 'no TunnelNoTrackPolicy selects this node') : errors[0] ?? reason;
  const status = ready ? 'True' : 'False';
  return {
    ...(backend ? { backend } : {}),
    appliedPolicies: (rs?.selected ?? []).map((p) => ({ name: p.name, ...(p.generation !== undefined ? { generation: p.generation } : {}) })),
    ports: [...ports.values()],
    rules: result.families.reduce((n, f) => n + f.rules, 0),
    lastCheckTime: k8sTime(now),
    ...(errors.length > 0 ? { lastError: errors.join('; ') } : {}),
    conditions: mergeConditions(previous?.conditions, [{ type: Ready, status, reason, message }], now),
  };
}

export interface LoopOptions {
  intervalMs: number;
  /** First retry delay after a failed pass; doubles up to maxBackoffMs (runtime/backoff.ts, with jitter). */
  backoffBaseMs?: number;
  maxBackoffMs?: number;
  signal: AbortSignal;
  gather: () => Promise<PassInput>;
  onResult?: (r: PassResult) => Promise<void> | void;
  /** Wakes the loop early (a watched object changed). */
  wake?: (cb: () => void) => void;
}

/** Runs passes until the signal aborts: every intervalMs, or sooner with backoff after a failure. */
export async function runLoop(agent: NoTrackAgent, opts: LoopOptions): Promise<void> {
  let failures = 0;
  let wakeUp: (() => void) | undefined;
  opts.wake?.(() => wakeUp?.());
  while (!opts.signal.aborted) {
    let result: PassResult;
    try {
      result = await agent.pass(await opts.gather());
    } catch (err) {
      // Gathering failed (manifest unreadable, API unreachable): nothing was changed.
      const e = asAgentError(err);
      result = { outcome: e.exit === 'badInput' ? 'InvalidInput' : 'IptablesFailed', families: [], conntrackDeleted: 0, invalid: e.code === 'ManifestUnreadable' ? [e.message] : [], error: e, warnings: [] };
    }
    try {
      await opts.onResult?.(result);
    } catch {
      // reporting problems are the reporter's to log
    }
    const failed = result.outcome === 'IptablesFailed' || result.outcome === 'InvalidInput';
    failures = failed ? failures + 1 : 0;
    const delay = failed ? backoffDelay(failures - 1, opts.backoffBaseMs ?? 1_000, opts.maxBackoffMs ?? 60_000) : opts.intervalMs;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, delay);
      function done(): void {
        clearTimeout(t);
        opts.signal.removeEventListener('abort', done);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
      opts.signal.addEventListener('abort', done, { once: true });
      // SIGTERM during the pass aborted the signal already: an 'abort' listener added now would
      // never fire, and the process would stay for a whole interval.
      if (opts.signal.aborted) done();
    });
  }
}
