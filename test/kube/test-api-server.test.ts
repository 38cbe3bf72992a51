// The strict test API server, driven by the real @kubernetes/client-node 1.x over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  V1MicroTime,
  Watch,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { TestApiServer, findRepoDir } from '../support/test-api-server.js';

const CRD_VALIDATE = resolve(findRepoDir('crds'), '../../shared/tools/crd-validate/crd-validate');

const G = { group: 'ovndrift.io', version: 'v1alpha1', plural: 'podcidrroutes' };
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function pcr(name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'ovndrift.io/v1alpha1',
    kind: 'PodCIDRRoute',
    metadata: { name },
    spec: { router: 'dev-jr', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28'], ...spec },
  };
}

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

describe('test API server with the real client-node', () => {
  let server: TestApiServer;
  let custom: CustomObjectsApi;
  beforeAll(async () => {
    server = await TestApiServer.start();
    custom = server.kubeConfig().makeApiClient(CustomObjectsApi);
  });
  afterAll(async () => server.close());

  it('creates a custom resource with defaults, generation 1 and a resourceVersion; 409 on a second create', async () => {
    const created: any = await custom.createClusterCustomObject({ ...G, body: pcr('a') });
    expect(created.metadata.generation).toBe(1);
    expect(Number(created.metadata.resourceVersion)).toBeGreaterThan(0);
    expect(created.spec.policy).toBe('dst-ip');
    expect(created.spec.remediation).toBe('Report');
    expect(created.spec.adopt).toBe(false);
    expect(await code(custom.createClusterCustomObject({ ...G, body: pcr('a') }))).toBe(409);
    const got: any = await custom.getClusterCustomObject({ ...G, name: 'a' });
    expect(got.metadata.uid).toBe(created.metadata.uid);
    expect(await code(custom.getClusterCustomObject({ ...G, name: 'missing' }))).toBe(404);
  });

  it('rejects schema violations with 422 and prunes unknown fields', async () => {
    expect(await code(custom.createClusterCustomObject({ ...G, body: pcr('bad-enum', { remediation: 'Fix' }) }))).toBe(422);
    // list-type set: a duplicate is 422 (CEL rules need crdValidate, tested below)
    expect(await code(custom.createClusterCustomObject({ ...G, body: pcr('dup-cidr', { cidrs: ['10.9.52.144/28', '10.9.52.144/28'] }) }))).toBe(422);
    expect(await code(custom.createClusterCustomObject({ ...G, body: pcr('no-cidrs', { cidrs: [] }) }))).toBe(422);
    const created: any = await custom.createClusterCustomObject({ ...G, body: pcr('pruned', { colour: 'blue' }) });
    expect(created.spec.colour).toBeUndefined();
    expect(server.get('podcidrroutes', 'bad-enum')).toBeUndefined();
  });

  it('ignores status on create and on the main endpoint, and spec on /status', async () => {
    const body = { ...pcr('sub'), status: { observedGeneration: 7 } };
    const created: any = await custom.createClusterCustomObject({ ...G, body });
    expect(created.status).toBeUndefined();
    const st: any = await custom.patchClusterCustomObjectStatus(
      { ...G, name: 'sub', body: { spec: { router: 'other' }, status: { observedGeneration: 1, counts: { routes: 1, inSync: 1 } } } },
      merge,
    );
    expect(st.status.observedGeneration).toBe(1);
    expect(st.spec.router).toBe('dev-jr');
    expect(st.metadata.generation).toBe(1);
    const main: any = await custom.patchClusterCustomObject({ ...G, name: 'sub', body: { spec: { router: 'r2' }, status: { observedGeneration: 99 } } }, merge);
    expect(main.spec.router).toBe('r2');
    expect(main.status.observedGeneration).toBe(1);
    expect(main.metadata.generation).toBe(2);
  });

  it('bumps generation on spec changes only; a no-op write keeps the resourceVersion', async () => {
    const c: any = await custom.createClusterCustomObject({ ...G, body: pcr('gen') });
    const labelled: any = await custom.patchClusterCustomObject({ ...G, name: 'gen', body: { metadata: { labels: { team: 'net' } } } }, merge);
    expect(labelled.metadata.generation).toBe(1);
    expect(Number(labelled.metadata.resourceVersion)).toBeGreaterThan(Number(c.metadata.resourceVersion));
    const same: any = await custom.patchClusterCustomObject({ ...G, name: 'gen', body: { metadata: { labels: { team: 'net' } } } }, merge);
    expect(same.metadata.resourceVersion).toBe(labelled.metadata.resourceVersion);
    const js: any = await custom.patchClusterCustomObject({ ...G, name: 'gen', body: [{ op: 'add', path: '/spec/cidrs/-', value: '10.9.52.160/28' }] });
    expect(js.spec.cidrs).toEqual(['10.9.52.144/28', '10.9.52.160/28']);
    expect(js.metadata.generation).toBe(2);
  });

  it('returns 409 Conflict on a stale resourceVersion (replace and patch)', async () => {
    const c: any = await custom.createClusterCustomObject({ ...G, body: pcr('cas') });
    const stale = c.metadata.resourceVersion;
    const updated: any = await custom.replaceClusterCustomObject({ ...G, name: 'cas', body: { ...c, spec: { ...c.spec, nexthop: '10.9.2.147' } } });
    expect(updated.metadata.generation).toBe(2);
    expect(await code(custom.replaceClusterCustomObject({ ...G, name: 'cas', body: { ...c, metadata: { ...c.metadata, resourceVersion: stale } } }))).toBe(409);
    expect(await code(custom.patchClusterCustomObjectStatus({ ...G, name: 'cas', body: { metadata: { resourceVersion: stale }, status: { observedGeneration: 1 } } }, merge))).toBe(409);
    // an update without resourceVersion is invalid for custom resources
    const { resourceVersion: _rv, ...meta } = updated.metadata;
    expect(await code(custom.replaceClusterCustomObject({ ...G, name: 'cas', body: { ...updated, metadata: meta } }))).toBe(422);
    expect(server.get('podcidrroutes', 'cas')!.spec.nexthop).toBe('10.9.2.147');
  });

  it('watches from a resourceVersion and answers a too-old one with a 410 Gone ERROR event', async () => {
    const start: any = await custom.listClusterCustomObject({ ...G });
    const rv0 = start.metadata.resourceVersion;
    await custom.createClusterCustomObject({ ...G, body: pcr('w1') });
    await custom.patchClusterCustomObject({ ...G, name: 'w1', body: { spec: { nexthop: '10.9.2.150' } } }, merge);
    await custom.deleteClusterCustomObject({ ...G, name: 'w1' });
    const watch = new Watch(server.kubeConfig());
    const seen: string[] = [];
    await new Promise<void>((done, fail) => {
      void watch
        .watch('/apis/ovndrift.io/v1alpha1/podcidrroutes', { resourceVersion: rv0 }, (type, obj) => {
          seen.push(`${type} ${obj.metadata.name} ${obj.spec.nexthop}`);
          if (type === 'DELETED') done();
        }, (err) => (err ? fail(err) : undefined))
        .then((req) => setTimeout(() => req.abort(), 5000));
    });
    expect(seen).toEqual(['ADDED w1 10.9.2.146', 'MODIFIED w1 10.9.2.150', 'DELETED w1 10.9.2.150']);

    server.compact();
    const errors: any[] = [];
    await new Promise<void>((done) => {
      void watch.watch('/apis/ovndrift.io/v1alpha1/podcidrroutes', { resourceVersion: rv0 }, (type, obj) => errors.push({ type, code: obj.code }), () => done());
    });
    expect(errors).toEqual([{ type: 'ERROR', code: 410 }]);
  });

  it('serves Nodes with label patches and label-selector watches', async () => {
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNode({ body: { metadata: { name: 'node-a', labels: { zone: 'a' } } } });
    const list = await core.listNode({ labelSelector: 'zone=a' });
    const watch = new Watch(server.kubeConfig());
    const seen: string[] = [];
    const req = await watch.watch('/api/v1/nodes', { labelSelector: 'tunnel=stt', resourceVersion: list.metadata!.resourceVersion }, (type, obj) => seen.push(`${type} ${obj.metadata.name}`), () => undefined);
    const patched = await core.patchNode({ name: 'node-a', body: [{ op: 'add', path: '/metadata/labels/tunnel', value: 'stt' }] });
    expect(patched.metadata!.labels).toEqual({ zone: 'a', tunnel: 'stt' });
    await core.patchNode({ name: 'node-a', body: { metadata: { labels: { tunnel: null } } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
    await new Promise((r) => setTimeout(r, 100));
    req.abort();
    expect(seen).toEqual(['ADDED node-a', 'DELETED node-a']);
  });

  it('serves Leases with optimistic concurrency', async () => {
    const coord = server.kubeConfig().makeApiClient(CoordinationV1Api);
    const lease = await coord.createNamespacedLease({
      namespace: 'ovn-drift',
      body: { metadata: { name: 'ovn-drift-operator' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: new V1MicroTime() } },
    });
    const mine = await coord.replaceNamespacedLease({ namespace: 'ovn-drift', name: 'ovn-drift-operator', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } } });
    expect(mine.spec!.holderIdentity).toBe('b');
    expect(await code(coord.replaceNamespacedLease({ namespace: 'ovn-drift', name: 'ovn-drift-operator', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'c' } } }))).toBe(409);
    expect((await coord.readNamespacedLease({ namespace: 'ovn-drift', name: 'ovn-drift-operator' })).spec!.holderIdentity).toBe('b');
  });

  it('creates and lists events.k8s.io/v1 Events with a microsecond eventTime', async () => {
    const events = server.kubeConfig().makeApiClient(EventsV1Api);
    await events.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { generateName: 'a.' },
        eventTime: new V1MicroTime(),
        reason: 'DriftDetected',
        action: 'Check',
        type: 'Warning',
        note: 'x',
        reportingController: 'ovndrift.io/operator',
        reportingInstance: 'pod-1',
        regarding: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', name: 'a' },
      },
    });
    const list = await events.listNamespacedEvent({ namespace: 'default' });
    expect(list.items.map((e) => e.reason)).toEqual(['DriftDetected']);
    expect(String((server.list('events', 'default', 'events.k8s.io')[0] as any).eventTime)).toMatch(/\.\d{6}Z$/);
  });

  it('resolves kinds through discovery for KubernetesObjectApi', async () => {
    const objects = KubernetesObjectApi.makeApiClient(server.kubeConfig());
    await objects.create(pcr('generic') as any);
    const read: any = await objects.read({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name: 'generic' } });
    expect(read.spec.router).toBe('dev-jr');
  });

  it('one Event store seen through events.k8s.io/v1 and core v1, with involvedObject field selectors', async () => {
    const events = server.kubeConfig().makeApiClient(EventsV1Api);
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    const created = await events.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { generateName: 'b.' }, eventTime: new V1MicroTime(), reason: 'DriftResolved', action: 'Check', type: 'Normal', note: 'in sync again',
        reportingController: 'ovndrift.io/operator', reportingInstance: 'pod-1',
        regarding: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', name: 'b', uid: 'uid-b' },
      },
    });
    const asCore = await core.readNamespacedEvent({ namespace: 'default', name: created.metadata!.name! });
    expect([asCore.message, asCore.involvedObject.name, asCore.reportingComponent]).toEqual(['in sync again', 'b', 'ovndrift.io/operator']);
    const selected = await core.listEventForAllNamespaces({ fieldSelector: 'involvedObject.name=b,involvedObject.kind=PodCIDRRoute,involvedObject.uid=uid-b,involvedObject.namespace=' });
    expect(selected.items.map((e) => e.reason)).toEqual(['DriftResolved']);
    const viaV1 = await events.listNamespacedEvent({ namespace: 'default', fieldSelector: 'regarding.name=b' });
    expect(viaV1.items.map((e) => e.note)).toEqual(['in sync again']);
    // a series bump through one API is seen through the other
    await events.patchNamespacedEvent({ namespace: 'default', name: created.metadata!.name!, body: { series: { count: 3, lastObservedTime: new V1MicroTime() } } }, merge);
    expect((await core.readNamespacedEvent({ namespace: 'default', name: created.metadata!.name! })).series?.count).toBe(3);
  });

  it('refuses an Event about a cluster-scoped object outside default/kube-system (as kube-apiserver does)', async () => {
    const events = server.kubeConfig().makeApiClient(EventsV1Api);
    const body = { metadata: { generateName: 'c.' }, eventTime: new V1MicroTime(), reason: 'R', action: 'A', type: 'Normal', reportingController: 'c', reportingInstance: 'i', regarding: { kind: 'PodCIDRRoute', name: 'c' } };
    expect(await code(events.createNamespacedEvent({ namespace: 'ovn-drift', body }))).toBe(422);
    expect(await code(events.createNamespacedEvent({ namespace: 'kube-system', body }))).toBe(200);
  });

  it('pages lists (limit/continue) unless resourceVersion=0, and expires old continue tokens', async () => {
    for (const n of ['p1', 'p2', 'p3']) await custom.createClusterCustomObject({ ...G, body: pcr(n, { router: `r-${n}` }) });
    const all = (await custom.listClusterCustomObject({ ...G })) as any;
    const first = (await custom.listClusterCustomObject({ ...G, limit: 2 })) as any;
    expect(first.items).toHaveLength(2);
    expect(first.metadata.continue).toBeTruthy();
    expect(first.metadata.remainingItemCount).toBe(all.items.length - 2);
    const names: string[] = first.items.map((o: any) => o.metadata.name);
    let token = first.metadata.continue;
    while (token) {
      const page = (await custom.listClusterCustomObject({ ...G, limit: 2, _continue: token })) as any;
      names.push(...page.items.map((o: any) => o.metadata.name));
      expect(page.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
      token = page.metadata.continue;
    }
    expect(names).toEqual(all.items.map((o: any) => o.metadata.name));
    expect(((await custom.listClusterCustomObject({ ...G, limit: 1, resourceVersion: '0' })) as any).items).toHaveLength(all.items.length);
    await custom.createClusterCustomObject({ ...G, body: pcr('p4', { router: 'r-p4' }) });
    server.compact(); // the first page's revision is gone now
    expect(await code(custom.listClusterCustomObject({ ...G, limit: 2, _continue: first.metadata.continue }))).toBe(410);
  });

  it('fieldValidation=Strict refuses unknown and duplicate fields (400), Warn answers with a Warning header', async () => {
    const post = (q: string, body: string) => fetch(`${server.url}/apis/ovndrift.io/v1alpha1/podcidrroutes?${q}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    const typo = JSON.stringify(pcr('typo', { expectedchassis: 'node-c' }));
    const strict = await post('fieldValidation=Strict', typo);
    expect(strict.status).toBe(400);
    expect(((await strict.json()) as any).message).toContain('strict decoding error: unknown field "spec.expectedchassis"');
    const dup = await post('fieldValidation=Strict', '{"apiVersion":"ovndrift.io/v1alpha1","kind":"PodCIDRRoute","metadata":{"name":"dup"},"spec":{"router":"a","nexthop":"10.9.2.146","cidrs":["10.9.52.144/28"],"router":"b"}}');
    expect(((await dup.json()) as any).message).toContain('duplicate field "spec.router"');
    const warn = await post('fieldValidation=Warn', typo);
    expect(warn.status).toBe(201);
    expect(warn.headers.get('warning')).toContain('unknown field \\"spec.expectedchassis\\"');
    expect(server.get('podcidrroutes', 'dup')).toBeUndefined();
  });

  it('garbage-collects an object whose owner is deleted (NodeNoTrackState owned by its Node)', async () => {
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    const node = await core.createNode({ body: { metadata: { name: 'gc-node' } } });
    await custom.createClusterCustomObject({
      group: 'ovndrift.io', version: 'v1alpha1', plural: 'nodenotrackstates',
      body: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'NodeNoTrackState', metadata: { name: 'gc-node', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'gc-node', uid: node.metadata!.uid! }] } },
    });
    expect(server.get('nodenotrackstates', 'gc-node')).toBeDefined();
    await core.deleteNode({ name: 'gc-node' });
    expect(server.get('nodenotrackstates', 'gc-node')).toBeUndefined();
  });

  it('serves /openapi/v3 derived from the CRDs, with fieldValidation on PATCH (how kubectl learns the server validates)', async () => {
    const root = (await (await fetch(`${server.url}/openapi/v3`)).json()) as any;
    const gv = root.paths['apis/ovndrift.io/v1alpha1'];
    expect(gv.serverRelativeURL).toMatch(/^\/openapi\/v3\/apis\/ovndrift.io\/v1alpha1\?hash=/);
    const doc = (await (await fetch(`${server.url}${gv.serverRelativeURL}`)).json()) as any;
    const patch = doc.paths['/apis/ovndrift.io/v1alpha1/podcidrroutes/{name}'].patch;
    expect(patch['x-kubernetes-group-version-kind']).toEqual({ group: 'ovndrift.io', version: 'v1alpha1', kind: 'PodCIDRRoute' });
    expect(patch.parameters.map((p: any) => p.name)).toContain('fieldValidation');
    expect(doc.components.schemas['io.ovndrift.v1alpha1.PodCIDRRoute'].properties.spec.properties.cidrs['x-kubernetes-list-type']).toBe('set');
  });
});

describe.skipIf(!existsSync(CRD_VALIDATE))(`admission by Kubernetes' own validation (${existsSync(CRD_VALIDATE) ? CRD_VALIDATE : `crd-validate absent at ${CRD_VALIDATE}: skipped`})`, () => {
  let server: TestApiServer;
  beforeAll(async () => {
    server = await TestApiServer.start({ crdValidate: CRD_VALIDATE });
  });
  afterAll(async () => server.close());

  it('CEL rules decide: host bits and a family mismatch are 422 with the CRD message, a valid route is created', async () => {
    const custom = server.kubeConfig().makeApiClient(CustomObjectsApi);
    const err = async (p: Promise<unknown>) => {
      try {
        await p;
        return '';
      } catch (e) {
        return String((e as ApiException<string>).body);
      }
    };
    expect(await err(custom.createClusterCustomObject({ ...G, body: pcr('hb', { cidrs: ['10.9.52.145/28'] }) }))).toContain('host bits set in 10.9.52.145/28');
    expect(await err(custom.createClusterCustomObject({ ...G, body: pcr('fam', { cidrs: ['fd00:52::/64'] }) }))).toContain('same IP family as spec.nexthop');
    expect(await err(custom.createClusterCustomObject({ ...G, body: pcr('ok') }))).toBe('');
    expect(server.get('podcidrroutes', 'ok')).toBeDefined();
    expect(server.get('podcidrroutes', 'hb')).toBeUndefined();
  });
});
