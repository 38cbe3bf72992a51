// A live replica of one OVSDB database: picks a server among the remotes (the RAFT leader when
// clustered), follows the chosen tables with monitor_cond (falling back to RFC 7047 monitor), keeps
// the table cache exact, reconnects with exponential backoff and jitter and converges after a
// reconnect, follows leadership and flags a follower cut off from its cluster as stale.
// Imports only operator/ovsdb, node and pino.
import { setTimeout as sleep } from 'node:timers/promises';
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { OvsdbClient, type ConnectOptions, type MonitorRequests } from './client.js';
import { parseRemotes, type Remote } from './remote.js';
import { TableCache, type RowUpdate, type SemiRow, type TableUpdates } from './replica.js';
import { evaluateConditions } from './conditions.js';
import { decodeRow } from './notation.js';
import { DisconnectedError, OvsdbError, RpcError, StaleViewError, TimeoutError, TlsError, UnreachableError } from './errors.js';
import type { Condition, DatabaseSchema, Operation, Row, RowChange, TableSpec, Uuid } from './types.js';

export interface DatabaseOptions extends ConnectOptions {
  /** Single remote or comma-separated list (cluster). */
  remote: string;
  /** 'OVN_Northbound' | 'OVN_Southbound' | ... */
  db: string;
  /** What the replica follows. */
  tables: TableSpec[];
  /** Prefer (and keep looking for) the leader. Default true for clusters. */
  leaderOnly?: boolean;
  logger?: Logger;
  /** First reconnect delay (default 250 ms); doubles per failed attempt up to backoffMaxMs (default 8000 ms), with jitter. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Force the monitor method (normally monitor_cond, with monitor as fallback). */
  monitorMethod?: 'monitor_cond' | 'monitor';
}

/** What the _Server database says about our database on the connected server. */
export interface ServerInfo {
  model: string;
  connected: boolean;
  leader: boolean;
  index?: number;
}

const REPLICA_MONITOR = 'ovn-drift-replica';
const SERVER_MONITOR = 'ovn-drift-server';
const SERVER_COLUMNS = ['name', 'model', 'connected', 'leader', 'index'];

interface Session {
  client: OvsdbClient;
  remote: string;
  info: ServerInfo;
  serverCache: TableCache | undefined;
  /** Monitor notifications received before the session's initial state was applied. */
  queued: [unknown, TableUpdates][] | undefined;
  method: 'monitor_cond' | 'monitor';
}


/** Exponential backoff with jitter: a delay in [d/2, d] where d = min(max, min * 2^attempt). */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random = Math.random): number {
  const d = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(d / 2 + random() * (d / 2));
}

/** Pure: how good a server is for us (higher is better); undefined = never use. */
export function rankServer(info: ServerInfo): number {
  if (info.model !== 'clustered') return 3;
  if (info.connected && info.leader) return 3;
  if (info.connected) return 2;
  return 1; // a follower cut off from its cluster: last resort, flagged stale
}

export class Database extends EventEmitter {
  readonly schema: DatabaseSchema;
  private readonly remotes: Remote[];
  private readonly specs: Map<string, TableSpec>;
  private readonly cache: TableCache;
  private readonly log: Logger;
  private session: Session | undefined;
  private closed = false;
  private reconnectCount = 0;
  private stale = false;
  private hunting = false;
  private reconnecting = false;
  private held: RowChange[][] | undefined = [];
  private lastError: OvsdbError | undefined;
  private preferred = 0;
  /** Backoff waits in progress; close() ends them so no timer keeps the process alive. */
  private readonly waits = new Set<{ timer: NodeJS.Timeout; done: () => void }>();

  private constructor(
    private readonly opts: DatabaseOptions,
    schema: DatabaseSchema,
    remotes: Remote[],
  ) {
    super();
    this.schema = schema;
    this.remotes = remotes;
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ db: opts.db });
    this.specs = new Map(opts.tables.map((t) => [t.table, { ...t }]));
    this.cache = new TableCache(schema, opts.tables);
  }

  private get leaderOnly(): boolean {
    return this.opts.leaderOnly ?? this.remotes.length > 1;
  }

  /**
   * Connects (to the leader of a cluster when it can), follows the tables and resolves after the
   * initial sync. Rejects with Unreachable (naming every remote and why) when no usable server
   * answers within connectTimeoutMs, TlsError for TLS configuration problems, BadRemote for a bad
   * remote string.
   */
  static async open(opts: DatabaseOptions): Promise<Database> {
    const remotes = parseRemotes(opts.remote);
    const deadline = Date.now() + (opts.connectTimeoutMs ?? 5000);
    let attempt = 0;
    for (;;) {
      let found: { session: Session; schema: DatabaseSchema } | undefined;
      let failure: OvsdbError;
      try {
        // every remote gets a share of what is left, so open() gives up in about connectTimeoutMs
        const share = Math.max(200, Math.floor((deadline - Date.now()) / remotes.length));
        found = await Database.pickServer(remotes, { ...opts, connectTimeoutMs: share }, opts.leaderOnly ?? remotes.length > 1, undefined);
      } catch (err) {
        if (!(err instanceof OvsdbError)) throw err;
        if (err instanceof TlsError) throw err;
        failure = err;
      }
      if (found) {
        const db = new Database(opts, found.schema, remotes);
        try {
          await db.startSession(found.session);
        } catch (err) {
          await found.session.client.close();
          throw err;
        }
        setImmediate(() => db.releaseHeld());
        return db;
      }
      const wait = backoffDelay(attempt++, opts.backoffMinMs ?? 250, opts.backoffMaxMs ?? 8000);
      if (Date.now() + wait > deadline) throw failure!;
      await sleep(wait);
    }
  }

  /**
   * Tries the remotes in order (starting at `start`) and returns the best server: the first
   * leader (or standalone server); otherwise, after trying all, the best follower. Throws
   * Unreachable naming every remote tried and why.
   */
  private static async pickServer(
    remotes: Remote[],
    opts: DatabaseOptions,
    leaderOnly: boolean,
    schema: DatabaseSchema | undefined,
    start = 0,
    skip?: string,
  ): Promise<{ session: Session; schema: DatabaseSchema }> {
    const attempts: { remote: string; error: string }[] = [];
    const failures: OvsdbError[] = [];
    const fallbacks: { session: Session; rank: number }[] = [];
    for (let k = 0; k < remotes.length; k++) {
      const r = remotes[(start + k) % remotes.length]!;
      if (r.text === skip) continue;
      let client: OvsdbClient | undefined;
      try {
        client = await OvsdbClient.connect(r.text, opts);
        const c = client;
        const known = schema;
        const answer = await withDeadline(c, opts.connectTimeoutMs ?? 5000, async () => {
          const dbs = await c.listDbs();
          if (!dbs.includes(opts.db)) throw new UnreachableError(`${r.text} does not serve ${opts.db} (it serves ${dbs.join(', ')})`);
          const dbSchema = known ?? (await c.getSchema(opts.db));
          return { dbSchema, ...(await readServerInfo(c, opts.db, dbs.includes('_Server'))) };
        });
        schema = answer.dbSchema;
        const { info, serverCache } = answer;
        const session: Session = { client, remote: r.text, info, serverCache, queued: undefined, method: 'monitor_cond' };
        const rank = rankServer(info);
        if (rank === 3 || (!leaderOnly && rank === 2)) {
          for (const f of fallbacks) await f.session.client.close();
          return { session, schema };
        }
        fallbacks.push({ session, rank });
        attempts.push({ remote: r.text, error: info.connected ? 'a follower, not the leader' : 'a follower cut off from its cluster' });
      } catch (err) {
        await client?.close();
        let e = err instanceof OvsdbError ? err : new UnreachableError(`${r.text}: ${(err as Error).message}`, [], { cause: err });
        if (e.cause instanceof TlsError) e = e.cause;
        failures.push(e);
        attempts.push({ remote: r.text, error: e.message.startsWith(`${r.text}: `) ? e.message.slice(r.text.length + 2) : e.message.replace(`${r.text} `, '') });
      }
    }
    if (fallbacks.length > 0) {
      fallbacks.sort((a, b) => b.rank - a.rank);
      for (const f of fallbacks.slice(1)) await f.session.client.close();
      return { session: fallbacks[0]!.session, schema: schema! };
    }
    if (failures.length > 0 && failures.every((f) => f instanceof TlsError)) throw failures[0]!;
    const list = attempts.map((a) => `${a.remote}: ${a.error}`).join('; ');
    throw new UnreachableError(`cannot reach ${opts.db} at any remote (${list})`, attempts, { cause: failures[0] });
  }

  /** Monitors on a fresh connection, brings the cache to its state and makes it current. */
  private async startSession(session: Session): Promise<void> {
    const { client } = session;
    session.queued = [];
    client.on('update', (id: unknown, tu: TableUpdates) => this.onUpdate(session, id, tu));
    client.once('close', (err?: OvsdbError) => this.onClose(session, err));
    if (session.serverCache) {
      const initial = await monitorServer(client, this.opts.db);
      session.serverCache.resync(initial);
    }
    const initial = await this.monitorTables(session);
    if (this.closed) {
      await client.close();
      return;
    }
    // switch over: from here on the replica follows this connection
    const old = this.session;
    this.session = session;
    this.preferred = Math.max(0, this.remotes.findIndex((r) => r.text === session.remote));
    const changes = this.cache.resync(initial);
    const queued = session.queued;
    session.queued = undefined;
    this.emitChanges(changes);
    for (const [id, tu] of queued) this.onUpdate(session, id, tu);
    this.updateServerInfo(session);
    if (old && old !== session) await old.client.close();
    this.log.info({ remote: session.remote, leader: session.info.leader, rows: changes.length }, 'ovsdb replica synced');
    this.emit('connected', session.remote);
    if (this.leaderOnly && !(session.info.leader && session.info.connected)) void this.huntLeader();
  }

  private async monitorTables(session: Session): Promise<TableUpdates> {
    const requests: MonitorRequests = {};
    for (const [table, spec] of this.specs) {
      // name the columns even when following all of them: otherwise the server adds _version
      const columns = spec.columns ?? Object.keys(this.schema.tables[table]?.columns ?? {}).filter((c) => !c.startsWith('_'));
      requests[table] = { columns, where: spec.where };
    }
    if ((this.opts.monitorMethod ?? 'monitor_cond') === 'monitor_cond') {
      try {
        return await session.client.monitorCond(this.opts.db, REPLICA_MONITOR, requests);
      } catch (err) {
        if (!(err instanceof RpcError && err.errorString === 'unknown method')) throw err;
        this.log.info('server has no monitor_cond: falling back to monitor');
      }
    }
    session.method = 'monitor';
    return filterUpdates(await session.client.monitor(this.opts.db, REPLICA_MONITOR, requests), this.specs);
  }

  private onUpdate(session: Session, id: unknown, tu: TableUpdates): void {
    if (session.queued) {
      session.queued.push([id, tu]);
      return;
    }
    if (session !== this.session) return;
    if (id === SERVER_MONITOR && session.serverCache) {
      session.serverCache.apply(tu);
      this.updateServerInfo(session);
    } else if (id === REPLICA_MONITOR) {
      this.emitChanges(this.cache.apply(session.method === 'monitor' ? filterUpdates(tu, this.specs, this.cache) : tu));
    }
  }

  private updateServerInfo(session: Session): void {
    if (session.serverCache) {
      const row = [...session.serverCache.rows('Database').values()].find((r) => r.name === this.opts.db);
      if (row) session.info = serverInfoOf(row);
    }
    const { info } = session;
    const wasStale = this.stale;
    this.stale = info.model === 'clustered' && !info.connected;
    if (this.stale && !wasStale) {
      this.log.warn({ remote: session.remote }, 'ovsdb server is cut off from its cluster: view is stale');
      this.emit('stale', session.remote);
    }
    if (this.stale || (this.leaderOnly && info.model === 'clustered' && !info.leader)) void this.huntLeader();
  }

  /** Looks for a better server (the leader, or any connected one when ours is stale) and moves there. */
  private async huntLeader(): Promise<void> {
    if (this.hunting || this.closed) return;
    this.hunting = true;
    try {
      for (let attempt = 0; !this.closed; attempt++) {
        const cur = this.session;
        if (!cur || cur.client.closed) return; // the reconnect loop takes over
        const good = cur.info.model !== 'clustered' || (cur.info.connected && (cur.info.leader || !this.leaderOnly));
        if (good) return;
        await this.pause(backoffDelay(attempt, this.opts.backoffMinMs ?? 250, this.opts.backoffMaxMs ?? 8000));
        if (this.closed || this.session !== cur || cur.client.closed) continue;
        let found: { session: Session } | undefined;
        try {
          found = await Database.pickServer(this.remotes, this.opts, this.leaderOnly, this.schema, this.preferred + 1, cur.remote);
        } catch {
          continue;
        }
        const better = rankServer(found.session.info) > rankServer(cur.info) || (found.session.info.leader && !cur.info.leader && found.session.info.connected);
        if (!better || this.session !== cur || this.closed) {
          await found.session.client.close();
          continue;
        }
        this.log.info({ from: cur.remote, to: found.session.remote }, 'ovsdb moving to the cluster leader');
        try {
          await this.startSession(found.session);
          this.reconnectCount++;
        } catch (err) {
          await found.session.client.close();
          this.log.warn({ err: (err as Error).message }, 'ovsdb move to leader failed');
        }
      }
    } finally {
      this.hunting = false;
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const w = {
        timer: setTimeout(() => {
          this.waits.delete(w);
          resolve();
        }, ms),
        done: resolve,
      };
      this.waits.add(w);
    });
  }

  private onClose(session: Session, err: OvsdbError | undefined): void {
    if (session !== this.session || this.closed) return;
    this.lastError = err ?? new DisconnectedError(`connection to ${session.remote} closed`);
    this.log.warn({ remote: session.remote, err: this.lastError.message }, 'ovsdb disconnected');
    this.emit('disconnected', this.lastError);
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      for (let attempt = 0; !this.closed; attempt++) {
        await this.pause(backoffDelay(attempt, this.opts.backoffMinMs ?? 250, this.opts.backoffMaxMs ?? 8000));
        if (this.closed) return;
        try {
          const { session } = await Database.pickServer(this.remotes, this.opts, this.leaderOnly, this.schema, this.preferred);
          if (this.closed) {
            await session.client.close();
            return;
          }
          try {
            await this.startSession(session);
          } catch (err) {
            await session.client.close();
            throw err;
          }
          this.reconnectCount++;
          return;
        } catch (err) {
          this.lastError = err instanceof OvsdbError ? err : this.lastError;
          this.log.debug({ err: (err as Error).message, attempt }, 'ovsdb reconnect failed');
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  private emitChanges(changes: RowChange[]): void {
    if (changes.length === 0) return;
    if (this.held) this.held.push(changes);
    else this.emit('change', changes);
  }

  /** Initial-sync changes are emitted after open() resolves, so listeners added right after see them. */
  private releaseHeld(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const c of held) this.emit('change', c);
  }

  // ---- reads ----

  rows(table: string): ReadonlyMap<Uuid, Row> {
    if (!this.specs.has(table)) throw new OvsdbError('NotFollowed', `table ${table} is not followed by this replica of ${this.opts.db} (add it to tables)`);
    return this.cache.rows(table);
  }

  get(table: string, id: Uuid): Row | undefined {
    return this.rows(table).get(id);
  }

  status(): { connected: boolean; remote?: string; leader?: boolean; stale: boolean; reconnects: number } {
    const s = this.session;
    const connected = !!s && !s.client.closed;
    return { connected, remote: s?.remote, leader: connected ? s!.info.leader : undefined, stale: connected && this.stale, reconnects: this.reconnectCount };
  }

  /** Throws StaleView on a follower cut off from its cluster, Disconnected when not connected. */
  assertFresh(): void {
    const s = this.session;
    if (!s || s.client.closed || this.closed) {
      throw new DisconnectedError(`not connected to ${this.opts.db}${this.lastError ? ` (${this.lastError.message})` : ''}`, { cause: this.lastError });
    }
    if (this.stale) {
      throw new StaleViewError(`${s.remote} serves ${this.opts.db} as a follower cut off from its cluster (connected=false): its view may be stale`);
    }
  }

  // ---- writes ----

  /** Runs a transaction on the current connection (the leader for clusters). */
  async transact(ops: Operation[]): Promise<unknown[]> {
    this.assertFresh();
    return this.session!.client.transact(this.opts.db, ops);
  }

  /** Changes which rows of a table the replica follows (monitor_cond_change). */
  async setCondition(table: string, where?: Condition[]): Promise<void> {
    const spec = this.specs.get(table);
    if (!spec) throw new OvsdbError('NotFollowed', `table ${table} is not followed by this replica of ${this.opts.db} (add it to tables)`);
    spec.where = where;
    const s = this.session;
    if (!s || s.client.closed) return; // applied on reconnect
    if (s.method === 'monitor_cond') {
      await s.client.monitorCondChange(REPLICA_MONITOR, { [table]: where });
    } else {
      // RFC 7047 monitor has no conditions: take the whole state again and filter it here
      s.queued = [];
      try {
        await s.client.monitorCancel(REPLICA_MONITOR);
        const initial = await this.monitorTables(s);
        this.emitChanges(this.cache.resync(initial));
      } finally {
        const queued = s.queued;
        s.queued = undefined;
        for (const [id, tu] of queued) this.onUpdate(s, id, tu);
      }
    }
  }

  /** The raw client of the current connection (e.g. for a `select`); undefined when disconnected. */
  get client(): OvsdbClient | undefined {
    return this.session && !this.session.client.closed ? this.session.client : undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waits) {
      clearTimeout(w.timer);
      w.done();
    }
    this.waits.clear();
    const s = this.session;
    await s?.client.close();
  }
}

/** Runs the first exchanges on a new connection; a server that accepts but does not answer is unreachable. */
async function withDeadline<T>(client: OvsdbClient, ms: number, fn: () => Promise<T>): Promise<T> {
  let silent = false;
  const timer = setTimeout(() => {
    silent = true;
    void client.close();
  }, ms);
  try {
    return await fn();
  } catch (err) {
    throw silent ? new TimeoutError(`${client.remote}: connected, but no answer within ${ms} ms`, { cause: err }) : err;
  } finally {
    clearTimeout(timer);
  }
}

async function readServerInfo(client: OvsdbClient, db: string, hasServerDb: boolean): Promise<{ info: ServerInfo; serverCache: TableCache | undefined }> {
  if (!hasServerDb) return { info: { model: 'standalone', connected: true, leader: true }, serverCache: undefined };
  const serverSchema = await client.getSchema('_Server');
  const serverCache = new TableCache(serverSchema, [{ table: 'Database', columns: SERVER_COLUMNS }]);
  const res = (await client.transact('_Server', [{ op: 'select', table: 'Database', where: [['name', '==', db]], columns: SERVER_COLUMNS }])) as { rows: Record<string, unknown>[] }[];
  const raw = res[0]?.rows[0];
  if (!raw) return { info: { model: 'standalone', connected: true, leader: true }, serverCache };
  return { info: serverInfoOf(decodeRow('', raw, serverSchema.tables.Database!)), serverCache };
}

function serverInfoOf(row: Row): ServerInfo {
  const index = Array.isArray(row.index) ? (row.index[0] as number | undefined) : undefined;
  return { model: String(row.model), connected: row.connected === true, leader: row.leader === true, ...(index !== undefined ? { index } : {}) };
}

async function monitorServer(client: OvsdbClient, db: string): Promise<TableUpdates> {
  const req = { Database: { columns: SERVER_COLUMNS, where: [['name', '==', db]] as Condition[] } };
  try {
    return await client.monitorCond('_Server', SERVER_MONITOR, req);
  } catch (err) {
    if (!(err instanceof RpcError && err.errorString === 'unknown method')) throw err;
    return client.monitor('_Server', SERVER_MONITOR, { Database: { columns: SERVER_COLUMNS } });
  }
}

// ---- monitor (RFC 7047, no conditions) fallback: conditions are evaluated here ----

/**
 * Filters RFC 7047 `update` row updates by the tables' conditions: a row that stops matching is
 * reported as deleted, one that starts matching as inserted.
 */
function filterUpdates(tu: TableUpdates, specs: Map<string, TableSpec>, cache?: TableCache): TableUpdates {
  const out: TableUpdates = new Map();
  for (const [table, rows] of tu) {
    const where = specs.get(table)?.where;
    if (!where) {
      out.set(table, rows);
      continue;
    }
    const t = new Map<string, RowUpdate>();
    for (const [id, u] of rows) {
      const v1 = u as { old?: SemiRow; new?: SemiRow };
      const had = cache?.rows(table).has(id) ?? false;
      const matches = v1.new ? evaluateConditions({ ...v1.new, _uuid: id } as Row, where) : false;
      if (matches) t.set(id, had ? u : { new: v1.new! });
      else if (had) t.set(id, { old: v1.old ?? {} });
    }
    out.set(table, t);
  }
  return out;
}
