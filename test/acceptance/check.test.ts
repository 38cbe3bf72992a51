// Acceptance: `ovn-drift check` (DESIGN.md "CLI contract" and drift vocabulary) run as a child
// process against a real NB/SB + ovn-northd, on a topology built with ovn-nbctl/ovn-sbctl the way
// drift happens in a cluster. Expectations come from DESIGN.md and OVN's behaviour, not the code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RELEASES, describeRelease, itRunsRelease, type Sandbox } from '../support/releases.js';
import {
  ManifestDir, bind, chassis, cli, describeRun, ensureBuilt, kinds, nbCfg, nbRoutes, parseReport, pcr,
  routerWithSwitch, rowsOf, sbRoutingFlows, vmPort, waitSb, type Finding, type Ran, type Report,
} from './support.js';

let sb: Sandbox;
let md: ManifestDir;
const db = () => ['--nb', sb.nbRemote, '--sb', sb.sbRemote];

const CH1 = { chassis: 'ch1', hostname: 'host1', encapType: 'geneve', encapIp: '192.168.0.11' };
const CH2 = { chassis: 'ch2', hostname: 'host2', encapType: 'geneve', encapIp: '192.168.0.12' };

async function check(name: string, ...docs: unknown[]): Promise<{ r: Ran; rep: Report }> {
  const f = await md.write(`${name}.yaml`, ...docs);
  const r = await cli(['check', ...db(), '-f', f, '--output', 'json']);
  const rep = parseReport(r);
  // The exit code and the findings must agree: 0 <=> no finding, 3 <=> drift remains.
  expect(r.code, describeRun(r)).toBe(rep.findings.length === 0 ? 0 : 3);
  return { r, rep };
}

function only(rep: Report, kind: string): Finding {
  const fs = rep.findings.filter((f) => f.kind === kind);
  expect(fs.length, `${kind} in ${JSON.stringify(rep.findings, null, 1)}`).toBeGreaterThanOrEqual(1);
  return fs[0]!;
}

// One suite per OVN release (test/support/releases.ts); body not re-indented to keep the diff small.
for (const release of RELEASES) describeRelease(release, () => {
beforeAll(async () => {
  await ensureBuilt();
  md = await ManifestDir.create();
  sb = await release.start();
  // r1: the cluster router with the VM switch (v4 + v6), and a second port that uses route table T.
  await routerWithSwitch(sb, 'r1', 'ls1', ['10.9.2.1/24', 'fd00:2::1/64']);
  await routerWithSwitch(sb, 'r1', 'lst', ['10.40.0.1/24'], ['route_table=T']);
  // r2: another router with its own VM switch; r3: a router that cannot reach ls1.
  await routerWithSwitch(sb, 'r2', 'ls2', ['10.20.0.1/24']);
  await routerWithSwitch(sb, 'r3', 'ls3', ['10.30.0.1/24']);
  await vmPort(sb, 'ls1', 'vm1', ['10.9.2.146', 'fd00:2::92']);
  await vmPort(sb, 'ls1', 'vm2', ['10.9.2.147', 'fd00:2::93']);
  await vmPort(sb, 'ls1', 'vm3', ['10.9.2.148']); // never bound
  await vmPort(sb, 'ls1', 'vm4', ['10.9.2.160', '10.9.2.161']); // nexthop is its second address
  await vmPort(sb, 'ls2', 'vm5', ['10.20.0.5']);
  await chassis(sb, 'ch1', '192.168.0.11', 'host1');
  await chassis(sb, 'ch2', '192.168.0.12', 'host2');
  await bind(sb, 'vm1', 'ch1');
  await bind(sb, 'vm2', 'ch2');
  await bind(sb, 'vm4', 'ch1');
  await bind(sb, 'vm5', 'ch2');

  const add = (...a: string[]) => sb.nbctl(...a);
  await add('lr-route-add', 'r1', '10.9.52.144/28', '10.9.2.146');
  await add('lr-route-add', 'r1', '10.9.54.0/24', '10.9.2.147'); // NexthopMismatch
  await add('lr-route-add', 'r1', '10.9.55.0/24', '10.9.2.146'); // + ECMP member below
  await add('--ecmp', 'lr-route-add', 'r1', '10.9.55.0/24', '10.9.2.147');
  await add('lr-route-add', 'r1', '10.9.56.0/24', '10.9.2.146'); // + unnormalised twin below
  await add('--id=@r', 'create', 'Logical_Router_Static_Route', 'ip_prefix="10.9.56.7/24"', 'nexthop="10.9.2.147"', '--', 'add', 'Logical_Router', 'r1', 'static_routes', '@r');
  await add('lr-route-add', 'r1', '10.9.57.0/24', '10.9.2.200'); // no port carries .200
  await add('lr-route-add', 'r1', '10.9.58.0/24', '10.9.2.148'); // vm3, unbound
  await add('lr-route-add', 'r1', '10.9.59.0/24', '10.9.2.161'); // vm4's second IP
  await add('lr-route-add', 'r3', '10.9.70.0/24', '10.9.2.146'); // r3 has no path: no flow
  await add('lr-route-add', 'r1', 'fd00:52::/64', 'fd00:2::92');
  await add('lr-route-add', 'r1', 'fd00:53::/64', 'fd00:2::93');
  await add('--policy=src-ip', 'lr-route-add', 'r1', '10.9.60.0/24', '10.9.2.146');
  await add('lr-route-add', 'r1', '10.9.61.0/24', '10.9.2.146');
  await add('--route-table=T', 'lr-route-add', 'r1', '10.9.61.0/24', '10.9.2.147');
  await add('--route-table=U', 'lr-route-add', 'r1', '10.9.62.0/24', '10.9.2.146'); // no port uses U
  await add('lr-route-add', 'r1', '10.9.63.0/24', '10.9.2.146');
  await add('lr-route-add', 'r2', '10.9.63.0/24', '10.20.0.5');
  await add('lr-route-add', 'r1', '10.9.64.0/24', 'discard');
  // rows written by other tools in non-canonical IPv6 text (northd normalises the prefix, copies the nexthop)
  await add('--id=@r', 'create', 'Logical_Router_Static_Route', 'ip_prefix="FD00:0054:0:0::/64"', 'nexthop="fd00:2:0:0::92"', '--', 'add', 'Logical_Router', 'r1', 'static_routes', '@r');
  await add('lr-route-add', 'r1', '10.9.65.0/24', '10.9.2.146', 'r1-ls1'); // explicit output port
  // a port whose address northd assigns (dynamic), on a switch with other_config:subnet
  await routerWithSwitch(sb, 'r1', 'lsd', ['10.50.0.1/24']);
  await sb.nbctl('set', 'Logical_Switch', 'lsd', 'other_config:subnet=10.50.0.0/24', 'other_config:exclude_ips=10.50.0.1..10.50.0.9');
  await sb.nbctl('lsp-add', 'lsd', 'vmd', '--', 'lsp-set-addresses', 'vmd', 'dynamic');
  await bind(sb, 'vmd', 'ch2');
  // edge prefixes: default routes and host routes (ovn-nbctl stores a /32 or /128 as a bare address)
  await add('lr-route-add', 'r1', '0.0.0.0/0', '10.9.2.146');
  await add('lr-route-add', 'r1', '::/0', 'fd00:2::92');
  await add('lr-route-add', 'r1', '10.9.77.5/32', '10.9.2.146');
  await add('lr-route-add', 'r1', 'fd00:77::5/128', 'fd00:2::92');
  await add('lr-route-add', 'r1', '10.9.80.0/24', '10.9.2.146'); // FlowStale later
  await add('lr-route-add', 'r1', 'fd00:80::/64', 'fd00:2::92'); // FlowStale later (v6)
  await waitSb(sb);
}, 180_000);

afterAll(async () => {
  await sb?.stop();
  await md?.remove();
});

itRunsRelease(release, () => sb);

describe('check: in sync', () => {
  it('exits 0 with no findings', async () => {
    const { r, rep } = await check('insync', pcr('vm1', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28'], expectedChassis: 'host1' }));
    expect(r.code).toBe(0);
    expect(rep.findings).toEqual([]);
  });

  it('a manifest prefix with host bits is bad input (exit 1) naming the prefix, as the CRD refuses it', async () => {
    const f = await md.write('hostbits.yaml', pcr('vm1', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.150/28'] }));
    const r = await cli(['check', ...db(), '-f', f]);
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toContain('host bits set in 10.9.52.150/28');
  });

  it('text output (default) exits 0 too and names the prefix', async () => {
    const f = await md.write('insync-text.yaml', pcr('vm1', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28'] }));
    const r = await cli(['check', ...db(), '-f', f]);
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout).toContain('10.9.52.144/28');
  });

  it('nexthop on the second address of a port, expectedChassis by chassis name', async () => {
    const { rep } = await check('second-ip', pcr('vm4', { router: 'r1', nexthop: '10.9.2.161', cidrs: ['10.9.59.0/24'], expectedChassis: 'ch1' }));
    expect(rep.findings).toEqual([]);
  });

  it('IPv6 route and nexthop in sync', async () => {
    const { rep } = await check('v6', pcr('v6', { router: 'r1', nexthop: 'fd00:2::92', cidrs: ['fd00:52::/64'], expectedChassis: 'host1' }));
    expect(rep.findings).toEqual([]);
  });

  it('IPv6: a non-canonical nexthop is the same route; a non-canonical prefix is bad input (exit 1), as the CRD refuses it', async () => {
    const { rep } = await check('v6-noncanon', pcr('v6', { router: 'r1', nexthop: 'FD00:2:0:0::92', cidrs: ['fd00:52::/64'] }));
    expect(rep.findings).toEqual([]);
    const f = await md.write('v6-noncanon-prefix.yaml', pcr('v6', { router: 'r1', nexthop: 'fd00:2::92', cidrs: ['fd00:52:0:0::/64'] }));
    const r = await cli(['check', ...db(), '-f', f]);
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toContain('fd00:52:0:0::/64');
  });

  it('src-ip policy route in sync', async () => {
    const { rep } = await check('srcip', pcr('src', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.60.0/24'], policy: 'src-ip' }));
    expect(rep.findings).toEqual([]);
  });

  it('same prefix in main and in route table T with different nexthops: both in sync', async () => {
    const { rep } = await check(
      'tables',
      pcr('main', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.61.0/24'] }),
      pcr('table-t', { router: 'r1', nexthop: '10.9.2.147', cidrs: ['10.9.61.0/24'], routeTable: 'T' }),
    );
    expect(rep.findings).toEqual([]);
  });

  it('route table no router port references (flow has its own reg7 id) is in sync', async () => {
    const flows = await sbRoutingFlows(sb, '10.9.62.0/24');
    expect(flows.length).toBe(1); // precondition: northd made the flow
    const { rep } = await check('table-u', pcr('table-u', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.62.0/24'], routeTable: 'U' }));
    expect(rep.findings).toEqual([]);
  });

  it('several routers with the same prefix to different nexthops: each in sync', async () => {
    const { rep } = await check(
      'routers',
      pcr('on-r1', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.63.0/24'] }),
      pcr('on-r2', { router: 'r2', nexthop: '10.20.0.5', cidrs: ['10.9.63.0/24'], expectedChassis: 'ch2' }),
    );
    expect(rep.findings).toEqual([]);
  });
});

describe('check: OVN written by other tools', () => {
  it('NB row with non-canonical IPv6 prefix and nexthop text is the same route', async () => {
    const { rep } = await check('v6-nb-noncanon', pcr('v6n', { router: 'r1', nexthop: 'fd00:2::92', cidrs: ['fd00:54::/64'] }));
    expect(rep.findings).toEqual([]);
  });

  it('route with an explicit output_port is in sync', async () => {
    const { rep } = await check('outport', pcr('op', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.65.0/24'] }));
    expect(rep.findings).toEqual([]);
  });

  it('nexthop on a port with a dynamic (northd-assigned) address is found and bound', async () => {
    const dyn = (await sb.nbctl('--bare', '--columns=dynamic_addresses', 'list', 'Logical_Switch_Port', 'vmd')).trim();
    const ip = dyn.split(/\s+/)[1]!;
    expect(ip).toMatch(/^10\.50\.0\.\d+$/); // precondition: northd assigned it
    await sb.nbctl('--wait=sb', 'lr-route-add', 'r1', '10.9.66.0/24', ip);
    const { rep } = await check('dynamic', pcr('dyn', { router: 'r1', nexthop: ip, cidrs: ['10.9.66.0/24'], expectedChassis: 'host2' }));
    expect(rep.findings).toEqual([]);
  });

  it('default routes (0.0.0.0/0, ::/0) and host routes (/32, /128 stored bare by ovn-nbctl) are in sync', async () => {
    const nbPrefixes = (await nbRoutes(sb, 'r1')).map((x) => x.prefix);
    expect(nbPrefixes).toEqual(expect.arrayContaining(['10.9.77.5', 'fd00:77::5'])); // precondition: stored bare
    const { rep } = await check(
      'edges',
      pcr('def4', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['0.0.0.0/0'] }),
      pcr('def6', { router: 'r1', nexthop: 'fd00:2::92', cidrs: ['::/0'] }),
      pcr('host4', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.77.5/32'] }),
      pcr('host6', { router: 'r1', nexthop: 'fd00:2::92', cidrs: ['fd00:77::5/128'] }),
    );
    expect(rep.findings).toEqual([]);
  });

  it('check without --repair writes nothing to the NB (rows and nb_cfg unchanged) even with drift', async () => {
    const rows = await nbRoutes(sb, 'r1');
    const cfg = await nbCfg(sb);
    const { r } = await check(
      'readonly',
      pcr('ro1', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.53.0/24', '10.9.54.0/24'] }),
      pcr('ro2', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.55.0/24'] }),
    );
    expect(r.code).toBe(3);
    expect(await nbRoutes(sb, 'r1')).toEqual(rows);
    expect(await nbCfg(sb)).toBe(cfg);
  });

  it('--output=json and -o json are the same flag', async () => {
    const f = await md.write('flags.yaml', pcr('vm1', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.53.0/24'] }));
    for (const form of [['--output=json'], ['-o', 'json']]) {
      const r = await cli(['check', ...db(), '-f', f, ...form]);
      expect(r.code, describeRun(r)).toBe(3);
      expect(kinds(parseReport(r))).toEqual(['RouteMissing']);
    }
  });

  it('text output with drift exits 3 and names the kind and prefix', async () => {
    const f = await md.write('text-drift.yaml', pcr('vm1', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.54.0/24'] }));
    const r = await cli(['check', ...db(), '-f', f]);
    expect(r.code, describeRun(r)).toBe(3);
    expect(r.stdout).toContain('10.9.54.0/24');
    expect(r.stdout).toContain('NexthopMismatch');
  });
});

describe('check: drift kinds', () => {
  it('RouterNotFound', async () => {
    const { rep } = await check('norouter', pcr('nr', { router: 'no-such-router', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28'] }));
    const f = only(rep, 'RouterNotFound');
    expect(f).toMatchObject({ route: 'nr', router: 'no-such-router', prefix: '10.9.52.144/28' });
  });

  it('RouteMissing', async () => {
    const { rep } = await check('missing', pcr('miss', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.53.0/24'] }));
    const f = only(rep, 'RouteMissing');
    expect(f).toMatchObject({ route: 'miss', router: 'r1', prefix: '10.9.53.0/24' });
    expect(f.expected.nexthop).toBe('10.9.2.146');
    expect(f.expected.hypervisor).toMatchObject(CH1);
  });

  it('RouteMissing when only a route with another policy exists (src-ip does not satisfy dst-ip)', async () => {
    const { rep } = await check('policy-missing', pcr('dst', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.60.0/24'] }));
    expect(kinds(rep)).toContain('RouteMissing');
  });

  it('RouteMissing when the prefix exists only in another route table', async () => {
    const { rep } = await check('table-missing', pcr('tbl', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.62.0/24'] }));
    expect(kinds(rep)).toContain('RouteMissing');
  });

  it('NexthopMismatch names both nexthops and both hypervisors', async () => {
    const { rep } = await check('mismatch', pcr('mm', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.54.0/24'] }));
    const f = only(rep, 'NexthopMismatch');
    expect(f).toMatchObject({ route: 'mm', router: 'r1', prefix: '10.9.54.0/24' });
    expect(f.expected).toMatchObject({ nexthop: '10.9.2.146', hypervisor: CH1 });
    expect(f.actual).toMatchObject({ nexthop: '10.9.2.147', hypervisor: CH2 });
    expect(f.message).toContain('10.9.2.147');
  });

  it('NexthopMismatch in a non-main route table', async () => {
    const { rep } = await check('table-mismatch', pcr('tm', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.61.0/24'], routeTable: 'T' }));
    const f = only(rep, 'NexthopMismatch');
    expect(f.actual.nexthop).toBe('10.9.2.147');
  });

  it('NexthopMismatch for IPv6', async () => {
    const { rep } = await check('v6-mismatch', pcr('v6mm', { router: 'r1', nexthop: 'fd00:2::92', cidrs: ['fd00:53::/64'] }));
    const f = only(rep, 'NexthopMismatch');
    expect(f.prefix).toBe('fd00:53::/64');
    expect(f.expected).toMatchObject({ nexthop: 'fd00:2::92', hypervisor: CH1 });
    expect(f.actual).toMatchObject({ nexthop: 'fd00:2::93', hypervisor: CH2 });
  });

  it('NexthopMismatch against a discard (blackhole) route', async () => {
    const { rep } = await check('discard', pcr('bh', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.64.0/24'] }));
    const f = only(rep, 'NexthopMismatch');
    expect(f.actual.nexthop).toBe('discard');
  });

  it('ConflictingRoute: an ECMP member with a second nexthop', async () => {
    const flows = await sbRoutingFlows(sb, '10.9.55.0/24');
    expect(flows[0]?.actions).toMatch(/select\(/); // precondition: northd made an ECMP group
    const { rep } = await check('ecmp', pcr('ecmp', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.55.0/24'] }));
    const conflicts = rep.findings.filter((f) => f.kind === 'ConflictingRoute');
    expect(conflicts.length, JSON.stringify(rep.findings)).toBeGreaterThanOrEqual(1);
    expect(conflicts.some((f) => f.actual.nexthop === '10.9.2.147' || f.message.includes('10.9.2.147'))).toBe(true);
    expect(conflicts[0]).toMatchObject({ router: 'r1', prefix: '10.9.55.0/24' });
  });

  it('ConflictingRoute: an unmanaged row for the same prefix written with host bits', async () => {
    const { rep } = await check('twin', pcr('twin', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.56.0/24'] }));
    const f = only(rep, 'ConflictingRoute');
    expect(f.prefix).toBe('10.9.56.0/24');
    expect(f.actual.nexthop === '10.9.2.147' || f.message.includes('10.9.2.147')).toBe(true);
  });

  it('FlowMissing: NB route whose nexthop no router port reaches gets no SB flow', async () => {
    expect(await sbRoutingFlows(sb, '10.9.70.0/24')).toEqual([]); // precondition
    const { rep } = await check('noflow', pcr('nf', { router: 'r3', nexthop: '10.9.2.146', cidrs: ['10.9.70.0/24'] }));
    const f = only(rep, 'FlowMissing');
    expect(f).toMatchObject({ router: 'r3', prefix: '10.9.70.0/24' });
    expect(kinds(rep)).not.toContain('RouteMissing');
    expect(kinds(rep)).not.toContain('NexthopMismatch');
  });

  it('NexthopPortNotFound', async () => {
    const { rep } = await check('noport', pcr('np', { router: 'r1', nexthop: '10.9.2.200', cidrs: ['10.9.57.0/24'] }));
    const f = only(rep, 'NexthopPortNotFound');
    expect(f).toMatchObject({ router: 'r1', prefix: '10.9.57.0/24' });
    expect(f.expected.nexthop).toBe('10.9.2.200');
    expect(kinds(rep)).not.toContain('FlowMissing');
  });

  it('NexthopUnbound', async () => {
    const { rep } = await check('unbound', pcr('ub', { router: 'r1', nexthop: '10.9.2.148', cidrs: ['10.9.58.0/24'] }));
    const f = only(rep, 'NexthopUnbound');
    expect(f).toMatchObject({ router: 'r1', prefix: '10.9.58.0/24' });
  });

  it('NexthopUnbound after the chassis the port was bound to is deleted (node removed)', async () => {
    await vmPort(sb, 'ls1', 'vm6', ['10.9.2.170']);
    await chassis(sb, 'ch3', '192.168.0.13', 'host3');
    await bind(sb, 'vm6', 'ch3');
    await sb.nbctl('--wait=sb', 'lr-route-add', 'r1', '10.9.67.0/24', '10.9.2.170');
    const spec = pcr('gone', { router: 'r1', nexthop: '10.9.2.170', cidrs: ['10.9.67.0/24'] });
    expect((await check('bound-ch3', spec)).rep.findings).toEqual([]); // precondition: bound, in sync
    await sb.sbctl('chassis-del', 'ch3');
    const { rep } = await check('chassis-deleted', spec);
    only(rep, 'NexthopUnbound');
  });

  it('ChassisMismatch by chassis name: expected and actual hypervisors', async () => {
    const { rep } = await check('chassis-name', pcr('cm', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28'], expectedChassis: 'ch2' }));
    const f = only(rep, 'ChassisMismatch');
    expect(f).toMatchObject({ route: 'cm', router: 'r1', prefix: '10.9.52.144/28' });
    expect(f.actual.hypervisor).toMatchObject(CH1);
    expect(f.expected.hypervisor).toMatchObject({ chassis: 'ch2' });
  });

  it('ChassisMismatch by hostname', async () => {
    const { rep } = await check('chassis-host', pcr('ch', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28'], expectedChassis: 'host2' }));
    const f = only(rep, 'ChassisMismatch');
    expect(f.actual.hypervisor).toMatchObject(CH1);
    expect(f.expected.hypervisor).toMatchObject({ hostname: 'host2' });
  });

  it('ChassisMismatch when expectedChassis names no chassis at all', async () => {
    const { rep } = await check('chassis-none', pcr('cn', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28'], expectedChassis: 'host-gone' }));
    only(rep, 'ChassisMismatch');
  });

  it('IPv6 ChassisMismatch by hostname', async () => {
    const { rep } = await check('v6-chassis', pcr('v6c', { router: 'r1', nexthop: 'fd00:2::92', cidrs: ['fd00:52::/64'], expectedChassis: 'host2' }));
    only(rep, 'ChassisMismatch');
  });
});

describe('check: JSON shape', () => {
  it('is exactly {summary, findings, routes}; every finding has exactly the contract keys', async () => {
    const { rep, r } = await check(
      'shape',
      pcr('a', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28', '10.9.53.0/24', '10.9.54.0/24'] }),
      pcr('b', { router: 'no-such-router', nexthop: '10.9.2.146', cidrs: ['10.9.99.0/24'] }),
      pcr('c', { router: 'r1', nexthop: '10.9.2.148', cidrs: ['10.9.58.0/24'] }),
    );
    expect(r.code).toBe(3);
    expect(Object.keys(rep).sort()).toEqual(['findings', 'routes', 'summary']);
    expect(typeof rep.summary).toBe('object');
    expect(Array.isArray(rep.findings)).toBe(true);
    expect(rep.findings.length).toBeGreaterThanOrEqual(4);
    for (const f of rep.findings) {
      expect(Object.keys(f).sort()).toEqual(['actual', 'expected', 'kind', 'message', 'prefix', 'route', 'router']);
      expect(typeof f.kind).toBe('string');
      expect(typeof f.message).toBe('string');
      expect(f.message.length).toBeGreaterThan(0);
      expect(typeof f.expected).toBe('object');
      expect(typeof f.actual).toBe('object');
      for (const side of [f.expected, f.actual]) {
        if (side.hypervisor !== undefined) {
          for (const k of Object.keys(side.hypervisor)) expect(['chassis', 'hostname', 'encapType', 'encapIp']).toContain(k);
        }
      }
    }
    expect(kinds(rep)).toEqual(expect.arrayContaining(['RouteMissing', 'NexthopMismatch', 'RouterNotFound', 'NexthopUnbound']));
    // the in-sync prefix of route `a` yields no finding
    expect(rep.findings.filter((f) => f.prefix === '10.9.52.144/28')).toEqual([]);
  });
});

// Runs last: stops northd, so the SB falls behind the NB the way it does when northd is down.
describe('check: SB behind NB (northd stopped)', () => {
  it('FlowStale for IPv4 and IPv6: SB still routes to the old nexthop; actual names the old hypervisor', async () => {
    await sb.stopNorthd();
    try {
      const [v4] = (await nbRoutes(sb, 'r1')).filter((x) => x.prefix === '10.9.80.0/24');
      const [v6] = (await nbRoutes(sb, 'r1')).filter((x) => x.prefix === 'fd00:80::/64');
      await sb.nbctl('set', 'Logical_Router_Static_Route', v4!.uuid, 'nexthop="10.9.2.147"');
      await sb.nbctl('set', 'Logical_Router_Static_Route', v6!.uuid, 'nexthop="fd00:2::93"');
      const { rep } = await check(
        'stale',
        pcr('s4', { router: 'r1', nexthop: '10.9.2.147', cidrs: ['10.9.80.0/24'] }),
        pcr('s6', { router: 'r1', nexthop: 'fd00:2::93', cidrs: ['fd00:80::/64'] }),
      );
      const stale = rep.findings.filter((f) => f.kind === 'FlowStale');
      const s4 = stale.find((f) => f.prefix === '10.9.80.0/24');
      const s6 = stale.find((f) => f.prefix === 'fd00:80::/64');
      expect(s4, JSON.stringify(rep.findings)).toBeDefined();
      expect(s6, JSON.stringify(rep.findings)).toBeDefined();
      expect(s4!.actual).toMatchObject({ nexthop: '10.9.2.146', hypervisor: CH1 });
      expect(s4!.expected).toMatchObject({ nexthop: '10.9.2.147', hypervisor: CH2 });
      expect(s6!.actual).toMatchObject({ nexthop: 'fd00:2::92', hypervisor: CH1 });
      expect(kinds(rep)).not.toContain('NexthopMismatch');

      // someone asks for --wait=sb: NB_Global.nb_cfg moves ahead of SB_Global.nb_cfg
      await sb.nbctl('set', 'NB_Global', '.', `nb_cfg=${(await nbCfg(sb)) + 1}`);
      const lag = await check('lag', pcr('s4', { router: 'r1', nexthop: '10.9.2.147', cidrs: ['10.9.80.0/24'] }));
      expect(kinds(lag.rep)).toContain('NorthdLagging');
      for (const f of lag.rep.findings) {
        expect(Object.keys(f).sort()).toEqual(['actual', 'expected', 'kind', 'message', 'prefix', 'route', 'router']);
      }
      expect(kinds(lag.rep)).toContain('FlowStale');
    } finally {
      await sb.startNorthd();
    }
    const healed = await check(
      'healed',
      pcr('s4', { router: 'r1', nexthop: '10.9.2.147', cidrs: ['10.9.80.0/24'] }),
      pcr('s6', { router: 'r1', nexthop: 'fd00:2::93', cidrs: ['fd00:80::/64'] }),
    );
    expect(healed.rep.findings).toEqual([]);
  });

  it('SB-only drift in the OVN 25.03 action form (reg5 source, reg9[9], other table_id/priority) is read by meaning', async () => {
    await sb.stopNorthd();
    try {
      const flowOf = async (prefix: string): Promise<string> => {
        const out = await sb.sbctl('--bare', '--columns=_uuid,match', 'find', 'Logical_Flow', 'external_ids:stage-name=lr_in_ip_routing');
        const lines = out.split('\n').map((l) => l.trim()).filter(Boolean);
        for (let i = 0; i + 1 < lines.length; i += 2) if (lines[i + 1]!.endsWith(`.dst == ${prefix}`)) return lines[i]!;
        throw new Error(`no flow for ${prefix}:\n${out}`);
      };
      const v4 = await flowOf('10.9.52.144/28');
      const v4same = await flowOf('10.9.63.0/24');
      const v6 = await flowOf('fd00:52::/64');
      const lrpMac = (await sb.nbctl('--bare', '--columns=mac', 'list', 'Logical_Router_Port', 'r1-ls1')).trim();
      const act = (nhReg: string, nh: string, srcReg: string, src: string) =>
        `actions="ip.ttl--; reg8[0..15] = 0; ${nhReg} = ${nh}; ${srcReg} = ${src}; eth.src = ${lrpMac}; outport = \\"r1-ls1\\"; flags.loopback = 1; reg9[9] = 1; next;"`;
      await sb.sbctl('set', 'Logical_Flow', v4, act('reg0', '10.9.2.147', 'reg5', '10.9.2.1'), 'table_id=15', 'priority=228');
      await sb.sbctl('set', 'Logical_Flow', v4same, act('reg0', '10.9.2.146', 'reg5', '10.9.2.1'), 'table_id=15', 'priority=196');
      await sb.sbctl('set', 'Logical_Flow', v6, act('xxreg0', 'fd00:2::93', 'xxreg1', 'fd00:2::1'), 'table_id=15', 'priority=516');
      const { rep } = await check(
        'sb-2503',
        pcr('a', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28', '10.9.63.0/24'] }),
        pcr('b', { router: 'r1', nexthop: 'fd00:2::92', cidrs: ['fd00:52::/64'] }),
      );
      const stale = rep.findings.filter((f) => f.kind === 'FlowStale');
      expect(stale.find((f) => f.prefix === '10.9.52.144/28')?.actual, JSON.stringify(rep.findings)).toMatchObject({ nexthop: '10.9.2.147', hypervisor: CH2 });
      expect(stale.find((f) => f.prefix === 'fd00:52::/64')?.actual, JSON.stringify(rep.findings)).toMatchObject({ nexthop: 'fd00:2::93', hypervisor: CH2 });
      // the rewritten-but-same flow is still in sync
      expect(rep.findings.filter((f) => f.prefix === '10.9.63.0/24' && f.kind !== 'NorthdLagging')).toEqual([]);
    } finally {
      await sb.startNorthd();
    }
  });

  it('a flow that references its router through logical_dp_group is still the router\'s flow', async () => {
    await sb.stopNorthd();
    try {
      const rows = rowsOf(await sb.sbctl('--format=json', '--columns=_uuid,logical_datapath,match,actions', 'find', 'Logical_Flow', 'external_ids:stage-name=lr_in_ip_routing'));
      // r1's flow for 10.9.63.0/24 (r2 has one too): the one whose actions leave through r1-ls1
      const mine = rows.find((r) => String(r.match).endsWith('.dst == 10.9.63.0/24') && String(r.actions).includes('"r1-ls1"'));
      const flow = String(mine?._uuid ?? '');
      const dp = String(mine?.logical_datapath ?? '');
      const acts = String(mine?.actions ?? '');
      expect(acts).toContain('reg0 = 10.9.2.146');
      const moved = acts.replace('reg0 = 10.9.2.146', 'reg0 = 10.9.2.147');
      await sb.sbctl(
        '--id=@g', 'create', 'Logical_DP_Group', `datapaths=${dp}`, '--',
        'set', 'Logical_Flow', flow, 'logical_dp_group=@g', `actions=${JSON.stringify(moved)}`, '--',
        'clear', 'Logical_Flow', flow, 'logical_datapath',
      );
      const { rep } = await check('dpgroup', pcr('g', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.63.0/24'] }));
      const f = rep.findings.find((x) => x.kind === 'FlowStale');
      expect(f, JSON.stringify(rep.findings)).toBeDefined();
      expect(f!.actual.nexthop).toBe('10.9.2.147');
      expect(kinds(rep)).not.toContain('FlowMissing');
    } finally {
      await sb.startNorthd();
    }
  });
});
});
