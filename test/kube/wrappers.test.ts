// The operator's client-node wrappers against the test API server: informer relist on 410,
// restart after errors and silent watches, field/label selectors on list and watch, a first-list
// failure reported to waitForSync, status merge patches, de-duplicated Events, and Lease
// leader election with failover and hand-over.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { TestApiServer } from '../support/test-api-server.js';
import { Informer, type KubeObject } from '../../operator/kube/informer.js';
import { StatusWriter, mergePatchDiff } from '../../operator/kube/status.js';
import { EventRecorder } from '../../operator/kube/events.js';
import { LeaderElector } from '../../operator/kube/lease.js';
import { PODCIDRROUTES, collectionPath } from '../../operator/api/crds.js';

const G = { group: 'ovndrift.io', version: 'v1alpha1', plural: 'podcidrroutes' };
const pcr = (name: string, nexthop = '10.9.2.146') => ({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name }, spec: { router: 'dev-jr', nexthop, cidrs: ['10.9.52.144/28'] } });

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('operator kube wrappers', () => {
  let server: TestApiServer;
  let custom: CustomObjectsApi;
  const stops: (() => void | Promise<void>)[] = [];
  beforeAll(async () => {
    server = await TestApiServer.start();
    custom = server.kubeConfig().makeApiClient(CustomObjectsApi);
  });
  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
  });
  afterAll(async () => server.close());

  function informer(extra: Partial<ConstructorParameters<typeof Informer<KubeObject>>[0]> = {}) {
    const relists: string[] = [];
    const restarts: string[] = [];
    const inf = new Informer<KubeObject>({
      kubeConfig: server.kubeConfig(),
      path: collectionPath(PODCIDRROUTES),
      list: () => custom.listClusterCustomObject({ ...G }) as Promise<any>,
      backoff: { initialMs: 20, maxMs: 100 },
      onRelist: (r) => relists.push(r),
      onWatchRestart: (r) => restarts.push(r),
      ...extra,
    });
    stops.push(() => inf.stop());
    return { inf, relists, restarts };
  }

  it('lists, then follows changes; after a 410 Gone it relists and delivers what it missed', async () => {
    await custom.createClusterCustomObject({ ...G, body: pcr('inf-a') });
    const { inf, relists } = informer();
    const seen: string[] = [];
    inf.on((ev, obj) => seen.push(`${ev} ${obj.metadata!.name}`));
    await inf.start();
    await inf.waitForSync();
    expect(inf.get('inf-a')).toBeDefined();
    await custom.createClusterCustomObject({ ...G, body: pcr('inf-b') });
    await until('inf-b', () => inf.get('inf-b') !== undefined);

    // the watch ends, history is compacted meanwhile, and a change happens: re-watch gets 410
    server.silenceWatches();
    await custom.deleteClusterCustomObject({ ...G, name: 'inf-a' });
    await custom.createClusterCustomObject({ ...G, body: pcr('inf-c') });
    server.compact();
    server.closeWatches();
    await until('relist after 410', () => relists.includes('gone'));
    await until('cache caught up', () => inf.get('inf-c') !== undefined && inf.get('inf-a') === undefined);
    expect(seen).toContain('delete inf-a');
    expect(seen).toContain('add inf-c');
  });

  it('first list with resourceVersion=0 (cache), relist after 410 as a consistent read in pages; resourceVersions stay opaque', async () => {
    for (const n of ['pg-1', 'pg-2', 'pg-3', 'pg-4', 'pg-5']) await custom.createClusterCustomObject({ ...G, body: pcr(n) });
    const { inf, relists } = informer({ list: (s) => custom.listClusterCustomObject({ ...G, ...s }) as Promise<any>, pageSize: 2 });
    const from = server.requests.length;
    await inf.start();
    await inf.waitForSync();
    const lists = () => server.requests.slice(from).filter((r) => r.method === 'GET' && r.path.endsWith('/podcidrroutes') && !r.query.includes('watch=true'));
    expect(lists().map((r) => new URLSearchParams(r.query).get('resourceVersion'))).toEqual(['0']);
    await until('watch open', () => server.activeWatches('podcidrroutes') > 0);
    server.silenceWatches();
    await custom.createClusterCustomObject({ ...G, body: pcr('pg-6') });
    server.compact();
    server.closeWatches();
    await until('relist after 410', () => relists.includes('gone'));
    await until('pg-6 cached', () => inf.get('pg-6') !== undefined);
    const relist = lists().slice(1).map((r) => new URLSearchParams(r.query));
    expect(relist[0]!.get('resourceVersion')).toBe(''); // consistent read, not the cache
    expect(relist.length).toBeGreaterThan(2); // pages of 2
    expect(relist.slice(1).every((q) => q.get('continue') && q.get('limit') === '2')).toBe(true);
    expect(['pg-1', 'pg-2', 'pg-3', 'pg-4', 'pg-5', 'pg-6'].every((n) => inf.get(n) !== undefined)).toBe(true);
  });

  it('restarts a silent watch (watchdog) and a failed one (backoff)', async () => {
    const { inf, restarts } = informer({ watchdogMs: 300 });
    await inf.start();
    await inf.waitForSync();
    server.silenceWatches();
    await custom.createClusterCustomObject({ ...G, body: pcr('silent-1') });
    await until('watchdog restart', () => restarts.includes('watchdog'));
    await until('silent-1 delivered after restart', () => inf.get('silent-1') !== undefined);

    server.failNext({ method: 'GET', pathIncludes: 'podcidrroutes', status: 500, times: 2 });
    server.closeWatches();
    await custom.createClusterCustomObject({ ...G, body: pcr('after-error') });
    await until('after-error delivered', () => inf.get('after-error') !== undefined);
    expect(restarts).toContain('error'); // the injected 500s were met with a retry, not a dead informer
  });

  it('with a fieldSelector lists and watches only the matching object, also across a relist', async () => {
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    for (const name of ['sel-1', 'sel-2', 'sel-3']) await core.createNode({ body: { metadata: { name, labels: { zone: name === 'sel-3' ? 'b' : 'a' } } } });
    const relabel = (name: string, v: string) =>
      core.patchNode({ name, body: { metadata: { labels: { touched: v } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const { inf, relists } = informer({ path: '/api/v1/nodes', fieldSelector: 'metadata.name=sel-1', list: (s) => core.listNode(s) as Promise<any> });
    const seen: string[] = [];
    inf.on((ev, obj) => seen.push(`${ev} ${obj.metadata!.name}`));
    await inf.start();
    await inf.waitForSync();
    expect(inf.list().map((n) => n.metadata!.name)).toEqual(['sel-1']); // the list call got the selector

    // sel-2 changes first, then sel-1: once sel-1's update is here, sel-2's would have been too
    await relabel('sel-2', '1');
    await relabel('sel-1', '1');
    await until('sel-1 update', () => inf.get('sel-1')?.metadata?.labels?.touched === '1');
    await core.deleteNode({ name: 'sel-3' });
    await relabel('sel-1', '2');
    await until('second sel-1 update', () => inf.get('sel-1')?.metadata?.labels?.touched === '2');

    // 410 Gone -> relist: still only sel-1
    server.silenceWatches();
    await relabel('sel-2', '2');
    await relabel('sel-1', '3');
    server.compact();
    server.closeWatches();
    await until('relist after 410', () => relists.includes('gone'));
    await until('sel-1 after relist', () => inf.get('sel-1')?.metadata?.labels?.touched === '3');
    expect(inf.list().map((n) => n.metadata!.name)).toEqual(['sel-1']);
    expect(seen).toEqual(['add sel-1', 'update sel-1', 'update sel-1', 'update sel-1']);
    const nodeGets = server.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/nodes');
    expect(nodeGets.length).toBeGreaterThanOrEqual(4); // list, watch, relist, re-watch
    for (const r of nodeGets) expect(new URLSearchParams(r.query).get('fieldSelector')).toBe('metadata.name=sel-1');

    // a labelSelector reaches list and watch the same way
    const byLabel = informer({ path: '/api/v1/nodes', labelSelector: 'zone=a', list: (s) => core.listNode(s) as Promise<any> }).inf;
    await byLabel.start();
    await byLabel.waitForSync();
    expect(byLabel.list().map((n) => n.metadata!.name).sort()).toEqual(['sel-1', 'sel-2']);
    await core.createNode({ body: { metadata: { name: 'sel-4', labels: { zone: 'b' } } } });
    await core.createNode({ body: { metadata: { name: 'sel-5', labels: { zone: 'a' } } } });
    await until('sel-5 added', () => byLabel.get('sel-5') !== undefined);
    expect(byLabel.get('sel-4')).toBeUndefined();
  });

  it('waitForSync({ failOnListError }) rejects when the first list fails; the informer retries and syncs', async () => {
    await custom.createClusterCustomObject({ ...G, body: pcr('first-list') });
    server.failNext({ method: 'GET', pathIncludes: 'podcidrroutes', status: 503, times: 1 });
    const { inf } = informer();
    await inf.start();
    await expect(inf.waitForSync({ failOnListError: true })).rejects.toMatchObject({ code: 503 });
    await inf.waitForSync();
    expect(inf.get('first-list')).toBeDefined();
  });

  it('patches status with a merge patch that removes vanished fields, and sends nothing when unchanged', async () => {
    await custom.createClusterCustomObject({ ...G, body: pcr('st') });
    const w = new StatusWriter(server.kubeConfig());
    const s1 = { observedGeneration: 1, northdLag: 3, counts: { routes: 1, inSync: 0, drifted: 1 } };
    const r1: any = await w.patch(PODCIDRROUTES, 'st', undefined, s1);
    expect(r1.status).toEqual(s1);
    const s2 = { observedGeneration: 1, counts: { routes: 1, inSync: 1, drifted: 0 } };
    const r2: any = await w.patch(PODCIDRROUTES, 'st', s1, s2);
    expect(r2.status).toEqual(s2);
    const before = server.get('podcidrroutes', 'st')!.metadata.resourceVersion;
    expect(await w.patch(PODCIDRROUTES, 'st', s2, structuredClone(s2))).toBeUndefined();
    expect(server.get('podcidrroutes', 'st')!.metadata.resourceVersion).toBe(before);
    expect(mergePatchDiff({ a: [1, 2] }, { a: [1] })).toEqual({ a: [1] });
  });

  it('records an Event once and folds repeats into its series', async () => {
    let now = new Date('2026-11-23T23:00:00Z');
    const rec = new EventRecorder({ kubeConfig: server.kubeConfig(), instance: 'test', seriesMinIntervalMs: 1000, now: () => now });
    const ev = { regarding: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', name: 'st', uid: 'u-1' }, type: 'Warning' as const, reason: 'DriftDetected', action: 'Check', note: '10.9.52.144/28: FlowStale' };
    await rec.record(ev);
    await rec.record(ev);
    now = new Date('2026-11-23T23:00:05Z');
    await rec.record(ev);
    await rec.record({ ...ev, reason: 'Repaired', type: 'Normal', note: 'fixed' });
    const events = server.list('events', 'default', 'events.k8s.io').filter((e) => e.regarding.name === 'st');
    expect(events.map((e) => [e.reason, e.series?.count ?? 1]).sort()).toEqual([['DriftDetected', 3], ['Repaired', 1]]);
  });

  it('elects one leader among two, fails over when the leader stops, and hands over at once on release', async () => {
    const log: string[] = [];
    const mk = (id: string) => {
      const e = new LeaderElector({
        kubeConfig: server.kubeConfig(), namespace: 'ovn-drift', name: 'election-test', identity: id,
        leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100,
        onStartedLeading: () => log.push(`${id} leads`), onStoppedLeading: (r) => log.push(`${id} stops (${r})`),
      });
      stops.push(() => e.stop());
      return e;
    };
    const a = mk('a');
    a.start();
    await until('a leads', () => a.isLeader());
    const b = mk('b');
    b.start();
    await new Promise((r) => setTimeout(r, 400));
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    expect(server.get('leases', 'election-test', 'ovn-drift')!.spec.holderIdentity).toBe('a');

    a.stop(); // crash: no release; b must wait for the lease to expire
    expect(a.isLeader()).toBe(false);
    await until('b leads after expiry', () => b.isLeader());
    expect(server.get('leases', 'election-test', 'ovn-drift')!.spec.leaseTransitions).toBe(1);

    const c = mk('c');
    c.start();
    await b.release();
    expect(server.get('leases', 'election-test', 'ovn-drift')!.spec.holderIdentity).toBe('');
    await until('c leads after release', () => c.isLeader(), 2000);
    expect(log).toEqual(['a leads', 'a stops (stopped)', 'b leads', 'b stops (released)', 'c leads']);
  });

  it('stops leading as soon as the lease is taken by another holder', async () => {
    const lost: string[] = [];
    const e = new LeaderElector({ kubeConfig: server.kubeConfig(), namespace: 'ovn-drift', name: 'steal-test', identity: 'x', leaseDurationMs: 5000, renewDeadlineMs: 3000, retryPeriodMs: 100, onStoppedLeading: (r) => lost.push(r) });
    stops.push(() => e.stop());
    e.start();
    await until('x leads', () => e.isLeader());
    const lease = server.get('leases', 'steal-test', 'ovn-drift')!;
    server.put({ ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', renewTime: new Date().toISOString() } });
    await until('x stops', () => !e.isLeader());
    expect(lost[0]).toMatch(/intruder|conflict/);
  });
});
