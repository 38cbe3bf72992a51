// Acceptance: `check --repair [--adopt]` and `trace` (DESIGN.md "CLI contract", "Repairs") through
// the built CLI on a real NB/SB + northd. NB rows are verified with ovn-nbctl, SB flows with
// ovn-sbctl, right after the repair returns (it must have waited for the SB itself).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../operator/sandbox/sandbox.js';
import { RELEASES, describeRelease, itRunsRelease, type Sandbox } from '../support/releases.js';
import {
  ManifestDir, bind, chassis, cli, describeRun, ensureBuilt, kinds, nbRoutes, parseReport, pcr, routerWithSwitch,
  sbRoutingFlows, vmPort, waitSb, type NbRoute, type Ran, type RouteSpec,
} from './support.js';

let sb: Sandbox;
let md: ManifestDir;
const db = () => ['--nb', sb.nbRemote, '--sb', sb.sbRemote];

async function run(name: string, specs: [string, RouteSpec][], ...flags: string[]): Promise<Ran> {
  const f = await md.write(`${name}.yaml`, ...specs.map(([n, s]) => pcr(n, s)));
  return cli(['check', ...db(), '-f', f, '--output', 'json', ...flags], { killAfterMs: 90_000 });
}

const rowsFor = async (prefix: string, router = 'r1'): Promise<NbRoute[]> => (await nbRoutes(sb, router)).filter((r) => r.prefix === prefix);

/** The nexthops the SB lr_in_ip_routing flow(s) for `prefix` set (reg0 / xxreg0). */
async function sbNexthops(prefix: string): Promise<string[]> {
  const flows = await sbRoutingFlows(sb, prefix);
  return flows.map((f) => /(?:^|; )x?x?reg0 = ([^;]+);/.exec(f.actions)?.[1] ?? `?${f.actions}`);
}

// One suite per OVN release (test/support/releases.ts); body not re-indented to keep the diff small.
for (const release of RELEASES) describeRelease(release, () => {
beforeAll(async () => {
  await ensureBuilt();
  md = await ManifestDir.create();
  sb = await release.start();
  await routerWithSwitch(sb, 'r1', 'ls1', ['10.9.2.1/24', 'fd00:2::1/64']);
  await routerWithSwitch(sb, 'r1', 'lst', ['10.40.0.1/24'], ['route_table=T']);
  await vmPort(sb, 'ls1', 'vm1', ['10.9.2.146', 'fd00:2::92']);
  await vmPort(sb, 'ls1', 'vm2', ['10.9.2.147', 'fd00:2::93']);
  await chassis(sb, 'ch1', '192.168.0.11', 'host1');
  await chassis(sb, 'ch2', '192.168.0.12', 'host2');
  await bind(sb, 'vm1', 'ch1');
  await bind(sb, 'vm2', 'ch2');
  await waitSb(sb);
}, 180_000);

afterAll(async () => {
  await sb?.stop();
  await md?.remove();
});

itRunsRelease(release, () => sb);

describe('check --repair', () => {
  it('creates a missing route, stamps it as owned, waits for the SB; the re-check is clean', async () => {
    const spec: RouteSpec = { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.53.0/24'] };
    const before = await run('create-pre', [['create', spec]]);
    expect(kinds(parseReport(before))).toEqual(['RouteMissing']);

    const r = await run('create', [['create', spec]], '--repair');
    expect(r.code, describeRun(r)).toBe(0);
    expect(parseReport(r).findings).toEqual([]);
    const rows = await rowsFor('10.9.53.0/24');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ nexthop: '10.9.2.146', policy: 'dst-ip', routeTable: '' });
    expect(Object.keys(rows[0]!.externalIds).length).toBeGreaterThan(0);
    // waited for the SB: the flow is there right after the command returned
    expect(await sbNexthops('10.9.53.0/24')).toEqual(['10.9.2.146']);
    const again = await run('create-post', [['create', spec]]);
    expect(again.code, describeRun(again)).toBe(0);
  });

  it('a manifest prefix with host bits is bad input: exit 1 and nothing written (the CRD refuses it too)', async () => {
    const r = await run('hostbits', [['hb', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.57.9/24'] }]], '--repair');
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toContain('host bits set in 10.9.57.9/24');
    const rows = (await nbRoutes(sb, 'r1')).filter((x) => x.prefix.startsWith('10.9.57.'));
    expect(rows).toEqual([]);
  });

  it('fixes an owned row someone changed, and follows a changed manifest, keeping one row', async () => {
    const spec: RouteSpec = { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.53.0/24'] };
    const [owned] = await rowsFor('10.9.53.0/24');
    await sb.nbctl('--wait=sb', 'set', 'Logical_Router_Static_Route', owned!.uuid, 'nexthop="10.9.2.147"');
    const seen = await run('owned-pre', [['create', spec]]);
    expect(kinds(parseReport(seen))).toContain('NexthopMismatch');

    const r = await run('owned', [['create', spec]], '--repair');
    expect(r.code, describeRun(r)).toBe(0);
    const rows = await rowsFor('10.9.53.0/24');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.nexthop).toBe('10.9.2.146');
    expect(await sbNexthops('10.9.53.0/24')).toEqual(['10.9.2.146']);

    const moved = await run('owned-moved', [['create', { ...spec, nexthop: '10.9.2.147' }]], '--repair');
    expect(moved.code, describeRun(moved)).toBe(0);
    const rows2 = await rowsFor('10.9.53.0/24');
    expect(rows2).toHaveLength(1);
    expect(rows2[0]!.nexthop).toBe('10.9.2.147');
    expect(await sbNexthops('10.9.53.0/24')).toEqual(['10.9.2.147']);
  });

  it('is idempotent: a second --repair on a clean state changes no row', async () => {
    const spec: RouteSpec = { router: 'r1', nexthop: '10.9.2.147', cidrs: ['10.9.53.0/24'] };
    const before = await nbRoutes(sb, 'r1');
    const r = await run('idem', [['create', spec]], '--repair');
    expect(r.code, describeRun(r)).toBe(0);
    expect(await nbRoutes(sb, 'r1')).toEqual(before);
  });

  it('leaves an unowned wrong row alone (exit 3, reported); --adopt takes over exactly that row', async () => {
    await sb.nbctl('lr-route-add', 'r1', '10.9.54.0/24', '10.9.2.147');
    await sb.nbctl('--policy=src-ip', 'lr-route-add', 'r1', '10.9.54.0/24', '10.9.2.147');
    await sb.nbctl('--route-table=T', 'lr-route-add', 'r1', '10.9.54.0/24', '10.9.2.147');
    await sb.nbctl('lr-route-add', 'r1', '10.9.55.0/24', '10.9.2.147');
    await waitSb(sb);
    const spec: RouteSpec = { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.54.0/24'] };
    const all0 = await nbRoutes(sb, 'r1');
    const target0 = all0.find((x) => x.prefix === '10.9.54.0/24' && x.policy === 'dst-ip' && x.routeTable === '')!;

    const r = await run('unowned', [['take', spec]], '--repair');
    expect(r.code, describeRun(r)).toBe(3);
    const rep = parseReport(r);
    const f = rep.findings.find((x) => x.kind === 'NexthopMismatch');
    expect(f, JSON.stringify(rep.findings)).toMatchObject({ route: 'take', prefix: '10.9.54.0/24', actual: { nexthop: '10.9.2.147' } });
    expect(await nbRoutes(sb, 'r1')).toEqual(all0); // untouched

    const a = await run('adopt', [['take', spec]], '--repair', '--adopt');
    expect(a.code, describeRun(a)).toBe(0);
    expect(parseReport(a).findings).toEqual([]);
    const all1 = await nbRoutes(sb, 'r1');
    const target1 = all1.find((x) => x.prefix === '10.9.54.0/24' && x.policy === 'dst-ip' && x.routeTable === '');
    expect(target1).toMatchObject({ uuid: target0.uuid, nexthop: '10.9.2.146' }); // the same row, taken over
    expect(Object.keys(target1!.externalIds).length).toBeGreaterThan(0); // stamped
    // every other row is exactly as it was (other policy, other route table, other prefix)
    const others = (rows: NbRoute[]) => rows.filter((x) => x.uuid !== target0.uuid).sort((p, q) => p.uuid.localeCompare(q.uuid));
    expect(others(all1)).toEqual(others(all0));
    expect(await sbNexthops('10.9.54.0/24')).toContain('10.9.2.146');

    // once adopted, it is owned: a plain --repair (no --adopt) now fixes it
    await sb.nbctl('--wait=sb', 'set', 'Logical_Router_Static_Route', target0.uuid, 'nexthop="10.9.2.147"');
    const own = await run('adopted-owned', [['take', spec]], '--repair');
    expect(own.code, describeRun(own)).toBe(0);
    expect((await rowsFor('10.9.54.0/24')).find((x) => x.uuid === target0.uuid)?.nexthop).toBe('10.9.2.146');
  });

  it('an unowned ECMP member is reported as ConflictingRoute and never touched without --adopt', async () => {
    await sb.nbctl('lr-route-add', 'r1', '10.9.56.0/24', '10.9.2.146');
    await sb.nbctl('--ecmp', 'lr-route-add', 'r1', '10.9.56.0/24', '10.9.2.147');
    await waitSb(sb);
    const before = await nbRoutes(sb, 'r1');
    const r = await run('ecmp', [['ecmp', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.56.0/24'] }]], '--repair');
    expect(r.code, describeRun(r)).toBe(3);
    expect(kinds(parseReport(r))).toContain('ConflictingRoute');
    expect(await nbRoutes(sb, 'r1')).toEqual(before);
  });

  it('--repair never touches an unowned row that is already right (no stamping without --adopt)', async () => {
    await sb.nbctl('--wait=sb', 'lr-route-add', 'r1', '10.9.68.0/24', '10.9.2.146');
    const before = await rowsFor('10.9.68.0/24');
    const r = await run('unowned-right', [['ur', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.68.0/24'] }]], '--repair');
    expect(r.code, describeRun(r)).toBe(0);
    expect(await rowsFor('10.9.68.0/24')).toEqual(before);
  });

  it('partial repair: owned/missing prefixes fixed, the unowned wrong one reported (exit 3)', async () => {
    await sb.nbctl('--wait=sb', 'lr-route-add', 'r1', '10.9.69.0/24', '10.9.2.147'); // unowned, wrong
    const spec: RouteSpec = { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.70.0/24', '10.9.69.0/24', '10.9.71.0/24'] };
    const r = await run('partial', [['partial', spec]], '--repair');
    expect(r.code, describeRun(r)).toBe(3);
    const rep = parseReport(r);
    expect(rep.findings.map((f) => f.prefix)).toEqual(['10.9.69.0/24']);
    expect((await rowsFor('10.9.70.0/24')).map((x) => x.nexthop)).toEqual(['10.9.2.146']);
    expect((await rowsFor('10.9.71.0/24')).map((x) => x.nexthop)).toEqual(['10.9.2.146']);
    expect((await rowsFor('10.9.69.0/24')).map((x) => x.nexthop)).toEqual(['10.9.2.147']);
  });

  it('--repair --adopt on an unowned ECMP pair for exactly that prefix ends in sync with the desired nexthop only', async () => {
    await sb.nbctl('lr-route-add', 'r1', '10.9.67.0/24', '10.9.2.146');
    await sb.nbctl('--ecmp', 'lr-route-add', 'r1', '10.9.67.0/24', '10.9.2.147');
    await waitSb(sb);
    const r = await run('ecmp-adopt', [['ea', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.67.0/24'] }]], '--repair', '--adopt');
    expect(r.code, describeRun(r)).toBe(0);
    expect((await rowsFor('10.9.67.0/24')).map((x) => x.nexthop)).toEqual(['10.9.2.146']);
    expect(await sbNexthops('10.9.67.0/24')).toEqual(['10.9.2.146']);
  });

  it('IPv6, src-ip policy and route table T are created as asked', async () => {
    const r = await run(
      'v6-src-table',
      [
        ['v6', { router: 'r1', nexthop: 'fd00:2::92', cidrs: ['fd00:53::/64'] }],
        ['src', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.58.0/24'], policy: 'src-ip' }],
        ['tbl', { router: 'r1', nexthop: '10.9.2.147', cidrs: ['10.9.59.0/24'], routeTable: 'T' }],
      ],
      '--repair',
    );
    expect(r.code, describeRun(r)).toBe(0);
    expect(await rowsFor('fd00:53::/64')).toEqual([expect.objectContaining({ nexthop: 'fd00:2::92', policy: 'dst-ip', routeTable: '' })]);
    expect(await rowsFor('10.9.58.0/24')).toEqual([expect.objectContaining({ nexthop: '10.9.2.146', policy: 'src-ip', routeTable: '' })]);
    expect(await rowsFor('10.9.59.0/24')).toEqual([expect.objectContaining({ nexthop: '10.9.2.147', policy: 'dst-ip', routeTable: 'T' })]);
    expect(await sbNexthops('fd00:53::/64')).toEqual(['fd00:2::92']);
    const again = await run('v6-src-table-post', [
      ['v6', { router: 'r1', nexthop: 'fd00:2::92', cidrs: ['fd00:53::/64'] }],
      ['src', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.58.0/24'], policy: 'src-ip' }],
      ['tbl', { router: 'r1', nexthop: '10.9.2.147', cidrs: ['10.9.59.0/24'], routeTable: 'T' }],
    ]);
    expect(again.code, describeRun(again)).toBe(0);
  });

  it('RouterNotFound is not "repaired" by creating a router (exit 3)', async () => {
    const r = await run('norouter', [['nr', { router: 'ghost', nexthop: '10.9.2.146', cidrs: ['10.9.90.0/24'] }]], '--repair');
    expect(r.code, describeRun(r)).toBe(3);
    expect(kinds(parseReport(r))).toContain('RouterNotFound');
    expect(await sb.nbctl('lr-list')).not.toContain('ghost');
  });

  it('with northd down the wait for the SB is bounded: NB fixed, exit 3 reporting what remains', async () => {
    await sb.stopNorthd();
    try {
      const spec: RouteSpec = { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.91.0/24'] };
      const r = await run('northd-down', [['nd', spec]], '--repair', '--timeout', '3');
      expect(r.killed, 'repair did not return with northd down').toBe(false);
      expect(r.code, describeRun(r)).toBe(3);
      expect(kinds(parseReport(r)).some((k) => k === 'FlowMissing' || k === 'NorthdLagging')).toBe(true);
      expect(await rowsFor('10.9.91.0/24')).toEqual([expect.objectContaining({ nexthop: '10.9.2.146' })]);
    } finally {
      await sb.startNorthd();
    }
    const again = await run('northd-up', [['nd', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.91.0/24'] }]]);
    expect(again.code, describeRun(again)).toBe(0);
  });
});

describe('trace', () => {
  const trace = (...a: string[]) => cli(['trace', ...db(), ...a], { killAfterMs: 60_000 });

  it('names the matching route, nexthop, port and chassis (exit 0)', async () => {
    await sb.nbctl('--wait=sb', 'lr-route-add', 'r1', '10.9.60.0/24', '10.9.2.146');
    const r = await trace('--router', 'r1', '10.9.60.100');
    expect(r.code, describeRun(r)).toBe(0);
    for (const s of ['10.9.60.0/24', '10.9.2.146', 'vm1', 'ch1']) expect(r.stdout).toContain(s);
  });

  it('follows the longest prefix match', async () => {
    await sb.nbctl('--wait=sb', 'lr-route-add', 'r1', '10.9.60.0/28', '10.9.2.147');
    const r = await trace('--router', 'r1', '10.9.60.5');
    expect(r.code, describeRun(r)).toBe(0);
    for (const s of ['10.9.60.0/28', '10.9.2.147', 'vm2', 'ch2']) expect(r.stdout).toContain(s);
  });

  it('IPv6', async () => {
    const r = await trace('--router', 'r1', 'fd00:53::1');
    expect(r.code, describeRun(r)).toBe(0);
    for (const s of ['fd00:53::/64', 'fd00:2::92', 'vm1', 'ch1']) expect(r.stdout).toContain(s);
  });

  it('shows the difference when the SB flow still routes to the old nexthop', async () => {
    await sb.stopNorthd();
    try {
      const [row] = await rowsFor('10.9.60.0/24');
      await sb.nbctl('set', 'Logical_Router_Static_Route', row!.uuid, 'nexthop="10.9.2.147"');
      const r = await trace('--router', 'r1', '10.9.60.100');
      // NB says .147 (vm2 on ch2), the SB flow still says .146 (vm1 on ch1): both must appear
      for (const s of ['10.9.60.0/24', '10.9.2.147', '10.9.2.146', 'ch1', 'ch2']) expect(r.stdout).toContain(s);
      // trace is an investigation view, not a gate: it exits 0 and highlights the differences
      expect(r.code, describeRun(r)).toBe(0);
    } finally {
      await sb.startNorthd();
    }
  });

  it('--inport picks the route table of the ingress port (options:route_table)', async () => {
    await sb.nbctl('--wait=sb', 'lr-route-add', 'r1', '10.9.90.0/24', '10.9.2.146', '--', '--route-table=T', 'lr-route-add', 'r1', '10.9.90.0/24', '10.9.2.147');
    const main = await trace('--router', 'r1', '10.9.90.1', '--output', 'json');
    expect(JSON.parse(main.stdout).sb.hops[0]).toMatchObject({ nexthop: '10.9.2.146', port: { name: 'vm1' } });
    const t = await trace('--router', 'r1', '--inport', 'r1-lst', '10.9.90.1');
    expect(t.code, describeRun(t)).toBe(0);
    expect(t.stdout).toContain('(route table T)');
    expect(t.stdout).toMatch(/NB {2}route {5}10\.9\.90\.0\/24 via 10\.9\.2\.147 \(dst-ip static route in route table T/);
    expect(t.stdout).toContain('✓ NB and SB agree');
    const bad = await trace('--router', 'r1', '--inport', 'nope', '10.9.90.1');
    expect(bad.code, describeRun(bad)).toBe(1);
    expect(bad.stdout).toContain('nope is not a Logical_Router_Port of r1');
  });

  it('--src follows src-ip routes and source-dependent policies; the other family and no covering route are said plainly', async () => {
    await sb.nbctl('--wait=sb', '--policy=src-ip', 'lr-route-add', 'r1', '10.9.91.0/24', '10.9.2.147', '--', 'lr-policy-add', 'r1', '300', 'ip4.src == 10.9.92.0/24', 'reroute', '10.9.2.146');
    const src = await trace('--router', 'r1', '--src', '10.9.91.5', '198.51.100.7');
    expect(src.code, describeRun(src)).toBe(0);
    expect(src.stdout).toMatch(/NB {2}route {5}10\.9\.91\.0\/24 via 10\.9\.2\.147 \(src-ip static route/);
    const pol = await trace('--router', 'r1', '--src', '10.9.92.5', '10.9.60.100', '--output', 'json');
    expect(JSON.parse(pol.stdout).policy).toMatchObject({ priority: 300, action: 'reroute', nexthops: ['10.9.2.146'], hops: [{ nexthop: '10.9.2.146', port: { name: 'vm1' }, endpoint: { hypervisor: { chassis: 'ch1' } } }] });
    const noSrc = await trace('--router', 'r1', '10.9.60.100');
    expect(noSrc.stdout).toContain('depends on the source');
    const fam = await trace('--router', 'r1', '--src', 'fd00::5', '10.9.60.100');
    expect(fam.code, describeRun(fam)).toBe(1);
    expect(fam.stderr).toContain('--src fd00::5 is IPv6 but 10.9.60.100 is IPv4');
    const none = await trace('--router', 'r1', '203.0.113.9');
    expect(none.code, describeRun(none)).toBe(0);
    expect(none.stdout).toContain('no route on r1 covers 203.0.113.9: the router drops it');
  });

  it('check: a reroute policy is PolicyOverride in text and JSON (routes[] with state and kinds), exit 3', async () => {
    await sb.nbctl('--wait=sb', 'lr-route-add', 'r1', '10.9.93.0/24', '10.9.2.146', '--', 'lr-policy-add', 'r1', '250', 'ip4.dst == 10.9.93.0/24', 'reroute', '10.9.2.147');
    const spec: RouteSpec = { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.93.0/24'] };
    const j = await run('policy', [['pol', spec]]);
    expect(j.code, describeRun(j)).toBe(3);
    const rep = JSON.parse(j.stdout);
    expect(rep.routes).toEqual([{ route: 'pol', router: 'r1', prefix: '10.9.93.0/24', state: 'Drifted', kinds: ['PolicyOverride'], expected: expect.objectContaining({ nexthop: '10.9.2.146' }), actual: expect.objectContaining({ nexthop: '10.9.2.147', hypervisor: expect.objectContaining({ chassis: 'ch2' }) }) }]);
    expect(rep.findings[0].message).toContain('priority 250 match "ip4.dst == 10.9.93.0/24" reroutes all of 10.9.93.0/24 to 10.9.2.147');
    const f = await md.write('policy-text.yaml', pcr('pol', spec));
    const t = await cli(['check', ...db(), '-f', f], { killAfterMs: 60_000 });
    expect(t.code, describeRun(t)).toBe(3);
    expect(t.stdout).toMatch(/10\.9\.93\.0\/24 .*->\s+10\.9\.2\.147 @ geneve 192\.168\.0\.12 \(host2\)\s+✗ PolicyOverride/);
  });

  it('unknown router -> 1 naming it', async () => {
    const r = await trace('--router', 'ghost', '10.9.60.5');
    expect(r.code, describeRun(r)).toBe(1);
    expect(`${r.stdout}${r.stderr}`).toContain('ghost');
  });

  it('bad IP -> 1', async () => {
    const r = await trace('--router', 'r1', '10.9.60.300');
    expect(r.code, describeRun(r)).toBe(1);
    expect(`${r.stdout}${r.stderr}`).toContain('10.9.60.300');
  });

  it('unreachable NB -> 2', async () => {
    const closed = `tcp:127.0.0.1:${await freePort()}`;
    const r = await cli(['trace', '--nb', closed, '--sb', sb.sbRemote, '--router', 'r1', '10.9.60.5'], { killAfterMs: 60_000 });
    expect(r.killed).toBe(false);
    expect(r.code, describeRun(r)).toBe(2);
    expect(`${r.stdout}${r.stderr}`).toContain(closed);
  });
});
});
