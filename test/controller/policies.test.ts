// TunnelNoTrackPolicy status aggregated by the operator from the agents' NodeNoTrackState objects
// and the Nodes, through the real client-node and the test API server (no OVN needed: the policy
// side does not depend on OVSDB, which is unreachable here on purpose).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { Controller } from '../../operator/controller/controller.js';
import { TestApiServer } from '../support/test-api-server.js';
import { until } from '../support/until.js';

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const NNTS = { group: 'ovndrift.io', version: 'v1alpha1', plural: 'nodenotrackstates' };
const TNTP = { group: 'ovndrift.io', version: 'v1alpha1', plural: 'tunnelnotrackpolicies' };


describe('TunnelNoTrackPolicy aggregation', () => {
  let api: TestApiServer;
  let controller: Controller;
  beforeAll(async () => {
    api = await TestApiServer.start();
    controller = new Controller({ kubeConfig: api.kubeConfig(), nbRemote: 'tcp:127.0.0.1:1', sbRemote: 'tcp:127.0.0.1:1', identity: 't', lease: false, resyncMs: 0, connectTimeoutMs: 200, logger: pino({ level: 'silent' }) });
    await controller.start();
  });
  afterAll(async () => {
    await controller?.stop();
    await api?.close();
  });

  it('counts selected nodes, applied nodes and failures as agents report, and is Ready when all applied', async () => {
    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    const custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
    for (const [name, labels] of [['w1', { tunnel: 'stt' }], ['w2', { tunnel: 'stt' }], ['w3', {}]] as const) await core.createNode({ body: { metadata: { name, labels } } });
    await custom.createClusterCustomObject({ ...TNTP, body: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'TunnelNoTrackPolicy', metadata: { name: 'stt' }, spec: { nodeSelector: { matchLabels: { tunnel: 'stt' } }, ports: [{ name: 'stt', protocol: 'TCP', port: 7471 }] } } });
    const pending = await until('Pending', () => {
      const o = api.get('tunnelnotrackpolicies', 'stt');
      return o?.status?.desiredNodes === 2 && o;
    });
    expect(pending.status.appliedNodes).toBe(0);
    expect(pending.status.conditions.find((c: any) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Pending' });

    const report = async (node: string, status: Record<string, unknown>) => {
      await custom.createClusterCustomObject({ ...NNTS, body: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'NodeNoTrackState', metadata: { name: node } } }).catch(() => undefined);
      await custom.patchClusterCustomObjectStatus({ ...NNTS, name: node, body: { status } }, merge);
    };
    const ok = (gen: number) => ({ backend: 'nft', appliedPolicies: [{ name: 'stt', generation: gen }], ports: [{ protocol: 'TCP', port: 7471, ipFamilies: ['IPv4', 'IPv6'], policies: ['stt'] }], rules: 4, lastCheckTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), conditions: [] });
    await report('w1', ok(1));
    await report('w2', { ...ok(1), lastError: 'iptables-restore: exit status 4' });
    const failed = await until('AgentFailed', () => {
      const o = api.get('tunnelnotrackpolicies', 'stt');
      return o?.status?.failures?.length === 1 && o;
    });
    expect(failed.status.failures).toEqual([{ node: 'w2', message: 'iptables-restore: exit status 4' }]);
    expect(failed.status.appliedNodes).toBe(1);
    expect(failed.status.conditions.find((c: any) => c.type === 'Ready').reason).toBe('AgentFailed');

    await report('w2', { ...ok(1), lastError: null });
    const ready = await until('Ready', () => {
      const o = api.get('tunnelnotrackpolicies', 'stt');
      return o?.status?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True' && o;
    });
    expect([ready.status.desiredNodes, ready.status.appliedNodes, ready.status.failures]).toEqual([2, 2, undefined]);

    // a node gains the label: it is selected, not applied yet -> Pending again
    await core.patchNode({ name: 'w3', body: { metadata: { labels: { tunnel: 'stt' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const third = await until('w3 selected', () => {
      const o = api.get('tunnelnotrackpolicies', 'stt');
      return o?.status?.desiredNodes === 3 && o;
    });
    expect(third.status.conditions.find((c: any) => c.type === 'Ready').reason).toBe('Pending');
  });

  it('PodCIDRRoutes are Ready=False / OvsdbUnavailable while the databases cannot be reached, and the operator keeps running', async () => {
    const custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
    await custom.createClusterCustomObject({ group: 'ovndrift.io', version: 'v1alpha1', plural: 'podcidrroutes', body: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name: 'r' }, spec: { router: 'x', nexthop: '10.0.0.1', cidrs: ['10.1.0.0/24'] } } });
    const o = await until('OvsdbUnavailable', () => {
      const r = api.get('podcidrroutes', 'r');
      return r?.status?.conditions?.find((c: any) => c.type === 'Ready')?.reason === 'OvsdbUnavailable' && r;
    });
    expect(o.status.conditions.find((c: any) => c.type === 'Ready').message).toContain('tcp:127.0.0.1:1');
    expect(controller.readiness().ready).toBe(false);
  });
});
