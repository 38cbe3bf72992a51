// Test support for the OVSDB liveness tests: what the sandbox does not start, started here from
// ovsdb-server directly (same OvsdbServerProcess, so the same cleanup): a standalone server on a
// given schema file, a relay (`relay:DB:SOURCE`), a backup of an active/backup pair
// (`--sync-from`), a reduced copy of an OVN schema (an older release lacking tables/columns), and
// a loopback TCP proxy whose connections the test can cut (a network drop between replica and
// server, while the server keeps running).
import { createServer, connect, type Server, type Socket } from 'node:net';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OvsdbServerProcess, OVN_SCHEMA_DIR, freePort } from '../../operator/sandbox/sandbox.js';

const execFileP = promisify(execFile);

/** A temp dir with the servers started in it; stop() stops them all and removes the dir. */
export class ServerSet {
  readonly servers: OvsdbServerProcess[] = [];
  private constructor(readonly dir: string) {}

  static async create(): Promise<ServerSet> {
    return new ServerSet(await mkdtemp(join(tmpdir(), 'ovn-drift-liveness-')));
  }

  /** A standalone server for a database file created from `schemaFile`. */
  async standalone(name: string, schemaFile: string): Promise<OvsdbServerProcess> {
    const file = join(this.dir, `${name}.db`);
    await execFileP('ovsdb-tool', ['create', file, schemaFile]);
    return this.start(new OvsdbServerProcess(name, this.dir, file, await freePort(), join(this.dir, `${name}.sock`)));
  }

  /** A relay of `db` whose source is `source` (an OVSDB remote). */
  async relay(name: string, db: string, source: string): Promise<OvsdbServerProcess> {
    return this.start(new OvsdbServerProcess(name, this.dir, `relay:${db}:${source}`, await freePort(), join(this.dir, `${name}.sock`)));
  }

  /** A backup server (read-only, replicating `active` with --sync-from), on its own file. */
  async backup(name: string, schemaFile: string, active: string): Promise<OvsdbServerProcess> {
    const file = join(this.dir, `${name}.db`);
    await execFileP('ovsdb-tool', ['create', file, schemaFile]);
    const p = new OvsdbServerProcess(name, this.dir, file, await freePort(), join(this.dir, `${name}.sock`));
    p.extraArgs = [`--sync-from=${active}`];
    return this.start(p);
  }

  /**
   * A 3-member RAFT cluster whose initial content is a standalone database file (`ovsdb-tool
   * create-cluster` takes a standalone db as contents): a large fixture is written once, fast,
   * instead of through the RAFT log. Resolves when every member is in the cluster with a leader.
   */
  async clusterFrom(name: string, dbName: string, contents: string): Promise<OvsdbServerProcess[]> {
    const raft = [await freePort(), await freePort(), await freePort()];
    const members: OvsdbServerProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const file = join(this.dir, `${name}${i + 1}.db`);
      const local = `tcp:127.0.0.1:${raft[i]}`;
      if (i === 0) await execFileP('ovsdb-tool', ['create-cluster', file, contents, local]);
      else await execFileP('ovsdb-tool', ['join-cluster', file, dbName, local, `tcp:127.0.0.1:${raft[0]}`]);
      members.push(new OvsdbServerProcess(`${name}${i + 1}`, this.dir, file, await freePort(), join(this.dir, `${name}${i + 1}.sock`)));
    }
    this.servers.push(...members);
    await Promise.all(members.map((m) => startSlow(m)));
    const deadline = Date.now() + 600_000;
    for (const m of members) {
      while (!/Status: cluster member/.test(await this.clusterStatus(m, dbName)) || /Leader: unknown/.test(await this.clusterStatus(m, dbName))) {
        if (Date.now() > deadline) throw new Error(`RAFT member ${m.name} did not join the ${dbName} cluster`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    return members;
  }

  /** `ovs-appctl cluster/status` of one member ('' when it does not answer). */
  async clusterStatus(m: OvsdbServerProcess, dbName: string): Promise<string> {
    try {
      const { stdout } = await execFileP('ovs-appctl', ['--timeout=10', '-t', join(this.dir, `${m.name}.ctl`), 'cluster/status', dbName]);
      return stdout;
    } catch {
      return '';
    }
  }

  /** The member that says it is the leader, if any. */
  async leaderOf(members: OvsdbServerProcess[], dbName: string): Promise<OvsdbServerProcess | undefined> {
    for (const m of members) if (m.running && /Role: leader/.test(await this.clusterStatus(m, dbName))) return m;
    return undefined;
  }

  private async start(p: OvsdbServerProcess): Promise<OvsdbServerProcess> {
    this.servers.push(p);
    await p.start();
    return p;
  }

  /**
   * Writes a copy of an OVN schema without some tables and columns (what an older release's
   * schema looks like) and returns its path.
   */
  async reducedSchema(file: string, drop: { tables?: string[]; columns?: [string, string][] }, version?: string): Promise<string> {
    const schema = JSON.parse(await readFile(join(OVN_SCHEMA_DIR, file), 'utf8')) as { version: string; tables: Record<string, { columns: Record<string, unknown> }> };
    for (const t of drop.tables ?? []) delete schema.tables[t];
    for (const [t, c] of drop.columns ?? []) delete schema.tables[t]!.columns[c];
    if (version) schema.version = version;
    const out = join(this.dir, `reduced-${file}`);
    await writeFile(out, JSON.stringify(schema, null, 1));
    return out;
  }

  async stop(): Promise<void> {
    for (const s of this.servers) await s.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** start(), allowing a server that loads a large database more than start()'s 10 s to open its sockets. */
export async function startSlow(m: OvsdbServerProcess): Promise<void> {
  try {
    await m.start();
    return;
  } catch (err) {
    if (!m.running) throw err;
  }
  const deadline = Date.now() + 600_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: m.port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) return;
    if (!m.running || Date.now() > deadline) throw new Error(`ovsdb-server ${m.name} did not start: ${m.logTail()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** `ovsdb-client ARGS` (e.g. transact, convert); returns stdout. */
export async function ovsdbClient(...args: string[]): Promise<string> {
  const { stdout } = await execFileP('ovsdb-client', ['--timeout=20', ...args], { maxBuffer: 1 << 28 });
  return stdout;
}

/** A loopback TCP proxy to one port; cut() drops every connection and refuses new ones until restore(). */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly port: number,
    private readonly target: number,
  ) {}

  static async start(target: number): Promise<TcpProxy> {
    const p = new TcpProxy(await freePort(), target);
    await p.restore();
    return p;
  }

  get remote(): string {
    return `tcp:127.0.0.1:${this.port}`;
  }

  /** Accepts connections again (each piped to the target). */
  async restore(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: this.target });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  /** Drops every proxied connection and stops accepting (connection refused) until restore(). */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  async stop(): Promise<void> {
    await this.cut();
  }
}
