// The scoped-read index (operator/ovn/scoped.ts RowKeyIndex) built in slices while the replica
// keeps changing, as the operator builds it at field scale: once the changes that arrived during
// the build are applied, it equals an index built in one pass over the final rows. Removal works
// from the row version a change replaces (no uuid -> keys map is kept).
import { describe, expect, it } from 'vitest';
import { RowKeyIndex } from '../../operator/ovn/scoped.js';
import type { Row, RowChange, Uuid } from '../../operator/ovsdb/types.js';

const LSR = 'Logical_Router_Static_Route';
const LR = 'Logical_Router';
const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const prefix = (i: number) => `10.${(i >> 8) & 255}.${i & 255}.0/24`;

/** A row source whose tables can change between slices of a build, reporting each change as the replica does. */
class ChangingRows {
  readonly tables = new Map<string, Map<Uuid, Row>>([[LSR, new Map()], [LR, new Map()]]);
  rows(table: string): ReadonlyMap<Uuid, Row> {
    return this.tables.get(table) ?? new Map();
  }
  set(table: string, row: Row): RowChange {
    const t = this.tables.get(table)!;
    const old = t.get(row._uuid);
    t.set(row._uuid, row);
    return { table, uuid: row._uuid, ...(old ? { old } : {}), new: row };
  }
  delete(table: string, id: Uuid): RowChange {
    const t = this.tables.get(table)!;
    const old = t.get(id)!;
    t.delete(id);
    return { table, uuid: id, old };
  }
}

const route = (i: number, p = prefix(i)): Row => ({ _uuid: uuid(i), ip_prefix: p, nexthop: '192.0.2.1' }) as Row;
const router = (name: string, routes: number[]): Row => ({ _uuid: uuid(900_000 + name.length), name, static_routes: routes.map(uuid) }) as unknown as Row;

function snapshot(idx: RowKeyIndex, n: number): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < n; i++) {
    const us = [...idx.uuids(LSR, [`prefix:${prefix(i)}`])].sort();
    if (us.length) out[prefix(i)] = us;
  }
  out['owner of 5'] = [...idx.ownersOf('route', [uuid(5)])];
  out['owner of 19999'] = [...idx.ownersOf('route', [uuid(19_999)])];
  return out;
}

describe('RowKeyIndex', () => {
  it('built in slices while rows change, then given the changes, equals a one-pass index of the final rows', async () => {
    const src = new ChangingRows();
    for (let i = 0; i < 20_000; i++) src.set(LSR, route(i));
    src.set(LR, router('r1', [...Array(10_000).keys()]));
    const changes: RowChange[] = [];
    let slices = 0;
    const building = RowKeyIndex.build(src, [LR, LSR], 1_000);
    // change rows between slices: before and after the build's position in the table
    const changer = setInterval(() => {
      slices++;
      if (slices === 2) {
        changes.push(src.delete(LSR, uuid(19_000))); // not reached yet
        changes.push(src.set(LSR, route(3, '10.99.0.0/24'))); // already indexed, prefix moves
        changes.push(src.set(LSR, route(30_000, prefix(7)))); // a new row (ECMP with route 7)
      }
      if (slices === 4) changes.push(src.set(LR, router('r1', [...Array(10_000).keys()].filter((i) => i !== 5).concat([19_999]))));
    }, 0);
    const idx = await building;
    clearInterval(changer);
    expect(slices).toBeGreaterThanOrEqual(4);
    idx.apply(changes);
    const fresh = new RowKeyIndex(src, [LR, LSR]);
    expect(snapshot(idx, 20_000)).toEqual(snapshot(fresh, 20_000));
    expect(idx.uuids(LSR, ['prefix:10.99.0.0/24'])).toEqual(new Set([uuid(3)]));
    expect(idx.uuids(LSR, [`prefix:${prefix(3)}`]).size).toBe(0);
    expect(idx.uuids(LSR, [`prefix:${prefix(7)}`])).toEqual(new Set([uuid(7), uuid(30_000)]));
    expect(idx.uuids(LSR, [`prefix:${prefix(19_000)}`]).has(uuid(19_000))).toBe(false);
    expect(idx.ownersOf('route', [uuid(5)]).size).toBe(0);
    expect(idx.ownersOf('route', [uuid(19_999)])).toEqual(new Set([uuid(900_002)]));
  });

  it('a key held by two rows falls back to one, then none, as they go', () => {
    const src = new ChangingRows();
    src.set(LSR, route(1, '10.0.0.0/8'));
    src.set(LSR, route(2, '10.0.0.0/8'));
    const idx = new RowKeyIndex(src, [LSR]);
    expect(idx.uuids(LSR, ['prefix:10.0.0.0/8'])).toEqual(new Set([uuid(1), uuid(2)]));
    idx.apply([src.delete(LSR, uuid(1))]);
    expect(idx.uuids(LSR, ['prefix:10.0.0.0/8'])).toEqual(new Set([uuid(2)]));
    idx.apply([src.delete(LSR, uuid(2))]);
    expect(idx.uuids(LSR, ['prefix:10.0.0.0/8']).size).toBe(0);
  });
});
