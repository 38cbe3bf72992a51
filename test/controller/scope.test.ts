// Scoped reads give the drift core exactly the answer the whole replicas give, for the seed's
// drift (stale SB flow, NB changed, northd stopped) in a real OVN sandbox, while exposing only a
// few rows of the big tables.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { SEED, buildSeedInSync, bumpWithoutNorthd, seedManifest } from '../../operator/ovn/seed-topology.js';
import { openOvn, readViews, type OvnDatabases } from '../../operator/ovn/connect.js';
import { NB_TABLES } from '../../operator/ovn/tables.js';
import { evaluate } from '../../operator/drift/index.js';
import { validatePodCIDRRoute } from '../../operator/api/podcidrroute.js';
import { RowKeyIndex, scopedSources } from '../../operator/controller/scope.js';
import { optStr } from '../../operator/ovn/rows.js';
import { rowIndexes, scopedRead } from '../support/scoped.js';

describe('scoped views', () => {
  let ovn: OvnSandbox;
  let dbs: OvnDatabases;
  beforeAll(async () => {
    ovn = await OvnSandbox.start();
    await buildSeedInSync(ovn);
    // noise: routes the resource does not depend on
    const noise = Array.from({ length: 30 }, (_, i) => ['--', 'lr-route-add', SEED.router, `192.168.${i}.0/24`, SEED.otherIp]).flat();
    await ovn.nbctl('--wait=sb', ...noise);
    // the seed's drift: flow built via the other VM, northd stops, NB moved back to the VM
    await ovn.nbctl('--wait=sb', '--may-exist', 'lr-route-add', SEED.router, SEED.stalePrefix, SEED.otherIp);
    await ovn.stopNorthd();
    await bumpWithoutNorthd(ovn, '--may-exist', 'lr-route-add', SEED.router, SEED.stalePrefix, SEED.vmIp);
    dbs = await openOvn({ nbRemote: ovn.nbRemote, sbRemote: ovn.sbRemote, timeoutMs: 5000 });
  });
  afterAll(async () => {
    await dbs?.close();
    await ovn?.stop();
  });

  it('evaluate over scoped rows equals evaluate over the whole replicas', () => {
    const route = validatePodCIDRRoute(parse(seedManifest())).route!;
    const now = new Date('2026-11-24T00:00:00Z');
    const { nbIndex, sbIndex } = rowIndexes(dbs);
    const whole = readViews(dbs);
    const part = scopedRead(dbs, route, { nbIndex, sbIndex });
    const a = evaluate([route], whole.nb, whole.sb, now);
    const b = evaluate([route], part.nb, part.sb, now);
    expect(b.findings).toEqual(a.findings);
    expect(b.routes).toEqual(a.routes);
    expect(a.findings.map((f) => f.kind)).toContain('FlowStale');
    const scoped = scopedSources(dbs.nb, dbs.sb, nbIndex, sbIndex, route.spec.cidrs, [route.spec.nexthop]);
    expect(scoped.nb.rows('Logical_Router_Static_Route').size).toBe(SEED.prefixes.length);
    expect(dbs.nb.rows('Logical_Router_Static_Route').size).toBe(SEED.prefixes.length + 30);
  });

  it('the row index follows changes', async () => {
    const nbIndex = new RowKeyIndex(dbs.nb, NB_TABLES.map((t) => t.table));
    dbs.nb.on('change', (c) => nbIndex.apply(c));
    await ovn.nbctl('--no-wait', 'lr-route-add', SEED.router, '10.77.0.0/16', SEED.vmIp);
    for (let i = 0; i < 200 && nbIndex.uuids('Logical_Router_Static_Route', ['prefix:10.77.0.0/16']).size === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(nbIndex.uuids('Logical_Router_Static_Route', ['prefix:10.77.0.0/16']).size).toBe(1);
    await ovn.nbctl('--no-wait', 'lr-route-del', SEED.router, '10.77.0.0/16');
    for (let i = 0; i < 200 && nbIndex.uuids('Logical_Router_Static_Route', ['prefix:10.77.0.0/16']).size === 1; i++) await new Promise((r) => setTimeout(r, 25));
    expect(nbIndex.uuids('Logical_Router_Static_Route', ['prefix:10.77.0.0/16']).size).toBe(0);
  });
});

describe('change scoping through the OVN model (real northd, operator with the test API server)', () => {
  // imports kept local to this suite so the scoped-views suite above stays self-contained
  let ovn: OvnSandbox;
  let api: import('../support/test-api-server.js').TestApiServer;
  let controller: import('../../operator/controller/controller.js').Controller;
  const reconciled: string[][] = [];
  const pcrBody = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name }, spec });
  const ready = (name: string) => (api.get('podcidrroutes', name) as any)?.status?.conditions?.find((c: any) => c.type === 'Ready');
  const G = { group: 'ovndrift.io', version: 'v1alpha1', plural: 'podcidrroutes' };

  beforeAll(async () => {
    const { TestApiServer } = await import('../support/test-api-server.js');
    const { Controller } = await import('../../operator/controller/controller.js');
    const { attachSwitchArgs } = await import('../../operator/ovn/seed-topology.js');
    const { pino } = await import('pino');
    ovn = await OvnSandbox.start();
    await ovn.sbctl('chassis-add', 'hv-a', 'geneve', '192.0.2.1');
    await ovn.sbctl('chassis-add', 'hv-b', 'geneve', '192.0.2.2');
    for (const [r, n] of [['pa', 1], ['pb', 2]] as const) {
      await ovn.nbctl('lr-add', r, ...attachSwitchArgs(r, `${r}-net`, `0a:00:00:00:0${n}:01`, ['10.60.0.1/24']),
        '--', 'lsp-add', `${r}-net`, `${r}-vm1`, '--', 'lsp-set-addresses', `${r}-vm1`, `0a:00:00:00:0${n}:10 10.60.0.10`, '--', 'lsp-set-port-security', `${r}-vm1`, `0a:00:00:00:0${n}:10 10.60.0.10 10.60.0.50`,
        '--', 'lsp-add', `${r}-net`, `${r}-vm2`, '--', 'lsp-set-addresses', `${r}-vm2`, `0a:00:00:00:0${n}:11 10.60.0.11`);
    }
    await ovn.nbctl('--wait=sb', 'lr-route-add', 'pa', '10.61.0.0/24', '10.60.0.10', '--', 'lr-route-add', 'pa', '10.62.0.0/24', '10.60.0.50', '--', 'lr-route-add', 'pb', '10.61.0.0/24', '10.60.0.10');
    for (const r of ['pa', 'pb']) {
      await ovn.sbctl('lsp-bind', `${r}-vm1`, 'hv-a');
      await ovn.sbctl('lsp-bind', `${r}-vm2`, 'hv-b');
    }
    api = await TestApiServer.start();
    controller = new Controller({ kubeConfig: api.kubeConfig(), nbRemote: ovn.nbRemote, sbRemote: ovn.sbRemote, identity: 'x', lease: false, resyncMs: 0, logger: pino({ level: 'silent' }), onReconcile: (n) => reconciled.push(n) });
    await controller.start();
  });
  afterAll(async () => {
    await controller?.stop();
    await api?.close();
    await ovn?.stop();
  });

  it('a policy, and a port_security change, re-evaluate exactly the routes they affect', async () => {
    const { CustomObjectsApi } = await import('@kubernetes/client-node');
    const { until } = await import('../support/until.js');
    const custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
    await custom.createClusterCustomObject({ ...G, body: pcrBody('a', { router: 'pa', nexthop: '10.60.0.10', cidrs: ['10.61.0.0/24'] }) });
    await custom.createClusterCustomObject({ ...G, body: pcrBody('ps', { router: 'pa', nexthop: '10.60.0.50', cidrs: ['10.62.0.0/24'] }) });
    await custom.createClusterCustomObject({ ...G, body: pcrBody('b', { router: 'pb', nexthop: '10.60.0.10', cidrs: ['10.61.0.0/24'] }) });
    await until('all Ready', () => ['a', 'ps', 'b'].every((n) => ready(n)?.status === 'True'));
    await controller.idle();

    // a reroute policy on router pa: only pa's resources are looked at, a drifts (PolicyOverride)
    reconciled.length = 0;
    await ovn.nbctl('--wait=sb', 'lr-policy-add', 'pa', '100', 'ip4.dst == 10.61.0.0/24', 'reroute', '10.60.0.11');
    await until('a PolicyOverride', () => ready('a')?.status === 'False' && ready('a')?.reason === 'PolicyOverride');
    await controller.idle();
    expect(new Set(reconciled.flat())).not.toContain('b');
    expect((api.get('podcidrroutes', 'a') as any).status.routes[0]).toMatchObject({ state: 'Drifted', findings: ['PolicyOverride'], actual: { nexthop: '10.60.0.11' } });
    expect(ready('b')?.status).toBe('True');

    // the policy row alone changes (match no longer selects the prefix): a is in sync again
    reconciled.length = 0;
    const uuid = (await ovn.nbctl('--bare', '--columns=_uuid', 'find', 'Logical_Router_Policy', 'priority=100')).trim();
    await ovn.nbctl('--wait=sb', 'set', 'Logical_Router_Policy', uuid, 'match="ip4.dst == 10.99.0.0/24"');
    await until('a Ready again', () => ready('a')?.status === 'True');
    await controller.idle();
    expect(new Set(reconciled.flat())).not.toContain('b');

    // the allowed-address pair disappears from port_security: only ps loses its nexthop port
    reconciled.length = 0;
    await ovn.nbctl('--wait=sb', 'lsp-set-port-security', 'pa-vm1', '0a:00:00:00:01:10 10.60.0.10');
    await until('ps NexthopPortNotFound', () => ready('ps')?.status === 'False');
    await controller.idle();
    expect((api.get('podcidrroutes', 'ps') as any).status.routes[0].findings).toContain('NexthopPortNotFound');
    expect(new Set(reconciled.flat())).not.toContain('b');
    expect(ready('a')?.status).toBe('True');
    expect(ready('b')?.status).toBe('True');
  });
});

describe('scoped views: ECMP member flows of the routers involved only', () => {
  let ovn: OvnSandbox;
  let dbs: OvnDatabases;
  beforeAll(async () => {
    ovn = await OvnSandbox.start();
    await buildSeedInSync(ovn);
    // an ECMP group on the seed router, and another router with an ECMP group of its own
    await ovn.nbctl('--wait=sb', '--ecmp', 'lr-route-add', SEED.router, '10.60.0.0/16', SEED.vmIp, '--', '--ecmp', 'lr-route-add', SEED.router, '10.60.0.0/16', SEED.otherIp);
    await ovn.nbctl('--wait=sb', 'lr-add', 'lr2', '--', 'lrp-add', 'lr2', 'lr2-p', '00:00:00:00:aa:01', '10.77.0.1/24');
    await ovn.nbctl('--wait=sb', '--ecmp', 'lr-route-add', 'lr2', '10.50.0.0/16', '10.77.0.10', '--', '--ecmp', 'lr-route-add', 'lr2', '10.50.0.0/16', '10.77.0.11');
    dbs = await openOvn({ nbRemote: ovn.nbRemote, sbRemote: ovn.sbRemote, timeoutMs: 5000 });
  });
  afterAll(async () => {
    await dbs?.close();
    await ovn?.stop();
  });

  it('a scoped read holds its router ECMP member flows, not those of other routers, and evaluates the same', () => {
    const route = validatePodCIDRRoute(parse(seedManifest())).route!;
    const now = new Date('2026-11-24T00:00:00Z');
    const { nbIndex, sbIndex } = rowIndexes(dbs);
    const whole = readViews(dbs);
    const part = scopedRead(dbs, route, { nbIndex, sbIndex });
    expect(evaluate([route], part.nb, part.sb, now)).toEqual(evaluate([route], whole.nb, whole.sb, now));
    const dpOf = (router: string) => {
      const lr = [...dbs.nb.rows('Logical_Router').values()].find((r) => r.name === router)!;
      return [...dbs.sb.rows('Datapath_Binding').values()].find((d) => (d.external_ids as Record<string, string>)['logical-router'] === lr._uuid)!._uuid;
    };
    const ecmpFlows = (rows: ReadonlyMap<string, Record<string, unknown>>, dp: string) =>
      [...rows.values()].filter((f) => (f.external_ids as Record<string, string>)['stage-name'] === 'lr_in_ip_routing_ecmp' && optStr(f.logical_datapath as never) === dp && !optStr(f.logical_dp_group as never));
    const all = dbs.sb.rows('Logical_Flow');
    const scoped = scopedSources(dbs.nb, dbs.sb, nbIndex, sbIndex, route.spec.cidrs, [route.spec.nexthop], [route.spec.router]).sb.rows('Logical_Flow');
    // the fixture has member flows on both routers
    expect(ecmpFlows(all, dpOf(SEED.router)).length).toBeGreaterThan(0);
    expect(ecmpFlows(all, dpOf('lr2')).length).toBeGreaterThan(0);
    expect(ecmpFlows(scoped, dpOf(SEED.router)).length).toBe(ecmpFlows(all, dpOf(SEED.router)).length);
    expect(ecmpFlows(scoped, dpOf('lr2'))).toEqual([]);
  });
});
