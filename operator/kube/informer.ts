// A list+watch informer over @kubernetes/client-node's Watch, with what client-node 1.x's
// ListWatch lacks: restart with backoff after errors, relist on 410 Gone (an HTTP 410 or the ERROR
// event kube-apiserver sends), a watchdog that restarts a watch that went silent (1.x watches can
// stop without an error), bookmarks and label/field selectors on both list and watch (the
// periodic full resync is the controller's, over the informer caches). Lists are paged
// (limit/continue) and, like client-go's reflector, the first list asks for resourceVersion=0 (the
// apiserver answers from its watch cache, not a quorum read of etcd: 1,000 restarting agents do
// not stampede etcd), while a relist after 410 Gone asks for a consistent read (resourceVersion
// unset). resourceVersions are opaque strings: only passed back to the server, never compared or
// parsed.
// Kubernetes I/O only; must not import OVSDB, drift or controller code.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { backoffDelay } from '../runtime/backoff.js';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string; generation?: number; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export interface ListResult<T> {
  items: T[];
  /** `continue` as the server sends it; `_continue` as client-node's typed lists name it. */
  metadata?: { resourceVersion?: string; continue?: string; _continue?: string };
}

export type InformerEvent = 'add' | 'update' | 'delete';

/**
 * What one list call must send: the informer's selectors plus the paging and consistency options
 * (client-node's parameter names, so `(s) => api.listX({ ...s })` passes them all on).
 */
export interface ListSelectors {
  labelSelector?: string;
  fieldSelector?: string;
  /** "0": any cached state is fine (the first list, as client-go's reflector does); "": a consistent read. */
  resourceVersion?: string;
  /** Page size; the server may ignore it (it does for resourceVersion=0, served from its cache). */
  limit?: number;
  /** Continue token of the previous page. */
  _continue?: string;
}

export interface InformerOptions<T extends KubeObject> {
  kubeConfig: KubeConfig;
  /** Collection path, e.g. /apis/ovndrift.io/v1alpha1/podcidrroutes or /api/v1/nodes. */
  path: string;
  /**
   * Lists one page of the collection; receives the selectors, resourceVersion, limit and continue
   * token and must pass them on (e.g. `(s) => core.listNode(s)`). A callback that drops them still
   * works (one unpaged, consistent list), but loses what they are for.
   */
  list: (selectors: ListSelectors) => Promise<ListResult<T>>;
  /** Label selector for list and watch. */
  labelSelector?: string;
  /** Field selector for list and watch, e.g. `metadata.name=node-1` (an agent caching only its own Node). */
  fieldSelector?: string;
  /** Page size of lists (default 500, client-go's pager default). */
  pageSize?: number;
  /** Server-side watch timeout (the server ends the watch; we re-watch from the last rv). Default 300 s. */
  watchTimeoutSeconds?: number;
  /** No event, bookmark or end for this long -> the watch is presumed dead and restarted. Default timeout + 30 s. */
  watchdogMs?: number;
  backoff?: { initialMs?: number; maxMs?: number };
  logger?: Logger;
  /**
   * What is cached of each listed or watched object (e.g. kube/compact.ts: drop fields nobody
   * reads, share equal strings); the handlers see the transformed object. It may change the object
   * in place (it is fresh from the wire) and must keep metadata.name, namespace and resourceVersion.
   */
  transform?: (obj: T) => T;
  /** Metrics hooks. */
  onRelist?: (reason: string) => void;
  onWatchRestart?: (reason: string) => void;
}

type Handler<T> = (event: InformerEvent, obj: T, old?: T) => void;

function keyOf(o: KubeObject): string {
  return o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : String(o.metadata?.name);
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: Handler<T>[] = [];
  private readonly syncWaiters: { ok: () => void; fail?: (err: Error) => void }[] = [];
  private readonly watch: Watch;
  private resourceVersion = '';
  private abort?: { abort(): void };
  private stopped = true;
  private synced = false;
  private failures = 0;
  private lastActivity = 0;
  private watchdogTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private generation = 0;
  /** Last error seen (for readiness reporting). */
  lastError?: Error;

  constructor(private readonly opts: InformerOptions<T>) {
    this.watch = new Watch(opts.kubeConfig);
  }

  on(handler: Handler<T>): void {
    this.handlers.push(handler);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /**
   * Resolves once the first list has been loaded. With failOnListError, rejects with the error of a
   * failed list before that instead (the informer itself keeps retrying until stopped).
   */
  waitForSync(opts: { failOnListError?: boolean } = {}): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((ok, fail) => this.syncWaiters.push({ ok, fail: opts.failOnListError ? fail : undefined }));
  }

  private selectors(): ListSelectors {
    const s: ListSelectors = {};
    if (this.opts.labelSelector) s.labelSelector = this.opts.labelSelector;
    if (this.opts.fieldSelector) s.fieldSelector = this.opts.fieldSelector;
    return s;
  }

  /**
   * Every page of the collection. A page that expired mid-way (410 on a continue token) restarts
   * the list as a consistent read.
   */
  private async listAll(resourceVersion: string): Promise<ListResult<T>> {
    const limit = this.opts.pageSize ?? 500;
    const items: T[] = [];
    let token: string | undefined;
    let listRv: string | undefined;
    for (let page = 0; ; page++) {
      const query: ListSelectors = { ...this.selectors(), limit, ...(token ? { _continue: token } : { resourceVersion }) };
      let r: ListResult<T>;
      try {
        r = await this.opts.list(query);
      } catch (err) {
        if (token && ((err as { code?: number }).code === 410 || (err as { statusCode?: number }).statusCode === 410)) return this.listAll('');
        throw err;
      }
      items.push(...(r.items ?? []));
      if (page === 0) listRv = r.metadata?.resourceVersion;
      token = r.metadata?.continue || r.metadata?._continue || undefined;
      if (!token) return { items, metadata: { resourceVersion: listRv ?? r.metadata?.resourceVersion } };
    }
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    const timeout = this.opts.watchTimeoutSeconds ?? 300;
    const watchdogMs = this.opts.watchdogMs ?? (timeout + 30) * 1000;
    this.watchdogTimer = setInterval(() => this.checkWatchdog(watchdogMs), Math.max(50, Math.min(watchdogMs / 4, 10_000)));
    this.watchdogTimer.unref?.();
    void this.relist('start');
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    clearInterval(this.watchdogTimer);
    clearTimeout(this.retryTimer);
    this.abort?.abort();
    this.abort = undefined;
  }

  private checkWatchdog(limitMs: number): void {
    if (this.stopped || !this.abort) return;
    if (Date.now() - this.lastActivity > limitMs) {
      this.opts.logger?.warn({ path: this.opts.path, silentMs: Date.now() - this.lastActivity }, 'watch silent; restarting it');
      this.opts.onWatchRestart?.('watchdog');
      this.restartWatch('watchdog');
    }
  }

  private restartWatch(reason: string): void {
    this.generation++;
    this.abort?.abort();
    this.abort = undefined;
    void this.startWatch(reason);
  }

  private scheduleRetry(what: () => void, err: Error): void {
    this.lastError = err;
    this.failures++;
    const initial = this.opts.backoff?.initialMs ?? 500;
    const max = this.opts.backoff?.maxMs ?? 30_000;
    const delay = backoffDelay(this.failures - 1, initial, max);
    this.opts.logger?.warn({ path: this.opts.path, err: err.message, retryInMs: Math.round(delay) }, 'list/watch failed; retrying');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(what, delay);
  }

  private async relist(reason: string): Promise<void> {
    if (this.stopped) return;
    const gen = ++this.generation;
    this.abort?.abort();
    this.abort = undefined;
    if (reason !== 'start') this.opts.onRelist?.(reason);
    let result: ListResult<T>;
    try {
      result = await this.listAll(reason === 'gone' ? '' : '0');
    } catch (err) {
      if (!this.synced && !this.stopped) {
        const failing = this.syncWaiters.filter((w) => w.fail);
        this.syncWaiters.splice(0, this.syncWaiters.length, ...this.syncWaiters.filter((w) => !w.fail));
        for (const w of failing) w.fail!(err as Error);
      }
      if (gen === this.generation) this.scheduleRetry(() => void this.relist(reason), err as Error);
      return;
    }
    if (this.stopped || gen !== this.generation) return;
    this.failures = 0;
    this.lastError = undefined;
    const seen = new Set<string>();
    for (const item of result.items ?? []) {
      const k = keyOf(item);
      seen.add(k);
      this.apply('ADDED', item);
    }
    for (const [k, old] of [...this.cache]) {
      if (!seen.has(k)) {
        this.cache.delete(k);
        this.emit('delete', old);
      }
    }
    this.resourceVersion = result.metadata?.resourceVersion ?? '';
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w.ok();
    }
    void this.startWatch(reason);
  }

  private async startWatch(reason: string): Promise<void> {
    if (this.stopped) return;
    const gen = ++this.generation;
    this.lastActivity = Date.now();
    let gone = false;
    const query: Record<string, string | number | boolean> = {
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: this.opts.watchTimeoutSeconds ?? 300,
    };
    Object.assign(query, this.selectors());
    const onEvent = (type: string, obj: any) => {
      if (gen !== this.generation) return;
      this.lastActivity = Date.now();
      if (type === 'ERROR') {
        if (obj?.code === 410) gone = true;
        else this.lastError = new Error(`watch ${this.opts.path}: ${obj?.message ?? 'error event'}`);
        return;
      }
      if (type === 'BOOKMARK') {
        if (obj?.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
        return;
      }
      this.failures = 0;
      this.apply(type, obj as T);
    };
    const onDone = (err: any) => {
      if (gen !== this.generation || this.stopped) return;
      this.abort = undefined;
      if (gone || err?.statusCode === 410 || err?.code === 410) {
        this.opts.logger?.info({ path: this.opts.path }, 'watch expired (410 Gone); relisting');
        void this.relist('gone');
      } else if (err && err.name !== 'AbortError') {
        this.opts.onWatchRestart?.('error');
        this.scheduleRetry(() => void this.startWatch('error'), err instanceof Error ? err : new Error(String(err)));
      } else {
        // a clean end (server timeout): continue from where we are
        this.opts.onWatchRestart?.('ended');
        void this.startWatch('ended');
      }
    };
    try {
      const req = await this.watch.watch(this.opts.path, query, onEvent, onDone);
      if (gen !== this.generation || this.stopped) req.abort();
      else this.abort = req;
    } catch (err) {
      onDone(err);
    }
    void reason;
  }

  private apply(type: string, received: T): void {
    const obj = this.opts.transform && type !== 'DELETED' ? this.opts.transform(received) : received;
    const k = keyOf(obj);
    const old = this.cache.get(k);
    if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
    if (type === 'DELETED') {
      if (old) {
        this.cache.delete(k);
        this.emit('delete', obj, old);
      }
      return;
    }
    if (old && old.metadata?.resourceVersion === obj.metadata?.resourceVersion) return;
    this.cache.set(k, obj);
    this.emit(old ? 'update' : 'add', obj, old);
  }

  private emit(event: InformerEvent, obj: T, old?: T): void {
    for (const h of this.handlers) {
      try {
        h(event, obj, old);
      } catch (err) {
        this.opts.logger?.error({ err, path: this.opts.path }, 'informer handler failed');
      }
    }
  }
}
