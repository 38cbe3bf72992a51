// Operator-side aggregation of NodeNoTrackStates into a TunnelNoTrackPolicy's status. Pure.
import { describe, expect, it } from 'vitest';
import type { NodeNoTrackState } from '../../operator/api/tunnelnotrackpolicy.js';
import { aggregatePolicyStatus, type NodeInfo } from '../../operator/agent/aggregate.js';
import { policyDoc } from './support.js';

const now = new Date('2026-11-24T00:10:00Z');
const policy = { ...policyDoc('ic-gateway', { nodeSelector: { matchLabels: { gw: 'yes' } }, ports: [{ protocol: 'TCP', port: 7471 }] }), metadata: { name: 'ic-gateway', generation: 3 } };
const nodes: NodeInfo[] = [
  { name: 'gw-1', labels: { gw: 'yes' } },
  { name: 'gw-2', labels: { gw: 'yes' } },
  { name: 'gw-3', labels: { gw: 'yes' } },
  { name: 'gw-4', labels: { gw: 'yes' } },
  { name: 'worker-1', labels: {} },
];
function st(name: string, o: { generation?: number; ready?: boolean; error?: string; at?: string }): NodeNoTrackState {
  return {
    apiVersion: 'ovndrift.io/v1alpha1',
    kind: 'NodeNoTrackState',
    metadata: { name },
    status: {
      backend: 'nft',
      appliedPolicies: o.generation ? [{ name: 'ic-gateway', generation: o.generation }] : [],
      ports: [],
      rules: 4,
      lastCheckTime: o.at ?? '2026-11-24T00:09:55Z',
      ...(o.error ? { lastError: o.error } : {}),
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', reason: 'X', message: 'm', lastTransitionTime: '2026-11-24T00:00:00Z' }],
    },
  };
}

describe('aggregatePolicyStatus', () => {
  it('all selected nodes at this generation -> Ready', () => {
    const s = aggregatePolicyStatus({ policy, nodes: nodes.slice(0, 2), states: [st('gw-1', { generation: 3 }), st('gw-2', { generation: 3 })], now });
    expect(s).toMatchObject({ observedGeneration: 3, desiredNodes: 2, appliedNodes: 2, failures: [] });
    expect(s.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'AllNodesApplied' });
  });
  it('failures name the nodes: iptables error, no state, stale report; older generation is pending', () => {
    const s = aggregatePolicyStatus({
      policy,
      nodes,
      states: [st('gw-1', { generation: 3 }), st('gw-2', { generation: 3, ready: false, error: 'iptables-nft-restore failed' }), st('gw-3', { generation: 3, at: '2026-11-23T23:00:00Z' })],
      now,
    });
    expect(s.desiredNodes).toBe(4);
    expect(s.appliedNodes).toBe(1);
    expect(s.failures).toEqual([
      { node: 'gw-2', message: 'iptables-nft-restore failed' },
      { node: 'gw-3', message: 'agent has not reported since 2026-11-23T23:00:00Z' },
      { node: 'gw-4', message: 'no NodeNoTrackState: the agent has not reported from this node' },
    ]);
    expect(s.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'NodesFailing' });
    const pending = aggregatePolicyStatus({ policy, nodes: nodes.slice(0, 1), states: [st('gw-1', { generation: 2 })], now });
    expect(pending.conditions!.find((c) => c.type === 'Reconciling')).toMatchObject({ status: 'True', reason: 'NodesPending' });
  });
  it('an invalid spec is Stalled with the field errors', () => {
    const bad = { ...policy, spec: { ports: [{ protocol: 'TCP', port: 0 }] } };
    const s = aggregatePolicyStatus({ policy: bad, nodes, states: [], now });
    expect(s.conditions!.find((c) => c.type === 'Stalled')).toMatchObject({ status: 'True', reason: 'PolicyInvalid', message: expect.stringContaining('spec.ports[0].port') });
  });
  it('keeps lastTransitionTime while the status stays the same', () => {
    const first = aggregatePolicyStatus({ policy, nodes: [], states: [], now });
    const later = aggregatePolicyStatus({ policy, nodes: [], states: [], now: new Date(now.getTime() + 60_000), previous: first.conditions });
    expect(later.conditions![0]!.lastTransitionTime).toBe(first.conditions![0]!.lastTransitionTime);
    expect(later.conditions![0]!.reason).toBe('NoNodesSelected');
  });
});
