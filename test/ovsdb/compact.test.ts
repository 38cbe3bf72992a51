// Compact replica storage (replica.ts, docs/replica-storage.md) against a real NB: a row read back
// equals what ovsdb-client dumps for the followed columns; columns not followed are never stored
// (not even when the server sends them); update2 modifies of map and set columns give the values
// the server holds; stored values are frozen and empty/one-element sets are shared.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { Database, normalizeSchema, type Row } from '../../operator/ovsdb/index.js';
import { TableCache, decodeTableUpdates } from '../../operator/ovsdb/replica.js';
import { dumpRows, sameRows, until } from './helpers.js';

const COLUMNS = ['name', 'static_routes', 'options', 'ports'];

describe('compact replica rows on a real NB', () => {
  let sandbox: OvnSandbox;
  let db: Database;

  beforeAll(async () => {
    sandbox = await OvnSandbox.start({ northd: false });
    await sandbox.nbctl('--no-wait', 'lr-add', 'r1', '--', 'set', 'Logical_Router', 'r1', 'external_ids:owner=me', 'options:a=1');
    await sandbox.nbctl('--no-wait', 'lr-add', 'r2');
    db = await Database.open({ remote: sandbox.nbRemote, db: 'OVN_Northbound', tables: [{ table: 'Logical_Router', columns: COLUMNS }], backoffMinMs: 50, backoffMaxMs: 400 });
  });
  afterAll(async () => {
    await db?.close();
    await sandbox?.stop();
  });

  const byName = (n: string): Row => [...db.rows('Logical_Router').values()].find((r) => r.name === n)!;
  const converged = async () => sameRows(db.rows('Logical_Router'), await dumpRows(sandbox, 'nb', db.schema, 'Logical_Router', COLUMNS));

  it('reads back what was written, followed columns only', async () => {
    await until(converged, 'replica equals the dump');
    const r1 = byName('r1');
    expect(Object.keys(r1).sort()).toEqual(['_uuid', ...COLUMNS].sort());
    expect(r1.external_ids).toBeUndefined();
    expect(r1.options).toEqual({ a: '1' });
    expect(JSON.parse(JSON.stringify(r1))).toEqual({ _uuid: r1._uuid, name: 'r1', static_routes: [], options: { a: '1' }, ports: [] });
  });

  it('stores frozen values and shares empty sets between rows', () => {
    const r1 = byName('r1');
    const r2 = byName('r2');
    expect(Object.isFrozen(r1.options)).toBe(true);
    expect(Object.isFrozen(r1.static_routes)).toBe(true);
    expect(r1.static_routes).toBe(r2.static_routes);
    expect(r1.ports).toBe(r2.ports);
    expect(() => ((r1.options as Record<string, string>).a = 'x')).toThrow(TypeError);
  });

  it('applies update2 modifies of map and set columns to the values the server holds', async () => {
    await sandbox.nbctl('--no-wait', 'set', 'Logical_Router', 'r1', 'options:b=2', 'options:a=3');
    await until(async () => byName('r1').options !== undefined && (byName('r1').options as Record<string, string>).b === '2', 'options:b');
    expect(byName('r1').options).toEqual({ a: '3', b: '2' });
    await sandbox.nbctl('--no-wait', 'remove', 'Logical_Router', 'r1', 'options', 'a');
    await sandbox.nbctl('--no-wait', 'lr-route-add', 'r1', '10.0.0.0/24', '192.168.0.1');
    await sandbox.nbctl('--no-wait', 'lr-route-add', 'r1', '10.0.1.0/24', '192.168.0.1');
    await until(async () => (byName('r1').static_routes as string[]).length === 2, 'two routes');
    expect(byName('r1').options).toEqual({ b: '2' });
    await sandbox.nbctl('--no-wait', 'lr-route-del', 'r1', '10.0.0.0/24');
    await until(async () => (byName('r1').static_routes as string[]).length === 1, 'one route left');
    await until(converged, 'replica equals the dump after the modifies');
    expect(Object.isFrozen(byName('r1').static_routes)).toBe(true);
  });
});

describe('TableCache compact storage', () => {
  const schema = normalizeSchema({
    name: 'T',
    version: '1',
    tables: {
      R: {
        columns: {
          name: { type: 'string' },
          dp: { type: { key: { type: 'uuid' }, min: 0, max: 1 } },
          tags: { type: { key: 'string', min: 0, max: 'unlimited' } },
          ext: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
          secret: { type: 'string' },
        },
      },
    },
  });
  const U1 = '11111111-1111-1111-1111-111111111111';
  const U2 = '22222222-2222-2222-2222-222222222222';
  const D = 'dddddddd-dddd-dddd-dddd-dddddddddddd';

  it('never keeps a column it does not follow, whatever the server sends', () => {
    const cache = new TableCache(schema, [{ table: 'R', columns: ['name', 'dp', 'ext'] }]);
    cache.apply(decodeTableUpdates({ R: { [U1]: { initial: { name: 'a', secret: 's', dp: ['uuid', D] } } } }));
    cache.apply(decodeTableUpdates({ R: { [U2]: { new: { name: 'b', secret: 's', tags: ['set', ['x']] } } } }));
    cache.apply(decodeTableUpdates({ R: { [U1]: { modify: { secret: 't', ext: ['map', [['k', 'v']]] } } } }));
    const r1 = cache.rows('R').get(U1)!;
    const r2 = cache.rows('R').get(U2)!;
    expect(r1).toEqual({ _uuid: U1, name: 'a', dp: [D], ext: { k: 'v' } });
    expect(r2).toEqual({ _uuid: U2, name: 'b', dp: [], ext: {} });
    expect('secret' in r1 || 'secret' in r2 || 'tags' in r2).toBe(false);
  });

  it('shares one-element sets of a repeated reference and keeps values exact through set/map diffs', () => {
    const cache = new TableCache(schema, [{ table: 'R' }]);
    cache.apply(
      decodeTableUpdates({
        R: {
          [U1]: { initial: { name: 'a', dp: ['uuid', D], tags: ['set', ['x', 'y']], ext: ['map', [['k', 'v']]] } },
          [U2]: { initial: { name: 'b', dp: ['uuid', D] } },
        },
      }),
    );
    const rows = cache.rows('R');
    expect(rows.get(U1)!.dp).toBe(rows.get(U2)!.dp);
    const [c] = cache.apply(decodeTableUpdates({ R: { [U1]: { modify: { tags: ['set', ['y', 'z']], ext: ['map', [['k', 'v'], ['j', 'w']]], dp: ['uuid', D] } } } })); // dp: D toggles out
    expect(c!.new).toEqual({ _uuid: U1, name: 'a', dp: [], tags: ['x', 'z'], ext: { j: 'w' }, secret: '' });
    expect(c!.old!.tags).toEqual(['x', 'y']); // the old version is untouched
    expect(() => (c!.new!.tags as string[]).push('q')).toThrow(TypeError);
  });
});
