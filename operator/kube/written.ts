// What a controller wrote last, until its informer has caught up — with resourceVersions treated
// as the opaque strings Kubernetes says they are (never parsed, never ordered; only compared for
// equality and handed back). A write remembers the resourceVersion it was based on; while the
// informer still shows exactly that version, the informer has not seen the write and the written
// value is the truth. Any other version (the write itself, or a later one by anyone) means the
// informer has moved past it, and the cached object wins again.
// Replaces the numeric `newerRv` comparison of the controller (issue 11). Pure; imports nothing.

interface Written<V> {
  /** resourceVersion of the object the write was based on (what a stale informer still shows). */
  basedOn: string | undefined;
  /** resourceVersion the server answered the write with. */
  written: string | undefined;
  value: V;
}

export class WrittenCache<V> {
  private readonly entries = new Map<string, Written<V>>();

  /** Remember a successful write of `value` to `key`, made on top of `basedOn`. */
  remember(key: string, basedOn: string | undefined, written: string | undefined, value: V): void {
    this.entries.set(key, { basedOn, written, value });
  }

  /**
   * The value to use for `key` given the informer's current resourceVersion: the written one while
   * the informer still shows the version the write was based on, else `cached` (and the entry is
   * dropped: the informer has caught up).
   */
  current(key: string, informerRv: string | undefined, cached: V): V {
    const e = this.entries.get(key);
    if (!e) return cached;
    if (informerRv !== undefined && informerRv === e.basedOn && informerRv !== e.written) return e.value;
    this.entries.delete(key);
    return cached;
  }

  /**
   * The informer now shows `informerRv` for `key` (its event handler calls this): once that is not
   * the version the write was based on, the informer holds the write or something after it and the
   * entry goes. Without this an entry (a whole status) stayed until the key's next reconcile: after
   * an initial sync, one copy of every status next to the informer's own.
   */
  observe(key: string, informerRv: string | undefined): void {
    const e = this.entries.get(key);
    if (e && (informerRv !== e.basedOn || informerRv === e.written)) this.entries.delete(key);
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
