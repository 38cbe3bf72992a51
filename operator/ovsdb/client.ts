// One OVSDB JSON-RPC 1.0 session over one long-lived stream (tcp, unix or ssl): request/response
// correlation with timeouts, answers to the server's `echo`, an inactivity probe, monitor
// notifications. No reconnect here (Database does that). Imports only operator/ovsdb, node and
// jayson/pino.
//
// Why our own connection and not jayson's client: jayson's TCP/TLS client opens a new socket per
// request and resolves with the first JSON value read from it, so it can neither keep the session
// a monitor lives in nor receive the server's `update2`/`echo` requests, and it cannot frame a
// stream of concatenated JSON values. jayson is used where it fits: `Utils.request` builds the
// JSON-RPC 1.0 request objects, and a version-1 jayson Server dispatches the server's inbound
// messages (`echo` gets its reply from it; `update`/`update2`/`update3` notifications reach their
// handlers through it, synchronously, so they stay ordered with replies).
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, type SecureContext } from 'node:tls';
import { readFileSync } from 'node:fs';
import jayson from 'jayson';
import { pino, type Logger } from 'pino';
import { JsonStreamFramer, SKIP } from './framing.js';
import { parseRemotes, type Remote } from './remote.js';
import { normalizeSchema, ZERO_UUID } from './notation.js';
import { addRowUpdate, decodeRowUpdateInPlace, decodeTableUpdates, type RowUpdate, type TableUpdates } from './replica.js';
import {
  DisconnectedError,
  OvsdbError,
  ProtocolError,
  RpcError,
  TimeoutError,
  TlsError,
  UnreachableError,
  checkTransactResult,
} from './errors.js';
import type { Condition, DatabaseSchema, Operation } from './types.js';

export interface TlsFiles {
  /** PEM private key file (ovsdb-server's --private-key). */
  key?: string;
  /** PEM certificate file for the key (--certificate). */
  cert?: string;
  /** PEM CA certificate the server's certificate must be signed by (--ca-cert). */
  ca?: string;
}

export interface ConnectOptions {
  tls?: TlsFiles;
  /** Time allowed to open the stream (and finish a TLS handshake). Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Time allowed for a reply. Default 60000 ms. */
  requestTimeoutMs?: number;
  /**
   * Time a monitor request (monitor, monitor_cond, monitor_cond_since) may go without receiving
   * any byte: restarted by every chunk that arrives, so a large initial reply that is still
   * streaming never times out. Default the larger of requestTimeoutMs and 120000 ms; 0 disables.
   */
  monitorTimeoutMs?: number;
  /** After this long without receiving anything, send `echo`; close if still silent after as long again. 0 disables. Default 5000 ms. */
  probeIntervalMs?: number;
  logger?: Logger;
}

/** One table's monitor request: columns (all when omitted) and, for monitor_cond, a condition. */
export interface MonitorRequest {
  columns?: string[];
  where?: Condition[];
}

export type MonitorRequests = Record<string, MonitorRequest>;

const silent = pino({ level: 'silent' });

interface Pending {
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
  /** A monitor request: its timer restarts whenever bytes arrive. */
  monitor: boolean;
}

/** Requests whose reply is the whole followed content (built and sent slowly by a big server). */
const MONITOR_METHODS = new Set(['monitor', 'monitor_cond', 'monitor_cond_since']);

/** Reads the TLS files, naming the file that is missing, unreadable or not PEM. */
export function loadTls(remote: string, files: TlsFiles | undefined): SecureContext {
  if (!files?.ca) throw new TlsError(`${remote} is an ssl remote: give the CA certificate file (ca) that signed the server's certificate`);
  const read = (what: string, path: string | undefined): string | undefined => {
    if (path === undefined) return undefined;
    try {
      const text = readFileSync(path, 'utf8');
      if (!text.includes('-----BEGIN')) throw new Error('not a PEM file');
      return text;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new TlsError(`cannot use the TLS ${what} file ${path}: ${e.code ?? e.message}`, { cause: err });
    }
  };
  const key = read('private key', files.key);
  const cert = read('certificate', files.cert);
  const ca = read('CA certificate', files.ca);
  if ((key === undefined) !== (cert === undefined)) throw new TlsError(`TLS for ${remote}: give both the private key and the certificate file, or neither`);
  try {
    return createSecureContext({ key, cert, ca });
  } catch (err) {
    throw new TlsError(`TLS for ${remote}: key ${files.key}, certificate ${files.cert} or CA ${files.ca} is unusable: ${(err as Error).message}`, { cause: err });
  }
}

function describeTlsFailure(remote: string, files: TlsFiles | undefined, err: NodeJS.ErrnoException): string {
  const code = err.code ?? '';
  if (/CERT|SIGNATURE|ISSUER|SELF_SIGNED|VERIFY/.test(code)) {
    return `TLS handshake with ${remote} failed: the server's certificate is not signed by the CA in ${files?.ca} (${code})`;
  }
  if (/ALERT|SSL/.test(code) || /alert|handshake/i.test(err.message)) {
    return `TLS handshake with ${remote} failed: the server refused our certificate ${files?.cert ?? '(none given)'} (${err.message})`;
  }
  return `TLS handshake with ${remote} failed: ${err.message}`;
}

/** Opens the byte stream to one remote; rejects with Unreachable, Timeout or TlsError. */
async function openStream(remote: Remote, opts: ConnectOptions): Promise<Socket> {
  const timeoutMs = opts.connectTimeoutMs ?? 5000;
  const secureContext = remote.kind === 'ssl' ? loadTls(remote.text, opts.tls) : undefined;
  return new Promise<Socket>((resolve, reject) => {
    let sock: Socket;
    let handshaking = false;
    if (remote.kind === 'unix') sock = createConnection({ path: remote.path });
    else if (remote.kind === 'tcp') sock = createConnection({ host: remote.host, port: remote.port });
    else {
      handshaking = true;
      // OVS checks that the peer's certificate is signed by the CA; it does not match host names.
      sock = tlsConnect({ host: remote.host, port: remote.port, secureContext, checkServerIdentity: () => undefined, rejectUnauthorized: true });
    }
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new TimeoutError(`${remote.text}: no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      sock.destroy();
      if (handshaking && err.code !== 'ECONNREFUSED' && err.code !== 'EHOSTUNREACH' && err.code !== 'ENETUNREACH') {
        reject(new TlsError(describeTlsFailure(remote.text, opts.tls, err), { cause: err }));
      } else {
        reject(new UnreachableError(`${remote.text}: ${err.code ?? err.message}`, [{ remote: remote.text, error: err.code ?? err.message }], { cause: err }));
      }
    };
    sock.once('error', fail);
    sock.once(remote.kind === 'ssl' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      sock.off('error', fail);
      resolve(sock);
    });
  });
}

/**
 * One connection to ONE remote. Events: 'update' (monitorId, tableUpdates, method, lastTxnId?)
 * for every monitor notification (lastTxnId with update3), 'canceled' (monitorId) when the server
 * cancels a monitor (`monitor_canceled`, after a schema conversion), 'close' (error | undefined) once.
 */
export class OvsdbClient extends EventEmitter {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly framer: JsonStreamFramer;
  private readonly dispatcher: jayson.Server;
  private closeError: OvsdbError | undefined;
  private isClosed = false;
  private lastReceived = Date.now();
  private probeSentAt = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly requestTimeoutMs: number;
  private readonly monitorTimeoutMs: number;
  /** Monitor requests awaiting their reply (the probe is not enforced while there are any). */
  private monitorsPending = 0;
  /** monitor_cond_since requests awaiting their reply (their rows sit one level deeper). */
  private sincePending = 0;
  /** Row updates of the message being received, taken out of it by the framer's onUnit hook. */
  private collected: TableUpdates = new Map();
  /** Row updates collected from each reply, until its request's caller takes them. */
  private readonly collectedFor = new WeakMap<object, TableUpdates>();
  readonly log: Logger;
  /**
   * Turns each row update of a monitor reply into its stored form as it arrives (set by the
   * replica around its own monitor requests), so a large reply never holds every row twice.
   */
  rowStore: ((table: string, id: string, u: RowUpdate) => RowUpdate) | undefined;

  private constructor(
    readonly remote: string,
    private readonly socket: Socket,
    opts: ConnectOptions,
  ) {
    super();
    this.log = (opts.logger ?? silent).child({ remote });
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
    this.monitorTimeoutMs = opts.monitorTimeoutMs ?? Math.max(this.requestTimeoutMs, 120_000);
    this.framer = new JsonStreamFramer((m) => this.onMessage(m), {
      // a monitor_cond_since reply nests its rows one level deeper: [found, last-txn-id, updates]
      unitDepth: (path) => (this.sincePending > 0 && path[0] === 'result' && path[1] === 2 ? 4 : 3),
      // rows of a monitor reply (result -> table -> uuid) are decoded as they arrive, so the wire
      // form of a 100k-row reply is never held next to its decoded form
      onUnit: (path, v) => {
        if (path[0] !== 'result' || !decodeRowUpdateInPlace(v)) return v;
        const [table, id] = path.length === 4 ? [path[2], path[3]] : [path[1], path[2]];
        addRowUpdate(this.collected, table as string, id as string, this.rowStore ? this.rowStore(table as string, id as string, v as RowUpdate) : (v as RowUpdate));
        return SKIP;
      },
    });
    this.dispatcher = new jayson.Server(
      {
        echo: (params: unknown[], cb: (e: unknown, r?: unknown) => void) => cb(null, params),
        update: (params: unknown[], cb: (e: unknown) => void) => this.onNotification('update', params[0], params[1], cb),
        update2: (params: unknown[], cb: (e: unknown) => void) => this.onNotification('update2', params[0], params[1], cb),
        update3: (params: unknown[], cb: (e: unknown) => void) => this.onNotification('update3', params[0], params[2], cb, params[1]),
        // the server converted the database (schema upgrade): the monitor is gone, the session stays
        monitor_canceled: (params: unknown[], cb: (e: unknown) => void) => {
          this.emit('canceled', params[0]);
          cb(null);
        },
        locked: (_p: unknown[], cb: (e: unknown) => void) => cb(null),
        stolen: (_p: unknown[], cb: (e: unknown) => void) => cb(null),
      },
      { version: 1 },
    );
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // with TLS 1.3 the server's verdict on our certificate arrives after the handshake
      if ((err.code ?? '').startsWith('ERR_SSL') || /alert/i.test(err.message)) this.shutdown(new TlsError(describeTlsFailure(remote, opts.tls, err), { cause: err }));
      else this.shutdown(new DisconnectedError(`connection to ${remote} failed: ${err.message}`, { cause: err }));
    });
    socket.on('close', () => this.shutdown(new DisconnectedError(`connection to ${remote} closed by the server`)));
    const probe = opts.probeIntervalMs ?? 5000;
    if (probe > 0) {
      this.probeTimer = setInterval(() => this.probe(probe), Math.max(25, Math.floor(probe / 2)));
      this.probeTimer.unref();
    }
  }

  /** Connects to one remote (the first that answers, if given a comma-separated list). */
  static async connect(remote: string, opts: ConnectOptions = {}): Promise<OvsdbClient> {
    const remotes = parseRemotes(remote);
    const attempts: { remote: string; error: string }[] = [];
    const failures: OvsdbError[] = [];
    for (const r of remotes) {
      try {
        const sock = await openStream(r, opts);
        return new OvsdbClient(r.text, sock, opts);
      } catch (err) {
        if (!(err instanceof OvsdbError)) throw err;
        failures.push(err);
        attempts.push({ remote: r.text, error: err.message });
      }
    }
    if (failures.every((f) => f.code === 'TlsError')) throw failures[0]!;
    throw new UnreachableError(`cannot connect to OVSDB: ${attempts.map((a) => a.error).join('; ')}`, attempts, { cause: failures[0] });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Bytes received on this connection. */
  get bytesReceived(): number {
    return this.framer.bytesReceived;
  }

  /** Sends one request; resolves with its `result`, rejects with RpcError/Timeout/Disconnected. */
  request(method: string, params: unknown[], timeoutMs?: number): Promise<unknown> {
    if (this.isClosed) return Promise.reject(new DisconnectedError(`${method}: not connected to ${this.remote}`, { cause: this.closeError }));
    const id = this.nextId++;
    const msg = jayson.Utils.request(method, params, id, { version: 1 });
    const monitor = MONITOR_METHODS.has(method);
    const limit = timeoutMs ?? (monitor ? this.monitorTimeoutMs : this.requestTimeoutMs);
    return new Promise((resolve, reject) => {
      const p: Pending = { method, resolve, reject, timer: undefined, monitor };
      if (monitor) this.monitorsPending++;
      if (limit > 0) {
        p.timer = setTimeout(() => {
          this.forget(id, p);
          reject(
            new TimeoutError(
              monitor ? `${method} to ${this.remote}: nothing received for ${limit} ms while waiting for the reply` : `${method} to ${this.remote}: no reply within ${limit} ms`,
            ),
          );
        }, limit);
      }
      this.pending.set(id, p);
      this.socket.write(JSON.stringify(msg));
    });
  }

  async listDbs(): Promise<string[]> {
    return (await this.request('list_dbs', [])) as string[];
  }

  async getSchema(db: string): Promise<DatabaseSchema> {
    return normalizeSchema(await this.request('get_schema', [db]));
  }

  /** Runs a transaction; throws TransactionFailedError (with per-operation typed errors) when it fails. */
  async transact(db: string, ops: Operation[]): Promise<unknown[]> {
    return checkTransactResult(ops, await this.request('transact', [db, ...ops]));
  }

  /** monitor_cond: resolves with the initial rows; later changes arrive as 'update' events (update2). */
  async monitorCond(db: string, monitorId: string, requests: MonitorRequests): Promise<TableUpdates> {
    const req: Record<string, object[]> = {};
    for (const [table, r] of Object.entries(requests)) req[table] = [{ ...(r.columns ? { columns: r.columns } : {}), ...(r.where ? { where: r.where } : {}) }];
    return this.tableUpdatesOf(await this.request('monitor_cond', [db, monitorId, req]));
  }

  /**
   * monitor_cond_since (ovsdb-server >= 2.12): like monitor_cond, but a server that still has
   * `lastTxnId` in its history answers found=true and sends only the changes since then (insert,
   * modify, delete); otherwise found=false and every row (initial). Later changes arrive as
   * 'update' events (update3) carrying the new last transaction id.
   */
  async monitorCondSince(db: string, monitorId: string, requests: MonitorRequests, lastTxnId: string = ZERO_UUID): Promise<{ found: boolean; lastTxnId: string; updates: TableUpdates }> {
    const req: Record<string, object[]> = {};
    for (const [table, r] of Object.entries(requests)) req[table] = [{ ...(r.columns ? { columns: r.columns } : {}), ...(r.where ? { where: r.where } : {}) }];
    this.sincePending++;
    let result: unknown;
    try {
      result = await this.request('monitor_cond_since', [db, monitorId, req, lastTxnId]);
    } finally {
      this.sincePending--;
    }
    if (!Array.isArray(result) || result.length !== 3 || typeof result[0] !== 'boolean' || typeof result[1] !== 'string') {
      throw new ProtocolError(`monitor_cond_since reply from ${this.remote} is not [found, last-txn-id, updates]: ${JSON.stringify(result)?.slice(0, 200)}`);
    }
    const collected = this.collectedFor.get(result);
    return { found: result[0], lastTxnId: result[1], updates: decodeTableUpdates(result[2], collected) };
  }

  /** Asks the server to cancel monitors with `monitor_canceled` (instead of disconnecting) when it converts a database. */
  async setDbChangeAware(): Promise<void> {
    await this.request('set_db_change_aware', [true]);
  }

  /** RFC 7047 monitor (no conditions): initial rows as {new}; changes arrive as 'update' events. */
  async monitor(db: string, monitorId: string, requests: MonitorRequests): Promise<TableUpdates> {
    const req: Record<string, object> = {};
    for (const [table, r] of Object.entries(requests)) req[table] = { ...(r.columns ? { columns: r.columns } : {}) };
    return this.tableUpdatesOf(await this.request('monitor', [db, monitorId, req]));
  }

  /** A monitor reply's rows: those the framer collected while receiving it, plus any left in it. */
  private tableUpdatesOf(result: unknown): TableUpdates {
    const collected = result && typeof result === 'object' ? this.collectedFor.get(result) : undefined;
    return decodeTableUpdates(result, collected);
  }

  /** monitor_cond_change: new conditions for tables of an existing monitor (ovsdb-server cannot change columns). */
  async monitorCondChange(monitorId: string, conditions: Record<string, Condition[] | undefined>, newMonitorId = monitorId): Promise<void> {
    const req: Record<string, object[]> = {};
    for (const [table, where] of Object.entries(conditions)) req[table] = [{ where: where ?? [true] }];
    await this.request('monitor_cond_change', [monitorId, newMonitorId, req]);
  }

  async monitorCancel(monitorId: string): Promise<void> {
    await this.request('monitor_cancel', [monitorId]);
  }

  /** Closes the connection; pending requests fail with Disconnected. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.shutdown(new DisconnectedError(`connection to ${this.remote} closed by the client`), true);
    await new Promise<void>((r) => {
      if (this.socket.destroyed) r();
      else this.socket.once('close', () => r());
    });
  }

  /** Removes a pending request (answered, timed out or failed). */
  private forget(id: number, p: Pending): void {
    if (!this.pending.delete(id)) return;
    if (p.timer) clearTimeout(p.timer);
    if (p.monitor) this.monitorsPending--;
  }

  private onData(chunk: Buffer): void {
    this.lastReceived = Date.now();
    this.probeSentAt = 0;
    // a monitor reply still arriving is progress: its no-bytes timer starts again
    if (this.monitorsPending > 0) for (const p of this.pending.values()) if (p.monitor) p.timer?.refresh();
    try {
      this.framer.push(chunk);
    } catch (err) {
      const e = err instanceof OvsdbError ? err : new ProtocolError(`handling a message from ${this.remote} failed: ${(err as Error).message}`, { cause: err });
      this.log.error({ err: e }, 'ovsdb protocol error');
      this.shutdown(e);
    }
  }

  private onMessage(msg: unknown): void {
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) throw new ProtocolError(`unexpected message from ${this.remote}: ${JSON.stringify(msg)?.slice(0, 200)}`);
    const m = msg as { id?: unknown; method?: unknown; result?: unknown; error?: unknown };
    if (this.collected.size > 0) {
      if (m.result && typeof m.result === 'object') this.collectedFor.set(m.result, this.collected);
      this.collected = new Map();
    }
    if (typeof m.method === 'string') {
      this.dispatcher.call(m as never, (err: unknown, response: unknown) => {
        const reply = response ?? err;
        if (reply && m.id !== null && m.id !== undefined && !this.isClosed) this.socket.write(JSON.stringify(reply));
      });
      return;
    }
    if (typeof m.id !== 'number') {
      this.log.debug({ id: m.id }, 'reply to an unknown request');
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) {
      this.log.debug({ id: m.id }, 'late reply ignored');
      return;
    }
    this.forget(m.id, p);
    if (m.error !== null && m.error !== undefined) p.reject(new RpcError(p.method, m.error));
    else p.resolve(m.result);
  }

  private onNotification(method: string, monitorId: unknown, updates: unknown, cb: (e: unknown) => void, lastTxnId?: unknown): void {
    try {
      this.emit('update', monitorId, decodeTableUpdates(updates), method, typeof lastTxnId === 'string' ? lastTxnId : undefined);
    } catch (err) {
      const e = err instanceof OvsdbError ? err : new ProtocolError(`handling ${method} from ${this.remote} failed: ${(err as Error).message}`, { cause: err });
      this.log.error({ err: e }, 'ovsdb notification failed');
      this.shutdown(e);
    }
    cb(null);
  }

  private probe(intervalMs: number): void {
    if (this.isClosed) return;
    const now = Date.now();
    // ovsdb-server is single-threaded: while it builds a large monitor reply it cannot answer
    // echo either. An outstanding monitor request is bounded by its own timeout instead.
    if (this.probeSentAt && now - this.probeSentAt >= intervalMs && this.monitorsPending === 0) {
      this.shutdown(new TimeoutError(`${this.remote} did not answer the inactivity probe within ${intervalMs} ms`));
      return;
    }
    if (!this.probeSentAt && now - this.lastReceived >= intervalMs) {
      this.probeSentAt = now;
      this.request('echo', [], 0).catch(() => undefined);
    }
  }

  private shutdown(err: OvsdbError, byClient = false): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeError = err;
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.socket.destroy();
    for (const [id, p] of this.pending) {
      this.forget(id, p);
      p.reject(new DisconnectedError(`${p.method} to ${this.remote} failed: ${err.message}`, { cause: err }));
    }
    if (!byClient) this.log.warn({ err: err.message }, 'ovsdb connection lost');
    this.emit('close', byClient ? undefined : err);
  }
}
