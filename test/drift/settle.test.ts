// The settle window: which flow findings are Pending, when the window restarts, and when a
// finding is drift at once.
import { describe, expect, it } from 'vitest';
import { settle, type SettleMemory } from '../../operator/drift/settle.js';
import type { Finding } from '../../operator/drift/kinds.js';

const f = (kind: string, actual = ''): Finding => ({ kind: kind as Finding['kind'], route: 'r', router: 'lr', prefix: '10.0.0.0/24', expected: { nexthop: '10.1.0.10' }, actual: actual ? { nexthop: actual } : {}, message: kind });

describe('settle', () => {
  it('a FlowMissing is Pending for the window, then drift', () => {
    const mem: SettleMemory = new Map();
    expect(settle([{ key: 'a', findings: [f('FlowMissing')] }], mem, 1000, 10_000)).toEqual({ pending: new Set(['a']), nextAtMs: 11_000 });
    expect(settle([{ key: 'a', findings: [f('FlowMissing')] }], mem, 10_999, 10_000).pending.has('a')).toBe(true);
    expect(settle([{ key: 'a', findings: [f('FlowMissing')] }], mem, 11_000, 10_000)).toEqual({ pending: new Set() });
  });

  it('the window restarts when the finding changes (other kind, or the flow names another nexthop)', () => {
    const mem: SettleMemory = new Map();
    settle([{ key: 'a', findings: [f('FlowStale', '10.1.0.11')] }], mem, 0, 100);
    expect(settle([{ key: 'a', findings: [f('FlowStale', '10.1.0.12')] }], mem, 90, 100)).toEqual({ pending: new Set(['a']), nextAtMs: 190 });
    expect(settle([{ key: 'a', findings: [f('FlowMissing')] }], mem, 150, 100)).toEqual({ pending: new Set(['a']), nextAtMs: 250 });
  });

  it('evidence or any non-flow kind is drift at once; a route back in sync is forgotten', () => {
    const mem: SettleMemory = new Map();
    expect(settle([{ key: 'a', findings: [f('FlowStale', '10.1.0.11'), f('NorthdLagging')] }], mem, 0, 100).pending.size).toBe(0);
    expect(settle([{ key: 'b', findings: [f('NexthopMismatch'), f('FlowStale', '10.1.0.11')] }], mem, 0, 100).pending.size).toBe(0);
    settle([{ key: 'c', findings: [f('FlowMissing')] }], mem, 0, 100);
    expect(mem.has('c')).toBe(true);
    settle([{ key: 'c', findings: [] }], mem, 50, 100);
    expect(mem.has('c')).toBe(false);
  });

  it('a window of 0 disables settling', () => {
    expect(settle([{ key: 'a', findings: [f('FlowMissing')] }], new Map(), 0, 0).pending.size).toBe(0);
  });
});
