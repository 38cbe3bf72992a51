// jsonPieces: the check's JSON written piece by piece is exactly JSON.stringify(value, null, 2).
import { describe, expect, it } from 'vitest';
import { jsonPieces } from '../../operator/drift/index.js';

const same = (value: Record<string, unknown>, chunk?: number) => {
  const pieces = [...jsonPieces(value, chunk)];
  expect(pieces.join('')).toBe(JSON.stringify(value, null, 2));
  return pieces;
};

describe('jsonPieces', () => {
  it('joins to JSON.stringify(value, null, 2) for the check shape, nested values and odd entries', () => {
    const finding = { kind: 'FlowStale', route: 'r', router: 'lr1', prefix: '10.0.0.0/28', expected: { nexthop: '10.0.0.1', ecmp: [{ nexthop: 'a' }, { nexthop: 'b' }] }, actual: {}, message: 'line "quoted"\nand \\ escaped\u2028 ü' };
    same({ summary: { routes: 2, kinds: { FlowStale: 1 }, repair: { touched: [], skipped: [] } }, findings: [finding, finding], routes: [{ route: 'r', kinds: [] }, { route: 's', reason: undefined, kinds: ['FlowStale'] }] });
    same({ summary: {}, findings: [], routes: [] });
    same({});
    same({ a: undefined, b: [undefined, () => 1, null, 1, 'x', [], {}], c: 'text', d: () => 1 });
  });

  it('cuts long arrays into pieces of chunkItems elements', () => {
    const routes = Array.from({ length: 1000 }, (_, i) => ({ route: `r${i}`, prefix: `10.0.${i >> 8}.${i & 255}/32`, kinds: [], expected: { nexthop: 'x' } }));
    for (const chunk of [1, 7, 50, 999, 1000, 5000]) {
      const pieces = same({ summary: { routes: 1000 }, findings: routes.slice(0, 3), routes }, chunk);
      expect(pieces.length).toBeGreaterThanOrEqual(Math.ceil(1000 / chunk));
    }
  });
});
