// A bounded string intern table: a text seen again while it is still in the table is returned as
// its first copy, so a value that repeats across rows or objects is held once. Bounded: the table
// starts over when full, so unique texts cannot make it grow. Used by the OVSDB decoder
// (ovsdb/notation.ts) and the informers' compact objects (kube/compact.ts). Pure; imports nothing.

export class Interner {
  private table = new Map<string, string>();

  constructor(
    /** Longer texts are returned as they are (rarely repeated, and costly to hash). */
    private readonly maxLength: number,
    /** Entries before the table starts over. */
    private readonly maxEntries: number,
  ) {}

  intern(s: string): string {
    if (s.length > this.maxLength) return s;
    const hit = this.table.get(s);
    if (hit !== undefined) return hit;
    if (this.table.size >= this.maxEntries) this.table = new Map();
    this.table.set(s, s);
    return s;
  }
}
