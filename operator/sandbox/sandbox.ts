// The embedded local OVN control plane: NB and SB ovsdb-server (standalone or 3-member RAFT
// clusters) and ovn-northd as child processes in a temp dir, on free loopback TCP ports and unix
// sockets. Used by `demo`, `sandbox` and the tests. It must not import the OVSDB client: it drives
// OVN only through its own tools (ovsdb-tool, ovn-nbctl, ovn-sbctl), as an operator's cluster would.
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, access } from 'node:fs/promises';
import { constants as fsConstants, existsSync, readFileSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, delimiter } from 'node:path';
import { promisify } from 'node:util';
import { OvnDriftError } from '../errors.js';

const execFileP = promisify(execFile);

export const OVN_SCHEMA_DIR = process.env.OVN_SCHEMA_DIR ?? '/usr/share/ovn';

/** An OvnDriftError (operator/errors.ts): a missing OVN binary is exit 1 (install it), the rest exit 2. */
export class SandboxError extends OvnDriftError {
  declare readonly code: 'BinaryMissing' | 'StartFailed' | 'CommandFailed';
  constructor(code: 'BinaryMissing' | 'StartFailed' | 'CommandFailed', message: string, options?: ErrorOptions) {
    super(code, message, { ...options, exit: code === 'BinaryMissing' ? 'badInput' : 'runtime' });
  }
}

/** Which Debian package provides each binary the sandbox runs. */
const PACKAGE_OF: Record<string, string> = {
  'ovsdb-server': 'openvswitch-common (pulled in by ovn-central)',
  'ovsdb-tool': 'openvswitch-common (pulled in by ovn-central)',
  'ovn-northd': 'ovn-central',
  'ovn-nbctl': 'ovn-central',
  'ovn-sbctl': 'ovn-central',
};

async function onPath(binary: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      await access(join(dir, binary), fsConstants.X_OK);
      return true;
    } catch {
      /* try the next directory */
    }
  }
  return false;
}

async function requireOvnBinaries(): Promise<void> {
  const missing: string[] = [];
  for (const bin of Object.keys(PACKAGE_OF)) if (!(await onPath(bin))) missing.push(bin);
  if (!existsSync(join(OVN_SCHEMA_DIR, 'ovn-nb.ovsschema'))) missing.push(`${OVN_SCHEMA_DIR}/ovn-nb.ovsschema`);
  if (missing.length > 0) {
    throw new SandboxError(
      'BinaryMissing',
      `the OVN sandbox needs ${missing.join(', ')}: install the Debian package ovn-central ` +
        `(apt-get install -y ovn-central)`,
    );
  }
}

/** A free TCP port on 127.0.0.1 (bound and released; the caller binds it right away). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}


async function canConnect(target: { path: string } | { port: number; host: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection(target as never);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Every child of every sandbox in this process, killed on exit so no test leaves orphans. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of liveChildren) c.kill('SIGKILL');
    });
  }
}

export type DbName = 'nb' | 'sb';

/** One ovsdb-server process serving one database file (standalone or one RAFT member). */
export class OvsdbServerProcess {
  child: ChildProcess | undefined;
  private stderr = '';

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly dbFile: string,
    readonly port: number,
    readonly socket: string,
  ) {}

  get tcpRemote(): string {
    return `tcp:127.0.0.1:${this.port}`;
  }

  get unixRemote(): string {
    return `unix:${this.socket}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Extra `--remote` arguments (e.g. an SSL listener); kept across restarts. */
  extraArgs: string[] = [];

  async start(): Promise<void> {
    if (this.running) return;
    const args = [
      this.dbFile,
      `--remote=punix:${this.socket}`,
      `--remote=ptcp:${this.port}:127.0.0.1`,
      `--unixctl=${join(this.dir, `${this.name}.ctl`)}`,
      `--log-file=${join(this.dir, `${this.name}.log`)}`,
      '-vconsole:off',
      ...this.extraArgs,
    ];
    this.child = spawnOwned('ovsdb-server', args, this.dir, (s) => (this.stderr += s));
    await waitUntil(
      async () => (await canConnect({ path: this.socket })) && (await canConnect({ host: '127.0.0.1', port: this.port })),
      10_000,
      () => this.child?.exitCode !== null && this.child?.exitCode !== undefined,
      () => `ovsdb-server ${this.name} did not start: ${this.stderr.trim() || this.logTail()}`,
    );
  }

  /** SIGTERM and wait for exit (SIGKILL after 5 s). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await stopChild(this.child, signal);
    this.child = undefined;
  }

  /** Last lines of the server's log, for error messages. */
  logTail(): string {
    try {
      return readFileSync(join(this.dir, `${this.name}.log`), 'utf8').split('\n').slice(-5).join('\n');
    } catch {
      return '';
    }
  }
}

function spawnOwned(bin: string, args: string[], cwd: string, onStderr: (s: string) => void): ChildProcess {
  // setpriv --pdeathsig makes the kernel kill the child if this process dies without cleanup
  // (a test worker killed by SIGKILL), so no ovsdb-server outlives the run.
  const usePdeath = existsSync('/usr/bin/setpriv');
  const child = usePdeath
    ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', bin, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: sandboxEnv(cwd) })
    : spawn(bin, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: sandboxEnv(cwd) });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => onStderr(s));
  child.on('error', (e) => onStderr(String(e)));
  track(child);
  return child;
}

function sandboxEnv(dir: string): NodeJS.ProcessEnv {
  return { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVN_RUNDIR: dir, OVN_LOGDIR: dir, OVN_DBDIR: dir };
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function waitUntil(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  died: () => boolean,
  describe: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (died() || Date.now() > deadline) throw new SandboxError('StartFailed', describe());
    await sleep(25);
  }
}

/** A database served by one process (standalone) or three RAFT members. */
export class SandboxDatabase {
  constructor(
    readonly kind: DbName,
    readonly members: OvsdbServerProcess[],
  ) {}

  /** OVSDB remote for clients: one tcp remote, or the comma-separated cluster list. */
  get remote(): string {
    return this.members.map((m) => m.tcpRemote).join(',');
  }

  /** Unix remotes of all members (what ovn-nbctl/northd use inside the sandbox). */
  get unixRemote(): string {
    return this.members.map((m) => m.unixRemote).join(',');
  }

  get clustered(): boolean {
    return this.members.length > 1;
  }
}

export interface SandboxOptions {
  /** 3-member RAFT clusters for NB and SB instead of standalone servers. */
  cluster?: boolean;
  /** Start ovn-northd (default true). */
  northd?: boolean;
  /** Parent directory for the temp dir (default os.tmpdir()). */
  parentDir?: string;
}

export class OvnSandbox {
  private northd: ChildProcess | undefined;
  private northdStderr = '';
  private stopped = false;

  private constructor(
    readonly dir: string,
    readonly nb: SandboxDatabase,
    readonly sb: SandboxDatabase,
  ) {}

  get nbRemote(): string {
    return this.nb.remote;
  }

  get sbRemote(): string {
    return this.sb.remote;
  }

  static async start(opts: SandboxOptions = {}): Promise<OvnSandbox> {
    await requireOvnBinaries();
    const dir = await mkdtemp(join(opts.parentDir ?? tmpdir(), 'ovn-drift-sandbox-'));
    let sandbox: OvnSandbox | undefined;
    try {
      const nb = await createDatabase(dir, 'nb', 'OVN_Northbound', 'ovn-nb.ovsschema', opts.cluster ?? false);
      const sb = await createDatabase(dir, 'sb', 'OVN_Southbound', 'ovn-sb.ovsschema', opts.cluster ?? false);
      sandbox = new OvnSandbox(dir, nb, sb);
      await sandbox.nbctl('--no-wait', 'init');
      await sandbox.sbctl('init');
      if (opts.northd ?? true) await sandbox.startNorthd();
      return sandbox;
    } catch (err) {
      if (sandbox) await sandbox.stop();
      else await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get northdRunning(): boolean {
    return this.northd !== undefined && this.northd.exitCode === null && this.northd.signalCode === null;
  }

  async startNorthd(): Promise<void> {
    if (this.northdRunning) return;
    const args = [
      `--ovnnb-db=${this.nb.unixRemote}`,
      `--ovnsb-db=${this.sb.unixRemote}`,
      `--unixctl=${join(this.dir, 'northd.ctl')}`,
      `--log-file=${join(this.dir, 'northd.log')}`,
      '-vconsole:off',
    ];
    this.northd = spawnOwned('ovn-northd', args, this.dir, (s) => (this.northdStderr += s));
    // northd is up once it answers on its control socket and has written SB_Global.nb_cfg.
    await waitUntil(
      async () => canConnect({ path: join(this.dir, 'northd.ctl') }),
      10_000,
      () => this.northd?.exitCode !== null && this.northd?.exitCode !== undefined,
      () => `ovn-northd did not start: ${this.northdStderr.trim()}`,
    );
    await this.nbctl('--wait=sb', '--timeout=20', 'sync');
  }

  async stopNorthd(): Promise<void> {
    await stopChild(this.northd, 'SIGTERM');
    this.northd = undefined;
  }

  /** Runs ovn-nbctl against the sandbox NB; returns stdout. */
  async nbctl(...args: string[]): Promise<string> {
    return this.tool('ovn-nbctl', this.nb, args);
  }

  /** Runs ovn-sbctl against the sandbox SB; returns stdout. */
  async sbctl(...args: string[]): Promise<string> {
    return this.tool('ovn-sbctl', this.sb, args);
  }

  /** Runs ovsdb-client against one database (e.g. `dump`, `-f`, `json`). */
  async ovsdbClient(db: DbName, ...args: string[]): Promise<string> {
    const remote = (db === 'nb' ? this.nb : this.sb).members.find((m) => m.running) ?? this.nb.members[0]!;
    const [verb, ...rest] = args;
    return run('ovsdb-client', [verb!, remote.unixRemote, ...rest], this.dir);
  }

  private async tool(bin: string, db: SandboxDatabase, args: string[]): Promise<string> {
    const live = db.members.filter((m) => m.running).map((m) => m.unixRemote);
    return run(bin, [`--db=${live.join(',') || db.unixRemote}`, ...args], this.dir);
  }

  /** Stops everything and removes the temp dir. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.stopNorthd();
    await Promise.all([...this.nb.members, ...this.sb.members].map((m) => m.stop()));
    await rm(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

async function run(bin: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await execFileP(bin, args, { cwd, env: sandboxEnv(cwd), maxBuffer: 1 << 30 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new SandboxError('CommandFailed', `${bin} ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

async function createDatabase(
  dir: string,
  kind: DbName,
  dbName: string,
  schemaFile: string,
  cluster: boolean,
): Promise<SandboxDatabase> {
  const schema = join(OVN_SCHEMA_DIR, schemaFile);
  if (!cluster) {
    const file = join(dir, `${kind}.db`);
    await run('ovsdb-tool', ['create', file, schema], dir);
    const server = new OvsdbServerProcess(kind, dir, file, await freePort(), join(dir, `${kind}.sock`));
    await server.start();
    return new SandboxDatabase(kind, [server]);
  }
  const raftPorts = [await freePort(), await freePort(), await freePort()];
  const members: OvsdbServerProcess[] = [];
  for (let i = 0; i < 3; i++) {
    const name = `${kind}${i + 1}`;
    const file = join(dir, `${name}.db`);
    const local = `tcp:127.0.0.1:${raftPorts[i]}`;
    if (i === 0) await run('ovsdb-tool', ['create-cluster', file, schema, local], dir);
    else await run('ovsdb-tool', ['join-cluster', file, dbName, local, `tcp:127.0.0.1:${raftPorts[0]}`], dir);
    members.push(new OvsdbServerProcess(name, dir, file, await freePort(), join(dir, `${name}.sock`)));
  }
  // Members 2 and 3 finish joining only while member 1 runs; start all, then wait for the cluster.
  await Promise.all(members.map((m) => m.start()));
  await waitForCluster(dir, members, dbName);
  return new SandboxDatabase(kind, members);
}

/** Waits until every member reports itself as part of a cluster with a leader. */
async function waitForCluster(dir: string, members: OvsdbServerProcess[], dbName: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (const m of members) {
    for (;;) {
      try {
        const status = await run('ovs-appctl', ['-t', join(dir, `${m.name}.ctl`), 'cluster/status', dbName], dir);
        if (/Status: cluster member/.test(status) && /Leader: (?!unknown)/.test(status)) break;
      } catch {
        /* not ready yet */
      }
      if (Date.now() > deadline) throw new SandboxError('StartFailed', `RAFT member ${m.name} did not join the ${dbName} cluster`);
      await sleep(100);
    }
  }
}

/** The leader member of a clustered database (by `cluster/status`), or undefined. */
export async function clusterLeader(sandbox: OvnSandbox, db: SandboxDatabase): Promise<OvsdbServerProcess | undefined> {
  const dbName = db.kind === 'nb' ? 'OVN_Northbound' : 'OVN_Southbound';
  for (const m of db.members.filter((x) => x.running)) {
    try {
      const status = await run('ovs-appctl', ['-t', join(sandbox.dir, `${m.name}.ctl`), 'cluster/status', dbName], sandbox.dir);
      if (/Role: leader/.test(status)) return m;
    } catch {
      /* member not answering */
    }
  }
  return undefined;
}

