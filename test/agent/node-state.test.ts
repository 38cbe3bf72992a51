// The NodeNoTrackState status an agent writes after a pass: timestamps in metav1.Time's RFC 3339
// second precision (the one Condition of operator/api/conditions.ts, as the operator writes it),
// lastTransitionTime kept while Ready keeps its status and moved when it changes.
import { describe, expect, it } from 'vitest';
import { nodeStateStatus, type PassResult } from '../../operator/agent/agent.js';

const ok: PassResult = { outcome: 'InSync', families: [], conntrackDeleted: 0, invalid: [], warnings: [] };
const failed: PassResult = { ...ok, outcome: 'IptablesFailed', families: [{ family: 'ipv4', error: 'iptables-restore: exit 4' } as PassResult['families'][number]] };
const RFC3339_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

describe('nodeStateStatus', () => {
  it('writes RFC 3339 timestamps with second precision, as Kubernetes serialises metav1.Time', () => {
    const s = nodeStateStatus(ok, 'nft', new Date('2026-11-30T04:20:01.987Z'));
    expect(s.lastCheckTime).toBe('2026-11-30T04:20:01Z');
    expect(s.conditions).toHaveLength(1);
    expect(s.conditions[0]).toMatchObject({ type: 'Ready', status: 'True', lastTransitionTime: '2026-11-30T04:20:01Z' });
    expect(s.conditions[0]!.lastTransitionTime).toMatch(RFC3339_SECONDS);
  });

  it('keeps lastTransitionTime while Ready keeps its status, moves it when the status changes', () => {
    const first = nodeStateStatus(ok, 'nft', new Date('2026-11-30T04:20:01.500Z'));
    const same = nodeStateStatus(ok, 'nft', new Date('2026-11-30T04:25:07.250Z'), first);
    expect(same.lastCheckTime).toBe('2026-11-30T04:25:07Z');
    expect(same.conditions[0]!.lastTransitionTime).toBe('2026-11-30T04:20:01Z');
    const broken = nodeStateStatus(failed, 'nft', new Date('2026-11-30T04:30:00.999Z'), same);
    expect(broken.conditions[0]).toMatchObject({ status: 'False', lastTransitionTime: '2026-11-30T04:30:00Z' });
  });
});
