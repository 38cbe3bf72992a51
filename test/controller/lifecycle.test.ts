// Operator lifecycle on the workqueue, against a real OVN sandbox (ovsdb-server + ovn-northd) and
// the test API server: DriftResolved after an OVSDB outage, Repair + adopt taking over a
// ConflictingRoute like `check --repair --adopt`, deletionPolicy Delete through a finalizer (and
// its timeout when OVN stays away), and a repair waiting for the SB never delaying another resource.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { SEED, buildSeedInSync } from '../../operator/ovn/seed-topology.js';
import { Controller } from '../../operator/controller/controller.js';
import { ROUTE_FINALIZER } from '../../operator/kube/finalizers.js';
import { TestApiServer } from '../support/test-api-server.js';
import { until } from '../support/until.js';

const G = { group: 'ovndrift.io', version: 'v1alpha1', plural: 'podcidrroutes' };
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const ready = (o: any) => o?.status?.conditions?.find((c: any) => c.type === 'Ready');
const pcr = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name }, spec: { router: SEED.router, nexthop: SEED.vmIp, ...spec } });

async function nbRows(ovn: OvnSandbox, prefix: string): Promise<{ nexthop: string; owner?: string }[]> {
  const out = await ovn.nbctl('--format=json', '--columns=nexthop,external_ids', 'find', 'Logical_Router_Static_Route', `ip_prefix="${prefix}"`);
  const j = JSON.parse(out) as { data: [string, [string, [string, string][]]][] };
  return j.data.map(([nexthop, ids]) => {
    const owner = ids[1].find(([k]) => k === 'ovndrift.io/owner')?.[1];
    return owner ? { nexthop, owner } : { nexthop };
  });
}

describe('operator lifecycle on the workqueue', () => {
  let ovn: OvnSandbox;
  let api: TestApiServer;
  let custom: CustomObjectsApi;
  let controller: Controller;
  const events = (name: string, reason?: string) => api.list('events', 'default', 'events.k8s.io').filter((e) => e.regarding?.name === name && (!reason || e.reason === reason));

  beforeAll(async () => {
    ovn = await OvnSandbox.start();
    await buildSeedInSync(ovn);
    api = await TestApiServer.start();
    custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
    controller = new Controller({
      kubeConfig: api.kubeConfig(),
      nbRemote: ovn.nbRemote,
      sbRemote: ovn.sbRemote,
      identity: 'op',
      lease: false,
      resyncMs: 0,
      repairTimeoutMs: 3000,
      finalizerTimeoutMs: 2000,
      settleMs: 2000,
      ovsdbBackoff: { minMs: 100, maxMs: 500 },
      logger: silent,
    });
    await controller.start();
  });
  afterAll(async () => {
    await controller?.stop();
    await api?.close();
    await ovn?.stop();
  });
  afterEach(async () => {
    await ovn.startNorthd().catch(() => undefined);
  });

  it('DriftResolved is written when drift heals during an OVSDB outage (the status passed through OvsdbUnavailable)', async () => {
    const prefix = '10.71.0.0/24';
    await custom.createClusterCustomObject({ ...G, body: pcr('heal', { cidrs: [prefix] }) });
    await until('RouteMissing', () => ready(api.get('podcidrroutes', 'heal'))?.reason === 'RouteMissing');
    await until('DriftDetected', () => events('heal', 'DriftDetected').length === 1);
    const sbServer = ovn.sb.members[0]!;
    await sbServer.stop();
    await until('OvsdbUnavailable', () => ready(api.get('podcidrroutes', 'heal'))?.reason === 'OvsdbUnavailable');
    await ovn.nbctl('--no-wait', 'lr-route-add', SEED.router, prefix, SEED.vmIp); // fixed while the SB is away
    await sbServer.start();
    await until('Ready=True', () => ready(api.get('podcidrroutes', 'heal'))?.status === 'True', 30_000);
    const resolved = await until('DriftResolved', () => events('heal', 'DriftResolved').length > 0 && events('heal', 'DriftResolved'));
    expect(resolved).toHaveLength(1);
    expect(resolved[0].type).toBe('Normal');
  });

  it('a route added to a healthy system is Pending (Reconciling, no Event, never Stalled) until northd compiles it', async () => {
    const prefix = '10.79.0.0/24';
    const seen: { state?: string; stalled?: string; reconciling?: string }[] = [];
    const off = api.onWrite((_t, o) => {
      if (o.kind !== 'PodCIDRRoute' || o.metadata.name !== 'fresh') return;
      const c = (t: string) => o.status?.conditions?.find((x: any) => x.type === t);
      seen.push({ state: o.status?.routes?.[0]?.state, stalled: c('Stalled')?.status, reconciling: c('Reconciling')?.reason });
    });
    try {
      await ovn.stopNorthd();
      // as a CMS writes it: no nb_cfg bump, so nothing says northd is behind
      await ovn.nbctl('--no-wait', 'lr-route-add', SEED.router, prefix, SEED.vmIp);
      await custom.createClusterCustomObject({ ...G, body: pcr('fresh', { cidrs: [prefix] }) });
      const pending = await until('Pending', () => {
        const o = api.get('podcidrroutes', 'fresh');
        return o?.status?.routes?.[0]?.state === 'Pending' && o;
      });
      expect(ready(pending)).toMatchObject({ status: 'False', reason: 'Pending' });
      expect(pending.status.routes[0].findings).toEqual(['FlowMissing']);
      await ovn.startNorthd();
      await until('InSync', () => ready(api.get('podcidrroutes', 'fresh'))?.status === 'True', 15_000);
    } finally {
      off();
    }
    expect(seen.some((s) => s.reconciling === 'Pending')).toBe(true);
    expect(seen.filter((s) => s.stalled === 'True')).toEqual([]);
    expect(events('fresh').filter((e) => e.type === 'Warning')).toEqual([]);
  });

  it('a flow finding that outlasts the settle window is drift (Stalled in Report mode, DriftDetected)', async () => {
    const prefix = '10.80.0.0/24';
    await ovn.stopNorthd();
    await ovn.nbctl('--no-wait', 'lr-route-add', SEED.router, prefix, SEED.vmIp);
    await custom.createClusterCustomObject({ ...G, body: pcr('late', { cidrs: [prefix] }) });
    await until('Pending', () => api.get('podcidrroutes', 'late')?.status?.routes?.[0]?.state === 'Pending');
    const drift = await until('FlowMissing as drift', () => {
      const o = api.get('podcidrroutes', 'late');
      return ready(o)?.reason === 'FlowMissing' && o;
    }, 15_000);
    expect(drift.status.conditions.find((c: any) => c.type === 'Stalled').status).toBe('True');
    await until('DriftDetected', () => events('late', 'DriftDetected').length === 1);
  });

  it('Repair + adopt takes over a ConflictingRoute the way `check --repair --adopt` does', async () => {
    const prefix = '10.72.0.0/24';
    await ovn.nbctl('--wait=sb', 'lr-route-add', SEED.router, prefix, SEED.vmIp);
    await ovn.nbctl('--wait=sb', '--ecmp', 'lr-route-add', SEED.router, prefix, SEED.otherIp);
    await custom.createClusterCustomObject({ ...G, body: pcr('adopter', { cidrs: [prefix] }) });
    await until('ConflictingRoute', () => ready(api.get('podcidrroutes', 'adopter'))?.reason === 'ConflictingRoute');
    await custom.patchClusterCustomObject({ ...G, name: 'adopter', body: { spec: { remediation: 'Repair', adopt: true } } }, merge);
    await until('Ready=True', () => ready(api.get('podcidrroutes', 'adopter'))?.status === 'True', 15_000);
    expect(await nbRows(ovn, prefix)).toEqual([{ nexthop: SEED.vmIp, owner: 'adopter' }]);
    expect(events('adopter', 'Repaired')).toHaveLength(1);
  });

  it('deletionPolicy Delete: a finalizer is kept, and deleting the resource removes the NB rows it owns', async () => {
    const prefix = '10.73.0.0/24';
    await custom.createClusterCustomObject({ ...G, body: pcr('deleter', { cidrs: [prefix], remediation: 'Repair', deletionPolicy: 'Delete' }) });
    await until('Ready=True', () => ready(api.get('podcidrroutes', 'deleter'))?.status === 'True', 15_000);
    expect(api.get('podcidrroutes', 'deleter')!.metadata.finalizers).toEqual([ROUTE_FINALIZER]);
    expect(await nbRows(ovn, prefix)).toEqual([{ nexthop: SEED.vmIp, owner: 'deleter' }]);
    await ovn.nbctl('--wait=sb', 'lr-route-add', SEED.router, '10.73.1.0/24', SEED.vmIp); // not ours: stays
    await custom.deleteClusterCustomObject({ ...G, name: 'deleter' });
    await until('gone', () => api.get('podcidrroutes', 'deleter') === undefined, 15_000);
    expect(await nbRows(ovn, prefix)).toEqual([]);
    expect(await nbRows(ovn, '10.73.1.0/24')).toEqual([{ nexthop: SEED.vmIp }]);
    expect(events('deleter', 'RoutesRemoved')[0]?.note).toContain(prefix);
  });

  it('deletionPolicy Orphan (the default) carries no finalizer and leaves the rows', async () => {
    const prefix = '10.74.0.0/24';
    await custom.createClusterCustomObject({ ...G, body: pcr('orphaner', { cidrs: [prefix], remediation: 'Repair' }) });
    await until('Ready=True', () => ready(api.get('podcidrroutes', 'orphaner'))?.status === 'True', 15_000);
    expect(api.get('podcidrroutes', 'orphaner')!.metadata.finalizers ?? []).toEqual([]);
    await custom.deleteClusterCustomObject({ ...G, name: 'orphaner' });
    await until('gone', () => api.get('podcidrroutes', 'orphaner') === undefined);
    expect(await nbRows(ovn, prefix)).toEqual([{ nexthop: SEED.vmIp, owner: 'orphaner' }]);
  });

  it('a repair waiting for the SB (northd stopped) does not delay another resource', async () => {
    await ovn.stopNorthd();
    await custom.createClusterCustomObject({ ...G, body: pcr('slow-repair', { cidrs: ['10.75.0.0/24'], remediation: 'Repair' }) });
    await until('repair committed to the NB', async () => (await nbRows(ovn, '10.75.0.0/24')).length === 1);
    await custom.createClusterCustomObject({ ...G, body: pcr('bystander', { cidrs: ['10.76.0.0/24'] }) });
    await until('bystander has a status', () => ready(api.get('podcidrroutes', 'bystander'))?.reason === 'RouteMissing');
    // the repair is still waiting for the SB (its bound is 3 s): no Repaired event yet
    expect(events('slow-repair', 'Repaired')).toHaveLength(0);
    const repaired = await until('Repaired after the bound', () => events('slow-repair', 'Repaired')[0], 15_000);
    expect(repaired.note).toContain('SB not caught up');
  });

  it('OVN unreachable past --finalizer-timeout: the finalizer is dropped with a Warning naming what was left behind', async () => {
    const prefix = '10.77.0.0/24';
    await custom.createClusterCustomObject({ ...G, body: pcr('stranded', { cidrs: [prefix], remediation: 'Repair', deletionPolicy: 'Delete' }) });
    await until('Ready=True', () => ready(api.get('podcidrroutes', 'stranded'))?.status === 'True', 15_000);
    const nbServer = ovn.nb.members[0]!;
    await nbServer.stop();
    try {
      await until('OvsdbUnavailable', () => ready(api.get('podcidrroutes', 'stranded'))?.reason === 'OvsdbUnavailable');
      await custom.deleteClusterCustomObject({ ...G, name: 'stranded' });
      expect(api.get('podcidrroutes', 'stranded')?.metadata.deletionTimestamp).toBeTruthy();
      await until('gone after the timeout', () => api.get('podcidrroutes', 'stranded') === undefined, 20_000);
      const warning = events('stranded', 'RoutesLeftBehind')[0];
      expect(warning.type).toBe('Warning');
      expect(warning.note).toContain(prefix);
    } finally {
      await nbServer.start();
    }
    await until('NB back', () => controller.readiness().checks['ovsdb:NB'] === 'ok', 20_000);
    expect(await nbRows(ovn, prefix)).toEqual([{ nexthop: SEED.vmIp, owner: 'stranded' }]);
  });
});

describe('uninstalling with the operator gone', () => {
  let api: TestApiServer;
  let dir: string;
  beforeAll(async () => {
    api = await TestApiServer.start();
    dir = mkdtempSync(join(tmpdir(), 'ovn-drift-uninstall-'));
  });
  afterAll(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the documented kubectl command releases resources whose finalizer no operator will remove', async () => {
    const custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
    for (const name of ['left-1', 'left-2']) {
      await custom.createClusterCustomObject({ ...G, body: { ...pcr(name, { cidrs: ['10.78.0.0/24'], remediation: 'Repair', deletionPolicy: 'Delete' }), metadata: { name, finalizers: [ROUTE_FINALIZER] } } });
      await custom.deleteClusterCustomObject({ ...G, name });
    }
    expect(api.list('podcidrroutes').map((o) => [o.metadata.name, Boolean(o.metadata.deletionTimestamp)])).toEqual([['left-1', true], ['left-2', true]]);
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeConfig().exportConfig());
    // docs/operator.md, "Uninstalling"
    await promisify(execFile)('sh', ['-c', `kubectl get pcr -o name | xargs -r -I{} kubectl patch {} --type=merge -p '{"metadata":{"finalizers":null}}'`], { env: { ...process.env, KUBECONFIG: kubeconfig } });
    expect(api.list('podcidrroutes')).toEqual([]);
  });
});
