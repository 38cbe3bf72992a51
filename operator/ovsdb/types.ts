// Plain-data types shared by the OVSDB layer and its users (views, drift, repair planning).
// RFC 7047 vocabulary only; no I/O and no imports from other project folders.

export type Uuid = string;

/** A decoded atom: OVSDB uuids (and named-uuids) become their string. */
export type Atom = string | number | boolean;

/**
 * A decoded column value, schema-aware:
 * - a column with min 1 / max 1 and no value type  -> Atom
 * - any other set column (optional or multi-valued) -> Atom[] (optional columns: [] or [x])
 * - a map column                                    -> Record<string, Atom> (keys stringified)
 */
export type Value = Atom | Atom[] | Record<string, Atom>;

/** A replica row: decoded columns plus its `_uuid`. */
export interface Row {
  _uuid: Uuid;
  [column: string]: Value;
}

/** RFC 7047 wire notation (what goes into `transact` and what `update2` carries). */
export type WireAtom = string | number | boolean | ['uuid', string] | ['named-uuid', string];
export type WireValue = WireAtom | ['set', WireAtom[]] | ['map', [WireAtom, WireAtom][]];

/** A `where` clause term: [column, function, value] with `==`, `!=`, `includes`, `excludes`, ... */
export type Condition = [string, '==' | '!=' | '<' | '<=' | '>' | '>=' | 'includes' | 'excludes', WireValue];

export type WireRow = Record<string, WireValue>;

/** One RFC 7047 transact operation, planned as data and committed in one transaction. */
export type Operation =
  | { op: 'insert'; table: string; row: WireRow; 'uuid-name'?: string }
  | { op: 'update'; table: string; where: Condition[]; row: WireRow }
  | { op: 'mutate'; table: string; where: Condition[]; mutations: [string, string, WireValue][] }
  | { op: 'delete'; table: string; where: Condition[] }
  | { op: 'select'; table: string; where: Condition[]; columns?: string[] }
  | { op: 'wait'; table: string; where: Condition[]; columns: string[]; until: '==' | '!='; rows: WireRow[]; timeout?: number }
  | { op: 'comment'; comment: string }
  | { op: 'commit'; durable: boolean }
  | { op: 'abort' };

/** Which tables (and columns, and rows) a replica follows. */
export interface TableSpec {
  table: string;
  /** Columns to follow; all columns when omitted. */
  columns?: string[];
  /** monitor_cond condition; every row when omitted. */
  where?: Condition[];
}

/** One row change applied to a replica (emitted in batches, one batch per update message). */
export interface RowChange {
  table: string;
  uuid: Uuid;
  old?: Row;
  new?: Row;
}

/** RFC 7047 schema (what `get_schema` returns), as plain data. */
export interface BaseType {
  type: 'integer' | 'real' | 'boolean' | 'string' | 'uuid';
  enum?: WireValue;
  minInteger?: number;
  maxInteger?: number;
  minReal?: number;
  maxReal?: number;
  minLength?: number;
  maxLength?: number;
  refTable?: string;
  refType?: 'strong' | 'weak';
}

export interface ColumnType {
  key: BaseType;
  value?: BaseType;
  min: number;
  /** A number or 'unlimited'. */
  max: number | 'unlimited';
}

export interface ColumnSchema {
  type: ColumnType;
  ephemeral?: boolean;
  mutable?: boolean;
}

export interface TableSchema {
  columns: Record<string, ColumnSchema>;
  maxRows?: number;
  isRoot?: boolean;
  indexes?: string[][];
}

export interface DatabaseSchema {
  name: string;
  version: string;
  cksum?: string;
  tables: Record<string, TableSchema>;
}
