// The only module of the agent that runs programs: iptables/ip6tables (-S, -restore, -save) and
// conntrack, behind a CommandRunner interface whose process implementation can prefix every
// command with `ip netns exec NS`. Also detects the legacy/nft backend the way kube-proxy's
// iptables-wrapper and Calico do. Must not import kube or ovsdb modules; holds no rule logic.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { AgentError } from './errors.js';
import type { Family, NoTrackPort } from './render.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  /** Runs argv[0] with argv[1..], feeding `input` on stdin. Never throws for a non-zero exit. */
  run(argv: string[], input?: string): Promise<CommandResult>;
  /** True when `name` is an executable on this runner's PATH. */
  has(name: string): Promise<boolean>;
  /** e.g. "host" or "netns ns1", for logs and state. */
  readonly where: string;
  /** Releases long-lived resources (helper shells). */
  close(): Promise<void>;
}

export interface ProcessRunnerOptions {
  /** Run every command inside this network namespace (`ip netns exec NS ...`). */
  netns?: string;
  /** Environment for the commands (PATH decides which binaries run). */
  env?: NodeJS.ProcessEnv;
  /** Kill a command that runs longer than this. */
  timeoutMs?: number;
}

export class ProcessRunner implements CommandRunner {
  readonly where: string;
  private readonly env: NodeJS.ProcessEnv;
  constructor(private readonly opts: ProcessRunnerOptions = {}) {
    this.where = opts.netns ? `netns ${opts.netns}` : 'host';
    this.env = opts.env ?? process.env;
  }

  private readonly found = new Set<string>();

  async has(name: string): Promise<boolean> {
    if (this.found.has(name)) return true; // only positives are cached: a missing binary may appear
    for (const dir of (this.env.PATH ?? '').split(delimiter).filter(Boolean)) {
      try {
        await access(join(dir, name), constants.X_OK);
        this.found.add(name);
        return true;
      } catch {
        // next dir
      }
    }
    return false;
  }

  async close(): Promise<void> {
    // nothing long-lived
  }

  run(argv: string[], input?: string): Promise<CommandResult> {
    const full = this.opts.netns ? ['ip', 'netns', 'exec', this.opts.netns, ...argv] : argv;
    return new Promise((resolve) => {
      const child = spawn(full[0]!, full.slice(1), { env: this.env, stdio: ['pipe', 'pipe', 'pipe'], timeout: this.opts.timeoutMs ?? 30_000 });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e: NodeJS.ErrnoException) => resolve({ code: e.code === 'ENOENT' ? 127 : 126, stdout: '', stderr: `${full[0]}: ${e.message}` }));
      child.on('close', (code, signal) => {
        const stderr = Buffer.concat(err).toString('utf8');
        // `ip netns exec` reports a missing program with exit 1: say 127 as a shell would.
        const missing = this.opts.netns !== undefined && code === 1 && /^exec of ".*" failed: No such file or directory/m.test(stderr);
        resolve({ code: missing ? 127 : (code ?? (signal ? 128 : 1)), stdout: Buffer.concat(out).toString('utf8'), stderr });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(input ?? '');
    });
  }
}

/** POSIX single-quoting of one word for sh. */
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=,+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

interface ShellJob {
  script: string;
  marker: string;
  resolve: (r: CommandResult) => void;
}

/** One long-lived `sh` (inside the namespace when asked) that runs commands one at a time. */
class HelperShell {
  private child?: ChildProcessWithoutNullStreams;
  private out = '';
  private err = '';
  private job?: ShellJob;
  /** The shell process the current job was written to. */
  private jobChild?: ChildProcessWithoutNullStreams;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly argv: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly timeoutMs: number,
  ) {}

  private start(): ChildProcessWithoutNullStreams {
    // detached: its own process group, so a timed-out command is killed with its children, and
    // Ctrl-C on the agent's terminal does not reach it.
    const child = spawn(this.argv[0]!, this.argv.slice(1), { env: this.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      this.out += d;
      this.settle();
    });
    child.stderr.on('data', (d: string) => {
      this.err += d;
      this.settle();
    });
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => {
      if (this.jobChild === child) this.fail(127, `${this.argv[0]}: ${e.message}`);
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.jobChild === child) this.fail(code === 127 ? 127 : 126, `helper shell exited (${signal ?? code})`);
    });
    this.idle(child);
    return child;
  }

  /** Idle shells must not keep the agent process alive. */
  private idle(child: ChildProcessWithoutNullStreams): void {
    child.unref();
    (child.stdout as unknown as { unref(): void }).unref();
    (child.stderr as unknown as { unref(): void }).unref();
    (child.stdin as unknown as { unref?(): void }).unref?.();
  }
  private active(child: ChildProcessWithoutNullStreams): void {
    child.ref();
    (child.stdout as unknown as { ref(): void }).ref();
    (child.stderr as unknown as { ref(): void }).ref();
  }

  run(script: string, marker: string): Promise<CommandResult> {
    return new Promise((resolve) => {
      const child = this.child ?? (this.child = this.start());
      this.job = { script, marker, resolve };
      this.jobChild = child;
      this.out = '';
      this.err = '';
      this.active(child);
      this.timer = setTimeout(() => {
        this.fail(124, `timed out after ${this.timeoutMs} ms`);
        this.kill(child);
      }, this.timeoutMs);
      child.stdin.write(script);
    });
  }

  private settle(): void {
    const job = this.job;
    if (!job) return;
    const endOut = this.out.indexOf(`\n${job.marker} `);
    const endErr = this.err.indexOf(`\n${job.marker}\n`);
    if (endOut < 0 || endErr < 0) return;
    const rest = this.out.slice(endOut + job.marker.length + 2);
    const nl = rest.indexOf('\n');
    if (nl < 0) return;
    const code = Number(rest.slice(0, nl));
    this.finish({ code, stdout: this.out.slice(0, endOut), stderr: this.err.slice(0, endErr) });
  }

  private finish(r: CommandResult): void {
    const job = this.job;
    this.job = undefined;
    this.jobChild = undefined;
    clearTimeout(this.timer);
    this.out = '';
    this.err = '';
    if (this.child) this.idle(this.child);
    job?.resolve(r);
  }

  private fail(code: number, message: string): void {
    if (this.job) this.finish({ code, stdout: this.out, stderr: `${this.err}${message}` });
  }

  private kill(child: ChildProcessWithoutNullStreams): void {
    if (this.child === child) this.child = undefined;
    if (child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  close(): Promise<void> {
    const child = this.child;
    if (!child) return Promise.resolve();
    this.child = undefined;
    this.active(child); // keep the process alive until the shell has gone
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.stdin.end();
      setTimeout(() => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone
        }
        resolve();
      }, 1_000).unref();
    });
  }
}

/**
 * Runs commands through a small pool of long-lived `sh` processes (started inside the network
 * namespace when asked). Starting a process from Node costs several times what a shell's fork
 * costs, and the periodic check is nothing but two short commands: this keeps a check cheap.
 * Semantics match ProcessRunner: exit code, stdout, stderr, stdin input (a quoted here-document),
 * 127 for a missing binary.
 */
export class ShellRunner implements CommandRunner {
  readonly where: string;
  private readonly shells: HelperShell[];
  private readonly free: HelperShell[];
  private readonly waiters: ((s: HelperShell) => void)[] = [];
  private readonly lookup: ProcessRunner;
  private seq = 0;

  constructor(opts: ProcessRunnerOptions & { shells?: number } = {}) {
    this.where = opts.netns ? `netns ${opts.netns}` : 'host';
    const env = opts.env ?? process.env;
    const argv = opts.netns ? ['ip', 'netns', 'exec', opts.netns, '/bin/sh'] : ['/bin/sh'];
    this.shells = Array.from({ length: opts.shells ?? 2 }, () => new HelperShell(argv, env, opts.timeoutMs ?? 30_000));
    this.free = [...this.shells];
    this.lookup = new ProcessRunner({ env });
  }

  has(name: string): Promise<boolean> {
    return this.lookup.has(name);
  }

  async run(argv: string[], input?: string): Promise<CommandResult> {
    const shell = await this.acquire();
    try {
      const marker = `@@ovn-drift-${process.pid}-${++this.seq}-${randomBytes(4).toString('hex')}@@`;
      const cmd = argv.map(shellQuote).join(' ');
      let stdin = '</dev/null';
      let body = '';
      if (input !== undefined) {
        const eof = `OVN_DRIFT_EOF_${randomBytes(6).toString('hex')}`;
        stdin = `<<'${eof}'`;
        body = `${input}${input.endsWith('\n') || input === '' ? '' : '\n'}${eof}\n`;
      }
      const script = `${cmd} ${stdin}\n${body}__rc=$?; printf '\\n%s %d\\n' '${marker}' "$__rc"; printf '\\n%s\\n' '${marker}' >&2\n`;
      return await shell.run(script, marker);
    } finally {
      this.release(shell);
    }
  }

  private acquire(): Promise<HelperShell> {
    const shell = this.free.pop();
    return shell ? Promise.resolve(shell) : new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(shell: HelperShell): void {
    const next = this.waiters.shift();
    if (next) next(shell);
    else this.free.push(shell);
  }

  async close(): Promise<void> {
    await Promise.all(this.shells.map((s) => s.close()));
  }
}

export type Backend = 'legacy' | 'nft';

function binaryNames(family: Family, backend: Backend): { list: string; restore: string; save: string } {
  const base = family === 'ipv4' ? 'iptables' : 'ip6tables';
  return { list: `${base}-${backend}`, restore: `${base}-${backend}-restore`, save: `${base}-${backend}-save` };
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('# Warning'))
      .join(' | ')
      .slice(0, 400) || '(no output)'
  );
}

/** iptables of one family and one backend, raw table only. */
export class RawTable {
  readonly bin: { list: string; restore: string; save: string };
  constructor(
    private readonly runner: CommandRunner,
    readonly family: Family,
    readonly backend: Backend,
  ) {
    this.bin = binaryNames(family, backend);
  }

  private async ensure(name: string): Promise<void> {
    if (!(await this.runner.has(name))) throw new AgentError('IptablesMissing', `${name} is not installed (needed for ${this.family} ${this.backend} iptables)`);
  }

  /** `iptables -w -t raw -S`: the raw table only, one process; small on any node. */
  async list(): Promise<string> {
    await this.ensure(this.bin.list);
    const r = await this.runner.run([this.bin.list, '-w', '-t', 'raw', '-S']);
    if (r.code !== 0) throw new AgentError('IptablesFailed', `${this.bin.list} -t raw -S failed (exit ${r.code}, ${this.runner.where}): ${firstLine(r.stderr)}`);
    return r.stdout;
  }

  /** Applies one restore input atomically, leaving every other chain alone. */
  async restore(input: string): Promise<void> {
    await this.ensure(this.bin.restore);
    const r = await this.runner.run([this.bin.restore, '--noflush', '-w'], input);
    if (r.code !== 0) throw new AgentError('IptablesFailed', `${this.bin.restore} --noflush failed (exit ${r.code}, ${this.runner.where}): ${firstLine(r.stderr)}`);
  }
}

/**
 * Deletes conntrack entries for the ports just exempted, in both directions of the original tuple
 * (the port as destination and as source). `conntrack -D` exits 1 when nothing matched: not an error.
 */
export async function clearConntrack(runner: CommandRunner, family: Family, ports: NoTrackPort[]): Promise<number> {
  if (ports.length === 0) return 0;
  if (!(await runner.has('conntrack'))) throw new AgentError('ConntrackFailed', 'conntrack is not installed: existing tracked flows of the exempted ports were not cleared');
  // One process per port and direction, run in parallel: a repair should not wait on them in turn.
  const counts = await Promise.all(
    ports.flatMap((p) =>
      ['--orig-port-dst', '--orig-port-src'].map(async (dir) => {
        const r = await runner.run(['conntrack', '-D', '-f', family, '-p', p.protocol.toLowerCase(), dir, String(p.port)]);
        const m = /(\d+) flow entries have been deleted/.exec(r.stderr + r.stdout);
        if (m) return Number(m[1]);
        if (r.code !== 0) throw new AgentError('ConntrackFailed', `conntrack -D -p ${p.protocol.toLowerCase()} ${dir} ${p.port} failed (exit ${r.code}): ${firstLine(r.stderr)}`);
        return 0;
      }),
    ),
  );
  const deleted = counts.reduce((a, b) => a + b, 0);
  return deleted;
}

export interface BackendDetection {
  backend: Backend;
  reason: string;
}

async function saveOutput(runner: CommandRunner, argv: string[]): Promise<string> {
  if (!(await runner.has(argv[0]!))) return '';
  const r = await runner.run(argv);
  return r.code === 0 ? r.stdout : '';
}

/**
 * Legacy or nft, decided as kube-proxy's iptables-wrapper and Calico decide: kubelet's
 * KUBE-IPTABLES-HINT / KUBE-KUBELET-CANARY chain in the mangle table (nft first, then legacy);
 * otherwise the backend holding more rules (ties go to nft). Runs once at start-up: it reads full
 * saves, which is expensive on a big node.
 */
export async function detectBackend(runner: CommandRunner): Promise<BackendDetection> {
  const hasNft = await runner.has('iptables-nft-save');
  const hasLegacy = await runner.has('iptables-legacy-save');
  if (!hasNft && !hasLegacy) throw new AgentError('IptablesMissing', 'neither iptables-nft-save nor iptables-legacy-save is installed');
  if (!hasLegacy) return { backend: 'nft', reason: 'only the nft binaries are installed' };
  if (!hasNft) return { backend: 'legacy', reason: 'only the legacy binaries are installed' };
  // Full saves without -t: naming a table would instantiate it in legacy mode.
  const saves: Record<Backend, string> = { nft: '', legacy: '' };
  for (const backend of ['nft', 'legacy'] as const) {
    for (const base of ['iptables', 'ip6tables']) saves[backend] += (await saveOutput(runner, [`${base}-${backend}-save`])) + '\n';
  }
  for (const backend of ['nft', 'legacy'] as const) {
    const m = /^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY)\s/m.exec(tableSection(saves[backend], 'mangle'));
    if (m) return { backend, reason: `kubelet's ${m[1]} chain found in the ${backend} mangle table` };
  }
  const count = (text: string): number => text.split('\n').filter((l) => l.startsWith('-')).length;
  const legacy = count(saves.legacy);
  const nft = count(saves.nft);
  if (legacy > nft) return { backend: 'legacy', reason: `no kubelet hint chain; legacy holds more rules (${legacy} vs ${nft} nft)` };
  return { backend: 'nft', reason: `no kubelet hint chain; nft holds at least as many rules (${nft} vs ${legacy} legacy)` };
}

/** The lines of one `*table` section of iptables-save output (all families concatenated is fine). */
function tableSection(save: string, table: string): string {
  const out: string[] = [];
  let inside = false;
  for (const l of save.split('\n')) {
    if (l.startsWith('*')) inside = l.trim() === `*${table}`;
    else if (l.trim() === 'COMMIT') inside = false;
    else if (inside) out.push(l);
  }
  return out.join('\n');
}
