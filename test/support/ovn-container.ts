// The container backend of the test sandbox: NB and SB ovsdb-server and ovn-northd of another OVN
// release, run in one disposable container (testcontainers) built by test/images/build.sh, with
// the same interface as OvnSandbox (operator/sandbox/sandbox.ts) so the drift and acceptance suites
// run unchanged against either. The container uses the host network (the Docker engine here has no
// bridge); the servers listen on free loopback ports and on unix sockets in a temp dir that is
// bind-mounted at the same path, so the product under test reaches them exactly as it reaches the
// local sandbox. Every OVN tool (ovsdb-tool, ovn-nbctl, ovn-sbctl, ovsdb-client, ovs-appctl) runs
// INSIDE the container (`docker exec`): fixtures are built by that release's own tools.
// Test-only: testcontainers is a devDependency, so nothing under operator/ may import this file.
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenericContainer, ImageName, Wait, getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';
import { SandboxError, freePort, type DbName } from '../../operator/sandbox/sandbox.js';
import type { Sandbox, SandboxDb, SandboxServer } from './releases.js';

/** The containers run no reaper (its image cannot be pulled here): every sandbox stops its own. */
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
/**
 * Inside a container (/.dockerenv, as on this machine) testcontainers looks for the Docker host
 * through the `bridge` network's gateway, which an engine started with --bridge=none does not
 * have ("no such network - network bridge not found"). The containers share the host network.
 */
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';

/** Label on every container this backend starts (`docker rm -f $(docker ps -aq -f label=...)`). */
const CONTAINER_LABEL = 'ovn-drift.test';

const READY = 'ovn-drift: container ready';

export interface ContainerSandboxOptions {
  /** The release's image, e.g. ovn-drift/ovn:25.03 (built by test/images/build.sh). */
  image: string;
  /** The release, for messages, e.g. 25.03. */
  version: string;
  /**
   * A running container of that image to start the daemons in (shared by the sandboxes of a test
   * file; the caller stops it). Without it the sandbox starts its own and stops it with itself.
   */
  container?: OvnContainer;
  /** Start ovn-northd (default true). */
  northd?: boolean;
  /** 3-member RAFT clusters: not supported by this backend (the cluster suites run locally). */
  cluster?: boolean;
}

function canConnect(target: { path: string } | { port: number; host: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection(target as never);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/**
 * One running container of an OVN release image: host network, the real tmpdir bind-mounted at
 * the same path, `sleep` under tini as PID 1 (tini reaps the daemons the sandboxes start and
 * stop). Starting one copies the image's root file system (vfs), which takes seconds: a test file
 * starts one per release and all its sandboxes share it, each in its own temp dir.
 */
export class OvnContainer {
  private stopped = false;

  private constructor(
    readonly image: string,
    readonly version: string,
    readonly tmp: string,
    private readonly container: StartedTestContainer,
  ) {}

  static async start(image: string, version: string): Promise<OvnContainer> {
    // Under the real tmpdir, which the container sees at the same path: the unix sockets, logs
    // and any file a test hands to the servers (PKI) are shared both ways.
    const tmp = await realpath(tmpdir());
    const container = await new GenericContainer(image)
      .withNetworkMode('host')
      .withBindMounts([{ source: tmp, target: tmp, mode: 'rw' }])
      .withCommand(['sh', '-c', `echo '${READY}'; exec sleep infinity`])
      .withLabels({ [CONTAINER_LABEL]: version })
      .withWaitStrategy(Wait.forLogMessage(READY))
      .withStartupTimeout(240_000)
      .start()
      .catch((err: unknown) => {
        throw new SandboxError('StartFailed', containerStartMessage(image, version, err), { cause: err });
      });
    return new OvnContainer(image, version, tmp, container);
  }

  /** The container's id (for `docker logs`/`docker exec` while debugging). */
  get id(): string {
    return this.container.getId();
  }

  /** Runs one command in the container; stdout, or CommandFailed with its stderr. */
  async exec(bin: string, args: string[], dir: string): Promise<string> {
    if (this.stopped) throw new SandboxError('CommandFailed', `${bin}: the OVN ${this.version} container is stopped`);
    const env = { OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVN_RUNDIR: dir, OVN_LOGDIR: dir, OVN_DBDIR: dir };
    const r = await this.container.exec([bin, ...args], { workingDir: dir, env });
    if (r.exitCode !== 0) {
      throw new SandboxError('CommandFailed', `${bin} ${args.join(' ')} (OVN ${this.version} container): ${(r.stderr || r.stdout).trim() || `exit ${r.exitCode}`}`);
    }
    return r.stdout;
  }

  /** Removes the container and everything running in it. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.container.stop({ timeout: 0, remove: true }).catch(() => undefined);
  }
}

/** One ovsdb-server daemon inside the container, serving one database file. */
class ContainerOvsdbServer implements SandboxServer {
  /** Extra `--remote`/SSL arguments; kept across restarts (paths must be under the temp dir). */
  extraArgs: string[] = [];
  private up = false;

  constructor(
    private readonly box: ContainerSandbox,
    readonly name: string,
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
    return this.up;
  }

  async start(): Promise<void> {
    if (this.up) return;
    const dir = this.box.dir;
    // --detach returns once the remotes listen; the probe below checks it from the host side.
    await this.box.exec('ovsdb-server', [
      this.dbFile,
      '--detach', '--no-chdir',
      `--pidfile=${join(dir, `${this.name}.pid`)}`,
      `--remote=punix:${this.socket}`,
      `--remote=ptcp:${this.port}:127.0.0.1`,
      `--unixctl=${join(dir, `${this.name}.ctl`)}`,
      `--log-file=${join(dir, `${this.name}.log`)}`,
      '-vconsole:off',
      ...this.extraArgs,
    ]);
    this.up = true;
    const deadline = Date.now() + 10_000;
    while (!((await canConnect({ path: this.socket })) && (await canConnect({ host: '127.0.0.1', port: this.port })))) {
      if (Date.now() > deadline) throw new SandboxError('StartFailed', `ovsdb-server ${this.name} (OVN ${this.box.version} container) does not answer: ${this.logTail()}`);
      await sleep(25);
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.up) return;
    await this.box.kill(join(this.box.dir, `${this.name}.pid`), signal);
    this.up = false;
  }

  logTail(): string {
    try {
      return readFileSync(join(this.box.dir, `${this.name}.log`), 'utf8').split('\n').slice(-5).join('\n');
    } catch {
      return '';
    }
  }
}

class ContainerDatabase implements SandboxDb {
  constructor(
    readonly kind: DbName,
    readonly members: ContainerOvsdbServer[],
  ) {}

  get remote(): string {
    return this.members.map((m) => m.tcpRemote).join(',');
  }

  get unixRemote(): string {
    return this.members.map((m) => m.unixRemote).join(',');
  }

  get clustered(): boolean {
    return this.members.length > 1;
  }
}

export class ContainerSandbox implements Sandbox {
  private northdUp = false;
  private stopped = false;
  readonly nb: ContainerDatabase;
  readonly sb: ContainerDatabase;

  private constructor(
    readonly dir: string,
    readonly version: string,
    private readonly container: OvnContainer,
    private readonly ownsContainer: boolean,
    ports: { nb: number; sb: number },
  ) {
    this.nb = new ContainerDatabase('nb', [new ContainerOvsdbServer(this, 'nb', join(dir, 'nb.db'), ports.nb, join(dir, 'nb.sock'))]);
    this.sb = new ContainerDatabase('sb', [new ContainerOvsdbServer(this, 'sb', join(dir, 'sb.db'), ports.sb, join(dir, 'sb.sock'))]);
  }

  get nbRemote(): string {
    return this.nb.remote;
  }

  get sbRemote(): string {
    return this.sb.remote;
  }

  /** The container's id (for `docker logs`/`docker exec` while debugging). */
  get containerId(): string {
    return this.container.id;
  }

  static async start(opts: ContainerSandboxOptions): Promise<ContainerSandbox> {
    if (opts.cluster) {
      throw new SandboxError('StartFailed', `the OVN ${opts.version} container sandbox runs standalone NB/SB only (cluster: true is served by the local sandbox)`);
    }
    const container = opts.container ?? (await OvnContainer.start(opts.image, opts.version));
    let dir: string | undefined;
    let box: ContainerSandbox | undefined;
    try {
      dir = await mkdtemp(join(container.tmp, 'ovn-drift-ctr-'));
      box = new ContainerSandbox(dir, opts.version, container, !opts.container, { nb: await freePort(), sb: await freePort() });
      const schemas = '/usr/share/ovn';
      await Promise.all([
        box.exec('ovsdb-tool', ['create', box.nb.members[0]!.dbFile, `${schemas}/ovn-nb.ovsschema`]),
        box.exec('ovsdb-tool', ['create', box.sb.members[0]!.dbFile, `${schemas}/ovn-sb.ovsschema`]),
      ]);
      await Promise.all([box.nb.members[0]!.start(), box.sb.members[0]!.start()]);
      await box.nbctl('--no-wait', 'init');
      await box.sbctl('init');
      if (opts.northd ?? true) await box.startNorthd();
      return box;
    } catch (err) {
      if (box) await box.stop();
      else {
        if (!opts.container) await container.stop();
        if (dir) await rm(dir, { recursive: true, force: true });
      }
      throw err;
    }
  }

  get northdRunning(): boolean {
    return this.northdUp;
  }

  async startNorthd(): Promise<void> {
    if (this.northdUp) return;
    await this.exec('ovn-northd', [
      '--detach', '--no-chdir',
      `--pidfile=${join(this.dir, 'northd.pid')}`,
      `--ovnnb-db=${this.nb.unixRemote}`,
      `--ovnsb-db=${this.sb.unixRemote}`,
      `--unixctl=${join(this.dir, 'northd.ctl')}`,
      `--log-file=${join(this.dir, 'northd.log')}`,
      '-vconsole:off',
    ]);
    this.northdUp = true;
    await this.nbctl('--wait=sb', '--timeout=20', 'sync');
  }

  async stopNorthd(): Promise<void> {
    if (!this.northdUp) return;
    await this.kill(join(this.dir, 'northd.pid'), 'SIGTERM');
    this.northdUp = false;
  }

  /** Runs this release's ovn-nbctl against the sandbox NB; returns stdout. */
  async nbctl(...args: string[]): Promise<string> {
    return this.tool('ovn-nbctl', this.nb, args);
  }

  /** Runs this release's ovn-sbctl against the sandbox SB; returns stdout. */
  async sbctl(...args: string[]): Promise<string> {
    return this.tool('ovn-sbctl', this.sb, args);
  }

  /** Runs this release's ovsdb-client against one database (e.g. `dump`, `-f`, `json`). */
  async ovsdbClient(db: DbName, ...args: string[]): Promise<string> {
    const d = db === 'nb' ? this.nb : this.sb;
    const remote = d.members.find((m) => m.running) ?? d.members[0]!;
    const [verb, ...rest] = args;
    return this.exec('ovsdb-client', [verb!, remote.unixRemote, ...rest]);
  }

  /** `ovn-northd --version` of the release in the container (first line). */
  async northdVersion(): Promise<string> {
    return (await this.exec('ovn-northd', ['--version'])).split('\n')[0]!.trim();
  }

  private async tool(bin: string, db: ContainerDatabase, args: string[]): Promise<string> {
    const live = db.members.filter((m) => m.running).map((m) => m.unixRemote);
    return this.exec(bin, [`--db=${live.join(',') || db.unixRemote}`, ...args]);
  }

  /** Runs one command in the container, in the temp dir; stdout, or CommandFailed with its stderr. */
  async exec(bin: string, args: string[]): Promise<string> {
    if (this.stopped) throw new SandboxError('CommandFailed', `${bin}: the OVN ${this.version} container sandbox is stopped`);
    return this.container.exec(bin, args, this.dir);
  }

  /** Signals the daemon of a pidfile and waits for it to be gone (SIGKILL after 5 s). */
  async kill(pidfile: string, signal: NodeJS.Signals): Promise<void> {
    const sig = signal.replace(/^SIG/, '');
    await this.exec('sh', ['-c', [
      `pid=$(cat '${pidfile}' 2>/dev/null) || exit 0`,
      `kill -${sig} "$pid" 2>/dev/null || exit 0`,
      'i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do i=$((i+1)); [ $i -eq 100 ] && kill -KILL "$pid"; sleep 0.05; done',
      `rm -f '${pidfile}'`,
    ].join('; ')]);
  }

  /**
   * Stops northd and the servers (the whole container when the sandbox started its own) and
   * removes the temp dir. Safe to call twice.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    if (this.ownsContainer) await this.container.stop();
    else {
      await Promise.all([this.stopNorthd(), ...this.nb.members.map((m) => m.stop()), ...this.sb.members.map((m) => m.stop())]).catch(() => undefined);
    }
    this.stopped = true;
    await rm(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * Why a release's container cannot start here, or undefined when it can: no Docker engine answers,
 * or the image is not built. Cheap (no container is started), so suites can fail at once.
 */
export async function containerUnavailable(image: string, version: string): Promise<string | undefined> {
  let client;
  try {
    client = await getContainerRuntimeClient();
  } catch (err) {
    return containerStartMessage(image, version, err);
  }
  if (!(await client.image.exists(ImageName.fromString(image)))) {
    return `OVN ${version}: the image ${image} is not in the local Docker engine; build it: test/images/build.sh ${version}`;
  }
  return undefined;
}

function containerStartMessage(image: string, version: string, err: unknown): string {
  const opts = { image, version };
  const why = err instanceof Error ? err.message : String(err);
  if (/No such image|not found|pull access denied|manifest unknown|lookup|ENOTFOUND/i.test(why)) {
    return `OVN ${opts.version}: the image ${opts.image} is not in the local Docker engine (${why.split('\n')[0]}); build it: test/images/build.sh ${opts.version}`;
  }
  if (/Could not find a working container runtime|ENOENT|ECONNREFUSED|docker\.sock/i.test(why)) {
    return `OVN ${opts.version}: no Docker engine answers (${why.split('\n')[0]}); start one: scripts/docker-engine.sh start`;
  }
  return `OVN ${opts.version}: the container ${opts.image} did not start: ${why}`;
}
