// A rate-limited work queue, the shape controller-runtime's reconcileHandler runs on (client-go's
// workqueue): keys are de-duplicated while they wait; a key being processed that is added again is
// processed once more after it is done (never twice at the same time); failures come back after a
// per-key exponential backoff (5 ms doubling to 1000 s) combined with an overall token bucket;
// `requeueAfter` brings a key back at a given time; a terminal error waits for the next add()
// (a spec change), and success forgets the key's failures.
// Pure scheduling: no Kubernetes, no OVSDB; the clock is injectable. Must not import operator/kube.
import { OvnDriftError } from '../errors.js';

/** A failure that retrying cannot fix (e.g. a 422 on the status write): wait for the next change. */
export class TerminalError extends OvnDriftError {
  declare readonly code: 'Terminal';
  constructor(message: string, options?: ErrorOptions) {
    super('Terminal', message, { ...options, exit: 'runtime' });
  }
}

/** What a reconciler returns: nothing (done), or when to look again. */
export interface ReconcileResult {
  requeueAfterMs?: number;
}

export type Reconciler<K> = (key: K) => Promise<ReconcileResult | void>;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): { unref?(): unknown };
  clearTimeout(handle: unknown): void;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Per-key exponential backoff: base * 2^failures, capped (client-go ItemExponentialFailureRateLimiter). */
export class ItemExponentialBackoff<K> {
  private readonly failures = new Map<K, number>();
  constructor(readonly baseMs = 5, readonly maxMs = 1_000_000) {}
  when(key: K): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.baseMs * 2 ** n, this.maxMs);
  }
  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }
  forget(key: K): void {
    this.failures.delete(key);
  }
}

/** An overall token bucket (client-go BucketRateLimiter): qps tokens a second, `burst` at most. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    readonly qps: number,
    readonly burst: number,
    private readonly clock: Pick<Clock, 'now'> = realClock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }
  /** Takes a token and returns how long to wait for it (0 when one was available). */
  reserve(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }
}

/** The maximum of both limiters, as controller-runtime's default rate limiter does. */
export class RateLimiter<K> {
  readonly item: ItemExponentialBackoff<K>;
  readonly bucket: TokenBucket;
  constructor(opts: { baseMs?: number; maxMs?: number; qps?: number; burst?: number; clock?: Clock } = {}) {
    this.item = new ItemExponentialBackoff<K>(opts.baseMs ?? 5, opts.maxMs ?? 1_000_000);
    this.bucket = new TokenBucket(opts.qps ?? 10, opts.burst ?? 100, opts.clock ?? realClock);
  }
  when(key: K): number {
    return Math.max(this.item.when(key), this.bucket.reserve());
  }
  numRequeues(key: K): number {
    return this.item.numRequeues(key);
  }
  forget(key: K): void {
    this.item.forget(key);
  }
}

export interface WorkQueueOptions<K> {
  rateLimiter?: RateLimiter<K>;
  clock?: Clock;
}

/** De-duplicating, delaying, rate-limited queue of keys. */
export class WorkQueue<K> {
  private readonly queue: K[] = [];
  private readonly waiting = new Set<K>();
  private readonly processing = new Set<K>();
  /** Keys added while being processed: queued again when done. */
  private readonly dirtyWhileProcessing = new Set<K>();
  private readonly delayed = new Map<K, { at: number; handle: unknown }>();
  private readonly getters: ((k: K | undefined) => void)[] = [];
  private shuttingDown = false;
  readonly rateLimiter: RateLimiter<K>;
  private readonly clock: Clock;

  constructor(opts: WorkQueueOptions<K> = {}) {
    this.clock = opts.clock ?? realClock;
    this.rateLimiter = opts.rateLimiter ?? new RateLimiter<K>({ clock: this.clock });
  }

  get length(): number {
    return this.queue.length;
  }

  /** Keys queued or being processed (delayed keys do not count: they wait for their time). */
  get active(): number {
    return new Set([...this.waiting, ...this.processing, ...this.dirtyWhileProcessing]).size;
  }

  /** Keys queued, delayed or being processed. */
  get pending(): number {
    return new Set([...this.waiting, ...this.processing, ...this.delayed.keys(), ...this.dirtyWhileProcessing]).size;
  }

  add(key: K): void {
    this.enqueue(key, false);
  }

  /**
   * Like add(), but the key goes to the front of the queue (moved there if it already waits): a
   * change that names a few keys is not served after a backlog of everything (a resync, a
   * reconnect) that may take minutes at field scale.
   */
  addFirst(key: K): void {
    this.enqueue(key, true);
  }

  private enqueue(key: K, front: boolean): void {
    if (this.shuttingDown) return;
    const d = this.delayed.get(key);
    if (d) {
      this.clock.clearTimeout(d.handle);
      this.delayed.delete(key);
    }
    if (this.processing.has(key)) {
      this.dirtyWhileProcessing.add(key);
      return;
    }
    if (this.waiting.has(key)) {
      // only a key that already waits is searched for; a new one goes straight to its end
      if (front) {
        const i = this.queue.indexOf(key);
        if (i > 0) {
          this.queue.splice(i, 1);
          this.queue.unshift(key);
        }
      }
      return;
    }
    this.waiting.add(key);
    const getter = this.getters.shift();
    if (getter) {
      this.waiting.delete(key);
      this.processing.add(key);
      getter(key);
    } else if (front) this.queue.unshift(key);
    else this.queue.push(key);
  }

  /** Adds the key after `ms`; an earlier pending delay for the key wins (client-go semantics). */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = this.clock.now() + ms;
    const d = this.delayed.get(key);
    if (d && d.at <= at) return;
    if (d) this.clock.clearTimeout(d.handle);
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    (handle as { unref?: () => unknown }).unref?.();
    this.delayed.set(key, { at, handle });
  }

  addRateLimited(key: K): number {
    const ms = this.rateLimiter.when(key);
    this.addAfter(key, ms);
    return ms;
  }

  forget(key: K): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: K): number {
    return this.rateLimiter.numRequeues(key);
  }

  /** The next key (marked as processing), or undefined once the queue shuts down. */
  get(): Promise<K | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.waiting.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.getters.push(resolve));
  }

  done(key: K): void {
    this.processing.delete(key);
    if (this.dirtyWhileProcessing.delete(key)) this.add(key);
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
    for (const g of this.getters.splice(0)) g(undefined);
  }
}

/** Longest run of back-to-back reconciles before the workers yield to the event loop. */
const YIELD_EVERY_MS = 5;

export interface WorkerHooks<K> {
  onError?(key: K, err: unknown, retryInMs: number | undefined): void;
  onIdle?(): void;
}

/**
 * Runs `workers` loops that take a key, reconcile it and settle it the way controller-runtime's
 * reconcileHandler does: error -> addRateLimited; TerminalError -> forget, wait for the next add;
 * requeueAfterMs -> forget + addAfter; success -> forget. Resolves when the queue shuts down.
 */
export async function runWorkers<K>(queue: WorkQueue<K>, workers: number, reconcile: Reconciler<K>, hooks: WorkerHooks<K> = {}): Promise<void> {
  // A queue full of keys whose reconcile does no real I/O would otherwise run as one long chain of
  // microtasks: give the event loop a turn (OVSDB echo probes, watches, Lease renewals) every few ms.
  let lastYield = Date.now();
  const loop = async (): Promise<void> => {
    for (;;) {
      if (Date.now() - lastYield >= YIELD_EVERY_MS) {
        await new Promise<void>((r) => setImmediate(r));
        lastYield = Date.now();
      }
      const key = await queue.get();
      if (key === undefined) return;
      try {
        const result = await reconcile(key);
        queue.forget(key);
        if (result?.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        if (err instanceof TerminalError) {
          queue.forget(key);
          hooks.onError?.(key, err, undefined);
        } else {
          const ms = queue.addRateLimited(key);
          hooks.onError?.(key, err, ms);
        }
      } finally {
        queue.done(key);
        if (queue.length === 0 && queue.pending === 0) hooks.onIdle?.();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, workers) }, loop));
}
