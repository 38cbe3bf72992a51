// Evaluates RFC 7047 conditions (section 5.1 <condition>) on decoded rows: used when a server
// only offers RFC 7047 `monitor` (no monitor_cond), so the replica filters rows itself.
// Pure; imports nothing outside operator/ovsdb.
import type { Atom, Condition, Row, Value } from './types.js';
import { decodeWire } from './notation.js';
import { valueEquals } from './replica.js';

function asSet(v: Value): Atom[] {
  return Array.isArray(v) ? v : [v as Atom];
}

function matches(row: Row, [column, fn, wire]: Condition): boolean {
  const have = row[column];
  if (have === undefined) return false;
  let want = decodeWire(wire);
  if (Array.isArray(have) && !Array.isArray(want)) want = [want as Atom];
  const isMap = typeof have === 'object' && !Array.isArray(have);
  switch (fn) {
    case '==':
      return valueEquals(have, want);
    case '!=':
      return !valueEquals(have, want);
    case 'includes':
    case 'excludes': {
      let all: boolean;
      let none: boolean;
      if (isMap) {
        const h = have as Record<string, Atom>;
        const pairs = Object.entries(want as Record<string, Atom>);
        all = pairs.every(([k, v]) => h[k] === v);
        none = pairs.every(([k, v]) => h[k] !== v);
      } else {
        const h = asSet(have);
        const w = asSet(want);
        all = w.every((x) => h.includes(x));
        none = w.every((x) => !h.includes(x));
      }
      return fn === 'includes' ? all : none;
    }
    default: {
      const a = Array.isArray(have) ? have[0] : have;
      const b = Array.isArray(want) ? want[0] : want;
      if (typeof a !== 'number' || typeof b !== 'number') return false;
      return fn === '<' ? a < b : fn === '<=' ? a <= b : fn === '>' ? a > b : a >= b;
    }
  }
}

/**
 * True when the row satisfies at least one clause (a literal `true` always holds, `false` never).
 * Monitor conditions are disjunctions: ovsdb-server matches a row when any clause matches
 * (`ovsdb_condition_match_any_clause`), unlike a transact `where`, whose clauses are ANDed.
 */
export function evaluateConditions(row: Row, where: (Condition | boolean)[]): boolean {
  return where.some((c) => (typeof c === 'boolean' ? c : matches(row, c)));
}
