// Scoped reads give the drift core exactly the answer the whole replicas give, for the seed's
// drift (stale SB flow, NB changed, northd stopped) in a real OVN sandbox, while exposing only a
// few rows of the big tables.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { SEED, buildSeedInSync, bumpWithoutNorthd, seedManifest } from '../../operator/ovn/seed-topology.js';
import { openOvn, type OvnDatabases } from '../../operator/ovn/connect.js';
import { NB_TABLES, SB_TABLES } from '../../operator/ovn/tables.js';
import { evaluate } from '../../operator/drift/index.js';
import { validatePodCIDRRoute } from '../../operator/api/podcidrroute.js';
import { RowKeyIndex, scopedSources } from '../../operator/controller/scope.js';
import { gatherViews } from '../../operator/controller/gather.js';

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
    const nbIndex = new RowKeyIndex(dbs.nb, NB_TABLES.map((t) => t.table));
    const sbIndex = new RowKeyIndex(dbs.sb, SB_TABLES.map((t) => t.table));
    const whole = gatherViews(dbs.nb, dbs.sb, {});
    const part = gatherViews(dbs.nb, dbs.sb, {}, { nbIndex, sbIndex, prefixes: route.spec.cidrs, nexthops: [route.spec.nexthop] });
    if (!whole.ok || !part.ok) throw new Error('views unavailable');
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
