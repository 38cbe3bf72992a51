// Tolerant accessors over decoded replica rows (operator/ovsdb/types.ts Row) and the RowSource
// interface the views read from. Pure; must not import the OVSDB client.
import type { Atom, Row, Uuid, Value } from '../ovsdb/types.js';

/** Anything that can hand out the rows of a table: the OVSDB replica (Database) or a test builder. */
export interface RowSource {
  rows(table: string): ReadonlyMap<Uuid, Row>;
  /** Optional: throws an error with code 'StaleView' when the replica may not be trusted. */
  assertFresh?(): void;
}

/** A scalar column (or a 0/1-element set column) as one atom, or undefined. */
function scalar(v: Value | undefined): Atom | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v[0];
  if (typeof v === 'object') return undefined;
  return v;
}

export function str(v: Value | undefined): string {
  const s = scalar(v);
  return s === undefined ? '' : String(s);
}

export function optStr(v: Value | undefined): string | undefined {
  const s = scalar(v);
  return s === undefined ? undefined : String(s);
}

export function num(v: Value | undefined): number {
  const s = scalar(v);
  return typeof s === 'number' ? s : s === undefined ? 0 : Number(s) || 0;
}

/** A set column (also accepts a bare atom for a one-element set). */
function set(v: Value | undefined): Atom[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v;
  if (typeof v === 'object') return [];
  return [v];
}

export function strSet(v: Value | undefined): string[] {
  return set(v).map(String);
}

const routeSets = new WeakMap<Row, ReadonlySet<string>>();
/** A Logical_Router row's static_routes as a set, computed once per row version (replica rows are never mutated). */
export function staticRouteSet(lr: Row): ReadonlySet<string> {
  let s = routeSets.get(lr);
  if (!s) routeSets.set(lr, (s = new Set(strSet(lr.static_routes))));
  return s;
}

/** A map column as a string record. */
export function strMap(v: Value | undefined): Record<string, string> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) out[k] = String(x);
  return out;
}

/** Rows of a table sorted by uuid, so every derived list is deterministic. */
export function sortedRows(source: RowSource, table: string): Row[] {
  return [...source.rows(table).values()].sort((a, b) => (a._uuid < b._uuid ? -1 : a._uuid > b._uuid ? 1 : 0));
}

/** The replica's freshness as data: undefined when fresh, else the reason. */
export function staleness(source: RowSource): string | undefined {
  if (!source.assertFresh) return undefined;
  try {
    source.assertFresh();
    return undefined;
  } catch (err) {
    if ((err as { code?: string }).code === 'StaleView') return (err as Error).message;
    throw err;
  }
}
