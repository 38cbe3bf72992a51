// RFC 7047 notation (section 5.1): builders for planning transactions (uuid, named-uuid, set, map),
// and conversions between the wire form and the decoded row format of types.ts, schema-aware.
// Pure functions; imports nothing outside operator/ovsdb but the shared string interner (runtime/intern.ts).
import type { Atom, BaseType, ColumnType, DatabaseSchema, Row, TableSchema, Value, WireAtom, WireValue } from './types.js';
import { ProtocolError } from './errors.js';
import { Interner } from '../runtime/intern.js';

/** ["uuid", s]: a reference to an existing row. */
export function uuid(s: string): WireAtom {
  return ['uuid', s];
}

/** ["named-uuid", s]: a reference to a row inserted in the same transaction with "uuid-name": s. */
export function namedUuid(s: string): WireAtom {
  return ['named-uuid', s];
}

/** ["set", [...]]. A set of one element may also be sent as the bare atom; this always wraps. */
export function set(items: WireAtom[]): WireValue {
  return ['set', items];
}

/** ["map", [[k, v], ...]] from an object (string keys). */
export function map(obj: Record<string, WireAtom>): WireValue {
  return ['map', Object.entries(obj)];
}

export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

// ---- schema ----

/** True for a column holding exactly one atom (min 1, max 1, no value type). */
export function isScalar(type: ColumnType): boolean {
  return type.min === 1 && type.max === 1 && type.value === undefined;
}

export function isMap(type: ColumnType): boolean {
  return type.value !== undefined;
}

function baseType(raw: unknown, where: string): BaseType {
  if (typeof raw === 'string') return { type: raw as BaseType['type'] };
  if (raw && typeof raw === 'object' && typeof (raw as { type?: unknown }).type === 'string') return raw as BaseType;
  throw new ProtocolError(`schema: bad base type at ${where}: ${JSON.stringify(raw)}`);
}

/** Expands get_schema's compact column types ("string", {"key": ...}) into ColumnType. */
export function columnType(raw: unknown, where = 'column'): ColumnType {
  if (typeof raw === 'string') return { key: { type: raw as BaseType['type'] }, min: 1, max: 1 };
  if (!raw || typeof raw !== 'object') throw new ProtocolError(`schema: bad type at ${where}: ${JSON.stringify(raw)}`);
  const r = raw as { key?: unknown; value?: unknown; min?: unknown; max?: unknown };
  const t: ColumnType = {
    key: baseType(r.key, where),
    min: typeof r.min === 'number' ? r.min : 1,
    max: r.max === 'unlimited' ? 'unlimited' : typeof r.max === 'number' ? r.max : 1,
  };
  if (r.value !== undefined) t.value = baseType(r.value, where);
  return t;
}

/** Normalizes a get_schema result: every column type expanded, `_uuid`/`_version` added. */
export function normalizeSchema(raw: unknown): DatabaseSchema {
  const s = raw as { name?: unknown; version?: unknown; cksum?: unknown; tables?: Record<string, { columns?: Record<string, { type: unknown }> }> };
  if (!s || typeof s !== 'object' || typeof s.name !== 'string' || !s.tables) throw new ProtocolError('get_schema returned no schema');
  const tables: Record<string, TableSchema> = {};
  for (const [tname, t] of Object.entries(s.tables)) {
    const columns: TableSchema['columns'] = {};
    for (const [cname, c] of Object.entries(t.columns ?? {})) {
      columns[cname] = { ...(c as object), type: columnType(c.type, `${tname}.${cname}`) };
    }
    columns._uuid ??= { type: { key: { type: 'uuid' }, min: 1, max: 1 }, mutable: false };
    columns._version ??= { type: { key: { type: 'uuid' }, min: 1, max: 1 }, mutable: false };
    tables[tname] = { ...(t as object), columns } as TableSchema;
  }
  return { name: s.name, version: String(s.version ?? ''), cksum: typeof s.cksum === 'string' ? s.cksum : undefined, tables };
}

function defaultAtom(t: BaseType): Atom {
  switch (t.type) {
    case 'integer':
    case 'real':
      return 0;
    case 'boolean':
      return false;
    case 'uuid':
      return ZERO_UUID;
    default:
      return '';
  }
}

/** The column's default (what update2 omits from initial/insert rows). */
export function defaultValue(type: ColumnType): Value {
  if (isMap(type)) return {};
  if (isScalar(type)) return defaultAtom(type.key);
  return [];
}

// ---- wire -> decoded ----

/**
 * Short strings repeat a lot in OVN tables (uuid references to a few datapaths, external_ids keys
 * and values such as stage-name, enum values such as "ingress"): one copy each instead of one per
 * row. Bounded: the table starts over when full, so unique values cannot make it grow.
 */
const INTERN_LEN = 40;
const shortTexts = new Interner(INTERN_LEN, 1 << 16);
/**
 * Longer texts repeat too (Logical_Flow match and actions: the same `actions` for every route to
 * one nexthop, the same `match` on every datapath of a group). A smaller bounded table: a text
 * seen again while it is still there is shared; texts above 1 KiB are left alone.
 */
const longTexts = new Interner(1024, 1 << 14);

export function intern(s: string): string {
  return s.length > INTERN_LEN ? longTexts.intern(s) : shortTexts.intern(s);
}

/** A wire atom to an Atom: ["uuid", u] and ["named-uuid", n] become their string. */
function decodeAtom(w: unknown): Atom {
  if (typeof w === 'string') return intern(w);
  if (typeof w === 'number' || typeof w === 'boolean') return w;
  if (Array.isArray(w) && w.length === 2 && (w[0] === 'uuid' || w[0] === 'named-uuid') && typeof w[1] === 'string') return intern(w[1]);
  throw new ProtocolError(`bad OVSDB atom ${JSON.stringify(w)?.slice(0, 100)}`);
}

/**
 * A wire value decoded without the schema: a set becomes an array, a map an object with string
 * keys, an atom stays an atom (a one-element set may arrive as a bare atom: normalizeValue fixes
 * that with the column type).
 */
export function decodeWire(w: unknown): Value {
  if (Array.isArray(w)) {
    if (w[0] === 'set' && Array.isArray(w[1])) {
      const items = w[1] as unknown[];
      const out = new Array<Atom>(items.length);
      for (let i = 0; i < items.length; i++) out[i] = decodeAtom(items[i]);
      return out;
    }
    if (w[0] === 'map' && Array.isArray(w[1])) {
      const out: Record<string, Atom> = {};
      for (const pair of w[1] as unknown[]) {
        if (!Array.isArray(pair) || pair.length !== 2) throw new ProtocolError(`bad OVSDB map pair ${JSON.stringify(pair)}`);
        out[String(decodeAtom(pair[0]))] = decodeAtom(pair[1]);
      }
      return out;
    }
  }
  return decodeAtom(w);
}

/** Makes a schema-free decoded value fit its column: bare atoms of set columns become [atom]. */
export function normalizeValue(v: Value, type: ColumnType): Value {
  if (isMap(type)) return v;
  if (isScalar(type)) return v;
  return Array.isArray(v) ? v : [v as Atom];
}

/** Decodes a whole wire row for a table (all columns present in `wire`). */
export function decodeRow(uuidStr: string, wire: Record<string, unknown>, table: TableSchema): Row {
  const row: Row = { _uuid: uuidStr };
  for (const [col, w] of Object.entries(wire)) {
    const c = table.columns[col];
    const v = decodeWire(w);
    row[col] = c ? normalizeValue(v, c.type) : v;
  }
  return row;
}

// ---- decoded -> wire ----

function encodeAtom(a: Atom, t: BaseType): WireAtom {
  if (t.type === 'uuid' && typeof a === 'string') return ['uuid', a];
  if ((t.type === 'integer' || t.type === 'real') && typeof a === 'string') return Number(a);
  return a;
}

/**
 * A decoded value back to wire notation (e.g. to build a `wait` row): the one encoder of the
 * project. With the column's type, atoms are typed by it (uuids, numbers). Without one the decoded
 * shape decides (array -> set, object -> map, atom as is), which is exact for the non-uuid
 * columns a replica row carries (drift/repair.ts's guards).
 */
export function encodeValue(v: Value, type?: ColumnType): WireValue {
  if (!type) {
    if (Array.isArray(v)) return ['set', v as WireAtom[]];
    if (typeof v === 'object' && v !== null) return ['map', Object.entries(v).map(([k, x]) => [k, x] as [WireAtom, WireAtom])];
    return v as WireAtom;
  }
  if (isMap(type)) {
    const pairs = Object.entries(v as Record<string, Atom>).map(([k, val]) => [encodeAtom(k, type.key), encodeAtom(val, type.value!)] as [WireAtom, WireAtom]);
    return ['map', pairs];
  }
  if (isScalar(type)) return encodeAtom(v as Atom, type.key);
  const items = Array.isArray(v) ? v : [v as Atom];
  return ['set', items.map((a) => encodeAtom(a, type.key))];
}
