// The operator's OVSDB lifecycle: opens the NB and SB replicas through ovn/connect (retrying with
// backoff until they answer), keeps each replica's row-key index for scoped reads, publishes the
// connection metrics and tells the controller what changed. It never evaluates or writes status.
// Does I/O only through operator/ovn/connect; must not import operator/kube.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Database } from '../ovsdb/database.js';
import { backoffDelay } from '../runtime/backoff.js';
import type { TlsFiles } from '../ovsdb/client.js';
import type { RowChange, TableSpec } from '../ovsdb/types.js';
import { openReplica } from '../ovn/connect.js';
import { NB_TABLES, SB_TABLES } from '../ovn/tables.js';
import { RowKeyIndex } from './scope.js';
import type { OperatorMetrics } from './metrics.js';

export type Which = 'NB' | 'SB';

export interface ReplicaOptions {
  nbRemote: string;
  sbRemote: string;
  tls?: TlsFiles;
  connectTimeoutMs?: number;
  /** Inactivity probe interval of the OVSDB connections (0 disables; the client default when absent). */
  probeIntervalMs?: number;
  backoff?: { minMs?: number; maxMs?: number };
  logger: Logger;
  metrics: OperatorMetrics;
  /** What the SB replica follows instead of SB_TABLES (a shard starts with no Logical_Flow rows). */
  sbTables?: TableSpec[];
}

export interface ReplicaListener {
  /** Rows changed in one replica (already applied to its index). */
  onChange(which: Which, changes: RowChange[]): void;
  /** Connected, reconnected, disconnected or gone stale: everything may read differently. */
  onStateChange(which: Which): void;
}

/** The NB and SB replicas of one operator process. */
export class Replicas {
  nb?: Database;
  sb?: Database;
  nbIndex?: RowKeyIndex;
  sbIndex?: RowKeyIndex;
  /** Why a replica could not be opened yet (cleared once it is). */
  readonly openError: { NB?: string; SB?: string } = {};
  private stopped = false;

  constructor(
    private readonly opts: ReplicaOptions,
    private readonly listener: ReplicaListener,
  ) {}

  start(): void {
    void this.openLoop('NB');
    void this.openLoop('SB');
  }

  async close(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.nb?.close(), this.sb?.close()]);
  }

  private async openLoop(which: Which): Promise<void> {
    const remote = which === 'NB' ? this.opts.nbRemote : this.opts.sbRemote;
    const log = this.opts.logger;
    for (let attempt = 0; !this.stopped; attempt++) {
      // every try after a failed one is a reconnect (a connection dropped during the initial sync too)
      if (attempt > 0) this.opts.metrics.ovsdbReconnects.inc({ db: which });
      try {
        const db = await openReplica(which, remote, {
          timeoutMs: this.opts.connectTimeoutMs ?? 5000,
          // the connect timeout bounds connecting, not the initial sync: a 100 MB monitor reply
          // takes a loaded server many seconds to build (bounded by the no-bytes monitor timeout)
          boundSync: false,
          ...(this.opts.probeIntervalMs !== undefined ? { probeIntervalMs: this.opts.probeIntervalMs } : {}),
          ...(this.opts.tls ? { tls: this.opts.tls } : {}),
          ...(this.opts.backoff ? { backoff: this.opts.backoff } : {}),
          ...(which === 'SB' && this.opts.sbTables ? { tables: this.opts.sbTables } : {}),
          logger: log.child({ ovsdb: which }),
        });
        if (this.stopped) {
          await db.close();
          return;
        }
        await this.attach(which, db);
        if (this.stopped) {
          await db.close();
          return;
        }
        delete this.openError[which];
        log.info({ db: which, remote }, 'ovsdb replica connected');
        this.listener.onStateChange(which);
        return;
      } catch (err) {
        const first = this.openError[which] === undefined;
        this.openError[which] = (err as Error).message;
        if (first) {
          log.warn({ db: which, remote, err: (err as Error).message, code: (err as { code?: string }).code }, 'cannot open ovsdb replica; retrying');
          this.listener.onStateChange(which);
        }
        await sleep(backoffDelay(attempt, this.opts.backoff?.minMs ?? 500, this.opts.backoff?.maxMs ?? 10_000));
      }
    }
  }

  /**
   * Builds the replica's row-key index (in slices: the event loop stays free for the servers'
   * probes), then publishes the replica. Changes that arrive meanwhile are applied to the index
   * once it is built; the caller's onStateChange then marks everything.
   */
  private async attach(which: Which, db: Database): Promise<void> {
    const tables = (which === 'NB' ? NB_TABLES : SB_TABLES).map((t) => t.table);
    let index: RowKeyIndex | undefined;
    const queued: RowChange[][] = [];
    const metrics = this.opts.metrics;
    const sync = () => {
      const s = db.status();
      metrics.ovsdbConnected.set({ db: which }, s.connected ? 1 : 0);
      metrics.ovsdbStale.set({ db: which }, s.stale ? 1 : 0);
    };
    db.on('change', (changes: RowChange[], initial?: boolean) => {
      // the initial sync's rows (emitted after open() resolved) are in the rows the index is built
      // from, and onStateChange marks everything: applying 285,000 row changes again (and mapping
      // them to resources) would block the event loop for seconds, long enough for ovsdb-server's
      // inactivity probe (5 s, unanswered while we are busy) to drop the connection
      if (initial) return;
      if (!index) {
        queued.push(changes);
        return;
      }
      index.apply(changes);
      this.listener.onChange(which, changes);
    });
    index = await RowKeyIndex.build(db, tables);
    for (const c of queued) index.apply(c);
    if (which === 'NB') {
      this.nb = db;
      this.nbIndex = index;
    } else {
      this.sb = db;
      this.sbIndex = index;
    }
    sync();
    // every attempt counts, failed ones too: a reconnect loop shows as a rising counter
    db.on('reconnecting', () => metrics.ovsdbReconnects.inc({ db: which }));
    db.on('connected', () => {
      // no reindex: a resync emits its difference from what the replica held as 'change' (applied
      // above), so the index is exact; rebuilding it would parse every flow again in one tick
      sync();
      this.opts.logger.info({ db: which }, 'ovsdb reconnected');
      this.listener.onStateChange(which);
    });
    db.on('disconnected', (err?: Error) => {
      sync();
      this.opts.logger.warn({ db: which, err: err?.message }, 'ovsdb disconnected');
      this.listener.onStateChange(which);
    });
    db.on('stale', () => {
      sync();
      this.listener.onStateChange(which);
    });
  }

  /** One line per database for /readyz. */
  readiness(): Record<string, string> {
    const checks: Record<string, string> = {};
    for (const [which, db] of [['NB', this.nb], ['SB', this.sb]] as const) {
      const s = db?.status();
      checks[`ovsdb:${which}`] = !s
        ? `not connected${this.openError[which] ? `: ${this.openError[which]}` : ''}`
        : !s.connected
          ? 'disconnected'
          : s.stale
            ? 'stale (follower cut off from its cluster)'
            : 'ok';
    }
    return checks;
  }
}
