// Test support: a real OVN hypervisor in a network namespace the test creates — its own
// ovsdb-server (fresh Open_vSwitch conf.db), userspace ovs-vswitchd (br-int, datapath_type=netdev)
// and ovn-controller joined to a sandbox SB over its unix socket (a filesystem path, so it crosses
// namespaces without a veth). One namespace per hypervisor: two netdev datapaths in one namespace
// collide on the tap `ovs-netdev`. Every process runs in the foreground as a child of the test
// (setpriv --pdeathsig KILL, as the sandbox does), with pid/ctl/log files in a temp dir, never the
// system paths; `stop()` kills them and deletes the namespace and the dir.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const VSWITCH_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

export interface HypervisorOptions {
  /** system-id, i.e. the SB Chassis name. */
  name: string;
  /** external_ids:ovn-encap-ip (any address; the tunnels are never used). */
  encapIp: string;
  /** external_ids:hostname (the SB Chassis.hostname). */
  hostname: string;
  /** The sandbox SB's unix remote, `unix:/path/sb.sock`. */
  sbRemote: string;
}

type Daemon = 'ovsdb-server' | 'ovs-vswitchd' | 'ovn-controller';

async function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export class Hypervisor {
  private readonly children = new Map<Daemon, ChildProcess>();
  private readonly stderr = new Map<Daemon, string>();

  private constructor(
    readonly opts: HypervisorOptions,
    readonly netns: string,
    readonly dir: string,
  ) {}

  get name(): string {
    return this.opts.name;
  }

  private get env(): NodeJS.ProcessEnv {
    const d = this.dir;
    return { ...process.env, OVS_RUNDIR: d, OVS_LOGDIR: d, OVS_DBDIR: d, OVS_SYSCONFDIR: d, OVN_RUNDIR: d, OVN_LOGDIR: d, OVN_DBDIR: d, OVN_SYSCONFDIR: d };
  }

  get dbRemote(): string {
    return `unix:${join(this.dir, 'db.sock')}`;
  }

  /** Creates the namespace and starts ovsdb-server, ovs-vswitchd (br-int) and ovn-controller. */
  static async start(opts: HypervisorOptions): Promise<Hypervisor> {
    const netns = `odhv-${opts.name}-${process.pid}`;
    await execFileP('ip', ['netns', 'add', netns]);
    const hv = new Hypervisor(opts, netns, await mkdtemp(join(tmpdir(), `ovn-drift-hv-${opts.name}-`)));
    try {
      await hv.inNs('ip', 'link', 'set', 'lo', 'up');
      const d = hv.dir;
      await execFileP('ovsdb-tool', ['create', join(d, 'conf.db'), VSWITCH_SCHEMA]);
      hv.spawnDaemon('ovsdb-server', [join(d, 'conf.db'), `--remote=punix:${join(d, 'db.sock')}`]);
      await hv.waitFor(() => canConnect(join(d, 'db.sock')), 'ovsdb-server', 'db.sock');
      await hv.vsctl('--no-wait', 'init');
      hv.spawnDaemon('ovs-vswitchd', [hv.dbRemote]);
      await hv.waitFor(() => canConnect(join(d, 'ovs-vswitchd.ctl')), 'ovs-vswitchd', 'ovs-vswitchd.ctl');
      // br-int as ovn-controller expects it (it would create it itself, but as a system datapath)
      await hv.vsctl('--timeout=20', 'add-br', 'br-int', '--', 'set', 'Bridge', 'br-int', 'datapath_type=netdev', 'fail-mode=secure', 'other-config:disable-in-band=true');
      await hv.vsctl(
        'set', 'open', '.',
        `external_ids:system-id=${opts.name}`,
        `external_ids:hostname=${opts.hostname}`,
        `external_ids:ovn-remote=${opts.sbRemote}`,
        'external_ids:ovn-encap-type=geneve',
        `external_ids:ovn-encap-ip=${opts.encapIp}`,
        'external_ids:ovn-bridge=br-int',
        'external_ids:ovn-bridge-datapath-type=netdev',
      );
      hv.spawnDaemon('ovn-controller', [hv.dbRemote]);
      await hv.waitFor(async () => (await hv.controllerCtl().then((p) => canConnect(p)).catch(() => false)), 'ovn-controller', 'ovn-controller.<pid>.ctl');
      return hv;
    } catch (err) {
      await hv.stop();
      throw err;
    }
  }

  /** ovn-controller's control socket (named after its pid). */
  async controllerCtl(): Promise<string> {
    const pid = readFileSync(join(this.dir, 'ovn-controller.pid'), 'utf8').trim();
    return join(this.dir, `ovn-controller.${pid}.ctl`);
  }

  private spawnDaemon(daemon: Daemon, args: string[]): void {
    const d = this.dir;
    const full = [
      ...args,
      `--pidfile=${join(d, `${daemon}.pid`)}`,
      // ovn-controller 23.03 has no --unixctl: its socket is $OVN_RUNDIR/ovn-controller.<pid>.ctl
      ...(daemon === 'ovn-controller' ? [] : [`--unixctl=${join(d, `${daemon}.ctl`)}`]),
      `--log-file=${join(d, `${daemon}.log`)}`,
      '-vconsole:off',
    ];
    // pdeathsig: the kernel kills the daemon if the test worker dies without cleanup
    const child = spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', 'ip', 'netns', 'exec', this.netns, daemon, ...full], {
      cwd: d,
      env: this.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.stderr.set(daemon, '');
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => this.stderr.set(daemon, (this.stderr.get(daemon) ?? '') + s));
    child.on('error', (e) => this.stderr.set(daemon, (this.stderr.get(daemon) ?? '') + String(e)));
    this.children.set(daemon, child);
    process.once('exit', () => child.kill('SIGKILL'));
  }

  private async waitFor(probe: () => Promise<boolean>, daemon: Daemon, what: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (await probe()) return;
      const c = this.children.get(daemon);
      if (c && (c.exitCode !== null || c.signalCode !== null || Date.now() > deadline)) {
        throw new Error(`${this.name}: ${daemon} did not come up (${what}): ${(this.stderr.get(daemon) ?? '').trim()}\n${this.logTail(daemon)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  running(daemon: Daemon): boolean {
    const c = this.children.get(daemon);
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** Runs a command inside the namespace with this hypervisor's environment; returns stdout. */
  async inNs(cmd: string, ...args: string[]): Promise<string> {
    try {
      const { stdout } = await execFileP('ip', ['netns', 'exec', this.netns, cmd, ...args], { env: this.env, cwd: this.dir });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${this.name}: ${cmd} ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`, { cause: err });
    }
  }

  async vsctl(...args: string[]): Promise<string> {
    return this.inNs('ovs-vsctl', `--db=${this.dbRemote}`, ...args);
  }

  /** Plugs a "VM": an OVS internal interface on br-int with external_ids:iface-id=<lsp>. */
  async plugVm(iface: string, lsp: string): Promise<void> {
    await this.vsctl('--timeout=20', 'add-port', 'br-int', iface, '--', 'set', 'Interface', iface, 'type=internal', `external_ids:iface-id=${lsp}`);
    await this.inNs('ip', 'link', 'set', iface, 'up');
  }

  /** Kills one daemon as a dead host would (SIGKILL by default) and waits for it to exit. */
  async kill(daemon: Daemon, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.children.get(daemon);
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill(signal);
    const t = setTimeout(() => c.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  }

  logTail(daemon: Daemon, lines = 8): string {
    const f = join(this.dir, `${daemon}.log`);
    if (!existsSync(f)) return `(no ${daemon}.log)`;
    return readFileSync(f, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Kills ovn-controller, ovs-vswitchd, ovsdb-server (in that order), deletes the namespace and the dir. */
  async stop(): Promise<void> {
    for (const d of ['ovn-controller', 'ovs-vswitchd', 'ovsdb-server'] as const) await this.kill(d, 'SIGTERM');
    await execFileP('ip', ['netns', 'del', this.netns]).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}
