// Acceptance (second round): `ovn-drift check` over TLS (NB and SB both behind pssl listeners with
// certificates made by openssl at test time), at scale (50 routers x 20 routes, half declared, a
// handful wrong in different ways: the findings must be exactly those), and with IPv4/IPv6
// dst-ip and src-ip routes for the same prefix on one router. Built CLI as a child process against
// a real NB/SB + ovn-northd; expectations from DESIGN.md and OVN's behaviour, not the code.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvnSandbox, freePort } from '../../operator/sandbox/sandbox.js';
import {
  ManifestDir, chassis, cli, describeRun, ensureBuilt, kinds, mac, makePki, nbRoutes, parseReport, pcr, routerWithSwitch,
  rowsOf, vmPort, waitSb, type Finding, type Pki, type Ran, type Report, type RouteSpec,
} from './support.js';

let sb: OvnSandbox;
let md: ManifestDir;
const db = () => ['--nb', sb.nbRemote, '--sb', sb.sbRemote];
const out = (r: Ran) => `${r.stdout}\n${r.stderr}`;
const key = (f: Finding) => `${f.kind} ${f.router} ${f.prefix}`;

beforeAll(async () => {
  await ensureBuilt();
  md = await ManifestDir.create();
  sb = await OvnSandbox.start();
  await chassis(sb, 'ch1', '192.168.0.11', 'host1');
  await chassis(sb, 'ch2', '192.168.0.12', 'host2');
}, 120_000);

afterAll(async () => {
  await sb?.stop();
  await md?.remove();
});

// ---- TLS -------------------------------------------------------------------------------------

describe('check over TLS (NB and SB behind pssl listeners)', () => {
  let pki: Pki;
  let nbSsl = '';
  let sbSsl = '';
  let good = '';
  let drift = '';
  const tls = (k = 'client.key', c = 'client.crt', ca = 'ca.crt') =>
    ['--private-key', pki.path(k), '--certificate', pki.path(c), '--ca-cert', pki.path(ca)];
  const ssl = (extra: string[], nb = nbSsl, sbr = sbSsl, f = good) =>
    cli(['check', '--nb', nb, '--sb', sbr, '-f', f, '--output', 'json', '--timeout', '5', ...extra], { killAfterMs: 60_000 });

  beforeAll(async () => {
    pki = await makePki(join(md.dir, 'pki'));
    await routerWithSwitch(sb, 'rt', 'lst', ['10.70.0.1/24']);
    await vmPort(sb, 'lst', 'tvm1', ['10.70.0.10']);
    await sb.nbctl('lr-route-add', 'rt', '10.71.0.0/24', '10.70.0.10');
    await waitSb(sb);
    await sb.sbctl('lsp-bind', 'tvm1', 'ch1');
    good = await md.write('tls-good.yaml', pcr('tls-good', { router: 'rt', nexthop: '10.70.0.10', cidrs: ['10.71.0.0/24'] }));
    drift = await md.write('tls-drift.yaml', pcr('tls-drift', { router: 'rt', nexthop: '10.70.0.10', cidrs: ['10.72.0.0/24'] }));
    for (const [which, set] of [['nb', (r: string) => (nbSsl = r)], ['sb', (r: string) => (sbSsl = r)]] as const) {
      const port = await freePort();
      const m = sb[which].members[0]!;
      m.extraArgs = [`--private-key=${pki.path('server.key')}`, `--certificate=${pki.path('server.crt')}`,
        `--ca-cert=${pki.path('ca.crt')}`, `--remote=pssl:${port}:127.0.0.1`];
      await m.stop();
      await m.start();
      set(`ssl:127.0.0.1:${port}`);
    }
    await sb.stopNorthd();
    await sb.startNorthd();
    await waitSb(sb);
  }, 180_000);

  it('right key/cert/CA on both NB and SB: in sync -> 0', async () => {
    const r = await ssl(tls());
    expect(r.code, describeRun(r)).toBe(0);
    expect(parseReport(r).findings).toEqual([]);
  });

  it('right key/cert/CA: drift -> 3 with the finding (TLS does not hide drift)', async () => {
    const r = await ssl(tls(), nbSsl, sbSsl, drift);
    expect(r.code, describeRun(r)).toBe(3);
    expect(parseReport(r).findings.map(key)).toEqual(['RouteMissing rt 10.72.0.0/24']);
  });

  it('--repair over TLS creates the route and the re-check over TLS is clean', async () => {
    const f = await md.write('tls-repair.yaml', pcr('tls-repair', { router: 'rt', nexthop: '10.70.0.10', cidrs: ['10.73.0.0/24'] }));
    const r = await ssl([...tls(), '--repair'], nbSsl, sbSsl, f);
    expect(r.code, describeRun(r)).toBe(0);
    expect((await nbRoutes(sb, 'rt')).filter((x) => x.prefix === '10.73.0.0/24').map((x) => x.nexthop)).toEqual(['10.70.0.10']);
  });

  it('wrong CA (server cert not signed by it) -> 2, bounded, message names the remote and TLS', async () => {
    const r = await ssl(tls('client.key', 'client.crt', 'otherca.crt'));
    expect(r.killed).toBe(false);
    expect(r.code, describeRun(r)).toBe(2);
    expect(out(r)).toContain(nbSsl);
    expect(out(r)).toMatch(/tls|ssl|certificate/i);
  });

  it('wrong CA on the SB side only (NB over tcp) -> 2 naming the SB remote', async () => {
    const r = await ssl(tls('client.key', 'client.crt', 'otherca.crt'), sb.nbRemote, sbSsl);
    expect(r.code, describeRun(r)).toBe(2);
    expect(out(r)).toContain(sbSsl);
  });

  it('a client certificate the server does not trust (other CA) -> 2 naming the remote', async () => {
    const r = await ssl(tls('rogue.key', 'rogue.crt', 'ca.crt'));
    expect(r.killed).toBe(false);
    expect(r.code, describeRun(r)).toBe(2);
    expect(out(r)).toContain(nbSsl);
  });

  it('a private key that does not match the certificate: clear message naming key and certificate, exit 1', async () => {
    const r = await ssl(tls('stray.key', 'client.crt', 'ca.crt'));
    expect(r.killed).toBe(false);
    // recorded judgement: a local configuration error (the files disagree) is bad input -> 1; 2 would
    // claim the databases are unreachable. The message must say the key and certificate do not match.
    expect(out(r)).toMatch(/key/i);
    expect(out(r)).toMatch(/certificate|cert/i);
    expect(out(r)).toMatch(/match/i);
    expect(r.code, describeRun(r)).toBe(1);
  });

  it('missing private key file -> 1 naming the flag or the file', async () => {
    const r = await ssl(tls('nope.key'));
    expect(r.killed).toBe(false);
    expect(r.code, describeRun(r)).toBe(1);
    expect(out(r)).toMatch(/nope\.key|--private-key/);
  });

  it('missing certificate file -> 1 naming it', async () => {
    const r = await ssl(tls('client.key', 'nope.crt'));
    expect(r.code, describeRun(r)).toBe(1);
    expect(out(r)).toMatch(/nope\.crt|--certificate/);
  });

  it('missing CA file -> 1 naming it', async () => {
    const r = await ssl(tls('client.key', 'client.crt', 'nope-ca.crt'));
    expect(r.code, describeRun(r)).toBe(1);
    expect(out(r)).toMatch(/nope-ca\.crt|--ca-cert/);
  });

  it('an ssl: remote without any key/certificate/CA -> 1 naming what is needed', async () => {
    const r = await ssl([]);
    expect(r.killed).toBe(false);
    expect(r.code, describeRun(r)).toBe(1);
    expect(out(r)).toMatch(/--private-key|--certificate|--ca-cert/);
  });
});

// ---- scale -----------------------------------------------------------------------------------

describe('scale: 50 routers x 20 routes, half declared, a handful wrong', () => {
  const R = 50;
  const A = (i: number) => `10.100.1.${i + 1}`; // port a<i>, bound to ch1
  const B = (i: number) => `10.100.2.${i + 1}`; // port b<i>, bound to ch2
  const U = (i: number) => `10.100.3.${i + 1}`; // port u<i>, never bound
  const pfx = (i: number, j: number) => `10.${i}.${j}.0/24`;
  let dir: ManifestDir;
  let files: string;

  /** Every static route as "uuid prefix nexthop policy table external_ids" lines. */
  async function nbDump(withIds: boolean): Promise<string[]> {
    const rows = rowsOf(await sb.nbctl('--format=json', '--columns=_uuid,ip_prefix,nexthop,policy,route_table,external_ids', 'list', 'Logical_Router_Static_Route'));
    return rows.map((r) => `${r.ip_prefix} ${r.nexthop} ${JSON.stringify(r.policy)} ${r.route_table} ${withIds ? `${r._uuid} ${JSON.stringify(r.external_ids)}` : ''}`).sort();
  }

  const STALE = pfx(11, 3);
  const EXPECTED_INITIAL = [
    `RouteMissing r3 ${pfx(3, 5)}`,
    `NexthopMismatch r7 ${pfx(7, 12)}`,
    `FlowStale r11 ${STALE}`,
    `NexthopUnbound r15 10.15.30.0/24`,
    `ChassisMismatch r19 10.19.31.0/24`,
    `NexthopPortNotFound r21 10.21.32.0/24`,
    `ConflictingRoute r23 ${pfx(23, 4)}`,
    'RouterNotFound r-gone 10.200.0.0/24',
  ].sort();
  const UNFIXABLE = [
    `NexthopUnbound r15 10.15.30.0/24`,
    `ChassisMismatch r19 10.19.31.0/24`,
    `NexthopPortNotFound r21 10.21.32.0/24`,
    'RouterNotFound r-gone 10.200.0.0/24',
  ].sort();
  /** Findings without NorthdLagging (nb_cfg was not bumped, so northd lag may or may not be seen). */
  const perRoute = (rep: Report) => rep.findings.filter((f) => f.kind !== 'NorthdLagging').map(key).sort();
  const checkAll = (...flags: string[]) => cli(['check', ...db(), '-f', files, '--output', 'json', ...flags], { killAfterMs: 180_000 });

  beforeAll(async () => {
    dir = await ManifestDir.create();
    // one switch, 50 router ports, 2 VM ports per router (+ unbound ports for r15 and r30)
    const topo: string[] = ['ls-add', 'lsx'];
    for (let i = 0; i < R; i++) {
      topo.push('--', 'lr-add', `r${i}`, '--', 'lrp-add', `r${i}`, `r${i}-lsx`, mac(), `10.100.0.${i + 1}/16`);
      topo.push('--', 'lsp-add', 'lsx', `lsx-r${i}`, '--', 'lsp-set-type', `lsx-r${i}`, 'router', '--', 'lsp-set-addresses', `lsx-r${i}`, 'router');
      topo.push('--', 'lsp-set-options', `lsx-r${i}`, `router-port=r${i}-lsx`);
      topo.push('--', 'lsp-add', 'lsx', `a${i}`, '--', 'lsp-set-addresses', `a${i}`, `${mac()} ${A(i)}`);
      topo.push('--', 'lsp-add', 'lsx', `b${i}`, '--', 'lsp-set-addresses', `b${i}`, `${mac()} ${B(i)}`);
    }
    for (const i of [15, 30]) topo.push('--', 'lsp-add', 'lsx', `u${i}`, '--', 'lsp-set-addresses', `u${i}`, `${mac()} ${U(i)}`);
    await sb.nbctl(...topo);
    // 20 routes per router: j 0..9 via a<i>, 10..19 via b<i>; some built wrong on purpose
    const routes: string[] = [];
    const add = (...a: string[]) => routes.push(...(routes.length ? ['--'] : []), ...a);
    for (let i = 0; i < R; i++) {
      for (let j = 0; j < 20; j++) {
        if ((i === 3 && j === 5) || (i === 40 && j === 1)) continue; // missing (r40 is not declared)
        let nh = j < 10 ? A(i) : B(i);
        if (i === 7 && j === 12) nh = A(i); // NexthopMismatch (unowned)
        if (i === 11 && j === 3) nh = B(i); // made right later with northd stopped -> FlowStale
        add('lr-route-add', `r${i}`, pfx(i, j), nh);
      }
    }
    add('--ecmp', 'lr-route-add', 'r23', pfx(23, 4), B(23)); // ConflictingRoute
    add('--ecmp', 'lr-route-add', 'r31', pfx(31, 0), B(31)); // undeclared ECMP: no finding
    add('lr-route-add', 'r15', '10.15.30.0/24', U(15)); // NexthopUnbound
    add('lr-route-add', 'r30', '10.30.30.0/24', U(30)); // undeclared, unbound: no finding
    add('lr-route-add', 'r19', '10.19.31.0/24', A(19)); // ChassisMismatch (a19 on ch1, expected ch2)
    add('lr-route-add', 'r21', '10.21.32.0/24', '10.100.9.99'); // no port has it: NexthopPortNotFound
    await sb.nbctl(...routes);
    await sb.nbctl('--wait=sb', '--timeout=120', 'sync');
    const binds: string[] = [];
    for (let i = 0; i < R; i++) binds.push(...(binds.length ? ['--'] : []), 'lsp-bind', `a${i}`, 'ch1', '--', 'lsp-bind', `b${i}`, 'ch2');
    await sb.sbctl(...binds);

    // manifests for routers 0..24: two PodCIDRRoutes each (10 prefixes per nexthop), plus the odd ones
    const docs: unknown[] = [];
    for (let i = 0; i < R / 2; i++) {
      docs.push(pcr(`r${i}-a`, { router: `r${i}`, nexthop: A(i), cidrs: Array.from({ length: 10 }, (_, j) => pfx(i, j)) }));
      docs.push(pcr(`r${i}-b`, { router: `r${i}`, nexthop: B(i), cidrs: Array.from({ length: 10 }, (_, j) => pfx(i, j + 10)) }));
    }
    docs.push(pcr('r15-u', { router: 'r15', nexthop: U(15), cidrs: ['10.15.30.0/24'] }));
    docs.push(pcr('r19-c', { router: 'r19', nexthop: A(19), cidrs: ['10.19.31.0/24'], expectedChassis: 'ch2' }));
    docs.push(pcr('r21-n', { router: 'r21', nexthop: '10.100.9.99', cidrs: ['10.21.32.0/24'] }));
    docs.push(pcr('gone', { router: 'r-gone', nexthop: '10.100.1.1', cidrs: ['10.200.0.0/24'] }));
    // split over several files in a directory, like a GitOps repo
    for (let k = 0; k < docs.length; k += 13) await dir.write(`routes-${k}.yaml`, ...docs.slice(k, k + 13));
    files = dir.dir;
  }, 300_000);

  afterAll(async () => {
    await dir?.remove();
  });

  it('precondition: 1,000+ NB routes and their SB flows exist', async () => {
    expect((await nbDump(false)).length).toBeGreaterThanOrEqual(1000);
    const flows = rowsOf(await sb.sbctl('--format=json', '--columns=match', 'find', 'Logical_Flow', 'external_ids:stage-name=lr_in_ip_routing'));
    expect(flows.filter((f) => /reg7 == 0 && ip4.dst == 10\.\d+\.\d+\.0\/24/.test(f.match as string)).length).toBeGreaterThanOrEqual(1000);
  });

  it('with northd stopped and one route fixed behind its back: exactly the expected findings, exit 3', async () => {
    await sb.stopNorthd();
    try {
      const [row] = (await nbRoutes(sb, 'r11')).filter((x) => x.prefix === STALE);
      await sb.nbctl('set', 'Logical_Router_Static_Route', row!.uuid, `nexthop="${A(11)}"`);
      const r = await checkAll();
      expect(r.code, describeRun(r)).toBe(3);
      const rep = parseReport(r);
      expect(perRoute(rep)).toEqual(EXPECTED_INITIAL);
      const stale = rep.findings.find((f) => f.kind === 'FlowStale')!;
      expect(stale.expected.nexthop).toBe(A(11));
      expect(stale.actual.nexthop).toBe(B(11));
      expect(stale.actual.hypervisor).toMatchObject({ chassis: 'ch2' });
      const mm = rep.findings.find((f) => f.kind === 'NexthopMismatch')!;
      expect(mm).toMatchObject({ route: 'r7-b', expected: { nexthop: B(7) }, actual: { nexthop: A(7) } });
    } finally {
      await sb.startNorthd();
    }
    await waitSb(sb);
  });

  it('--repair fixes what it owns or creates and leaves unowned rows alone; --repair --adopt fixes the rest it may', async () => {
    const before = await nbDump(true);
    const r1 = await checkAll('--repair');
    expect(r1.code, describeRun(r1)).toBe(3);
    // FlowStale healed by northd; RouteMissing created; unowned mismatch/ECMP remain without --adopt
    expect(perRoute(parseReport(r1))).toEqual([...UNFIXABLE, `NexthopMismatch r7 ${pfx(7, 12)}`, `ConflictingRoute r23 ${pfx(23, 4)}`].sort());
    const after1 = await nbDump(true);
    const added = after1.filter((l) => !before.includes(l));
    const removed = before.filter((l) => !after1.includes(l));
    expect(removed, 'no existing row changed without --adopt').toEqual([]);
    expect(added.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual([`${pfx(3, 5)} ${A(3)}`]);

    const r2 = await checkAll('--repair', '--adopt');
    expect(r2.code, describeRun(r2)).toBe(3);
    expect(perRoute(parseReport(r2))).toEqual(UNFIXABLE);
    const r7 = (await nbRoutes(sb, 'r7')).filter((x) => x.prefix === pfx(7, 12));
    expect(r7.map((x) => x.nexthop)).toEqual([B(7)]);
    const r23 = (await nbRoutes(sb, 'r23')).filter((x) => x.prefix === pfx(23, 4));
    expect(r23.map((x) => x.nexthop)).toEqual([A(23)]);
    // routes nobody declared (routers 25..49, incl. the r31 ECMP pair and r30's unbound route) are untouched
    const undeclared = (lines: string[]) => lines.filter((l) => Number(l.split('.')[1]) >= 25 && l.startsWith('10.') && !l.startsWith('10.100.') && !l.startsWith('10.200.'));
    expect(undeclared(await nbDump(true))).toEqual(undeclared(before));
    // only the two adopted prefixes changed (prefix + nexthop view) in the second pass
    const view = (lines: string[]) => lines.map((l) => l.split(' ').slice(0, 2).join(' '));
    const after2 = view(await nbDump(false));
    expect(after2.filter((l) => !view(after1).includes(l)).sort()).toEqual([`${pfx(7, 12)} ${B(7)}`]);
    expect(view(after1).filter((l) => !after2.includes(l)).sort()).toEqual([`${pfx(23, 4)} ${B(23)}`, `${pfx(7, 12)} ${A(7)}`].sort());
    // and a plain check agrees
    const r3 = await checkAll();
    expect(r3.code, describeRun(r3)).toBe(3);
    expect(perRoute(parseReport(r3))).toEqual(UNFIXABLE);
  });
});

// ---- mixed IPv4/IPv6, dst-ip and src-ip for the same prefix ------------------------------------

describe('one router, IPv4 and IPv6, dst-ip and src-ip routes for the same prefix', () => {
  const V4 = { dst: '10.61.0.0/24', vm1: '10.60.0.10', vm2: '10.60.0.20' };
  const V6 = { dst: 'fd00:61::/64', vm1: 'fd00:60::10', vm2: 'fd00:60::20' };
  const specs = (): [string, RouteSpec][] => [
    ['m4-dst', { router: 'rm', nexthop: V4.vm1, cidrs: [V4.dst] }],
    ['m4-src', { router: 'rm', nexthop: V4.vm2, cidrs: [V4.dst], policy: 'src-ip' }],
    ['m6-dst', { router: 'rm', nexthop: V6.vm1, cidrs: [V6.dst], policy: 'dst-ip' }],
    ['m6-src', { router: 'rm', nexthop: V6.vm2, cidrs: [V6.dst], policy: 'src-ip' }],
  ];
  async function check(name: string, s: [string, RouteSpec][], ...flags: string[]): Promise<{ r: Ran; rep: Report }> {
    const f = await md.write(`${name}.yaml`, ...s.map(([n, x]) => pcr(n, x)));
    const r = await cli(['check', ...db(), '-f', f, '--output', 'json', ...flags], { killAfterMs: 90_000 });
    const rep = parseReport(r);
    expect(r.code, describeRun(r)).toBe(rep.findings.length === 0 ? 0 : 3);
    return { r, rep };
  }
  const row = async (prefix: string, policy: string) => (await nbRoutes(sb, 'rm')).filter((x) => x.prefix === prefix && x.policy === policy);

  beforeAll(async () => {
    await routerWithSwitch(sb, 'rm', 'lsm', ['10.60.0.1/24', 'fd00:60::1/64']);
    await vmPort(sb, 'lsm', 'mvm1', [V4.vm1, V6.vm1]);
    await vmPort(sb, 'lsm', 'mvm2', [V4.vm2, V6.vm2]);
    await sb.nbctl('lr-route-add', 'rm', V4.dst, V4.vm1, '--', '--policy=src-ip', 'lr-route-add', 'rm', V4.dst, V4.vm2,
      '--', 'lr-route-add', 'rm', V6.dst, V6.vm1, '--', '--policy=src-ip', 'lr-route-add', 'rm', V6.dst, V6.vm2);
    await waitSb(sb);
    await sb.sbctl('lsp-bind', 'mvm1', 'ch1', '--', 'lsp-bind', 'mvm2', 'ch2');
  }, 120_000);

  it('all four in sync -> 0', async () => {
    const { rep } = await check('mixed-sync', specs());
    expect(rep.findings).toEqual([]);
  });

  it('dst-ip and src-ip manifests swapped: NexthopMismatch for each, by policy, no RouteMissing', async () => {
    const swapped = specs().map(([n, s]): [string, RouteSpec] => [n, { ...s, nexthop: s.nexthop === V4.vm1 ? V4.vm2 : s.nexthop === V4.vm2 ? V4.vm1 : s.nexthop }]);
    const { rep } = await check('mixed-swapped-v4', swapped);
    expect(rep.findings.map((f) => `${f.route} ${f.kind} ${f.expected.nexthop} ${f.actual.nexthop}`).sort()).toEqual([
      `m4-dst NexthopMismatch ${V4.vm2} ${V4.vm1}`,
      `m4-src NexthopMismatch ${V4.vm1} ${V4.vm2}`,
    ]);
  });

  it('src-ip row changed in NB: only the src-ip route drifts; --repair --adopt fixes it and leaves the dst-ip row nexthop alone', async () => {
    const [src] = await row(V6.dst, 'src-ip');
    const [dst] = await row(V6.dst, 'dst-ip');
    await sb.nbctl('--wait=sb', 'set', 'Logical_Router_Static_Route', src!.uuid, `nexthop="${V6.vm1}"`);
    const { rep } = await check('mixed-src-drift', specs());
    expect(rep.findings.map((f) => `${f.route} ${f.kind}`)).toEqual(['m6-src NexthopMismatch']);
    expect(rep.findings[0]!.actual.nexthop).toBe(V6.vm1);
    const fixed = await check('mixed-src-fix', specs(), '--repair', '--adopt');
    expect(fixed.rep.findings).toEqual([]);
    expect((await row(V6.dst, 'src-ip')).map((x) => x.nexthop)).toEqual([V6.vm2]);
    // the dst-ip row keeps its identity and nexthop (--adopt may stamp it as owned: that is what adopt means)
    const after = await row(V6.dst, 'dst-ip');
    expect(after.map((x) => [x.uuid, x.nexthop, x.policy, x.routeTable])).toEqual([[dst!.uuid, V6.vm1, 'dst-ip', '']]);
  });

  it('northd stopped, dst-ip row moved to the src-ip nexthop: FlowStale for dst-ip only (the src-ip flow is not taken for it)', async () => {
    for (const [fam, v] of [['v4', V4], ['v6', V6]] as const) {
      await sb.stopNorthd();
      try {
        const [dst] = await row(v.dst, 'dst-ip');
        await sb.nbctl('set', 'Logical_Router_Static_Route', dst!.uuid, `nexthop="${v.vm2}"`);
        const moved = specs().map(([n, s]): [string, RouteSpec] => [n, n === `m${fam.slice(1)}-dst` ? { ...s, nexthop: v.vm2 } : s]);
        const { rep } = await check(`mixed-stale-${fam}`, moved);
        const per = rep.findings.filter((f) => f.kind !== 'NorthdLagging');
        expect(per.map((f) => `${f.route} ${f.kind} ${f.expected.nexthop} ${f.actual.nexthop}`), fam).toEqual([`m${fam.slice(1)}-dst FlowStale ${v.vm2} ${v.vm1}`]);
      } finally {
        await sb.startNorthd();
      }
      await waitSb(sb);
      // put it back for the next family / test
      const [dst] = await row(v.dst, 'dst-ip');
      await sb.nbctl('--wait=sb', 'set', 'Logical_Router_Static_Route', dst!.uuid, `nexthop="${v.vm1}"`);
    }
    const { rep } = await check('mixed-back', specs());
    expect(rep.findings).toEqual([]);
  });

  it('a src-ip manifest is not satisfied by the dst-ip route alone (RouteMissing for src-ip), in both families', async () => {
    await sb.nbctl('lr-route-add', 'rm', '10.62.0.0/24', V4.vm1, '--', 'lr-route-add', 'rm', 'fd00:62::/64', V6.vm1);
    await waitSb(sb);
    const { rep } = await check('mixed-src-missing', [
      ['n4-src', { router: 'rm', nexthop: V4.vm1, cidrs: ['10.62.0.0/24'], policy: 'src-ip' }],
      ['n6-src', { router: 'rm', nexthop: V6.vm1, cidrs: ['fd00:62::/64'], policy: 'src-ip' }],
    ].map(([n, s]) => [n, s] as [string, RouteSpec]));
    expect(kinds(rep)).toEqual(['RouteMissing', 'RouteMissing']);
  });
});
