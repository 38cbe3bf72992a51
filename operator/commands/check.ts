// `ovn-drift check`: reads PodCIDRRoute manifests, validates them before touching OVN (exit 1),
// connects to the NB and SB (exit 2 naming the remote, within --timeout), evaluates drift, prints
// a table or the DESIGN.md JSON, optionally repairs the NB (--repair [--adopt]) and re-checks.
// Exit: 0 in sync, 1 bad input/usage, 2 unreachable/runtime error, 3 drift remains.
// Wiring only: the decisions live in operator/drift, the I/O in operator/ovn/connect.ts.
import { access, constants } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT } from '../cli.js';
import { formatManifestError } from '../api/manifests.js';
import { loadPodCIDRRoutes } from '../manifests/files.js';
import type { PodCIDRRoute } from '../api/podcidrroute.js';
import { addFindings, checkJson, evaluate, outlastedWindow, planRepair, renderCheckText, settle, StaleView, type EvaluateOptions, type Evaluation, type RepairReport, type SettleMemory } from '../drift/index.js';
import { applyRepair, openOvn, readViews, OvnConnectError, type OvnDatabases } from '../ovn/index.js';
import { loadTls, type TlsFiles } from '../ovsdb/client.js';
import { OvsdbError } from '../ovsdb/errors.js';
import { parseRemotes } from '../ovsdb/remote.js';

export { EXIT };

export const CONNECTION_HELP = `  --nb REMOTE           OVN NB database (tcp:IP:PORT, ssl:IP:PORT, unix:PATH, or a comma list
                        for a cluster); default $OVN_NB_DB
  --sb REMOTE           OVN SB database; default $OVN_SB_DB
  --private-key FILE    TLS private key for ssl: remotes (like ovn-nbctl -p)
  --certificate FILE    TLS certificate for the key (like ovn-nbctl -c)
  --ca-cert FILE        CA certificate the servers must present (like ovn-nbctl -C)
  --timeout SECS        bound on connecting and on waiting for the SB (default 10)
  -o, --output FORMAT   text (default) or json`;

const USAGE = `usage: ovn-drift check --nb REMOTE --sb REMOTE -f PATH [-f PATH]... [--output text|json] [--repair [--adopt]]

Compares the PodCIDRRoute manifests in PATH (YAML files or directories) with the OVN NB static
routes, the SB lr_in_ip_routing flows and the chassis the nexthops are bound to.

${CONNECTION_HELP}
  -f, --file PATH       manifest file or directory (repeatable)
  --repair              fix the NB routes ovn-drift owns or creates, wait for the SB, re-check
  --adopt               with --repair, also take over unowned rows for exactly these prefixes
  --chassis-down-after SECS
                        a nexthop's chassis whose ovn-controller has not confirmed the newest nb_cfg for
                        this long is down: NexthopDown (default 60)
  --settle SECS         a flow finding with no evidence that ovn-northd is behind is re-read until it is
                        gone or has lasted this long, then reported as drift (default 3; 0 disables)

exit status: 0 in sync, 1 bad input or usage, 2 databases unreachable or runtime error, 3 drift remains`;

export const CONNECTION_OPTIONS = {
  nb: { type: 'string' },
  sb: { type: 'string' },
  'private-key': { type: 'string' },
  certificate: { type: 'string' },
  'ca-cert': { type: 'string' },
  timeout: { type: 'string' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface ConnectionFlags {
  nbRemote: string;
  sbRemote: string;
  tls?: TlsFiles;
  timeoutMs: number;
  output: 'text' | 'json';
}

export class UsageError extends Error {
  readonly code = 'Usage' as const;
}

/** Reads the connection flags shared by check and trace; throws UsageError naming the flag. */
export async function connectionFlags(values: Record<string, unknown>, command: string): Promise<ConnectionFlags> {
  const nbRemote = (values.nb as string | undefined) ?? process.env.OVN_NB_DB;
  const sbRemote = (values.sb as string | undefined) ?? process.env.OVN_SB_DB;
  if (!nbRemote) throw new UsageError(`${command}: --nb REMOTE is required (or set OVN_NB_DB)`);
  if (!sbRemote) throw new UsageError(`${command}: --sb REMOTE is required (or set OVN_SB_DB)`);
  for (const [flag, remote] of [['--nb', nbRemote], ['--sb', sbRemote]] as const) {
    try {
      parseRemotes(remote);
    } catch (err) {
      throw new UsageError(`${command}: ${flag} ${remote}: ${(err as Error).message}`);
    }
  }
  const output = (values.output as string | undefined) ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`${command}: --output must be text or json, got ${output}`);
  const timeoutText = (values.timeout as string | undefined) ?? '10';
  const timeout = Number(timeoutText.replace(/s$/, ''));
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`${command}: --timeout must be a positive number of seconds, got ${timeoutText}`);
  const tls: TlsFiles = {};
  for (const [flag, key] of [['private-key', 'key'], ['certificate', 'cert'], ['ca-cert', 'ca']] as const) {
    const file = values[flag] as string | undefined;
    if (!file) continue;
    try {
      await access(file, constants.R_OK);
    } catch {
      throw new UsageError(`${command}: --${flag} ${file}: file not found or not readable`);
    }
    tls[key] = file;
  }
  const usesSsl = `${nbRemote},${sbRemote}`.split(',').some((r) => r.trim().startsWith('ssl:'));
  if (usesSsl && (!tls.key || !tls.cert || !tls.ca)) {
    throw new UsageError(`${command}: ssl: remotes need --private-key, --certificate and --ca-cert`);
  }
  // Files that do not fit together (a key that is not the certificate's, a file that is not PEM)
  // are a local configuration error: say so before connecting, not as an unreachable database.
  if (Object.keys(tls).length > 0) {
    try {
      loadTls('the ssl: remotes', tls);
    } catch (err) {
      throw new UsageError(`${command}: ${(err as Error).message}`);
    }
  }
  return { nbRemote, sbRemote, ...(Object.keys(tls).length > 0 ? { tls } : {}), timeoutMs: Math.round(timeout * 1000), output };
}

/** Connects both databases, turning failures into a message naming the remote. */
export async function connect(flags: ConnectionFlags): Promise<OvnDatabases> {
  return openOvn({ nbRemote: flags.nbRemote, sbRemote: flags.sbRemote, timeoutMs: flags.timeoutMs, ...(flags.tls ? { tls: flags.tls } : {}) });
}

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
  code: number;
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
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { ...CONNECTION_OPTIONS, file: { type: 'string', short: 'f', multiple: true }, repair: { type: 'boolean' }, adopt: { type: 'boolean' }, settle: { type: 'string' }, 'chassis-down-after': { type: 'string' } },
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`ovn-drift check: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT.badInput;
  }
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  let flags: ConnectionFlags;
  try {
    flags = await connectionFlags(values, 'ovn-drift check');
    if (!values.file || values.file.length === 0) throw new UsageError('ovn-drift check: at least one -f PATH is required');
    if (values.adopt && !values.repair) throw new UsageError('ovn-drift check: --adopt only makes sense with --repair');
    if (values['chassis-down-after'] !== undefined && !/^\d+(\.\d+)?$/.test(values['chassis-down-after'])) throw new UsageError(`ovn-drift check: --chassis-down-after: ${JSON.stringify(values['chassis-down-after'])} is not a number of seconds`);
    if (values.settle !== undefined && !/^\d+(\.\d+)?$/.test(values.settle)) throw new UsageError(`ovn-drift check: --settle: ${JSON.stringify(values.settle)} is not a number of seconds (0 disables)`);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return EXIT.badInput;
  }

  // OVN_DRIFT_TIMING=1 prints where the time goes (stderr), for the benchmark.
  const t0 = performance.now();
  const phase = (name: string) => {
    if (process.env.OVN_DRIFT_TIMING !== '1') return;
    const cpu = process.cpuUsage();
    console.error(`timing: ${name} at ${(performance.now() - t0).toFixed(0)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms cpu`);
  };
  // Manifests are validated before anything connects: invalid input touches nothing.
  const loaded = await loadPodCIDRRoutes(values.file);
  for (const n of loaded.notices) console.error(`ovn-drift check: ${n}`);
  if (loaded.errors.length > 0) {
    for (const e of loaded.errors) console.error(`ovn-drift check: ${formatManifestError(e)}`);
    console.error(`ovn-drift check: ${loaded.errors.length} error${loaded.errors.length === 1 ? '' : 's'} in the manifests; nothing was read from or written to OVN`);
    return EXIT.badInput;
  }

  phase('manifests loaded');
  let dbs: OvnDatabases;
  try {
    dbs = await connect(flags);
  } catch (err) {
    console.error(`ovn-drift check: ${(err as Error).message}`);
    return EXIT.runtime;
  }
  phase('NB and SB replicas synced');
  try {
    const outcome = await checkWith(dbs, { routes: loaded.routes.map((r) => r.route), repair: values.repair ?? false, adopt: values.adopt ?? false, timeoutMs: flags.timeoutMs, settleMs: Math.round(Number(values.settle ?? '3') * 1000), chassisDownAfterMs: Math.round(Number(values['chassis-down-after'] ?? '60') * 1000) });
    phase('evaluated');
    printCheck(outcome, flags.output);
    phase('printed');
    return outcome.code;
  } catch (err) {
    console.error(`ovn-drift check: ${err instanceof OvnConnectError ? err.message : `${(err as Error).message}`}`);
    return EXIT.runtime;
  } finally {
    await dbs.close();
  }
}
