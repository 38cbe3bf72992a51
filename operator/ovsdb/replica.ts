// The table cache behind a Database: applies monitor results and update2 (or RFC 7047 update)
// notifications exactly, and computes the change set that brings it to a fresh server state after
// a reconnect. Rows are stored compactly (docs/replica-storage.md): only the followed columns, in
// one fixed shape per table; short strings interned; empty and one-element sets shared; sets and
// maps frozen (rows are read-only). Pure data: no I/O, imports nothing outside operator/ovsdb.
import type { Atom, ColumnType, DatabaseSchema, Row, RowChange, TableSchema, TableSpec, Uuid, Value } from './types.js';
import { decodeWire, defaultValue, intern, isMap, isScalar, normalizeValue } from './notation.js';
import { ProtocolError } from './errors.js';

/** A row as it comes off the wire after schema-free decoding (decodeWire on every column). */
export type SemiRow = Record<string, Value>;

/** update2 row update (semi-decoded) or RFC 7047 `update` row update ({old, new}). */
export type RowUpdate =
  | { initial: SemiRow }
  | { insert: SemiRow }
  | { modify: SemiRow }
  | { delete: SemiRow | null }
  | { old?: SemiRow; new?: SemiRow };

/** <table-updates2>: table name -> row uuid -> row update (Maps: a 200k-row reply is not a 200k-key object). */
export type TableUpdates = Map<string, Map<Uuid, RowUpdate>>;

const predecoded = new WeakSet<object>();

const UPDATE2_KEYS = new Set(['initial', 'insert', 'modify', 'delete']);

/**
 * Decodes one wire row update in place (each column through decodeWire) when it has the shape of
 * an update2 or update row update; returns whether it did. Not idempotent: for an update seen
 * once (the framer's rows of a monitor reply), so no mark is kept per row.
 */
export function decodeRowUpdateInPlace(u: unknown): boolean {
  if (!u || typeof u !== 'object' || Array.isArray(u)) return false;
  let n = 0;
  let v2 = false;
  let v1 = true;
  for (const k in u) {
    n++;
    if (UPDATE2_KEYS.has(k)) v2 = true;
    if (k !== 'old' && k !== 'new') v1 = false;
    const row = (u as Record<string, unknown>)[k];
    if (row === null && k === 'delete') continue;
    if (!row || typeof row !== 'object' || Array.isArray(row)) return false;
  }
  if (!((v2 && n === 1) || (v1 && n >= 1 && n <= 2))) return false;
  for (const k in u) {
    const row = (u as Record<string, Record<string, unknown> | null>)[k];
    if (!row) continue;
    for (const col in row) row[col] = decodeWire(row[col]);
  }
  return true;
}

/** decodeRowUpdateInPlace, idempotent: a decoded update is remembered and never decoded twice. */
export function predecodeRowUpdate(u: unknown): boolean {
  if (u && typeof u === 'object' && predecoded.has(u)) return true;
  if (!decodeRowUpdateInPlace(u)) return false;
  predecoded.add(u as object);
  return true;
}

/** Collects row updates as the framer hands them over (see OvsdbClient), keyed by table and uuid. */
export function addRowUpdate(into: TableUpdates, table: string, id: Uuid, u: RowUpdate): void {
  let t = into.get(table);
  if (!t) {
    t = new Map();
    into.set(table, t);
  }
  t.set(id, u);
}

/**
 * Decodes a <table-updates2> (or <table-updates>) object into TableUpdates, adding to `into`
 * (rows the framer already collected). Throws Protocol on anything else.
 */
export function decodeTableUpdates(raw: unknown, into: TableUpdates = new Map()): TableUpdates {
  if (raw instanceof Map) return raw as TableUpdates;
  if (!raw || typeof raw !== 'object') throw new ProtocolError(`bad table updates: ${JSON.stringify(raw)?.slice(0, 200)}`);
  for (const table in raw as Record<string, unknown>) {
    const rows = (raw as Record<string, unknown>)[table];
    if (!rows || typeof rows !== 'object') throw new ProtocolError(`bad table update for ${table}`);
    if (!into.has(table)) into.set(table, new Map());
    for (const id in rows as Record<string, unknown>) {
      const u = (rows as Record<string, unknown>)[id];
      if (!predecodeRowUpdate(u)) throw new ProtocolError(`bad row update for ${table} ${id}: ${JSON.stringify(u)?.slice(0, 200)}`);
      addRowUpdate(into, table, id, u as RowUpdate);
    }
  }
  return into;
}

// ---- value helpers ----

const EMPTY_SET: Atom[] = Object.freeze([]) as unknown as Atom[];
const EMPTY_MAP: Record<string, Atom> = Object.freeze({}) as Record<string, Atom>;

/**
 * One-element sets of a repeated atom (a Logical_Flow's logical_datapath, a Port_Binding's
 * chassis): one frozen array each, shared by every row holding it. Bounded like intern().
 */
const SINGLETON_MAX = 1 << 16;
let singletons = new Map<Atom, Atom[]>();

function singleton(a: Atom): Atom[] {
  const hit = singletons.get(a);
  if (hit) return hit;
  if (singletons.size >= SINGLETON_MAX) singletons = new Map();
  const s = Object.freeze([a]) as unknown as Atom[];
  singletons.set(a, s);
  return s;
}

/** A set value in stored form: frozen; empty and one-element sets of short atoms shared. */
function compactSet(items: Atom[]): Atom[] {
  if (items.length === 0) return EMPTY_SET;
  if (items.length === 1) {
    const a = items[0]!;
    if (typeof a !== 'string' || a.length <= 40) return singleton(typeof a === 'string' ? intern(a) : a);
  }
  return Object.isFrozen(items) ? items : (Object.freeze(items) as Atom[]);
}

/** A map value in stored form: frozen, keys interned, the empty map shared. */
function compactMap(m: Record<string, Atom>): Record<string, Atom> {
  let empty = true;
  for (const _key in m) {
    empty = false;
    break;
  }
  if (empty) return EMPTY_MAP;
  return Object.isFrozen(m) ? m : (Object.freeze(m) as Record<string, Atom>);
}

function frozenDefault(type: ColumnType): Value {
  if (isMap(type)) return EMPTY_MAP;
  if (isScalar(type)) return defaultValue(type);
  return EMPTY_SET;
}

/** Equality of decoded values; sets compare as sets (order carries no meaning). */
export function valueEquals(a: Value | undefined, b: Value | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    if (a.length <= 8) return a.every((x) => b.includes(x));
    const s = new Set(b);
    return a.every((x) => s.has(x));
  }
  if (typeof a === 'object') {
    if (typeof b !== 'object' || Array.isArray(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && (b as Record<string, Atom>)[k] === (a as Record<string, Atom>)[k]);
  }
  return false;
}

export function rowEquals(a: Row, b: Row): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => valueEquals(a[k], b[k]));
}

/** Applies an update2 set difference: every element toggles. */
function applySetDiff(cur: Atom[], diff: Value): Atom[] {
  const items = Array.isArray(diff) ? diff : [diff as Atom];
  if (cur.length + items.length <= 16) {
    const out = cur.slice();
    for (const x of items) {
      const i = out.indexOf(x);
      if (i >= 0) out.splice(i, 1);
      else out.push(x);
    }
    return out;
  }
  const s = new Set(cur);
  for (const x of items) {
    if (s.has(x)) s.delete(x);
    else s.add(x);
  }
  return [...s];
}

/** Applies an update2 map difference: same pair removes, other value replaces, new key adds. */
function applyMapDiff(cur: Record<string, Atom>, diff: Value): Record<string, Atom> {
  const out: Record<string, Atom> = { ...cur };
  for (const [k, v] of Object.entries(diff as Record<string, Atom>)) {
    if (Object.prototype.hasOwnProperty.call(out, k) && out[k] === v) delete out[k];
    else out[k] = v;
  }
  return out;
}

// ---- the cache ----

const enum Kind {
  Scalar,
  Set,
  Map,
}

interface ColumnPlan {
  name: string;
  type: ColumnType;
  kind: Kind;
  /** Frozen default (what update2 omits). */
  dflt: Value;
}

type RowShape = new (id: Uuid, values: Value[]) => Row;

/** Base of every stored row: a monitor reply's row already in stored form is one of these. */
class StoredRow {}

/** True for a row in stored form (an `initial` row update that compactUpdate already built). */
export function isStoredRow(u: unknown): boolean {
  return u instanceof StoredRow;
}

/**
 * One class per followed table: every row gets the same properties in the same order (`_uuid`,
 * then the followed columns), so V8 gives them one hidden class with the values in-object.
 */
function rowShape(names: readonly string[]): RowShape {
  return class extends StoredRow {
    constructor(id: Uuid, values: Value[]) {
      super();
      const self = this as unknown as Row;
      self._uuid = id;
      for (let i = 0; i < names.length; i++) self[names[i]!] = values[i]!;
    }
  } as unknown as RowShape;
}

interface TablePlan {
  schema: TableSchema;
  /** Followed columns with their types and (frozen) defaults; no other column is ever stored. */
  columns: ColumnPlan[];
  index: Map<string, number>;
  Shape: RowShape;
}

function compactValue(v: Value, c: ColumnPlan): Value {
  if (c.kind === Kind.Scalar) return Array.isArray(v) ? (v[0] ?? c.dflt) : v;
  if (c.kind === Kind.Set) return compactSet(normalizeValue(v, c.type) as Atom[]);
  return typeof v === 'object' && !Array.isArray(v) ? compactMap(v) : EMPTY_MAP;
}

export class TableCache {
  readonly tables = new Map<string, Map<Uuid, Row>>();
  private readonly plans = new Map<string, TablePlan>();

  constructor(
    readonly schema: DatabaseSchema,
    specs: TableSpec[],
  ) {
    for (const spec of specs) {
      const t = schema.tables[spec.table];
      if (!t) throw new ProtocolError(`table ${spec.table} is not in the ${schema.name} schema`);
      const names = spec.columns ?? Object.keys(t.columns).filter((c) => c !== '_uuid' && c !== '_version');
      const columns = names.map((name): ColumnPlan => {
        const c = t.columns[name];
        if (!c) throw new ProtocolError(`column ${spec.table}.${name} is not in the ${schema.name} schema`);
        return { name, type: c.type, kind: isMap(c.type) ? Kind.Map : isScalar(c.type) ? Kind.Scalar : Kind.Set, dflt: frozenDefault(c.type) };
      });
      this.plans.set(spec.table, { schema: t, columns, index: new Map(columns.map((c, i) => [c.name, i])), Shape: rowShape(names) });
      this.tables.set(spec.table, new Map());
    }
  }

  rows(table: string): Map<Uuid, Row> {
    let m = this.tables.get(table);
    if (!m) {
      m = new Map();
      this.tables.set(table, m);
    }
    return m;
  }

  /**
   * A stored row from an initial/insert/v1-new row: the followed columns only (anything else the
   * server sent is dropped), omitted ones at their default.
   */
  private fullRow(table: string, id: Uuid, semi: SemiRow): Row {
    const plan = this.plans.get(table);
    if (!plan) {
      const row = semi as Row;
      row._uuid = id;
      return row;
    }
    if (semi instanceof plan.Shape && semi._uuid === id) return semi; // stored form already (compactUpdate)
    const values = new Array<Value>(plan.columns.length);
    for (let i = 0; i < plan.columns.length; i++) {
      const c = plan.columns[i]!;
      const v = semi[c.name];
      values[i] = v === undefined ? c.dflt : compactValue(v, c);
    }
    return new plan.Shape(id, values);
  }

  /**
   * The stored form of an initial/insert row update, made as the row arrives (OvsdbClient.rowStore)
   * so the wire-decoded row dies young. An `initial` becomes the stored row itself (no wrapper: a
   * first sync then takes the reply's map of rows as the table, without copying); other updates
   * are returned unchanged.
   */
  compactUpdate(table: string, id: Uuid, u: RowUpdate): RowUpdate {
    if (!this.plans.has(table)) return u;
    const r = u as { initial?: SemiRow; insert?: SemiRow };
    if (r.initial) return this.fullRow(table, id, r.initial) as unknown as RowUpdate;
    if (r.insert) return { insert: this.fullRow(table, id, r.insert) };
    return u;
  }

  private modifiedRow(table: string, old: Row, diff: SemiRow): Row {
    const plan = this.plans.get(table);
    if (!plan) {
      const row: Row = { ...old };
      for (const col in diff) row[col] = diff[col]!;
      return row;
    }
    const values = plan.columns.map((c) => old[c.name] ?? c.dflt);
    for (const col in diff) {
      const i = plan.index.get(col);
      if (i === undefined) continue; // not followed: never stored
      const c = plan.columns[i]!;
      const d = diff[col]!;
      if (c.kind === Kind.Scalar) values[i] = compactValue(d, c);
      else if (c.kind === Kind.Map) values[i] = compactMap(applyMapDiff((old[col] as Record<string, Atom>) ?? EMPTY_MAP, d));
      else values[i] = compactSet(applySetDiff((old[col] as Atom[]) ?? EMPTY_SET, d));
    }
    return new plan.Shape(old._uuid, values);
  }

  /** Applies one update message; returns the changes in the order applied. */
  apply(updates: TableUpdates): RowChange[] {
    const changes: RowChange[] = [];
    for (const [table, tu] of updates) {
      const rows = this.rows(table);
      for (const [id, ru] of tu) {
        const u = ru as Record<string, SemiRow | null | undefined>;
        const old = rows.get(id);
        let next: Row | undefined;
        if (ru instanceof StoredRow) {
          next = ru as unknown as Row; // an initial row, stored as it arrived
        } else if (u.initial || u.insert) {
          next = this.fullRow(table, id, (u.initial ?? u.insert)!);
        } else if (u.modify) {
          if (!old) throw new ProtocolError(`update2 modifies ${table} row ${id}, which the replica does not have`);
          next = this.modifiedRow(table, old, u.modify);
        } else if ('delete' in u) {
          next = undefined;
        } else if (u.new) {
          next = this.fullRow(table, id, old ? { ...rowToSemi(old), ...u.new } : u.new);
        } else if (u.old) {
          next = undefined;
        } else {
          continue;
        }
        if (next) rows.set(id, next);
        else if (old) rows.delete(id);
        else continue;
        const change: RowChange = { table, uuid: id };
        if (old) change.old = old;
        if (next) change.new = next;
        changes.push(change);
      }
    }
    return changes;
  }

  /**
   * Replaces the content with a fresh initial state (after a reconnect) and returns the changes
   * that take the old content to it; unchanged rows keep their object identity.
   */
  resync(initial: TableUpdates): RowChange[] {
    const fresh = new TableCache(this.schema, []);
    fresh.plans.clear();
    for (const [k, v] of this.plans) fresh.plans.set(k, v);
    for (const table of this.tables.keys()) fresh.rows(table);
    const first = [...this.tables.values()].every((m) => m.size === 0);
    const changes: RowChange[] = [];
    for (const [table, tu] of initial) {
      // a table whose rows all arrived in stored form: the reply's map becomes the table as is
      if (!this.plans.has(table) || tu.size === 0) continue;
      let stored = true;
      for (const u of tu.values()) {
        if (!(u instanceof StoredRow)) {
          stored = false;
          break;
        }
      }
      if (!stored) continue;
      const rows = tu as unknown as Map<Uuid, Row>;
      fresh.tables.set(table, rows);
      initial.delete(table);
      if (first) for (const [id, row] of rows) changes.push({ table, uuid: id, new: row });
    }
    const applied = fresh.apply(initial);
    if (first) {
      // first sync: every row is new
      for (const c of applied) changes.push(c);
      this.tables.clear();
      for (const [k, v] of fresh.tables) this.tables.set(k, v);
      return changes;
    }
    for (const [table, newRows] of fresh.tables) {
      const oldRows = this.tables.get(table) ?? new Map<Uuid, Row>();
      for (const [id, row] of newRows) {
        const old = oldRows.get(id);
        if (!old) changes.push({ table, uuid: id, new: row });
        else if (!rowEquals(old, row)) changes.push({ table, uuid: id, old, new: row });
        else newRows.set(id, old);
      }
      for (const [id, old] of oldRows) if (!newRows.has(id)) changes.push({ table, uuid: id, old });
    }
    this.tables.clear();
    for (const [k, v] of fresh.tables) this.tables.set(k, v);
    return changes;
  }

  /** Takes over another cache's rows (after a schema change: a new plan, the same content to diff against). */
  adopt(from: TableCache): void {
    for (const [table, rows] of from.tables) this.tables.set(table, rows);
  }

  /** Number of row updates in a TableUpdates (for sync statistics; count before resync(), which takes tables over). */
  static countUpdates(updates: TableUpdates): number {
    let n = 0;
    for (const rows of updates.values()) n += rows.size;
    return n;
  }
}

function rowToSemi(row: Row): SemiRow {
  const { _uuid, ...rest } = row;
  void _uuid;
  return rest as SemiRow;
}
