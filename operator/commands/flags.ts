// The one CLI grammar of every command (check, trace, demo, sandbox, operator, agent): value
// parsers (durations, listen addresses, log levels), one environment name per setting with the
// old names still accepted behind a one-line deprecation notice, deprecated flag aliases, the OVN
// connection flags (remotes + TLS files) and the reporting of usage problems (exit 1).
// Precedence everywhere: flag, then the setting's environment variable, then a deprecated
// environment name, then the default. Parsing only; the commands wire the values to their mode.
import { access, constants } from 'node:fs/promises';
import { UsageError, exitCodeOf, messageOf, type ExitCode } from '../errors.js';
import { loadTls, type TlsFiles } from '../ovsdb/client.js';
import { parseRemotes } from '../ovsdb/remote.js';
import { parseListenAddr } from '../runtime/http.js';

/** Where a command reads its environment and says its notices (tests hand in their own). */
export interface FlagContext {
  /** e.g. "ovn-drift check": prefixes every message. */
  command: string;
  env: NodeJS.ProcessEnv;
  /** One line on stderr (deprecation notices). */
  warn: (line: string) => void;
}

export function flagContext(command: string, env: NodeJS.ProcessEnv = process.env, warn: (line: string) => void = (l) => console.error(l)): FlagContext {
  return { command, env, warn };
}

/**
 * Environment names of every setting, and the names they replaced (accepted with a deprecation
 * notice). README "Configuration" lists the same table.
 */
export const ENV = {
  nbRemote: { name: 'OVN_NB_DB', deprecated: ['OVN_NB_REMOTE'] },
  sbRemote: { name: 'OVN_SB_DB', deprecated: ['OVN_SB_REMOTE'] },
  privateKey: { name: 'OVN_PRIVATE_KEY', deprecated: [] },
  certificate: { name: 'OVN_CERTIFICATE', deprecated: [] },
  caCert: { name: 'OVN_CA_CERT', deprecated: [] },
  metricsAddr: { name: 'METRICS_ADDR', deprecated: ['METRICS_ADDRESS'] },
  logLevel: { name: 'LOG_LEVEL', deprecated: [] },
  nodeName: { name: 'NODE_NAME', deprecated: [] },
  iptablesBackend: { name: 'OVN_DRIFT_IPTABLES_BACKEND', deprecated: [] },
  resync: { name: 'RESYNC', deprecated: [] },
  leaseName: { name: 'LEASE_NAME', deprecated: [] },
  podNamespace: { name: 'POD_NAMESPACE', deprecated: [] },
  podName: { name: 'POD_NAME', deprecated: [] },
  watchLabelSelector: { name: 'WATCH_LABEL_SELECTOR', deprecated: [] },
  inactivityProbe: { name: 'OVN_DRIFT_INACTIVITY_PROBE', deprecated: [] },
} as const satisfies Record<string, { name: string; deprecated: readonly string[] }>;

export type Setting = keyof typeof ENV;

/** Flag value, else the setting's environment variable, else a deprecated name (with a notice). */
export function setting(ctx: FlagContext, key: Setting, flagValue: string | undefined): string | undefined {
  const { name, deprecated } = ENV[key];
  let fromOld: { old: string; value: string } | undefined;
  for (const old of deprecated) {
    const v = ctx.env[old];
    if (v !== undefined && v !== '') {
      fromOld = { old, value: v };
      break;
    }
  }
  const current = ctx.env[name];
  const fromNew = current !== undefined && current !== '' ? current : undefined;
  if (fromOld) ctx.warn(`${ctx.command}: ${fromOld.old} is deprecated, use ${name}${fromNew !== undefined || flagValue !== undefined ? ` (ignored: ${flagValue !== undefined ? 'the flag' : name} wins)` : ''}`);
  return flagValue ?? fromNew ?? fromOld?.value;
}

/** A deprecated flag spelling: its value when the new one is absent, with a one-line notice. */
export function aliasFlag(ctx: FlagContext, values: Record<string, unknown>, current: string, old: string): string | undefined {
  const now = values[current] as string | undefined;
  const then = values[old] as string | undefined;
  if (then === undefined) return now;
  ctx.warn(`${ctx.command}: --${old} is deprecated, use --${current}${now !== undefined ? ` (ignored: --${current} wins)` : ''}`);
  return now ?? then;
}

/** `10s`, `500ms`, `5m`, `1h` or a bare number of seconds → milliseconds; undefined when invalid or not positive. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
  return ms > 0 ? Math.round(ms) : undefined;
}

/**
 * A duration flag (through parseDuration): its value in ms, the default when absent, or a problem
 * naming the flag. `allowZero`: 0 (any spelling: 0, 0s, 0ms) means "off" and gives 0.
 */
export function durationFlag(problems: string[], flag: string, text: string | undefined, fallback: string, opts: { allowZero?: boolean; example?: string } = {}): number | undefined {
  const t = text ?? fallback;
  if (opts.allowZero && /^0+(\.0+)?(ms|s|m|h)?$/.test(t.trim())) return 0;
  const ms = parseDuration(t);
  if (ms === undefined) problems.push(`--${flag}: ${JSON.stringify(t)} is not a duration (seconds, or e.g. ${opts.example ?? '500ms, 10s, 5m'}${opts.allowZero ? '; 0 disables' : ''})`);
  return ms;
}

/**
 * --inactivity-probe / OVN_DRIFT_INACTIVITY_PROBE: after this long without receiving anything on an
 * OVSDB connection, send `echo` and drop the connection if still silent after as long again (never
 * while a monitor reply is awaited). Default 5s, like ovsdb-server's; 0 disables.
 */
export function inactivityProbeFlag(ctx: FlagContext, problems: string[], flagValue: string | undefined): number | undefined {
  const text = setting(ctx, 'inactivityProbe', flagValue);
  const before = problems.length;
  const ms = durationFlag(problems, 'inactivity-probe', text, '5s', { allowZero: true, example: '5s, 30s' });
  if (problems.length > before && flagValue === undefined) problems[problems.length - 1] = problems[problems.length - 1]!.replace('--inactivity-probe', ENV.inactivityProbe.name);
  return ms;
}

/** A listen address (`host:port`, `[v6]:port`, `:port`), or a problem naming the flag. */
export function listenAddrFlag(problems: string[], flag: string, addr: string): void {
  try {
    parseListenAddr(addr);
  } catch (err) {
    problems.push(`--${flag}: ${messageOf(err)}`);
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** --log-level / LOG_LEVEL, checked against pino's levels. */
export function logLevelFlag(ctx: FlagContext, problems: string[], flagValue: string | undefined): string {
  const level = setting(ctx, 'logLevel', flagValue) ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) problems.push(`${flagValue !== undefined ? '--log-level' : ENV.logLevel.name} '${level}' is not one of ${LOG_LEVELS.join(', ')}`);
  return level;
}

/** The connection to OVN: NB and SB remotes and the TLS files of ssl: remotes. */
export interface OvnConnection {
  nbRemote: string;
  sbRemote: string;
  tls?: TlsFiles;
}

/**
 * Reads the NB/SB remotes (flag names differ: `--nb` for the one-shots, `--nb-remote` for the
 * operator; one environment name) and the TLS files; every problem names the flag and the value.
 * ssl: remotes need all three files, and files that do not fit together are a configuration error
 * found before connecting, not an unreachable database.
 */
export async function ovnConnectionFlags(
  ctx: FlagContext,
  problems: string[],
  values: Record<string, unknown>,
  names: { nb: string; sb: string },
): Promise<OvnConnection | undefined> {
  const nbRemote = setting(ctx, 'nbRemote', values[names.nb] as string | undefined);
  const sbRemote = setting(ctx, 'sbRemote', values[names.sb] as string | undefined);
  const before = problems.length;
  for (const [flag, remote, key] of [[names.nb, nbRemote, 'nbRemote'], [names.sb, sbRemote, 'sbRemote']] as const) {
    if (!remote) {
      problems.push(`--${flag} REMOTE is required (or set ${ENV[key].name})`);
      continue;
    }
    try {
      parseRemotes(remote);
    } catch (err) {
      problems.push(`--${flag} ${remote}: ${messageOf(err)}`);
    }
  }
  const tls: TlsFiles = {};
  for (const [flag, key, s] of [['private-key', 'key', 'privateKey'], ['certificate', 'cert', 'certificate'], ['ca-cert', 'ca', 'caCert']] as const) {
    const file = setting(ctx, s, values[flag] as string | undefined);
    if (!file) continue;
    try {
      await access(file, constants.R_OK);
      tls[key] = file;
    } catch {
      problems.push(`--${flag}: file ${file} does not exist or is not readable`);
    }
  }
  if (problems.length > before) return undefined;
  const usesSsl = `${nbRemote},${sbRemote}`.split(',').some((r) => r.trim().startsWith('ssl:'));
  if (usesSsl && (!tls.key || !tls.cert || !tls.ca)) {
    problems.push(`ssl: remotes need --private-key, --certificate and --ca-cert (or ${ENV.privateKey.name}, ${ENV.certificate.name}, ${ENV.caCert.name})`);
    return undefined;
  }
  if (Object.keys(tls).length > 0) {
    try {
      loadTls('the ssl: remotes', tls);
    } catch (err) {
      problems.push(messageOf(err));
      return undefined;
    }
  }
  return { nbRemote: nbRemote!, sbRemote: sbRemote!, ...(Object.keys(tls).length > 0 ? { tls } : {}) };
}

/** Flags of the OVN connection, as node:util parseArgs options (names as the one-shots spell them). */
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

export const CONNECTION_HELP = `  --nb REMOTE           OVN NB database (tcp:IP:PORT, ssl:IP:PORT, unix:PATH, or a comma list
                        for a cluster); default $OVN_NB_DB
  --sb REMOTE           OVN SB database; default $OVN_SB_DB
  --private-key FILE    TLS private key for ssl: remotes (like ovn-nbctl -p; $OVN_PRIVATE_KEY)
  --certificate FILE    TLS certificate for the key (like ovn-nbctl -c; $OVN_CERTIFICATE)
  --ca-cert FILE        CA certificate the servers must present (like ovn-nbctl -C; $OVN_CA_CERT)
  --timeout D           bound on connecting and on waiting for the SB: seconds, or e.g. 500ms, 10s (default 10)
  -o, --output FORMAT   text (default) or json`;

/** What the one-shots (check, trace) share: the connection, the --timeout bound, the output format. */
export interface ConnectionFlags extends OvnConnection {
  timeoutMs: number;
  output: 'text' | 'json';
}

/** Output format flag: text or json. */
export function outputFlag(problems: string[], text: string | undefined): 'text' | 'json' {
  const output = text ?? 'text';
  if (output !== 'text' && output !== 'json') problems.push(`--output must be text or json, got ${output}`);
  return output === 'json' ? 'json' : 'text';
}

/** Reads the connection flags shared by check and trace; problems are pushed, naming the flag. */
export async function connectionFlags(ctx: FlagContext, problems: string[], values: Record<string, unknown>): Promise<ConnectionFlags | undefined> {
  const connection = await ovnConnectionFlags(ctx, problems, values, { nb: 'nb', sb: 'sb' });
  const output = outputFlag(problems, values.output as string | undefined);
  const timeoutMs = durationFlag(problems, 'timeout', values.timeout as string | undefined, '10', { example: '500ms, 10s, 1m' });
  if (!connection || timeoutMs === undefined || problems.length > 0) return undefined;
  return { ...connection, timeoutMs, output };
}

/** node:util parseArgs refused the command line (unknown flag, missing value, ...): a usage error. */
function isParseArgsError(err: unknown): boolean {
  return err instanceof TypeError && typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).code!.startsWith('ERR_PARSE_ARGS_');
}

/** Problems found while reading flags -> one UsageError listing all of them (nothing was started). */
export function throwProblems(ctx: FlagContext, problems: string[]): void {
  if (problems.length === 0) return;
  throw new UsageError(problems.map((p) => `${ctx.command}: ${p}`).join('\n'));
}

/**
 * How a command ends on an error (a node:util parseArgs refusal counts as a usage error): prints the message (with the usage text after a usage error)
 * on stderr and returns the exit status of the error's class (exitCodeOf).
 */
export function failed(ctx: FlagContext, thrown: unknown, usage?: string): ExitCode {
  const err = isParseArgsError(thrown) ? new UsageError(messageOf(thrown), { cause: thrown }) : thrown;
  const message = messageOf(err);
  const prefixed = message.startsWith(`${ctx.command}:`) ? message : `${ctx.command}: ${message}`;
  console.error(err instanceof UsageError && usage ? `${prefixed}\n\n${usage}` : prefixed);
  return exitCodeOf(err);
}

