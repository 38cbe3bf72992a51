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

  forget(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
