// A key -> values map that stores a key naming one value as the value itself and only allocates a
// Set for keys naming several. The row-key index of scoped reads (ovn/scoped.ts) and the
// affected-resource index (controller/affected.ts) hold hundreds of thousands of keys at field
// scale (one per route prefix), nearly all naming one row or one resource: a Set per key cost
// tens of MiB. Values must be strings (a uuid, a resource name). Pure; imports nothing.

export class MultiMap {
  private readonly m = new Map<string, string | Set<string>>();

  add(key: string, value: string): void {
    const cur = this.m.get(key);
    if (cur === undefined) this.m.set(key, value);
    else if (typeof cur !== 'string') cur.add(value);
    else if (cur !== value) this.m.set(key, new Set([cur, value]));
  }

  delete(key: string, value: string): void {
    const cur = this.m.get(key);
    if (cur === undefined) return;
    if (typeof cur === 'string') {
      if (cur === value) this.m.delete(key);
      return;
    }
    cur.delete(value);
    if (cur.size === 1) this.m.set(key, cur.values().next().value!);
    else if (cur.size === 0) this.m.delete(key);
  }

  /** Adds the values of `key` to `into`. */
  collect(key: string, into: Set<string>): void {
    const cur = this.m.get(key);
    if (cur === undefined) return;
    if (typeof cur === 'string') into.add(cur);
    else for (const v of cur) into.add(v);
  }
}
