// The one CLI grammar (operator/commands/flags.ts) and the commands that use it: one environment
// name per setting, the old names still work with a one-line deprecation notice, flag > env >
// deprecated env > default, durations through one parser, bad values named with exit 1.
// Commands are run in-process with their real flag handling; nothing here connects anywhere
// (every case fails before connecting, or points at a closed loopback port).
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENV, aliasFlag, connectionFlags, durationFlag, flagContext, inactivityProbeFlag, parseDuration, setting } from '../../operator/commands/flags.js';
import { run as runCheck } from '../../operator/commands/check.js';
import { run as runTrace } from '../../operator/commands/trace.js';
import { run as runOperator } from '../../operator/commands/operator.js';
import { runAgent } from '../../operator/commands/agent.js';
import { main } from '../../operator/cli.js';

const ctx = (env: NodeJS.ProcessEnv) => {
  const notices: string[] = [];
  return { ctx: flagContext('ovn-drift test', env, (l) => notices.push(l)), notices };
};

describe('setting(): one environment name per setting', () => {
  it('flag wins over the environment, the current name over a deprecated one', () => {
    const { ctx: c, notices } = ctx({ OVN_NB_DB: 'tcp:127.0.0.1:6641' });
    expect(setting(c, 'nbRemote', 'unix:/flag.sock')).toBe('unix:/flag.sock');
    expect(setting(c, 'nbRemote', undefined)).toBe('tcp:127.0.0.1:6641');
    expect(notices).toEqual([]);
  });

  it('a deprecated name still works and says so once, naming the new one', () => {
    const { ctx: c, notices } = ctx({ OVN_NB_REMOTE: 'tcp:127.0.0.1:6641', OVN_SB_REMOTE: 'tcp:127.0.0.1:6642' });
    expect(setting(c, 'nbRemote', undefined)).toBe('tcp:127.0.0.1:6641');
    expect(setting(c, 'sbRemote', undefined)).toBe('tcp:127.0.0.1:6642');
    expect(notices).toEqual(['ovn-drift test: OVN_NB_REMOTE is deprecated, use OVN_NB_DB', 'ovn-drift test: OVN_SB_REMOTE is deprecated, use OVN_SB_DB']);
  });

  it('when both names are set the current one wins and the notice says the old one is ignored', () => {
    const { ctx: c, notices } = ctx({ OVN_NB_DB: 'tcp:127.0.0.1:1', OVN_NB_REMOTE: 'tcp:127.0.0.1:2' });
    expect(setting(c, 'nbRemote', undefined)).toBe('tcp:127.0.0.1:1');
    expect(notices).toEqual(['ovn-drift test: OVN_NB_REMOTE is deprecated, use OVN_NB_DB (ignored: OVN_NB_DB wins)']);
  });

  it('every setting has exactly one current name, and no name is both current and deprecated', () => {
    const current = Object.values(ENV).map((e) => e.name);
    const old = Object.values(ENV).flatMap((e) => [...e.deprecated]);
    expect(new Set(current).size).toBe(current.length);
    for (const o of old) expect(current).not.toContain(o);
  });

  it('a deprecated flag spelling is an alias with a notice', () => {
    const { ctx: c, notices } = ctx({});
    expect(aliasFlag(c, { 'metrics-address': ':9100' }, 'metrics-addr', 'metrics-address')).toBe(':9100');
    expect(aliasFlag(c, { 'metrics-addr': ':1', 'metrics-address': ':2' }, 'metrics-addr', 'metrics-address')).toBe(':1');
    expect(aliasFlag(c, { 'metrics-addr': ':1' }, 'metrics-addr', 'metrics-address')).toBe(':1');
    expect(notices).toEqual(['ovn-drift test: --metrics-address is deprecated, use --metrics-addr', 'ovn-drift test: --metrics-address is deprecated, use --metrics-addr (ignored: --metrics-addr wins)']);
  });
});

describe('durations: one parser for every flag', () => {
  it.each([
    ['10', 10_000],
    ['10s', 10_000],
    ['1.5', 1_500],
    ['500ms', 500],
    ['5m', 300_000],
    ['1h', 3_600_000],
  ])('%s -> %i ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['soon', '', '-1', '0', '10 s', '1e3', '0x10'])('%j is not a duration', (text) => expect(parseDuration(text)).toBeUndefined());

  it('zero means off only where the flag allows it; problems name the flag and the value', () => {
    const problems: string[] = [];
    expect(durationFlag(problems, 'settle', '0', '3', { allowZero: true })).toBe(0);
    expect(durationFlag(problems, 'settle', '0s', '3', { allowZero: true })).toBe(0);
    expect(durationFlag(problems, 'settle', undefined, '3', { allowZero: true })).toBe(3_000);
    expect(problems).toEqual([]);
    expect(durationFlag(problems, 'timeout', '0', '10')).toBeUndefined();
    expect(durationFlag(problems, 'timeout', 'soon', '10')).toBeUndefined();
    expect(problems).toEqual([
      '--timeout: "0" is not a duration (seconds, or e.g. 500ms, 10s, 5m)',
      '--timeout: "soon" is not a duration (seconds, or e.g. 500ms, 10s, 5m)',
    ]);
  });
});

describe('--inactivity-probe (OVN_DRIFT_INACTIVITY_PROBE)', () => {
  it('defaults to 5s, takes the flag over the environment, and 0 disables it', () => {
    const problems: string[] = [];
    expect(inactivityProbeFlag(ctx({}).ctx, problems, undefined)).toBe(5_000);
    expect(inactivityProbeFlag(ctx({ OVN_DRIFT_INACTIVITY_PROBE: '30s' }).ctx, problems, undefined)).toBe(30_000);
    expect(inactivityProbeFlag(ctx({ OVN_DRIFT_INACTIVITY_PROBE: '30s' }).ctx, problems, '500ms')).toBe(500);
    expect(inactivityProbeFlag(ctx({}).ctx, problems, '0')).toBe(0);
    expect(inactivityProbeFlag(ctx({ OVN_DRIFT_INACTIVITY_PROBE: '0s' }).ctx, problems, undefined)).toBe(0);
    expect(problems).toEqual([]);
    expect(ENV.inactivityProbe.name).toBe('OVN_DRIFT_INACTIVITY_PROBE');
  });

  it('names the flag or the environment variable that holds a bad value', () => {
    const problems: string[] = [];
    expect(inactivityProbeFlag(ctx({}).ctx, problems, 'often')).toBeUndefined();
    expect(inactivityProbeFlag(ctx({ OVN_DRIFT_INACTIVITY_PROBE: '-1' }).ctx, problems, undefined)).toBeUndefined();
    expect(problems).toEqual([
      '--inactivity-probe: "often" is not a duration (seconds, or e.g. 5s, 30s; 0 disables)',
      'OVN_DRIFT_INACTIVITY_PROBE: "-1" is not a duration (seconds, or e.g. 5s, 30s; 0 disables)',
    ]);
  });

  it('the operator refuses a bad value before connecting anywhere', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const code = await runOperator(['--nb-remote', 'tcp:127.0.0.1:1', '--sb-remote', 'tcp:127.0.0.1:1', '--inactivity-probe', 'often'], { env: {} });
      expect(code).toBe(1);
      expect(err.mock.calls.flat().join('\n')).toContain('--inactivity-probe: "often" is not a duration');
    } finally {
      err.mockRestore();
    }
  });
});

describe('connection flags shared by check and trace', () => {
  it('reads the remotes from OVN_NB_DB/OVN_SB_DB, --timeout through the duration parser', async () => {
    const { ctx: c } = ctx({ OVN_NB_DB: 'tcp:127.0.0.1:6641', OVN_SB_DB: 'unix:/run/ovn/ovnsb_db.sock' });
    const problems: string[] = [];
    const flags = await connectionFlags(c, problems, { timeout: '2500ms', output: 'json' });
    expect(problems).toEqual([]);
    expect(flags).toEqual({ nbRemote: 'tcp:127.0.0.1:6641', sbRemote: 'unix:/run/ovn/ovnsb_db.sock', timeoutMs: 2_500, output: 'json' });
  });

  it('collects every problem, each naming the flag and the value', async () => {
    const { ctx: c } = ctx({});
    const problems: string[] = [];
    expect(await connectionFlags(c, problems, { sb: 'http://127.0.0.1:1', output: 'yaml', timeout: 'soon', 'private-key': '/nonexistent/k.pem' })).toBeUndefined();
    expect(problems).toEqual([
      '--nb REMOTE is required (or set OVN_NB_DB)',
      expect.stringContaining('--sb http://127.0.0.1:1: '),
      '--private-key: file /nonexistent/k.pem does not exist or is not readable',
      '--output must be text or json, got yaml',
      '--timeout: "soon" is not a duration (seconds, or e.g. 500ms, 10s, 1m)',
    ]);
  });

  it('ssl: remotes need all three TLS files', async () => {
    const { ctx: c } = ctx({});
    const problems: string[] = [];
    await connectionFlags(c, problems, { nb: 'ssl:127.0.0.1:6641', sb: 'tcp:127.0.0.1:6642' });
    expect(problems).toEqual(['ssl: remotes need --private-key, --certificate and --ca-cert (or OVN_PRIVATE_KEY, OVN_CERTIFICATE, OVN_CA_CERT)']);
  });
});

describe('commands: one grammar, exit codes of the contract', () => {
  const errors: string[] = [];
  const saved = { ...process.env };
  afterEach(() => {
    vi.restoreAllMocks();
    errors.length = 0;
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });
  const capture = () => {
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errors.push(a.join(' ')));
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
  };
  const dir = mkdtempSync(join(tmpdir(), 'ovn-drift-flags-'));
  const manifest = join(dir, 'pcr.yaml');
  writeFileSync(manifest, 'apiVersion: ovndrift.io/v1alpha1\nkind: PodCIDRRoute\nmetadata: {name: r}\nspec: {router: r1, nexthop: 10.0.0.2, cidrs: [10.1.0.0/24]}\n');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('check: the deprecated OVN_NB_REMOTE/OVN_SB_REMOTE still reach the databases (exit 2 naming the remote, not 1), with a notice', async () => {
    capture();
    delete process.env.OVN_NB_DB;
    delete process.env.OVN_SB_DB;
    process.env.OVN_NB_REMOTE = 'tcp:127.0.0.1:1';
    process.env.OVN_SB_REMOTE = 'tcp:127.0.0.1:1';
    expect(await runCheck(['-f', manifest, '--timeout', '1'])).toBe(2);
    const text = errors.join('\n');
    expect(text).toContain('ovn-drift check: OVN_NB_REMOTE is deprecated, use OVN_NB_DB');
    expect(text).toContain('ovn-drift check: OVN_SB_REMOTE is deprecated, use OVN_SB_DB');
    expect(text).toContain('tcp:127.0.0.1:1');
  });

  it('check: the current names need no notice', async () => {
    capture();
    process.env.OVN_NB_DB = 'tcp:127.0.0.1:1';
    process.env.OVN_SB_DB = 'tcp:127.0.0.1:1';
    delete process.env.OVN_NB_REMOTE;
    delete process.env.OVN_SB_REMOTE;
    expect(await runCheck(['-f', manifest, '--timeout', '500ms'])).toBe(2);
    expect(errors.join('\n')).not.toContain('is deprecated, use');
  });

  it.each([
    [['--nb', 'tcp:127.0.0.1:1', '--sb', 'tcp:127.0.0.1:1', '-f', 'x', '--timeout', 'soon'], '--timeout: "soon" is not a duration'],
    [['--nb', 'tcp:127.0.0.1:1', '--sb', 'tcp:127.0.0.1:1', '-f', 'x', '--settle', 'later'], '--settle: "later" is not a duration'],
    [['--nb', 'tcp:127.0.0.1:1', '--sb', 'tcp:127.0.0.1:1', '-f', 'x', '--chassis-down-after', 'ten'], '--chassis-down-after: "ten" is not a duration'],
    [['--nb', 'tcp:127.0.0.1:1', '--sb', 'tcp:127.0.0.1:1', '-f', 'x', '--adopt'], '--adopt only makes sense with --repair'],
    [['--nb', 'tcp:127.0.0.1:1', '--sb', 'tcp:127.0.0.1:1'], 'at least one -f PATH is required'],
    [['--frobnicate'], "Unknown option '--frobnicate'"],
  ])('check %j -> exit 1 naming the problem', async (argv, message) => {
    capture();
    expect(await runCheck(argv)).toBe(1);
    expect(errors.join('\n')).toContain(`ovn-drift check: ${message}`);
  });

  it('trace shares the grammar: missing remote, bad IP and bad --timeout are all named, exit 1', async () => {
    capture();
    delete process.env.OVN_NB_DB;
    delete process.env.OVN_NB_REMOTE;
    expect(await runTrace(['--sb', 'tcp:127.0.0.1:1', '--router', 'r1', '--timeout', 'x', '10.0.0.999'])).toBe(1);
    const text = errors.join('\n');
    expect(text).toContain('ovn-drift trace: --nb REMOTE is required (or set OVN_NB_DB)');
    expect(text).toContain('ovn-drift trace: --timeout: "x" is not a duration');
    expect(text).toContain('ovn-drift trace: 10.0.0.999 is not an IPv4 or IPv6 address');
  });

  it('operator: OVN_NB_DB/OVN_SB_DB are its names too; the old ones still count, with a notice; --metrics-address is a deprecated alias', async () => {
    capture();
    const env = { OVN_NB_REMOTE: 'foo:1', OVN_SB_DB: 'tcp:127.0.0.1:6642' };
    expect(await runOperator(['--metrics-address', 'nope'], { env })).toBe(1);
    const text = errors.join('\n');
    expect(text).toContain('ovn-drift operator: OVN_NB_REMOTE is deprecated, use OVN_NB_DB');
    expect(text).toContain('--nb-remote foo:1: bad OVSDB remote'); // the deprecated name's value was used
    expect(text).toContain('ovn-drift operator: --metrics-address is deprecated, use --metrics-addr');
    expect(text).toContain('--metrics-addr: invalid listen address "nope"');
    errors.length = 0;
    expect(await runOperator(['--log-level', 'loud'], { env: { OVN_NB_DB: 'tcp:127.0.0.1:6641', OVN_SB_DB: 'tcp:127.0.0.1:6642' } })).toBe(1);
    expect(errors.join('\n')).toContain("--log-level 'loud' is not one of");
    expect(errors.join('\n')).not.toContain('is deprecated, use');
  });

  it('agent: --metrics-addr is its name; --metrics-address and METRICS_ADDRESS still work with a notice; bad values exit 1', async () => {
    capture();
    expect(await runAgent(['--metrics-addr', 'nope', '-f', 'x', '--once'], { env: {} })).toBe(1);
    expect(errors.join('\n')).toContain('ovn-drift agent: --metrics-addr: invalid listen address "nope"');
    errors.length = 0;
    expect(await runAgent(['--metrics-address', 'nope', '-f', 'x', '--once'], { env: {} })).toBe(1);
    expect(errors.join('\n')).toContain('--metrics-address is deprecated, use --metrics-addr');
    errors.length = 0;
    expect(await runAgent(['-f', 'x', '--once', '--interval', 'soon'], { env: { METRICS_ADDRESS: ':0' } })).toBe(1);
    expect(errors.join('\n')).toContain('ovn-drift agent: METRICS_ADDRESS is deprecated, use METRICS_ADDR');
    expect(errors.join('\n')).toContain('--interval: "soon" is not a duration');
  });

  it('cli: unknown command and no command are usage errors (exit 1), --help exit 0', async () => {
    capture();
    expect(await main(['frobnicate'])).toBe(1);
    expect(errors.join('\n')).toContain("unknown command 'frobnicate'");
    expect(await main([])).toBe(1);
    expect(await main(['--help'])).toBe(0);
  });
});
