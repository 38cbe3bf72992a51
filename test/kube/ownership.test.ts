// NodeNoTrackState belongs to its Node: the agent's writer creates it with an ownerReference (and
// adds one to a state created before the Node's uid was known), so Kubernetes' garbage collector —
// here the test API server's, background propagation — deletes it with the Node. Also: the
// operator refuses an --event-namespace kube-apiserver would refuse Events in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { NodeStateWriter } from '../../operator/agent/cluster.js';
import { run as runOperator } from '../../operator/commands/operator.js';
import { TestApiServer } from '../support/test-api-server.js';

const status = (rules: number) => ({ appliedPolicies: [], ports: [], rules, lastCheckTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), conditions: [] });

describe('NodeNoTrackState ownership', () => {
  let api: TestApiServer;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  beforeAll(async () => {
    api = await TestApiServer.start();
    core = api.kubeConfig().makeApiClient(CoreV1Api);
    custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
  });
  afterAll(async () => api.close());

  it('is created owned by its Node and garbage-collected when the Node is deleted', async () => {
    const node = await core.createNode({ body: { metadata: { name: 'worker-1' } } });
    const writer = new NodeStateWriter(custom, 'worker-1', 60_000, () => node.metadata!.uid);
    expect(await writer.write(status(4) as never, Date.now())).toBe(true);
    const state = api.get('nodenotrackstates', 'worker-1')!;
    expect(state.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Node', name: 'worker-1', uid: node.metadata!.uid }]);
    expect(state.status.rules).toBe(4);
    await core.deleteNode({ name: 'worker-1' });
    expect(api.get('nodenotrackstates', 'worker-1')).toBeUndefined();
  });

  it('a state written before the uid was known is adopted by the Node on the next write', async () => {
    let uid: string | undefined;
    const writer = new NodeStateWriter(custom, 'worker-2', 0, () => uid);
    await writer.write(status(1) as never, Date.now());
    expect(api.get('nodenotrackstates', 'worker-2')!.metadata.ownerReferences).toBeUndefined();
    uid = (await core.createNode({ body: { metadata: { name: 'worker-2' } } })).metadata!.uid;
    await writer.write(status(2) as never, Date.now());
    const state = api.get('nodenotrackstates', 'worker-2')!;
    expect(state.metadata.ownerReferences.map((r: { uid: string }) => r.uid)).toEqual([uid]);
    expect(state.status.rules).toBe(2);
  });
});

describe('operator --event-namespace', () => {
  it('refuses a namespace kube-apiserver would refuse Events about cluster-scoped resources in (exit 1)', async () => {
    const errors: string[] = [];
    const orig = console.error;
    console.error = (...a: unknown[]) => errors.push(a.join(' '));
    try {
      const code = await runOperator(['--nb-remote', 'tcp:127.0.0.1:1', '--sb-remote', 'tcp:127.0.0.1:2', '--event-namespace', 'ovn-drift'], {});
      expect(code).toBe(1);
    } finally {
      console.error = orig;
    }
    expect(errors.join('\n')).toContain('--event-namespace: "ovn-drift": Events about cluster-scoped resources must be in "default" or "kube-system"');
  });
});
