// The operator end to end: the real `operator` command (and Controller) against a real OVN sandbox
// (ovsdb-server + ovn-northd) and the real client-node talking to the strict test API server.
// Resync is disabled in these tests, so everything that happens is the event-driven path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { SEED, buildSeedInSync, bumpWithoutNorthd } from '../../operator/ovn/seed-topology.js';
import { run } from '../../operator/commands/operator.js';
import { Controller } from '../../operator/controller/controller.js';
import { TestApiServer } from '../support/test-api-server.js';
import { until } from '../support/until.js';

const G = { group: 'ovndrift.io', version: 'v1alpha1', plural: 'podcidrroutes' };
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });


const seedRoute = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'ovndrift.io/v1alpha1',
  kind: 'PodCIDRRoute',
  metadata: { name },
  spec: { router: SEED.router, nexthop: SEED.vmIp, cidrs: [...SEED.prefixes], expectedChassis: SEED.vmChassis, ...extra },
});

function ready(obj: any): { status: string; reason: string; message: string; lastTransitionTime: string } | undefined {
  return obj?.status?.conditions?.find((c: any) => c.type === 'Ready');
}

describe('operator against a real OVN sandbox and the test API server', () => {
  let ovn: OvnSandbox;
  let api: TestApiServer;
  let custom: CustomObjectsApi;
  const abort = new AbortController();
  let exit: Promise<number>;
  let controller: Controller;
  let metricsUrl: string;

  beforeAll(async () => {
    ovn = await OvnSandbox.start();
    await buildSeedInSync(ovn);
    api = await TestApiServer.start();
    custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
    const started = new Promise<void>((ok) => {
      exit = run(
        ['--nb-remote', ovn.nbRemote, '--sb-remote', ovn.sbRemote, '--metrics-addr', '127.0.0.1:0', '--resync', '1h', '--repair-timeout', '3s', '--no-leader-elect', '--identity', 'op-1'],
        { kubeConfig: api.kubeConfig(), logger: silent, signal: abort.signal, onStarted: (c, url) => ((controller = c), (metricsUrl = url), ok()) },
      );
    });
    await started;
  });
  afterAll(async () => {
    abort.abort();
    expect(await exit).toBe(0);
    await api?.close();
    await ovn?.stop();
  });

  it('applied resource: status converges to Ready with every route in sync and the hypervisor named', async () => {
    await custom.createClusterCustomObject({ ...G, body: seedRoute('dev-jr-vm-10-9-2-146') });
    const obj = await until('Ready=True', () => {
      const o = api.get('podcidrroutes', 'dev-jr-vm-10-9-2-146');
      return ready(o)?.status === 'True' && o;
    });
    expect(obj.status.observedGeneration).toBe(1);
    expect(obj.status.counts).toEqual({ routes: 5, inSync: 5, drifted: 0 });
    expect(obj.status.routes[0].actual.hypervisor).toMatchObject({ chassis: SEED.vmChassis, encapIp: SEED.vmEncapIp });
    const table = api.printTable('podcidrroutes');
    expect(table.split('\n')[0]).toMatch(/^NAME\s+ROUTER\s+NEXTHOP\s+ROUTES\s+IN-SYNC\s+READY\s+AGE$/);
    expect(table.split('\n')[1]).toMatch(/^dev-jr-vm-10-9-2-146\s+dev-jr\s+10\.9\.2\.146\s+5\s+5\s+True\s+\d+s$/);
    console.log(`kubectl get pcr (rendered from the test API server):\n${table}`);

    const readyz = await fetch(`${metricsUrl}/readyz`);
    expect(readyz.status).toBe(200);
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/ovndrift_routes\{state="InSync"\} 5/);
    expect(metrics).toMatch(/ovndrift_ovsdb_connected\{db="NB"\} 1/);
    expect((await fetch(`${metricsUrl}/healthz`)).status).toBe(200);
  });

  it('a status that did not change is not rewritten (resourceVersion stays)', async () => {
    const before = api.get('podcidrroutes', 'dev-jr-vm-10-9-2-146')!.metadata.resourceVersion;
    const batches = controller.stats.batches;
    // an unrelated NB change that touches one of the resource's keys (the router) forces a reconcile
    await ovn.nbctl('set', 'Logical_Router', SEED.router, 'external_ids:touched=1');
    await until('reconciled', () => controller.stats.batches > batches);
    await new Promise((r) => setTimeout(r, 200));
    await controller.idle();
    expect(api.get('podcidrroutes', 'dev-jr-vm-10-9-2-146')!.metadata.resourceVersion).toBe(before);
  });

  it('drift in OVN (northd stopped, NB changed): status and an Event follow on the event-driven path', async () => {
    const batches = controller.stats.batches;
    await ovn.stopNorthd();
    await bumpWithoutNorthd(ovn, '--may-exist', 'lr-route-add', SEED.router, SEED.stalePrefix, SEED.otherIp);
    const obj = await until('Ready=False', () => {
      const o = api.get('podcidrroutes', 'dev-jr-vm-10-9-2-146');
      return ready(o)?.status === 'False' && o;
    });
    expect(controller.stats.batches).toBeGreaterThan(batches);
    expect(ready(obj)!.reason).toBe('NexthopMismatch');
    if (process.env.SHOW_STATUS) console.log(JSON.stringify(obj.status, null, 2));
    expect(ready(obj)!.message).toContain(SEED.stalePrefix);
    expect(ready(obj)!.message).toContain(SEED.otherIp);
    expect(obj.status.counts).toMatchObject({ routes: 5, inSync: 4, drifted: 1 });
    const entry = obj.status.routes.find((r: any) => r.prefix === SEED.stalePrefix);
    expect(entry.state).toBe('Drifted');
    expect(entry.findings).toContain('NexthopMismatch');
    const events = await until('DriftDetected event', () => {
      const evs = api.list('events', 'default', 'events.k8s.io').filter((e) => e.regarding.name === 'dev-jr-vm-10-9-2-146' && e.reason === 'DriftDetected');
      return evs.length > 0 && evs;
    });
    expect(events[0].type).toBe('Warning');
    expect(events[0].note).toContain(SEED.stalePrefix);
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/ovndrift_findings\{kind="NexthopMismatch"\} 1/);
    expect(metrics).toMatch(/ovndrift_detection_latency_seconds_count [1-9]/);
  });

  it('Repair mode (with adopt) fixes the NB row, stamps it as owned, and Ready returns', async () => {
    await ovn.startNorthd();
    await custom.patchClusterCustomObject({ ...G, name: 'dev-jr-vm-10-9-2-146', body: { spec: { remediation: 'Repair', adopt: true } } }, merge);
    const obj = await until('Ready=True after repair', () => {
      const o = api.get('podcidrroutes', 'dev-jr-vm-10-9-2-146');
      return ready(o)?.status === 'True' && o!.status.observedGeneration === 2 && o;
    });
    expect(obj.status.counts).toMatchObject({ routes: 5, inSync: 5, drifted: 0 });
    const nb = await ovn.nbctl('--format=csv', '--columns=nexthop,external_ids', 'find', 'Logical_Router_Static_Route', `ip_prefix="${SEED.stalePrefix}"`);
    expect(nb).toContain(SEED.vmIp);
    expect(nb).toContain('ovndrift.io/owner');
    // the Event follows the status write of the same reconcile
    const repaired = await until('Repaired event', () => {
      const evs = api.list('events', 'default', 'events.k8s.io').filter((e) => e.regarding.name === 'dev-jr-vm-10-9-2-146' && e.reason === 'Repaired');
      return evs.length > 0 && evs;
    });
    expect(repaired).toHaveLength(1);
    expect(repaired[0].note).toContain(SEED.stalePrefix);
  });

  it('OVSDB restart: Ready goes False (OvsdbUnavailable) and back to True without restarting the operator', async () => {
    const nbServer = ovn.nb.members[0]!;
    await nbServer.stop();
    const down = await until('OvsdbUnavailable', () => {
      const o = api.get('podcidrroutes', 'dev-jr-vm-10-9-2-146');
      return ready(o)?.reason === 'OvsdbUnavailable' && o;
    });
    expect(ready(down)!.status).toBe('False');
    expect((await fetch(`${metricsUrl}/readyz`)).status).toBe(503);
    await nbServer.start();
    const up = await until('Ready=True again', () => {
      const o = api.get('podcidrroutes', 'dev-jr-vm-10-9-2-146');
      return ready(o)?.status === 'True' && o;
    }, 30_000);
    expect(up.status.counts).toMatchObject({ inSync: 5 });
    await until('readyz 200', async () => (await fetch(`${metricsUrl}/readyz`)).status === 200);
  });

  it('an invalid spec gets InvalidSpec naming the field, and nothing crashes', async () => {
    await custom.createClusterCustomObject({ ...G, body: seedRoute('mixed-family', { cidrs: ['10.9.52.144/28', 'fd00:52::/64'] }) });
    const obj = await until('InvalidSpec', () => {
      const o = api.get('podcidrroutes', 'mixed-family');
      return ready(o)?.reason === 'InvalidSpec' && o;
    });
    expect(ready(obj)!.message).toContain('spec.cidrs[1]');
    expect(obj.status.conditions.find((c: any) => c.type === 'Stalled').status).toBe('True');
  });

  it('kubectl get pcr shows both resources as the operator rendered them', async () => {
    await custom.createClusterCustomObject({ ...G, body: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name: 'dev-jr-vm-10-215-91-233' }, spec: { router: SEED.router, nexthop: SEED.otherIp, cidrs: ['10.9.60.0/28'] } } });
    await until('RouteMissing', () => ready(api.get('podcidrroutes', 'dev-jr-vm-10-215-91-233'))?.reason === 'RouteMissing');
    const table = api.printTable('podcidrroutes');
    const wide = api.printTable('podcidrroutes', { wide: true });
    console.log(`kubectl get pcr:\n${table}\n\nkubectl get pcr -o wide:\n${wide}`);
    const rows = table.split('\n').slice(1).map((l) => l.split(/\s+/));
    expect(rows.map((r) => [r[0], r[4], r[5]])).toEqual([
      ['dev-jr-vm-10-215-91-233', '0', 'False'],
      ['dev-jr-vm-10-9-2-146', '5', 'True'],
      ['mixed-family', '0', 'False'],
    ]);
    expect(wide).toMatch(/dev-jr-vm-10-215-91-233 .*RouteMissing\s+Report/);
  });
});

describe('two operator instances', () => {
  let ovn: OvnSandbox;
  let api: TestApiServer;
  const controllers: Controller[] = [];
  beforeAll(async () => {
    ovn = await OvnSandbox.start();
    await buildSeedInSync(ovn);
    api = await TestApiServer.start();
  });
  afterAll(async () => {
    for (const c of controllers) await c.stop();
    await api?.close();
    await ovn?.stop();
  });

  it('one leader writes; when it stops, the standby takes over and keeps status current', async () => {
    const mk = (id: string) => {
      const c = new Controller({
        kubeConfig: api.kubeConfig(),
        nbRemote: ovn.nbRemote,
        sbRemote: ovn.sbRemote,
        identity: id,
        // a long lease: the standby can only take over this fast because the leader releases it
        lease: { namespace: 'ovn-drift', name: 'ovn-drift-operator', durationMs: 60_000, renewDeadlineMs: 40_000, retryPeriodMs: 200 },
        resyncMs: 0,
        logger: silent,
      });
      controllers.push(c);
      return c;
    };
    const a = mk('op-a');
    await a.start();
    await until('a leads', () => a.isLeader());
    const b = mk('op-b');
    await b.start();
    const custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
    await custom.createClusterCustomObject({ ...G, body: seedRoute('ha') });
    await until('Ready', () => ready(api.get('podcidrroutes', 'ha'))?.status === 'True');
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    expect(b.readiness().checks.leader).toMatch(/^standby/);
    await until('standby replicas warm', () => b.readiness().ready);

    await a.stop(); // SIGTERM path: releases the Lease
    expect(a.isLeader()).toBe(false);
    await until('b leads', () => b.isLeader(), 10_000);
    expect(api.get('leases', 'ovn-drift-operator', 'ovn-drift')!.spec.holderIdentity).toBe('op-b');
    await ovn.stopNorthd();
    await bumpWithoutNorthd(ovn, '--may-exist', 'lr-route-add', SEED.router, SEED.stalePrefix, SEED.otherIp);
    const obj = await until('b writes the drift', () => {
      const o = api.get('podcidrroutes', 'ha');
      return ready(o)?.status === 'False' && o;
    });
    expect(ready(obj)!.reason).toBe('NexthopMismatch');

    // a lost lease stops writes at once: someone else takes the Lease, then OVN changes again
    const lease = api.get('leases', 'ovn-drift-operator', 'ovn-drift')!;
    api.put({ ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', renewTime: new Date().toISOString() } });
    await until('b stops leading', () => !b.isLeader(), 10_000);
    const rv = api.get('podcidrroutes', 'ha')!.metadata.resourceVersion;
    const seen = new Promise<void>((ok) => b.databases().nb!.once('change', () => ok()));
    await ovn.nbctl('--no-wait', 'lr-route-del', SEED.router, SEED.prefixes[1]!);
    await seen;
    await b.idle();
    expect(api.get('podcidrroutes', 'ha')!.metadata.resourceVersion).toBe(rv);
  });
});

describe('affected resources only', () => {
  let ovn: OvnSandbox;
  let api: TestApiServer;
  let controller: Controller;
  const reconciled: string[][] = [];
  beforeAll(async () => {
    ovn = await OvnSandbox.start();
    await buildSeedInSync(ovn);
    await ovn.nbctl('--wait=sb', 'lr-route-add', SEED.router, '10.66.0.0/24', SEED.otherIp);
    api = await TestApiServer.start();
    controller = new Controller({ kubeConfig: api.kubeConfig(), nbRemote: ovn.nbRemote, sbRemote: ovn.sbRemote, identity: 'x', lease: false, resyncMs: 0, logger: silent, onReconcile: (n) => reconciled.push(n) });
    await controller.start();
  });
  afterAll(async () => {
    await controller?.stop();
    await api?.close();
    await ovn?.stop();
  });

  it('an NB change recomputes only the resources that depend on the changed row', async () => {
    const custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
    await custom.createClusterCustomObject({ ...G, body: seedRoute('vm') });
    await custom.createClusterCustomObject({ ...G, body: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name: 'other' }, spec: { router: SEED.router, nexthop: SEED.otherIp, cidrs: ['10.66.0.0/24'] } } });
    await until('both Ready', () => ready(api.get('podcidrroutes', 'vm'))?.status === 'True' && ready(api.get('podcidrroutes', 'other'))?.status === 'True');
    await controller.idle();
    reconciled.length = 0;
    await ovn.nbctl('--wait=sb', '--may-exist', 'lr-route-add', SEED.router, '10.66.0.0/24', SEED.vmIp);
    await until('other drifts', () => ready(api.get('podcidrroutes', 'other'))?.status === 'False');
    await controller.idle();
    expect(reconciled.length).toBeGreaterThan(0);
    expect([...new Set(reconciled.flat())]).toEqual(['other']);
  });
});
