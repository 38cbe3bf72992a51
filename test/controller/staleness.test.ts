// A TunnelNoTrackPolicy notices a dead agent by the clock alone: through the real client-node and
// the in-repo test API server, with the periodic resync off and no watch event after the last
// agent report, the operator turns Ready=True/Applied into Ready=False/AgentStale once the reports
// age past the (shortened) stale threshold, and a selected node that never reports goes from
// Pending to AgentMissing once its grace ends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { Controller } from '../../operator/controller/controller.js';
import { TestApiServer } from '../support/test-api-server.js';
import { until } from '../support/until.js';

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const NNTS = { group: 'ovndrift.io', version: 'v1alpha1', plural: 'nodenotrackstates' };
const TNTP = { group: 'ovndrift.io', version: 'v1alpha1', plural: 'tunnelnotrackpolicies' };


describe('TunnelNoTrackPolicy: stale and missing agents without any watch event', () => {
  let api: TestApiServer;
  let controller: Controller;
  beforeAll(async () => {
    api = await TestApiServer.start();
    controller = new Controller({
      kubeConfig: api.kubeConfig(),
      nbRemote: 'tcp:127.0.0.1:1',
      sbRemote: 'tcp:127.0.0.1:1',
      identity: 't',
      lease: false,
      resyncMs: 0, // no periodic resync: only the scheduled re-check can notice staleness
      connectTimeoutMs: 200,
      // wide enough that a loaded CI machine still sees Applied and Pending before the clock turns them
      policyTiming: { staleAfterMs: 10_000, missingGraceMs: 6_000 },
      logger: pino({ level: 'silent' }),
    });
    await controller.start();
  });
  afterAll(async () => {
    await controller?.stop();
    await api?.close();
  });
  const ready = (name: string) => api.get('tunnelnotrackpolicies', name)?.status?.conditions?.find((c: any) => c.type === 'Ready');

  it('reports that stop arriving turn Applied into AgentStale; a node that never reports turns Pending into AgentMissing', async () => {
    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    const custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
    for (const name of ['s1', 's2']) await core.createNode({ body: { metadata: { name, labels: { tunnel: 'geneve' } } } });
    await custom.createClusterCustomObject({ ...TNTP, body: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'TunnelNoTrackPolicy', metadata: { name: 'geneve' }, spec: { nodeSelector: { matchLabels: { tunnel: 'geneve' } }, ports: [{ protocol: 'UDP', port: 6081 }] } } });
    for (const node of ['s1', 's2']) {
      await custom.createClusterCustomObject({ ...NNTS, body: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'NodeNoTrackState', metadata: { name: node } } });
      const status = { backend: 'nft', appliedPolicies: [{ name: 'geneve', generation: 1 }], ports: [{ protocol: 'UDP', port: 6081, ipFamilies: ['IPv4'], policies: ['geneve'] }], rules: 2, lastCheckTime: new Date().toISOString(), conditions: [] };
      await custom.patchClusterCustomObjectStatus({ ...NNTS, name: node, body: { status } }, merge);
    }
    const applied = await until('Applied', () => ready('geneve')?.reason === 'Applied' && api.get('tunnelnotrackpolicies', 'geneve'));
    expect([applied.status.desiredNodes, applied.status.appliedNodes]).toEqual([2, 2]);
    const appliedSince = ready('geneve').lastTransitionTime;

    // The agents now say nothing more: no write, no watch event, no resync.
    // s1 reported a moment before s2, so it may go stale alone first: wait for both.
    const stale = await until('AgentStale on both nodes', () => {
      const p = api.get('tunnelnotrackpolicies', 'geneve');
      return ready('geneve')?.reason === 'AgentStale' && p?.status?.failures?.length === 2 && p;
    });
    expect(stale.status.appliedNodes).toBe(0);
    expect(stale.status.failures.map((f: any) => f.node)).toEqual(['s1', 's2']);
    expect(stale.status.failures[0].message).toMatch(/^agent on node s1 has not reported since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(stale\)$/);
    expect(ready('geneve').status).toBe('False');
    expect(Date.parse(ready('geneve').lastTransitionTime)).toBeGreaterThanOrEqual(Date.parse(appliedSince));

    // A selected node whose agent never writes anything: Pending within the grace, then AgentMissing.
    await core.createNode({ body: { metadata: { name: 's3', labels: { tunnel: 'vxlan' } } } });
    await custom.createClusterCustomObject({ ...TNTP, body: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'TunnelNoTrackPolicy', metadata: { name: 'vxlan' }, spec: { nodeSelector: { matchLabels: { tunnel: 'vxlan' } }, ports: [{ protocol: 'UDP', port: 4789 }] } } });
    const pending = await until('Pending', () => ready('vxlan'));
    expect([pending.status, pending.reason]).toEqual(['False', 'Pending']);
    const missing = await until('AgentMissing', () => ready('vxlan')?.reason === 'AgentMissing' && api.get('tunnelnotrackpolicies', 'vxlan'));
    expect(missing.status.failures).toEqual([{ node: 's3', message: 'no agent report from node s3' }]);
    expect([missing.status.desiredNodes, missing.status.appliedNodes]).toEqual([1, 0]);
  });
});
