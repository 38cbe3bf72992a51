// Notation, error mapping and the pure replica logic (update2 diffs), without a server.
import { describe, expect, it } from 'vitest';
import { decodeWire, encodeValue, map, namedUuid, normalizeSchema, normalizeValue, set, uuid, columnType } from '../../operator/ovsdb/notation.js';
import { checkTransactResult, OvsdbError, TransactionFailedError, WaitTimedOutError, ConstraintViolationError } from '../../operator/ovsdb/errors.js';
import { TableCache, decodeTableUpdates, predecodeRowUpdate } from '../../operator/ovsdb/replica.js';

const U1 = '11111111-1111-1111-1111-111111111111';
const U2 = '22222222-2222-2222-2222-222222222222';
const U3 = '33333333-3333-3333-3333-333333333333';

const schema = normalizeSchema({
  name: 'T',
  version: '1.0.0',
  tables: {
    R: {
      columns: {
        name: { type: 'string' },
        routes: { type: { key: { type: 'uuid', refTable: 'S' }, min: 0, max: 'unlimited' } },
        options: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
        weights: { type: { key: 'integer', value: { type: 'uuid' }, min: 0, max: 'unlimited' } },
        peer: { type: { key: 'string', min: 0, max: 1 } },
        n: { type: 'integer' },
      },
    },
  },
});

describe('notation', () => {
  it('builds wire atoms and values', () => {
    expect(uuid(U1)).toEqual(['uuid', U1]);
    expect(namedUuid('r')).toEqual(['named-uuid', 'r']);
    expect(set([1, 2])).toEqual(['set', [1, 2]]);
    expect(map({ a: 'b' })).toEqual(['map', [['a', 'b']]]);
  });

  it('decodes and re-encodes every kind of value', () => {
    const t = schema.tables.R!.columns;
    expect(decodeWire(['set', [['uuid', U1], ['uuid', U2]]])).toEqual([U1, U2]);
    expect(decodeWire(['map', [[1, ['uuid', U1]]]])).toEqual({ '1': U1 });
    expect(normalizeValue(decodeWire(['uuid', U1]), t.routes!.type)).toEqual([U1]);
    expect(normalizeValue(decodeWire('x'), t.peer!.type)).toEqual(['x']);
    expect(encodeValue([U1], t.routes!.type)).toEqual(['set', [['uuid', U1]]]);
    expect(encodeValue({ '1': U1 }, t.weights!.type)).toEqual(['map', [[1, ['uuid', U1]]]]);
    expect(encodeValue(3, t.n!.type)).toBe(3);
    expect(columnType('string')).toEqual({ key: { type: 'string' }, min: 1, max: 1 });
  });
});

describe('transact errors', () => {
  it('maps each failed entry, including the extra commit entry, to its class', () => {
    const ops = [{ op: 'wait' }, { op: 'insert' }];
    expect(checkTransactResult(ops, [{}, { uuid: ['uuid', U1] }])).toHaveLength(2);
    let err: unknown;
    try {
      checkTransactResult(ops, [{ error: 'timed out' }, null]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TransactionFailedError);
    expect((err as TransactionFailedError).errors[0]).toBeInstanceOf(WaitTimedOutError);
    expect((err as TransactionFailedError).has('WaitTimedOut')).toBe(true);
    try {
      checkTransactResult(ops, [{}, { uuid: ['uuid', U1] }, { error: 'constraint violation', details: 'duplicate name' }]);
    } catch (e) {
      err = e;
    }
    const commit = (err as TransactionFailedError).errors[0]!;
    expect(commit).toBeInstanceOf(ConstraintViolationError);
    expect(commit).toBeInstanceOf(OvsdbError);
    expect([commit.code, commit.op, commit.index]).toEqual(['ConstraintViolation', 'commit', 2]);
    expect(commit.message).toContain('duplicate name');
  });
});

describe('TableCache', () => {
  it('applies initial rows with defaults, then update2 diffs on sets, maps and optional columns', () => {
    const cache = new TableCache(schema, [{ table: 'R' }]);
    const initial = decodeTableUpdates({
      R: { [U1]: { initial: { name: 'r1', routes: ['uuid', U2], options: ['map', [['a', '1'], ['b', '2']]] } } },
    });
    const c1 = cache.apply(initial);
    expect(c1).toHaveLength(1);
    const r = cache.rows('R').get(U1)!;
    expect(r).toEqual({ _uuid: U1, name: 'r1', routes: [U2], options: { a: '1', b: '2' }, weights: {}, peer: [], n: 0 });

    const modify = decodeTableUpdates({
      R: {
        [U1]: {
          modify: {
            routes: ['set', [['uuid', U2], ['uuid', U3]]], // toggles: U2 out, U3 in
            options: ['map', [['a', '1'], ['b', '3'], ['c', '4']]], // a removed, b changed, c added
            peer: 'p',
            n: 5,
          },
        },
      },
    });
    const [change] = cache.apply(modify);
    expect(change!.old).toBe(r);
    expect(change!.new).toEqual({ _uuid: U1, name: 'r1', routes: [U3], options: { b: '3', c: '4' }, weights: {}, peer: ['p'], n: 5 });
    cache.apply(decodeTableUpdates({ R: { [U1]: { modify: { peer: ['set', ['p', 'q']] } } } }));
    expect(cache.rows('R').get(U1)!.peer).toEqual(['q']);

    const del = cache.apply(decodeTableUpdates({ R: { [U1]: { delete: null } } }));
    expect(del[0]!.new).toBeUndefined();
    expect(cache.rows('R').size).toBe(0);
  });

  it('resyncs to a fresh state with the minimal change set', () => {
    const cache = new TableCache(schema, [{ table: 'R', columns: ['name'] }]);
    cache.apply(decodeTableUpdates({ R: { [U1]: { initial: { name: 'a' } }, [U2]: { initial: { name: 'b' } } } }));
    const keep = cache.rows('R').get(U1);
    const changes = cache.resync(decodeTableUpdates({ R: { [U1]: { initial: { name: 'a' } }, [U3]: { initial: { name: 'c' } } } }));
    expect(changes.map((c) => [c.uuid, !!c.old, !!c.new])).toEqual([
      [U3, false, true],
      [U2, true, false],
    ]);
    expect(cache.rows('R').get(U1)).toBe(keep);
  });

  it('recognizes row-update shapes only', () => {
    expect(predecodeRowUpdate({ columns: {} })).toBe(false);
    expect(predecodeRowUpdate({ initial: { a: ['uuid', U1] } })).toBe(true);
    expect(predecodeRowUpdate({ old: { a: 1 }, new: { a: 2 } })).toBe(true);
  });
});
