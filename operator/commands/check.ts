// `ovn-drift check`: reads PodCIDRRoute manifests, validates them before touching OVN (exit 1),
// connects to the NB and SB (exit 2 naming the remote, within --timeout), evaluates drift, prints
// a table or the DESIGN.md JSON, optionally repairs the NB (--repair [--adopt]) and re-checks.
// Exit: 0 in sync, 1 bad input/usage, 2 unreachable/runtime error, 3 drift remains.
// Wiring only: the decisions live in operator/drift, the I/O in operator/ovn/connect.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { formatManifestError } from '../api/manifests.js';
import { loadPodCIDRRoutes } from '../manifests/files.js';
import type { PodCIDRRoute } from '../api/podcidrroute.js';
import { addFindings, checkJson, evaluate, outlastedWindow, planRepair, renderCheckText, settle, StaleView, type EvaluateOptions, type Evaluation, type RepairReport, type SettleMemory } from '../drift/index.js';
import { applyRepair, openOvn, readViews, type OvnDatabases } from '../ovn/index.js';
import { EXIT, InputError, type ExitCode } from '../errors.js';
import { OvsdbError } from '../ovsdb/errors.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, connectionFlags, durationFlag, failed, flagContext, throwProblems, type ConnectionFlags } from './flags.js';

const USAGE = `usage: ovn-drift check --nb REMOTE --sb REMOTE -f PATH [-f PATH]... [--output text|json] [--repair [--adopt]]

Compares the PodCIDRRoute manifests in PATH (YAML files or directories) with the OVN NB static
routes, the SB lr_in_ip_routing flows and the chassis the nexthops are bound to.

${CONNECTION_HELP}
  -f, --file PATH       manifest file or directory (repeatable)
  --repair              fix the NB routes ovn-drift owns or creates, wait for the SB, re-check
  --adopt               with --repair, also take over unowned rows for exactly these prefixes
  --chassis-down-after D
                        a nexthop's chassis whose ovn-controller has not confirmed the newest nb_cfg for
                        this long is down: NexthopDown (seconds or e.g. 90s, 2m; default 60)
  --settle D            a flow finding with no evidence that ovn-northd is behind is re-read until it is
                        gone or has lasted this long, then reported as drift (seconds; default 3; 0 disables)

exit status: 0 in sync, 1 bad input or usage, 2 databases unreachable or runtime error, 3 drift remains`;

export interface CheckOptions extends ConnectionFlags {
  routes: PodCIDRRoute[];
  repair: boolean;
  adopt: boolean;
  /** Settle window for flow findings without evidence that northd is behind (0 = off). */
  settleMs?: number;
  chassisDownAfterMs?: number;
}

/** How often a check inside the settle window re-reads the (live) replicas. */
const SETTLE_POLL_MS = 100;

/**
 * Evaluates, and while some routes have only flow findings with no evidence that northd is behind,
 * re-reads the live replicas until those findings are gone or have lasted the window (a finding
 * that changes restarts its window; the whole wait is bounded by three windows). Findings that
 * outlasted the window are drift, with their age as NorthdLagging evidence.
 */
async function settledEvaluation(dbs: OvnDatabases, routes: PodCIDRRoute[], settleMs: number, opts: EvaluateOptions): Promise<Evaluation> {
  const memory: SettleMemory = new Map();
  const start = Date.now();
  const key = (r: { route: string; prefix: string }) => `${r.route}\u0000${r.prefix}`;
  for (;;) {
    const views = readViews(dbs);
    const evaluation = evaluate(routes, views.nb, views.sb, new Date(), opts);
    if (settleMs <= 0 || isStale(evaluation)) return evaluation;
    const now = Date.now();
    const { pending } = settle(evaluation.routes.map((r) => ({ key: key(r), findings: r.findings })), memory, now, settleMs);
    if (pending.size === 0 || now - start >= 3 * settleMs) {
      const evidence = evaluation.routes.map((r) => outlastedWindow(r.findings, memory.get(key(r)), now, settleMs)).filter((f): f is NonNullable<typeof f> => f !== undefined);
      return addFindings(evaluation, evidence);
    }
    await sleep(SETTLE_POLL_MS);
  }
}

export interface CheckOutcome {
  code: ExitCode;
  evaluation: Evaluation;
  repair?: RepairReport;
}

/** The check itself, on open databases: evaluate, optionally repair and re-evaluate. */
export async function checkWith(dbs: OvnDatabases, opts: Pick<CheckOptions, 'routes' | 'repair' | 'adopt' | 'timeoutMs' | 'settleMs' | 'chassisDownAfterMs'>): Promise<CheckOutcome> {
  const settleMs = opts.settleMs ?? 0;
  const evalOpts: EvaluateOptions = opts.chassisDownAfterMs !== undefined ? { chassisDownAfterMs: opts.chassisDownAfterMs } : {};
  let evaluation = await settledEvaluation(dbs, opts.routes, settleMs, evalOpts);
  let repair: RepairReport | undefined;
  // a stale view gives no verdicts, and a repair that cannot be confirmed is not a repair
  if (isStale(evaluation)) return { code: EXIT.runtime, evaluation };
  if (opts.repair) {
    // the repair is planned from the views as they are now (the settle loop may have re-read them)
    const plan = planRepair(opts.routes, readViews(dbs).nb, { adopt: opts.adopt });
    try {
      const applied = await applyRepair(dbs.nb, dbs.sb, plan, { timeoutMs: opts.timeoutMs });
      repair = { plan, ...applied };
    } catch (err) {
      if (!(err instanceof OvsdbError)) throw err;
      repair = { plan, applied: false, sbSynced: false, waitedMs: 0, error: `${err.code}: ${err.message}` };
    }
    evaluation = await settledEvaluation(dbs, opts.routes, settleMs, evalOpts);
  }
  if (isStale(evaluation)) return { code: EXIT.runtime, evaluation, ...(repair ? { repair } : {}) };
  // a route whose state is Unknown (a policy match ovn-drift cannot decide) is not in sync either
  const undecided = evaluation.routes.some((r) => r.state === 'Unknown');
  return { code: evaluation.findings.length > 0 || undecided ? EXIT.drift : EXIT.ok, evaluation, ...(repair ? { repair } : {}) };
}

const isStale = (ev: Evaluation) => ev.findings.some((f) => f.kind === StaleView);

export function printCheck(outcome: CheckOutcome, output: 'text' | 'json', write: (s: string) => void = (s) => process.stdout.write(s)): void {
  if (output === 'json') write(`${JSON.stringify(checkJson(outcome.evaluation, outcome.repair), null, 2)}\n`);
  else write(`${renderCheckText(outcome.evaluation, outcome.repair)}\n`);
}

export async function run(argv: string[]): Promise<number> {
  const ctx = flagContext('ovn-drift check');
  let flags: ConnectionFlags;
  let files: string[];
  let repair: boolean;
  let adopt: boolean;
  let settleMs: number;
  let chassisDownAfterMs: number;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { ...CONNECTION_OPTIONS, file: { type: 'string', short: 'f', multiple: true }, repair: { type: 'boolean' }, adopt: { type: 'boolean' }, settle: { type: 'string' }, 'chassis-down-after': { type: 'string' } },
      allowPositionals: false,
    });
    if (values.help) {
      console.log(USAGE);
      return EXIT.ok;
    }
    const problems: string[] = [];
    const connection = await connectionFlags(ctx, problems, values);
    if (!values.file || values.file.length === 0) problems.push('at least one -f PATH is required');
    if (values.adopt && !values.repair) problems.push('--adopt only makes sense with --repair');
    const down = durationFlag(problems, 'chassis-down-after', values['chassis-down-after'], '60', { example: '90s, 2m' });
    const settleWindow = durationFlag(problems, 'settle', values.settle, '3', { allowZero: true, example: '3, 500ms' });
    throwProblems(ctx, problems);
    flags = connection!;
    files = values.file!;
    repair = values.repair ?? false;
    adopt = values.adopt ?? false;
    settleMs = settleWindow!;
    chassisDownAfterMs = down!;
  } catch (err) {
    return failed(ctx, err, USAGE);
  }

  // OVN_DRIFT_TIMING=1 prints where the time goes (stderr), for the benchmark.
  const t0 = performance.now();
  const phase = (name: string) => {
    if (process.env.OVN_DRIFT_TIMING !== '1') return;
    const cpu = process.cpuUsage();
    console.error(`timing: ${name} at ${(performance.now() - t0).toFixed(0)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms cpu`);
  };
  // Manifests are validated before anything connects: invalid input touches nothing.
  const loaded = await loadPodCIDRRoutes(files);
  for (const n of loaded.notices) console.error(`${ctx.command}: ${n}`);
  if (loaded.errors.length > 0) {
    for (const e of loaded.errors) console.error(`${ctx.command}: ${formatManifestError(e)}`);
    return failed(ctx, new InputError('ManifestInvalid', `${loaded.errors.length} error${loaded.errors.length === 1 ? '' : 's'} in the manifests; nothing was read from or written to OVN`));
  }

  phase('manifests loaded');
  let dbs: OvnDatabases;
  try {
    dbs = await openOvn(flags); // rejects with OvnConnectError naming the remote
  } catch (err) {
    return failed(ctx, err);
  }
  phase('NB and SB replicas synced');
  try {
    const outcome = await checkWith(dbs, { routes: loaded.routes.map((r) => r.route), repair, adopt, timeoutMs: flags.timeoutMs, settleMs, chassisDownAfterMs });
    phase('evaluated');
    printCheck(outcome, flags.output);
    phase('printed');
    return outcome.code;
  } catch (err) {
    return failed(ctx, err);
  } finally {
    await dbs.close();
    phase('closed');
  }
}
