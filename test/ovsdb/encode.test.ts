// ovsdb/notation.ts encodeValue, the one decoded -> wire encoder: typed by the column when the
// schema is at hand, shaped by the value otherwise (what drift/repair.ts's guard rows need).
import { describe, expect, it } from 'vitest';
import { encodeValue, normalizeSchema } from '../../operator/ovsdb/notation.js';

const U1 = '2b2f5a8e-1111-4c4c-8d8d-000000000001';

describe('encodeValue', () => {
  const t = normalizeSchema({
    name: 'T',
    version: '1.0.0',
    tables: {
      R: {
        columns: {
          ip_prefix: { type: 'string' },
          external_ids: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
          route_table: { type: 'string' },
          bfd: { type: { key: { type: 'uuid' }, min: 0, max: 1 } },
        },
      },
    },
  }).tables.R!.columns;

  it('without a type the shape decides: the same wire value as with the type for non-uuid columns', () => {
    const row = { ip_prefix: '10.9.52.144/28', external_ids: { 'ovndrift.io/owner': 'seed' }, route_table: '' };
    for (const [c, v] of Object.entries(row)) expect(encodeValue(v)).toEqual(encodeValue(v, t[c]!.type));
    expect(encodeValue({ a: '1' })).toEqual(['map', [['a', '1']]]);
    expect(encodeValue(['x', 'y'])).toEqual(['set', ['x', 'y']]);
    expect(encodeValue(7)).toBe(7);
  });

  it('with the type, uuid atoms are tagged', () => {
    expect(encodeValue([U1], t.bfd!.type)).toEqual(['set', [['uuid', U1]]]);
  });
});
