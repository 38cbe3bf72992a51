// A live replica of one OVSDB database: picks a server among the remotes (the RAFT leader when
// clustered), follows the chosen tables with monitor_cond_since (falling back to monitor_cond, then
// RFC 7047 monitor), keeps the table cache exact, reconnects with exponential backoff and jitter
// and, where the server still has the history, transfers only the changes made while away.
// Follows leadership; says precisely why a view may be stale (cluster member cut off, relay cut
// off from its source, read-only backup, log index behind); follows what the server's schema has
// (a followed table or column it lacks is recorded as missing, never fails the monitor) and
// re-reads the schema when the server converts the database.
// Imports only operator/ovsdb, the shared leaf operator/runtime/backoff.ts, node and pino.
import { setTimeout as sleep } from 'node:timers/promises';
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { OvsdbClient, type ConnectOptions, type MonitorRequests } from './client.js';
import { parseRemotes, type Remote } from './remote.js';
import { TableCache, isStoredRow, type RowUpdate, type SemiRow, type TableUpdates } from './replica.js';
import { evaluateConditions } from './conditions.js';
import { decodeRow, ZERO_UUID } from './notation.js';
import {
  DisconnectedError,
  OvsdbError,
  RpcError,
  StaleViewError,
  TimeoutError,
  TlsError,
  TransactionFailedError,
  UnreachableError,
  WriteRefusedError,
  type Staleness,
} from './errors.js';
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
  /**
   * The first monitor method to try (default monitor_cond_since); each falls back to the next
   * (monitor_cond, then monitor) when the server answers "unknown method".
   */
  monitorMethod?: MonitorMethod;
  /**
   * Called when a connection is set up and the replica's own monitor request is about to be sent
   * (the initial sync, or a resync after a reconnect): from here the sync is bounded by the
   * monitor request's no-bytes timeout (monitorTimeoutMs), not by a connect deadline.
   */
  onSyncing?: () => void;
}

export type MonitorMethod = 'monitor_cond_since' | 'monitor_cond' | 'monitor';

/** What the _Server database says about our database on the connected server. */
export interface ServerInfo {
  model: string;
  connected: boolean;
  leader: boolean;
  index?: number;
  /** RAFT cluster id (clustered only): indexes compare only within one cluster. */
  cid?: string;
  /** The server refused a probe write ("not allowed"): a backup (--sync-from) or read-only remote. */
  readOnly?: boolean;
}

/** How the replica was last brought up to date on a (re)connection, and totals. */
export interface SyncStats {
  /** Monitor method of the last sync. */
  method: MonitorMethod;
  /** monitor_cond_since only: the server still had our last transaction and sent only the changes. */
  found: boolean;
  /** Row updates received in the monitor reply. */
  rows: number;
  /** Bytes received from sending the monitor request to applying its reply. */
  bytes: number;
  /** Time from sending the monitor request to the replica being current. */
  ms: number;
  /** Row changes the sync applied to the replica. */
  changes: number;
  /** Totals over every sync of this Database (initial one included). */
  totalRows: number;
  totalBytes: number;
  syncs: number;
}

/** Followed tables and columns the connected server's schema lacks (older releases). */
export interface Missing {
  tables: string[];
  columns: { table: string; column: string }[];
}

/** Freshness as data: `fresh`, or why not (not connected, or a Staleness reason). */
export type Freshness =
  | { fresh: true; server: string }
  | { fresh: false; reason: 'disconnected'; db: string; detail: string; since: number }
  | ({ fresh: false } & Staleness);

const REPLICA_MONITOR = 'ovn-drift-replica';
const SERVER_MONITOR = 'ovn-drift-server';
const SERVER_COLUMNS = ['name', 'model', 'connected', 'leader', 'index', 'cid'];

interface SchemaPlan {
  schema: DatabaseSchema;
  effective: Map<string, TableSpec>;
  missing: Missing;
}

interface Session {
  client: OvsdbClient;
  remote: string;
  info: ServerInfo;
  serverCache: TableCache | undefined;
  /** The database schema as this server serves it. */
  schema: DatabaseSchema;
  /** Monitor notifications received before the session's initial state was applied. */
  queued: [unknown, TableUpdates, string | undefined][] | undefined;
  method: MonitorMethod;
}


/** Exponential backoff with jitter: the product's one scheme (operator/runtime/backoff.ts). */
import { backoffDelay } from '../runtime/backoff.js';

/** Pure: how good a server is for us (higher is better). */
export function rankServer(info: ServerInfo): number {
  if (info.readOnly) return 1; // a backup: last resort, flagged stale
  if (info.model === 'relay') return info.connected ? 3 : 1;
  if (info.model !== 'clustered') return 3;
  if (info.connected && info.leader) return 3;
  if (info.connected) return 2;
  return 1; // a follower cut off from its cluster: last resort, flagged stale
}

/**
 * Pure: why a view served by this server may be stale, or undefined. `seenIndex` is the highest
 * RAFT index this replica saw in the same cluster (cid).
 */
export function staleReason(info: ServerInfo, server: string, db: string, seenIndex?: number): Omit<Staleness, 'since'> | undefined {
  if (info.model === 'clustered' && !info.connected) {
    return { reason: 'cut-off', server, db, detail: `${server} serves ${db} as a cluster member cut off from its cluster (no leader; connected=false): its view may be stale` };
  }
  if (info.model === 'relay' && !info.connected) {
    return { reason: 'relay-cut-off', server, db, detail: `${server} serves ${db} as a relay cut off from its source (connected=false): its view may be stale` };
  }
  if (info.readOnly) {
    return {
      reason: 'backup',
      server,
      db,
      detail: `${server} serves ${db} read-only (a backup server, ovsdb-server --sync-from, or a read-only remote): a backup may lag the active server without saying so; connect to the active server`,
    };
  }
  if (info.model === 'clustered' && info.index !== undefined && seenIndex !== undefined && info.index < seenIndex) {
    return {
      reason: 'index-behind',
      server,
      db,
      index: info.index,
      seenIndex,
      detail: `${server} serves ${db} at RAFT index ${info.index}, behind index ${seenIndex} already seen from the cluster: its view is older than what was read before`,
    };
  }
  return undefined;
}

/**
 * Pure: the part of the requested specs the server's schema has. A missing table is left out; a
 * missing column is left out of its table's columns; a condition clause on a missing column is
 * dropped (monitor_cond clauses are a disjunction; none left follows no row).
 */
function planSpecs(schema: DatabaseSchema, specs: Iterable<TableSpec>): { effective: TableSpec[]; missing: Missing } {
  const effective: TableSpec[] = [];
  const missing: Missing = { tables: [], columns: [] };
  for (const spec of specs) {
    const t = schema.tables[spec.table];
    if (!t) {
      missing.tables.push(spec.table);
      continue;
    }
    const out: TableSpec = { table: spec.table };
    if (spec.columns) {
      out.columns = spec.columns.filter((c) => {
        if (t.columns[c]) return true;
        missing.columns.push({ table: spec.table, column: c });
        return false;
      });
    }
    if (spec.where) {
      const has = (c: string) => c === '_uuid' || !!t.columns[c];
      const kept = spec.where.filter((w) => !Array.isArray(w) || has(w[0]));
      for (const w of spec.where) if (Array.isArray(w) && !has(w[0]) && !missing.columns.some((m) => m.table === spec.table && m.column === w[0])) missing.columns.push({ table: spec.table, column: w[0] });
      out.where = kept.length > 0 || spec.where.length === 0 ? kept : ([false] as unknown as Condition[]);
    }
    effective.push(out);
  }
  return { effective, missing };
}

/** A stable text of a schema's tables, to notice a conversion (a hand-edited schema may keep its cksum). */
function schemaKey(schema: DatabaseSchema): string {
  return `${schema.version}|${JSON.stringify(schema.tables)}`;
}

export class Database extends EventEmitter {
  private currentSchema: DatabaseSchema;
  private readonly remotes: Remote[];
  /** What the caller asked to follow (kept whole: a later schema may have what this one lacks). */
  private readonly specs: Map<string, TableSpec>;
  /** The part of specs the current schema has. */
  private effective: Map<string, TableSpec>;
  private missingNow: Missing;
  private cache: TableCache;
  private readonly log: Logger;
  private session: Session | undefined;
  private closed = false;
  private reconnectCount = 0;
  private stale: Staleness | undefined;
  private hunting = false;
  private reconnecting = false;
  private held: RowChange[][] | undefined = [];
  private lastError: OvsdbError | undefined;
  private disconnectedSince = 0;
  private preferred = 0;
  /** The last transaction id the replica is at (monitor_cond_since / update3). */
  private lastTxnId: string | undefined;
  /** False after a condition change or schema change until a full sync: lastTxnId must not be used. */
  private sinceUsable = false;
  /** Highest RAFT index seen per cluster id. */
  private readonly seenIndex = new Map<string, number>();
  private stats: SyncStats | undefined;
  /** Backoff waits in progress; close() ends them so no timer keeps the process alive. */
  private readonly waits = new Set<{ timer: NodeJS.Timeout; done: () => void }>();

  private constructor(
    private readonly opts: DatabaseOptions,
    schema: DatabaseSchema,
    remotes: Remote[],
  ) {
    super();
    this.currentSchema = schema;
    this.remotes = remotes;
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ db: opts.db });
    this.specs = new Map(opts.tables.map((t) => [t.table, { ...t }]));
    const plan = planSpecs(schema, this.specs.values());
    this.effective = new Map(plan.effective.map((t) => [t.table, t]));
    this.missingNow = plan.missing;
    this.cache = new TableCache(schema, plan.effective);
    this.logMissing();
  }

  /** The schema of the database as the connected server serves it. */
  get schema(): DatabaseSchema {
    return this.currentSchema;
  }

  private get leaderOnly(): boolean {
    return this.opts.leaderOnly ?? this.remotes.length > 1;
  }

  /**
   * Connects (to the leader of a cluster when it can), follows the tables and resolves after the
   * initial sync. Rejects with Unreachable (naming every remote and why) when no usable server
   * answers within connectTimeoutMs, TlsError for TLS configuration problems, BadRemote for a bad
   * remote string. A followed table or column the server lacks is not an error: see missing().
   */
  static async open(opts: DatabaseOptions): Promise<Database> {
    const remotes = parseRemotes(opts.remote);
    const deadline = Date.now() + (opts.connectTimeoutMs ?? 5000);
    let attempt = 0;
    for (;;) {
      let found: { session: Session } | undefined;
      let failure: OvsdbError;
      try {
        // every remote gets a share of what is left, so open() gives up in about connectTimeoutMs
        const share = Math.max(200, Math.floor((deadline - Date.now()) / remotes.length));
        found = await Database.pickServer(remotes, { ...opts, connectTimeoutMs: share }, opts.leaderOnly ?? remotes.length > 1);
      } catch (err) {
        if (!(err instanceof OvsdbError)) throw err;
        if (err instanceof TlsError) throw err;
        failure = err;
      }
      if (found) {
        const db = new Database(opts, found.session.schema, remotes);
        try {
          await db.startSession(found.session);
        } catch (err) {
          await found.session.client.close();
          throw err;
        }
        const atOpen = db.held?.length ?? 0;
        setImmediate(() => db.releaseHeld(atOpen));
        return db;
      }
      const wait = backoffDelay(attempt++, opts.backoffMinMs ?? 250, opts.backoffMaxMs ?? 8000);
      if (Date.now() + wait > deadline) throw failure!;
      await sleep(wait);
    }
  }

  /**
   * Tries the remotes in order (starting at `start`) and returns the best server: the first
   * leader (or writable standalone server, or connected relay); otherwise, after trying all, the
   * best of the rest. Throws Unreachable naming every remote tried and why.
   */
  private static async pickServer(remotes: Remote[], opts: DatabaseOptions, leaderOnly: boolean, start = 0, skip?: string): Promise<{ session: Session }> {
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
        const answer = await withDeadline(c, opts.connectTimeoutMs ?? 5000, async () => {
          const dbs = await c.listDbs();
          if (!dbs.includes(opts.db)) throw new UnreachableError(`${r.text} does not serve ${opts.db} (it serves ${dbs.join(', ')})`);
          // read every time: the server may have converted the database since we last saw it
          const dbSchema = await c.getSchema(opts.db);
          return { dbSchema, ...(await readServerInfo(c, opts.db, dbs.includes('_Server'), dbSchema)) };
        });
        const { info, serverCache, dbSchema } = answer;
        const session: Session = { client, remote: r.text, info, serverCache, schema: dbSchema, queued: undefined, method: 'monitor_cond' };
        const rank = rankServer(info);
        if (rank === 3 || (!leaderOnly && rank === 2)) {
          for (const f of fallbacks) await f.session.client.close();
          return { session };
        }
        fallbacks.push({ session, rank });
        attempts.push({
          remote: r.text,
          error: info.readOnly
            ? 'a read-only (backup) server'
            : info.model === 'relay'
              ? 'a relay cut off from its source'
              : info.connected
                ? 'a follower, not the leader'
                : 'a follower cut off from its cluster',
        });
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
      return { session: fallbacks[0]!.session };
    }
    if (failures.length > 0 && failures.every((f) => f instanceof TlsError)) throw failures[0]!;
    const list = attempts.map((a) => `${a.remote}: ${a.error}`).join('; ');
    throw new UnreachableError(`cannot reach ${opts.db} at any remote (${list})`, attempts, { cause: failures[0] });
  }

  /** The plan for a schema the server now serves, or undefined when it is the one we follow. */
  private planIfChanged(schema: DatabaseSchema): SchemaPlan | undefined {
    if (schemaKey(schema) === schemaKey(this.currentSchema)) return undefined;
    const plan = planSpecs(schema, this.specs.values());
    return { schema, effective: new Map(plan.effective.map((t) => [t.table, t])), missing: plan.missing };
  }

  /**
   * Switches to a new schema's plan; the cache keeps its rows to diff against (call right before
   * applying the monitor reply made with this plan, so reads never mix the two).
   */
  private adoptPlan(plan: SchemaPlan): void {
    const { schema } = plan;
    this.log.info({ from: this.currentSchema.version, to: schema.version }, 'ovsdb schema changed: following the new schema');
    this.currentSchema = schema;
    this.effective = plan.effective;
    this.missingNow = plan.missing;
    const next = new TableCache(schema, [...plan.effective.values()]);
    next.adopt(this.cache);
    this.cache = next;
    this.lastTxnId = undefined;
    this.sinceUsable = false;
    this.logMissing();
    this.emit('schema', schema);
  }

  private logMissing(): void {
    const m = this.missingNow;
    if (m.tables.length + m.columns.length === 0) return;
    this.log.warn({ tables: m.tables, columns: m.columns.map((c) => `${c.table}.${c.column}`) }, `the server's ${this.opts.db} schema lacks followed tables/columns: checks that need them are degraded`);
  }

  /** Monitors on a fresh connection, brings the cache to its state and makes it current. */
  private async startSession(session: Session): Promise<void> {
    const { client } = session;
    session.queued = [];
    client.on('update', (id: unknown, tu: TableUpdates, _method: string, txnId?: string) => this.onUpdate(session, id, tu, txnId));
    client.on('canceled', (id: unknown) => {
      if (id === REPLICA_MONITOR) void this.remonitor(session);
    });
    client.once('close', (err?: OvsdbError) => this.onClose(session, err));
    try {
      await client.setDbChangeAware();
    } catch (err) {
      // old servers disconnect on a conversion instead: the reconnect re-reads the schema
      if (!(err instanceof RpcError)) throw err;
    }
    if (session.serverCache) {
      const initial = await monitorServer(client, this.opts.db, session.serverCache.schema);
      session.serverCache.resync(initial);
    }
    if (this.closed) {
      await client.close();
      return;
    }
    const plan = this.planIfChanged(session.schema);
    this.opts.onSyncing?.();
    const t0 = process.hrtime.bigint();
    const b0 = client.bytesReceived;
    // after a conversion the history means nothing: a full sync, diffed against what we hold
    const mon = await this.monitorTables(session, this.sinceUsable && !plan ? this.lastTxnId : undefined, plan?.effective ?? this.effective);
    if (this.closed) {
      await client.close();
      return;
    }
    // switch over: from here on the replica follows this connection
    const old = this.session;
    this.session = session;
    this.preferred = Math.max(0, this.remotes.findIndex((r) => r.text === session.remote));
    if (plan) this.adoptPlan(plan);
    const rows = TableCache.countUpdates(mon.updates); // before resync(), which takes the reply's tables over
    let changes: RowChange[];
    if (mon.found) {
      const misfit = misfitOf(mon.updates, this.cache);
      if (misfit) {
        // the server's changes do not fit what we hold: start over with a full sync
        this.lastTxnId = undefined;
        this.sinceUsable = false;
        this.session = old;
        throw new OvsdbError('Protocol', `${session.remote}: monitor_cond_since changes do not fit the replica (${misfit}): resyncing in full`);
      }
      changes = this.cache.apply(mon.updates);
    } else {
      changes = this.cache.resync(mon.updates);
    }
    if (session.method === 'monitor_cond_since') {
      this.lastTxnId = mon.lastTxnId;
      this.sinceUsable = true;
    } else {
      this.lastTxnId = undefined;
    }
    const queued = session.queued;
    session.queued = undefined;
    this.emitChanges(changes);
    for (const [id, tu, txnId] of queued) this.onUpdate(session, id, tu, txnId);
    const bytes = client.bytesReceived - b0;
    this.stats = {
      method: session.method,
      found: mon.found,
      rows,
      bytes,
      ms: Number(process.hrtime.bigint() - t0) / 1e6,
      changes: changes.length,
      totalRows: (this.stats?.totalRows ?? 0) + rows,
      totalBytes: (this.stats?.totalBytes ?? 0) + bytes,
      syncs: (this.stats?.syncs ?? 0) + 1,
    };
    this.disconnectedSince = 0;
    this.updateServerInfo(session);
    if (old && old !== session) await old.client.close();
    this.log.info({ remote: session.remote, leader: session.info.leader, method: session.method, found: mon.found, rows, bytes, changes: changes.length }, 'ovsdb replica synced');
    this.emit('connected', session.remote);
    if (this.leaderOnly && rankServer(session.info) < 3) void this.huntLeader();
  }

  /**
   * Sends the replica's monitor, trying monitor_cond_since (with `since` when given), then
   * monitor_cond, then monitor. `found` says the reply carries only changes since `since`.
   */
  private async monitorTables(
    session: Session,
    since: string | undefined,
    effective: Map<string, TableSpec> = this.effective,
  ): Promise<{ updates: TableUpdates; found: boolean; lastTxnId?: string }> {
    const requests: MonitorRequests = {};
    for (const [table, spec] of effective) {
      // name the columns even when following all of them: otherwise the server adds _version
      const columns = spec.columns ?? Object.keys(session.schema.tables[table]?.columns ?? {}).filter((c) => !c.startsWith('_'));
      requests[table] = { columns, ...(spec.where ? { where: spec.where } : {}) };
    }
    const order: MonitorMethod[] = ['monitor_cond_since', 'monitor_cond', 'monitor'];
    const first = order.indexOf(this.opts.monitorMethod ?? 'monitor_cond_since');
    // rows arrive in their stored form when they are stored with the current plan (not across a
    // schema change, where the next cache's plan decides what is kept)
    const cache = this.cache;
    session.client.rowStore = effective === this.effective ? (table, id, u) => cache.compactUpdate(table, id, u) : undefined;
    try {
      return await this.monitorWith(session, order.slice(first), requests, since, effective);
    } finally {
      session.client.rowStore = undefined;
    }
  }

  private async monitorWith(
    session: Session,
    methods: MonitorMethod[],
    requests: MonitorRequests,
    since: string | undefined,
    effective: Map<string, TableSpec>,
  ): Promise<{ updates: TableUpdates; found: boolean; lastTxnId?: string }> {
    for (const method of methods) {
      session.method = method;
      try {
        if (method === 'monitor_cond_since') {
          const r = await session.client.monitorCondSince(this.opts.db, REPLICA_MONITOR, requests, since ?? ZERO_UUID);
          return { updates: r.updates, found: r.found && since !== undefined, lastTxnId: r.lastTxnId };
        }
        if (method === 'monitor_cond') return { updates: await session.client.monitorCond(this.opts.db, REPLICA_MONITOR, requests), found: false };
        return { updates: filterUpdates(await session.client.monitor(this.opts.db, REPLICA_MONITOR, requests), effective), found: false };
      } catch (err) {
        if (!(err instanceof RpcError && err.errorString === 'unknown method') || method === 'monitor') throw err;
        this.log.info({ method }, `server has no ${method}: falling back`);
      }
    }
    throw new OvsdbError('Protocol', 'no monitor method left');
  }

  /**
   * The server cancelled our monitor (it converted the database to a new schema): re-read the
   * schema, re-plan what to follow and monitor again on the same connection. Any failure closes
   * the connection, and the reconnect does the same.
   */
  private async remonitor(session: Session): Promise<void> {
    if (session !== this.session || this.closed) return;
    this.log.info({ remote: session.remote }, 'ovsdb monitor cancelled by the server (schema conversion): re-reading the schema');
    session.queued = [];
    try {
      session.schema = await session.client.getSchema(this.opts.db);
      const plan = this.planIfChanged(session.schema);
      // the history does not survive a conversion: a full sync, diffed against what we hold
      this.lastTxnId = undefined;
      this.sinceUsable = false;
      const mon = await this.monitorTables(session, undefined, plan?.effective ?? this.effective);
      if (session !== this.session || this.closed) return;
      if (plan) this.adoptPlan(plan);
      this.emitChanges(this.cache.resync(mon.updates));
      if (session.method === 'monitor_cond_since') {
        this.lastTxnId = mon.lastTxnId;
        this.sinceUsable = true;
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'ovsdb re-monitor after schema change failed: reconnecting');
      session.queued = undefined;
      await session.client.close(); // its 'close' starts the reconnect
      return;
    }
    const queued = session.queued ?? [];
    session.queued = undefined;
    for (const [id, tu, txnId] of queued) this.onUpdate(session, id, tu, txnId);
  }

  private onUpdate(session: Session, id: unknown, tu: TableUpdates, txnId?: string): void {
    if (session.queued) {
      session.queued.push([id, tu, txnId]);
      return;
    }
    if (session !== this.session) return;
    if (id === SERVER_MONITOR && session.serverCache) {
      session.serverCache.apply(tu);
      this.updateServerInfo(session);
    } else if (id === REPLICA_MONITOR) {
      this.emitChanges(this.cache.apply(session.method === 'monitor' ? filterUpdates(tu, this.effective, this.cache) : tu));
      if (txnId !== undefined) this.lastTxnId = txnId;
    }
  }

  private updateServerInfo(session: Session): void {
    if (session.serverCache) {
      const row = [...session.serverCache.rows('Database').values()].find((r) => r.name === this.opts.db);
      if (row) session.info = { ...serverInfoOf(row), ...(session.info.readOnly ? { readOnly: true } : {}) };
    }
    const { info } = session;
    const cid = info.cid ?? '';
    const seen = this.seenIndex.get(cid);
    const why = staleReason(info, session.remote, this.opts.db, seen);
    if (info.index !== undefined && info.model === 'clustered' && (seen === undefined || info.index > seen)) this.seenIndex.set(cid, info.index);
    const was = this.stale;
    this.stale = why ? { ...why, since: was?.reason === why.reason && was.server === why.server ? was.since : Date.now() } : undefined;
    if (this.stale && (!was || was.reason !== this.stale.reason)) {
      this.log.warn({ remote: session.remote, reason: this.stale.reason }, `ovsdb view is stale: ${this.stale.detail}`);
      this.emit('stale', session.remote, this.stale);
    } else if (!this.stale && was) {
      this.log.info({ remote: session.remote }, 'ovsdb view is fresh again');
      this.emit('fresh', session.remote);
    }
    if (this.stale || (this.leaderOnly && rankServer(info) < 3)) void this.huntLeader();
  }

  /** Looks for a better server (the leader, or any fresh one when ours is stale) and moves there. */
  private async huntLeader(): Promise<void> {
    if (this.hunting || this.closed) return;
    this.hunting = true;
    try {
      for (let attempt = 0; !this.closed; attempt++) {
        const cur = this.session;
        if (!cur || cur.client.closed) return; // the reconnect loop takes over
        const good = !this.stale && (rankServer(cur.info) === 3 || (!this.leaderOnly && rankServer(cur.info) === 2));
        if (good) return;
        await this.pause(backoffDelay(attempt, this.opts.backoffMinMs ?? 250, this.opts.backoffMaxMs ?? 8000));
        if (this.closed || this.session !== cur || cur.client.closed) continue;
        if (cur.info.readOnly) {
          // a backup may have been promoted to active (ovsdb-server/disconnect-active-ovsdb-server)
          try {
            if (!(await refusesWrites(cur.client, this.opts.db, this.currentSchema))) {
              cur.info = { ...cur.info, readOnly: false };
              this.updateServerInfo(cur);
              continue;
            }
          } catch {
            /* the connection is going away: the reconnect loop takes over */
          }
        }
        if (this.remotes.length < 2) continue; // nowhere else to go: wait for this server to recover
        let found: { session: Session } | undefined;
        try {
          found = await Database.pickServer(this.remotes, this.opts, this.leaderOnly, this.preferred + 1, cur.remote);
        } catch {
          continue;
        }
        const better = rankServer(found.session.info) > rankServer(cur.info) || (found.session.info.leader && !cur.info.leader && found.session.info.connected);
        if (!better || this.session !== cur || this.closed) {
          await found.session.client.close();
          continue;
        }
        this.log.info({ from: cur.remote, to: found.session.remote }, 'ovsdb moving to a better server (the cluster leader, or a fresh one)');
        try {
          await this.startSession(found.session);
          this.reconnectCount++;
        } catch (err) {
          await found.session.client.close();
          this.log.warn({ err: (err as Error).message }, 'ovsdb move to a better server failed');
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
    this.disconnectedSince = Date.now();
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
        this.emit('reconnecting', attempt);
        try {
          const { session } = await Database.pickServer(this.remotes, this.opts, this.leaderOnly, this.preferred);
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
  private releaseHeld(atOpen: number): void {
    const held = this.held ?? [];
    this.held = undefined;
    // the second argument says these rows were already in the replica when open() resolved (a
    // listener that indexed the replica's rows after open() may skip them)
    held.forEach((c, i) => this.emit('change', c, i < atOpen));
  }

  // ---- reads ----

  /** Rows of a followed table (empty when the server's schema lacks the table: see missing()). */
  rows(table: string): ReadonlyMap<Uuid, Row> {
    if (!this.specs.has(table)) throw new OvsdbError('NotFollowed', `table ${table} is not followed by this replica of ${this.opts.db} (add it to tables)`);
    return this.cache.rows(table);
  }

  get(table: string, id: Uuid): Row | undefined {
    return this.rows(table).get(id);
  }

  /**
   * Followed tables and columns the connected server's schema lacks (older OVN releases, e.g. no
   * Chassis_Private, no Port_Binding.additional_chassis, no BFD): their rows read as absent and
   * their columns as defaults, so checks that need them must say they cannot tell.
   */
  missing(): Missing {
    return { tables: [...this.missingNow.tables], columns: this.missingNow.columns.map((c) => ({ ...c })) };
  }

  /** True when the server's schema has the table (and the column, if given) and the replica follows it. */
  has(table: string, column?: string): boolean {
    const spec = this.effective.get(table);
    if (!spec) return false;
    if (column === undefined) return true;
    return spec.columns ? spec.columns.includes(column) : !!this.currentSchema.tables[table]?.columns[column];
  }

  status(): {
    connected: boolean;
    remote?: string;
    leader?: boolean;
    model?: string;
    stale: boolean;
    staleness?: Staleness;
    reconnects: number;
    method?: MonitorMethod;
    sync?: SyncStats;
    missing: Missing;
  } {
    const s = this.session;
    const connected = !!s && !s.client.closed;
    return {
      connected,
      remote: s?.remote,
      leader: connected ? s!.info.leader : undefined,
      model: connected ? s!.info.model : undefined,
      stale: connected && !!this.stale,
      ...(connected && this.stale ? { staleness: { ...this.stale } } : {}),
      reconnects: this.reconnectCount,
      ...(connected ? { method: s!.method } : {}),
      ...(this.stats ? { sync: { ...this.stats } } : {}),
      missing: this.missing(),
    };
  }

  /** Freshness as data: fresh, not connected (with since when), or stale with its reason. */
  freshness(): Freshness {
    const s = this.session;
    if (!s || s.client.closed || this.closed) {
      const why = this.lastError ? this.lastError.message : 'no connection';
      return { fresh: false, reason: 'disconnected', db: this.opts.db, detail: `not connected to ${this.opts.db} (${why})`, since: this.disconnectedSince || Date.now() };
    }
    if (this.stale) return { fresh: false, ...this.stale };
    return { fresh: true, server: s.remote };
  }

  /** Throws StaleView (with `.staleness`) when the view may be stale, Disconnected when not connected. */
  assertFresh(): void {
    const s = this.session;
    if (!s || s.client.closed || this.closed) {
      throw new DisconnectedError(`not connected to ${this.opts.db}${this.lastError ? ` (${this.lastError.message})` : ''}`, { cause: this.lastError });
    }
    if (this.stale) throw new StaleViewError(this.stale.detail, { ...this.stale });
  }

  // ---- writes ----

  /**
   * Runs a transaction on the current connection (the leader for clusters). Throws StaleView on a
   * stale view (except a read-only one, where the server itself refuses), WriteRefused when the
   * server refuses writes (read-only backup: "not allowed"; RBAC: "permission error").
   */
  async transact(ops: Operation[]): Promise<unknown[]> {
    if (this.stale?.reason !== 'backup') this.assertFresh();
    const s = this.session;
    if (!s || s.client.closed) this.assertFresh();
    try {
      return await s!.client.transact(this.opts.db, ops);
    } catch (err) {
      if (err instanceof TransactionFailedError && (err.has('NotAllowed') || err.has('PermissionError'))) {
        const ro = err.has('NotAllowed');
        const first = err.errors.find((e) => e.code === (ro ? 'NotAllowed' : 'PermissionError'))!;
        throw new WriteRefusedError(
          ro
            ? `${s!.remote} refused the write to ${this.opts.db}: the server is read-only (a backup server, ovsdb-server --sync-from, or a read-only remote); write to the active server (${first.details ?? first.error})`
            : `${s!.remote} refused the write to ${this.opts.db}: permission denied by the server's role-based access control (${first.details ?? first.error})`,
          s!.remote,
          ro ? 'read-only' : 'permission',
          { cause: err },
        );
      }
      throw err;
    }
  }

  /** Changes which rows of a table the replica follows (monitor_cond_change). */
  async setCondition(table: string, where?: Condition[]): Promise<void> {
    const spec = this.specs.get(table);
    if (!spec) throw new OvsdbError('NotFollowed', `table ${table} is not followed by this replica of ${this.opts.db} (add it to tables)`);
    spec.where = where;
    const plan = planSpecs(this.currentSchema, [spec]);
    const eff = plan.effective[0];
    if (eff) this.effective.set(table, eff);
    // the replica no longer matches what the last transaction id stands for
    this.sinceUsable = false;
    const s = this.session;
    if (!s || s.client.closed || !eff) return; // applied on reconnect
    if (s.method !== 'monitor') {
      await s.client.monitorCondChange(REPLICA_MONITOR, { [table]: eff.where });
    } else {
      // RFC 7047 monitor has no conditions: take the whole state again and filter it here
      s.queued = [];
      try {
        await s.client.monitorCancel(REPLICA_MONITOR);
        const mon = await this.monitorTables(s, undefined);
        this.emitChanges(this.cache.resync(mon.updates));
      } finally {
        const queued = s.queued;
        s.queued = undefined;
        for (const [id, tu, txnId] of queued) this.onUpdate(s, id, tu, txnId);
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

async function readServerInfo(
  client: OvsdbClient,
  db: string,
  hasServerDb: boolean,
  schema: DatabaseSchema,
): Promise<{ info: ServerInfo; serverCache: TableCache | undefined }> {
  let info: ServerInfo = { model: 'standalone', connected: true, leader: true };
  let serverCache: TableCache | undefined;
  if (hasServerDb) {
    const serverSchema = await client.getSchema('_Server');
    const columns = SERVER_COLUMNS.filter((c) => serverSchema.tables.Database?.columns[c]);
    serverCache = new TableCache(serverSchema, [{ table: 'Database', columns }]);
    const res = (await client.transact('_Server', [{ op: 'select', table: 'Database', where: [['name', '==', db]], columns }])) as { rows: Record<string, unknown>[] }[];
    const raw = res[0]?.rows[0];
    if (raw) info = serverInfoOf(decodeRow('', raw, serverSchema.tables.Database!));
  }
  // _Server does not tell a backup (ovsdb-server --sync-from) from an active server: both say
  // standalone. A write that is aborted by request tells: a read-only server refuses the insert
  // ("not allowed") before reaching the abort, any other answers "aborted". Nothing is written.
  if (info.model === 'standalone') info.readOnly = await refusesWrites(client, db, schema);
  return { info, serverCache };
}

/** Probes with [insert, abort]: true when the server refuses the insert as read-only. */
async function refusesWrites(client: OvsdbClient, db: string, schema: DatabaseSchema): Promise<boolean> {
  const table = Object.keys(schema.tables).sort()[0];
  if (!table) return false;
  try {
    await client.transact(db, [{ op: 'insert', table, row: {} }, { op: 'abort' }]);
  } catch (err) {
    if (err instanceof TransactionFailedError) return err.has('NotAllowed');
    if (err instanceof RpcError) return false;
    throw err;
  }
  return false;
}

function serverInfoOf(row: Row): ServerInfo {
  const index = Array.isArray(row.index) ? (row.index[0] as number | undefined) : undefined;
  const cid = Array.isArray(row.cid) ? (row.cid[0] as string | undefined) : undefined;
  return { model: String(row.model), connected: row.connected === true, leader: row.leader === true, ...(index !== undefined ? { index } : {}), ...(cid !== undefined ? { cid } : {}) };
}

/** Why monitor_cond_since changes cannot apply to the cache (a modify of a row it lacks), or undefined. */
function misfitOf(updates: TableUpdates, cache: TableCache): string | undefined {
  for (const [table, rows] of updates) {
    const have = cache.rows(table);
    for (const [id, u] of rows) if (!isStoredRow(u) && 'modify' in u && !have.has(id)) return `modify of ${table} row ${id}, which the replica does not have`;
  }
  return undefined;
}

/** Follows our row of _Server.Database (no monitor_cond_since: _Server does not support it). */
async function monitorServer(client: OvsdbClient, db: string, serverSchema: DatabaseSchema): Promise<TableUpdates> {
  const columns = SERVER_COLUMNS.filter((c) => serverSchema.tables.Database?.columns[c]);
  const req = { Database: { columns, where: [['name', '==', db]] as Condition[] } };
  try {
    return await client.monitorCond('_Server', SERVER_MONITOR, req);
  } catch (err) {
    if (!(err instanceof RpcError && err.errorString === 'unknown method')) throw err;
    return client.monitor('_Server', SERVER_MONITOR, { Database: { columns } });
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
