// The only place in operator/ovn that does I/O: opens the NB and SB replicas (tables of
// NB_TABLES / SB_TABLES), hands out the views, and applies a repair plan — one NB transaction,
// then NB_Global.nb_cfg is bumped and SB_Global.nb_cfg awaited (bounded), like
// `ovn-nbctl --wait=sb`. Never writes the SB.
import { setTimeout as sleep } from 'node:timers/promises';
import { Database } from '../ovsdb/database.js';
import type { TlsFiles } from '../ovsdb/client.js';
import { OvsdbError } from '../ovsdb/errors.js';
import type { Operation, TableSpec } from '../ovsdb/types.js';
import type { Logger } from 'pino';
import { nbView, type NbView } from './nb.js';
import { sbView, type SbView } from './sb.js';
import { NB_TABLES, SB_TABLES } from './tables.js';
import { num, sortedRows, type RowSource } from './rows.js';
import { OvnConnectError } from './errors.js';

export interface OpenOptions {
  nbRemote: string;
  sbRemote: string;
  tls?: TlsFiles;
  /** Bound on connecting (and on the initial sync unless boundSync is false): never hangs longer. */
  timeoutMs: number;
  /**
   * false: timeoutMs bounds only connecting and the short requests; the initial sync (a monitor
   * reply of 100 MB takes the server seconds to build) is bounded by the monitor request's
   * no-bytes timeout and the inactivity probe instead (the operator). Default true (the CLI).
   */
  boundSync?: boolean;
  /** Inactivity probe interval of the connections (0 disables; OvsdbClient default when absent). */
  probeIntervalMs?: number;
  logger?: Logger;
  /** Reconnect backoff of the opened replica (Database defaults when absent). */
  backoff?: { minMs?: number; maxMs?: number };
  /** What the replica follows instead of NB_TABLES / SB_TABLES (a shard's Logical_Flow condition). */
  tables?: TableSpec[];
}

export interface OvnDatabases {
  nb: Database;
  sb: Database;
  close(): Promise<void>;
}

/** Opens one replica (NB or SB tables), bounded by opts.timeoutMs; rejects with OvnConnectError. */
export async function openReplica(which: 'NB' | 'SB', remote: string, opts: Omit<OpenOptions, 'nbRemote' | 'sbRemote'>): Promise<Database> {
  const db = which === 'NB' ? 'OVN_Northbound' : 'OVN_Southbound';
  let timer: NodeJS.Timeout | undefined;
  const opening = Database.open({
    remote,
    db,
    tables: opts.tables ?? (which === 'NB' ? NB_TABLES : SB_TABLES),
    connectTimeoutMs: opts.timeoutMs,
    requestTimeoutMs: opts.timeoutMs,
    ...(opts.tls ? { tls: opts.tls } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.backoff?.minMs ? { backoffMinMs: opts.backoff.minMs } : {}),
    ...(opts.backoff?.maxMs ? { backoffMaxMs: opts.backoff.maxMs } : {}),
    ...(opts.probeIntervalMs !== undefined ? { probeIntervalMs: opts.probeIntervalMs } : {}),
    // connected: the initial sync is bounded by the monitor's no-bytes timeout from here
    ...(opts.boundSync === false ? { onSyncing: () => clearTimeout(timer) } : {}),
  });
  // Belt and braces: whatever happens inside, the caller hears back within the bound.
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OvsdbError('Timeout', `no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs + 2000);
  });
  try {
    return await Promise.race([opening, bound]);
  } catch (err) {
    opening.then((d) => d.close(), () => undefined);
    const reason = (err as Error).message;
    throw new OvnConnectError(which, remote, `cannot connect to the OVN ${which} database at ${remote}: ${reason}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/** Opens both replicas in parallel; rejects with OvnConnectError naming the remote. */
export async function openOvn(opts: OpenOptions): Promise<OvnDatabases> {
  const [nb, sb] = await Promise.allSettled([openReplica('NB', opts.nbRemote, opts), openReplica('SB', opts.sbRemote, opts)]);
  if (nb.status === 'rejected' || sb.status === 'rejected') {
    if (nb.status === 'fulfilled') await nb.value.close();
    if (sb.status === 'fulfilled') await sb.value.close();
    throw nb.status === 'rejected' ? nb.reason : (sb as PromiseRejectedResult).reason;
  }
  return {
    nb: nb.value,
    sb: sb.value,
    async close() {
      await Promise.all([nb.value.close(), sb.value.close()]);
    },
  };
}

export function readViews(dbs: { nb: RowSource; sb: RowSource }): { nb: NbView; sb: SbView } {
  return { nb: nbView(dbs.nb), sb: sbView(dbs.sb) };
}

export interface ApplyResult {
  /** False when the plan had nothing to do. */
  applied: boolean;
  /** NB_Global.nb_cfg after the bump. */
  nbCfg?: number;
  /** True once SB_Global.nb_cfg reached nbCfg within the timeout. */
  sbSynced: boolean;
  waitedMs: number;
}

/** What applyRepair needs of the NB and SB databases (the Database class, or a test double). */
export interface Transactor extends RowSource {
  transact(ops: Operation[]): Promise<unknown[]>;
}


/**
 * Commits the plan in one NB transaction with an nb_cfg bump (as `ovn-nbctl --wait=sb` does), then
 * waits, bounded by timeoutMs, until SB_Global.nb_cfg (or NB_Global.sb_cfg) reaches it. A failed
 * guard rejects with the OVSDB layer's TransactionFailed error and nothing is written. A stale NB
 * or SB view rejects first (StaleView/Disconnected, nothing written: a repair the SB cannot
 * confirm is not a repair); a server that refuses writes rejects with WriteRefused.
 */
export async function applyRepair(nbDb: Transactor, sbDb: RowSource, plan: { operations: Operation[] }, opts: { timeoutMs: number }): Promise<ApplyResult> {
  if (plan.operations.length === 0) return { applied: false, sbSynced: true, waitedMs: 0 };
  nbDb.assertFresh?.();
  sbDb.assertFresh?.();
  const ops: Operation[] = [
    ...plan.operations,
    { op: 'mutate', table: 'NB_Global', where: [], mutations: [['nb_cfg', '+=', 1]] },
    { op: 'select', table: 'NB_Global', where: [], columns: ['nb_cfg'] },
  ];
  const results = await nbDb.transact(ops);
  const selected = results[ops.length - 1] as { rows?: { nb_cfg?: number }[] } | undefined;
  const target = Number(selected?.rows?.[0]?.nb_cfg ?? num(sortedRows(nbDb, 'NB_Global')[0]?.nb_cfg));
  const start = Date.now();
  const deadline = start + opts.timeoutMs;
  for (;;) {
    // The NB replica must show our own commit, the SB replica northd's answer to it.
    const nbSeen = num(sortedRows(nbDb, 'NB_Global')[0]?.nb_cfg) >= target;
    const sbSynced = num(sortedRows(sbDb, 'SB_Global')[0]?.nb_cfg) >= target;
    if ((nbSeen && sbSynced) || Date.now() >= deadline) return { applied: true, nbCfg: target, sbSynced, waitedMs: Date.now() - start };
    await sleep(20);
  }
}
