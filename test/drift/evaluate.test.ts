import { describe, expect, it } from 'vitest';
import { evaluate, traceIp, type Finding } from '../../operator/drift/index.js';
import { nbView } from '../../operator/ovn/nb.js';
import { sbView } from '../../operator/ovn/sb.js';
import { NbBuilder, SbBuilder, pcr, routeFlow2303, routeFlow2503 } from '../support/ovn-fixtures.js';

const SEED_PREFIXES = ['10.9.52.144/28', '10.9.143.0/28', '10.9.193.96/28', '10.9.202.192/28', '10.9.207.64/28'];
const MAC_A = '74:db:d2:00:00:01';
const MAC_B = '74:db:d2:19:e7:6b';

/** The seed topology in pure form: NB says 10.9.2.146 for all five; SB still says 10.215.91.233 for the first. */
function seed(opts: { form?: typeof routeFlow2303; nbCfg?: number; sbNbCfg?: number; staleFirst?: boolean; nbNexthopFirst?: string } = {}) {
  const form = opts.form ?? routeFlow2303;
  const nb = new NbBuilder(opts.nbCfg ?? 2, opts.sbNbCfg ?? 1);
  const r = nb.router('dev-jr');
  nb.lrp('dev-jr', 'lrp-a', MAC_A, ['10.9.0.1/22', 'fd00:9::1/64']);
  nb.lrp('dev-jr', 'lrp-b', MAC_B, ['10.215.88.1/22']);
  nb.sw('sw-10.9.0.0-22');
  nb.sw('sw-10.215.88.0-22');
  nb.link('lrp-a', 'sw-10.9.0.0-22');
  nb.link('lrp-b', 'sw-10.215.88.0-22');
  nb.lsp('sw-10.9.0.0-22', 'vm1', ['74:db:d1:bf:44:5a 10.9.2.146 fd00:9::146']);
  nb.lsp('sw-10.215.88.0-22', 'vm2', ['74:db:d1:30:9e:dd 10.215.91.233']);
  SEED_PREFIXES.forEach((p, i) => nb.route('dev-jr', p, i === 0 && opts.nbNexthopFirst ? opts.nbNexthopFirst : '10.9.2.146'));
  const sb = new SbBuilder(opts.sbNbCfg ?? 1);
  const dp = sb.datapath('dev-jr', r);
  sb.chassis('hv-a', 'stt', '10.184.163.36', 'node-a');
  sb.chassis('hv-b', 'stt', '10.96.133.20', 'node-b');
  sb.bind('vm1', 'hv-a');
  sb.bind('vm2', 'hv-b');
  SEED_PREFIXES.forEach((p, i) => {
    const f = i === 0 && opts.staleFirst !== false ? form(p, '10.215.91.233', '10.215.88.1', MAC_B, 'lrp-b') : form(p, '10.9.2.146', '10.9.0.1', MAC_A, 'lrp-a');
    sb.flow(dp, 'lr_in_ip_routing', 85, f.match, f.actions);
  });
  return { nb, sb, dp, routerUuid: r };
}

const seedRoute = pcr('dev-jr-vm-10-9-2-146', { router: 'dev-jr', nexthop: '10.9.2.146', cidrs: SEED_PREFIXES });
const NOW = new Date('2026-11-24T00:00:00Z');
const kinds = (fs: Finding[]) => fs.map((f) => `${f.kind} ${f.prefix}`);

describe('evaluate', () => {
  for (const [name, form] of [['22.03–24.09', routeFlow2303], ['25.03', routeFlow2503]] as const) {
    it(`reports the seed drift as FlowStale with the hypervisors (${name} flows)`, () => {
      const { nb, sb } = seed({ form });
      const ev = evaluate([seedRoute], nbView(nb), sbView(sb), NOW);
      expect(kinds(ev.findings)).toEqual(['FlowStale 10.9.52.144/28', 'NorthdLagging 10.9.52.144/28']);
      const stale = ev.findings[0]!;
      expect(stale.expected).toEqual({ nexthop: '10.9.2.146', hypervisor: { chassis: 'hv-a', hostname: 'node-a', encapType: 'stt', encapIp: '10.184.163.36' } });
      expect(stale.actual).toEqual({ nexthop: '10.215.91.233', hypervisor: { chassis: 'hv-b', hostname: 'node-b', encapType: 'stt', encapIp: '10.96.133.20' } });
      expect(stale.message).toMatch(/NB_Global.nb_cfg=2 but SB_Global.nb_cfg=1/);
      expect(ev.routes.filter((r) => r.inSync).map((r) => r.prefix)).toEqual(SEED_PREFIXES.slice(1));
      expect(ev.summary).toMatchObject({ resources: 1, routes: 5, inSync: 4, outOfSync: 1, findings: 2, nbCfg: 2, sbNbCfg: 1 });
    });
  }

  it('names the hypervisor of the NB nexthop, not of the desired one, in a FlowStale message', () => {
    // NB moved to 10.215.91.233 (on hv-b) while northd was down; the SB flow still says 10.9.2.146 (hv-a)
    const { nb, sb } = seed({ staleFirst: false, nbNexthopFirst: '10.215.91.233' });
    const ev = evaluate([seedRoute], nbView(nb), sbView(sb), NOW);
    const stale = ev.findings.find((f) => f.kind === 'FlowStale')!;
    expect(stale.message).toMatch(/NB says 10\.215\.91\.233 \(chassis hv-b \(node-b\), stt 10\.96\.133\.20\)/);
    expect(kinds(ev.findings)).toContain('NexthopMismatch 10.9.52.144/28');
  });

  it('says why a flow is stale when the counters show no lag', () => {
    const { nb, sb } = seed({ nbCfg: 1, sbNbCfg: 1 });
    const ev = evaluate([seedRoute], nbView(nb), sbView(sb), NOW);
    expect(kinds(ev.findings)).toEqual(['FlowStale 10.9.52.144/28']);
    expect(ev.findings[0]!.message).toMatch(/is ovn-northd running/);
  });

  it('is in sync when SB agrees, and reports a lag alone as one NorthdLagging', () => {
    const { nb, sb } = seed({ staleFirst: false, nbCfg: 1, sbNbCfg: 1 });
    expect(evaluate([seedRoute], nbView(nb), sbView(sb), NOW).findings).toEqual([]);
    const lag = seed({ staleFirst: false, nbCfg: 3, sbNbCfg: 1 });
    const ev = evaluate([seedRoute], nbView(lag.nb), sbView(lag.sb), NOW);
    expect(ev.findings.map((f) => [f.kind, f.route])).toEqual([['NorthdLagging', '']]);
  });

  it('reports RouterNotFound, RouteMissing, NexthopMismatch, NexthopPortNotFound, NexthopUnbound, ChassisMismatch', () => {
    const { nb, sb } = seed({ staleFirst: false, nbCfg: 1, sbNbCfg: 1 });
    nb.lsp('sw-10.9.0.0-22', 'vm3', ['74:db:d1:00:00:03 10.9.2.3']);
    sb.bind('vm3'); // no chassis
    nb.route('dev-jr', '10.30.0.0/16', '10.215.91.233');
    const desired = [
      pcr('ghost', { router: 'nope', nexthop: '10.9.2.146', cidrs: ['10.1.0.0/16'] }),
      pcr('missing', { router: 'dev-jr', nexthop: '10.9.2.146', cidrs: ['10.20.0.0/16'] }),
      pcr('mismatch', { router: 'dev-jr', nexthop: '10.9.2.146', cidrs: ['10.30.0.0/16'] }),
      pcr('noport', { router: 'dev-jr', nexthop: '10.9.2.200', cidrs: ['10.40.0.0/16'] }),
      pcr('unbound', { router: 'dev-jr', nexthop: '10.9.2.3', cidrs: ['10.50.0.0/16'] }),
      pcr('elsewhere', { router: 'dev-jr', nexthop: '10.9.2.146', cidrs: SEED_PREFIXES.slice(1, 2), expectedChassis: 'node-b' }),
      pcr('by-hostname', { router: 'dev-jr', nexthop: '10.9.2.146', cidrs: SEED_PREFIXES.slice(2, 3), expectedChassis: 'node-a' }),
    ];
    const ev = evaluate(desired, nbView(nb), sbView(sb), NOW);
    expect(ev.findings.map((f) => `${f.kind} ${f.route}`)).toEqual([
      'ChassisMismatch elsewhere',
      'RouteMissing missing',
      'NexthopMismatch mismatch',
      'FlowMissing mismatch',
      'RouteMissing noport',
      'NexthopPortNotFound noport',
      'RouteMissing unbound',
      'NexthopUnbound unbound',
      'RouterNotFound ghost',
    ]);
    const cm = ev.findings.find((f) => f.kind === 'ChassisMismatch')!;
    expect(cm.expected.hypervisor).toEqual({ chassis: 'hv-b', hostname: 'node-b', encapType: 'stt', encapIp: '10.96.133.20' });
    expect(cm.actual.hypervisor!.chassis).toBe('hv-a');
    const mm = ev.findings.find((f) => f.kind === 'NexthopMismatch')!;
    expect(mm.actual).toEqual({ nexthop: '10.215.91.233', hypervisor: { chassis: 'hv-b', hostname: 'node-b', encapType: 'stt', encapIp: '10.96.133.20' } });
  });

  it('resolves ECMP members to their hypervisors and reports the competing route', () => {
    const { nb, sb, dp } = seed({ staleFirst: false, nbCfg: 1, sbNbCfg: 1 });
    nb.route('dev-jr', '10.60.0.0/24', '10.9.2.146', { externalIds: { 'ovndrift.io/owner': 'ecmp' } });
    nb.route('dev-jr', '10.60.0.0/24', '10.215.91.233');
    sb.flow(dp, 'lr_in_ip_routing', 73, 'reg7 == 0 && ip4.dst == 10.60.0.0/24', 'ip.ttl--; flags.loopback = 1; reg8[0..15] = 1; reg8[16..31] = select(1, 2);');
    sb.flow(dp, 'lr_in_ip_routing_ecmp', 100, 'reg8[0..15] == 1 && reg8[16..31] == 1', `reg0 = 10.9.2.146; reg1 = 10.9.0.1; eth.src = ${MAC_A}; outport = "lrp-a"; next;`);
    sb.flow(dp, 'lr_in_ip_routing_ecmp', 100, 'reg8[0..15] == 1 && reg8[16..31] == 2', `reg0 = 10.215.91.233; reg1 = 10.215.88.1; eth.src = ${MAC_B}; outport = "lrp-b"; next;`);
    const ev = evaluate([pcr('ecmp', { router: 'dev-jr', nexthop: '10.9.2.146', cidrs: ['10.60.0.0/24'] })], nbView(nb), sbView(sb), NOW);
    expect(kinds(ev.findings)).toEqual(['ConflictingRoute 10.60.0.0/24']);
    expect(ev.findings[0]!.message).toMatch(/10.215.91.233 \(unmanaged\)/);
    expect(ev.routes[0]!.actual.ecmp!.map((m) => m.hypervisor!.encapIp)).toEqual(['10.184.163.36', '10.96.133.20']);
  });

  it('checks IPv6 routes in both flow forms', () => {
    for (const form of [routeFlow2303, routeFlow2503]) {
      const { nb, sb, dp } = seed({ staleFirst: false, nbCfg: 1, sbNbCfg: 1 });
      nb.route('dev-jr', 'fd00:52::/64', 'fd00:9::146');
      const f = form('fd00:52::/64', 'fd00:9::146', 'fd00:9::1', MAC_A, 'lrp-a');
      sb.flow(dp, 'lr_in_ip_routing', 193, f.match, f.actions);
      const v6 = pcr('v6', { router: 'dev-jr', nexthop: 'fd00:9:0::146', cidrs: ['fd00:52::/64'] });
      const ev = evaluate([v6], nbView(nb), sbView(sb), NOW);
      expect(ev.findings).toEqual([]);
      expect(ev.routes[0]!.actual.hypervisor!.encapIp).toBe('10.184.163.36');
    }
  });

  it('reports a cut-off follower as StaleView', () => {
    const { nb, sb } = seed({ staleFirst: false, nbCfg: 1, sbNbCfg: 1 });
    sb.staleReason = 'tcp:127.0.0.1:6642 is a follower disconnected from its cluster';
    const ev = evaluate([seedRoute], nbView(nb), sbView(sb), NOW);
    expect(ev.findings.map((f) => f.kind)).toEqual(['StaleView']);
  });

  it('traces an IP through NB and SB and marks the differences', () => {
    const { nb, sb } = seed();
    const t = traceIp(nbView(nb), sbView(sb), 'dev-jr', '10.9.52.150');
    expect(t.nb).toMatchObject({ kind: 'static', prefix: '10.9.52.144/28' });
    expect(t.nb!.hops[0]!.port!.name).toBe('vm1');
    expect(t.sb!.hops[0]!.endpoint.hypervisor!.encapIp).toBe('10.96.133.20');
    expect(t.differences).toEqual(['nexthop: NB 10.9.2.146 vs SB 10.215.91.233', 'hypervisor: NB 10.184.163.36 vs SB 10.96.133.20']);
    expect(traceIp(nbView(nb), sbView(sb), 'dev-jr', '192.168.1.1').differences).toEqual(['no NB route and no SB flow on dev-jr matches 192.168.1.1']);
  });

  it('traces IPv6 through a 25.03-form flow, and reports a route NB has but SB lacks', () => {
    const { nb, sb, dp } = seed({ staleFirst: false, nbCfg: 1, sbNbCfg: 1 });
    nb.route('dev-jr', 'fd00:52::/64', 'fd00:9::146');
    const f = routeFlow2503('fd00:52::/64', 'fd00:9::146', 'fd00:9::1', MAC_A, 'lrp-a');
    sb.flow(dp, 'lr_in_ip_routing', 516, f.match, f.actions);
    const t = traceIp(nbView(nb), sbView(sb), 'dev-jr', 'fd00:52::1234');
    expect(t.nb).toMatchObject({ kind: 'static', prefix: 'fd00:52::/64' });
    expect(t.sb).toMatchObject({ prefix: 'fd00:52::/64', outport: 'lrp-a' });
    expect(t.sb!.hops[0]!.endpoint.hypervisor!.encapIp).toBe('10.184.163.36');
    expect(t.differences).toEqual([]);
    nb.route('dev-jr', '10.70.0.0/16', '10.9.2.146');
    expect(traceIp(nbView(nb), sbView(sb), 'dev-jr', '10.70.1.1').differences).toEqual(['NB route 10.70.0.0/16 matches 10.70.1.1 but no SB flow does (is ovn-northd running?)']);
  });
});

describe('OVN 25.03 ECMP forms (flows shaped exactly as branch-25.03 northd writes them)', () => {
  // 25.03 build_ecmp_route_flow: a group of one route is `reg8[16..31] = 1; next;` (no select()),
  // and add_ecmp_symmetric_reply_flows adds a priority-10300 `ct.rpl && ct_mark.ecmp_reply_port` flow.
  function topo() {
    const nb = new NbBuilder(1, 1);
    const r = nb.router('gw');
    nb.lrp('gw', 'lrp-ext', '0a:00:00:00:00:01', ['172.16.0.1/24']);
    nb.sw('ext');
    nb.link('lrp-ext', 'ext');
    nb.lsp('ext', 'exgw', ['0a:00:00:00:00:10 172.16.0.10']);
    nb.route('gw', '10.90.0.0/24', '172.16.0.10');
    const sb = new SbBuilder(1);
    const dp = sb.datapath('gw', r);
    sb.chassis('hv-a', 'geneve', '192.0.2.1');
    sb.bind('exgw', 'hv-a');
    return { nb, sb, dp };
  }

  it('a one-member symmetric group is in sync (no false FlowStale), reply and BFD flows are ignored', () => {
    const { nb, sb, dp } = topo();
    sb.flow(dp, 'lr_in_ip_routing', 196, 'reg7 == 0 && ip4.dst == 10.90.0.0/24', 'ip.ttl--; flags.loopback = 1; reg8[0..15] = 1; reg8[16..31] = 1; next;');
    sb.flow(dp, 'lr_in_ip_routing', 10300, 'ct.rpl && ct_mark.ecmp_reply_port == 1 && reg7 == 0 && ip4.dst == 10.90.0.0/24', 'ip.ttl--; flags.loopback = 1; eth.src = 0a:00:00:00:00:01; reg5 = 172.16.0.1; outport = "lrp-ext"; next;');
    sb.flow(dp, 'lr_in_ip_routing', 10300, 'udp.dst == 3784 && ip4.dst == 10.90.0.0/24', 'next;');
    sb.flow(dp, 'lr_in_ip_routing_ecmp', 100, 'reg8[0..15] == 1 && reg8[16..31] == 1', 'reg0 = 172.16.0.10; reg5 = 172.16.0.1; eth.src = 0a:00:00:00:00:01; outport = "lrp-ext"; reg9[9] = 1; next;');
    const ev = evaluate([pcr('x', { router: 'gw', nexthop: '172.16.0.10', cidrs: ['10.90.0.0/24'] })], nbView(nb), sbView(sb), NOW);
    expect(ev.findings).toEqual([]);
    expect(ev.routes[0]).toMatchObject({ state: 'InSync', actual: { nexthop: '172.16.0.10', hypervisor: { chassis: 'hv-a', encapType: 'geneve' } } });
    expect(ev.routes[0]!.sb!.priority).toBe(196);
  });

  it('a discard route whose flow is drop; is in sync on the SB side (only NexthopMismatch against the desired VM)', () => {
    const { nb, sb, dp } = topo();
    nb.route('gw', '10.91.0.0/24', 'discard');
    sb.flow(dp, 'lr_in_ip_routing', 196, 'reg7 == 0 && ip4.dst == 10.91.0.0/24', 'drop;');
    const ev = evaluate([pcr('x', { router: 'gw', nexthop: '172.16.0.10', cidrs: ['10.91.0.0/24'] })], nbView(nb), sbView(sb), NOW);
    expect(ev.findings.map((f) => f.kind)).toEqual(['NexthopMismatch']);
    expect(ev.findings[0]!.actual).toEqual({ nexthop: 'discard', dropped: true });
  });
});

describe('encap: the one ovn-controller uses', () => {
  it('Port_Binding.encap when set (several ovn-encap-ip), else the best type shared with the other chassis', () => {
    const nb = new NbBuilder(1, 1);
    const r = nb.router('r');
    nb.lrp('r', 'lrp-1', '0a:00:00:00:00:01', ['10.1.0.1/24']);
    nb.sw('s');
    nb.link('lrp-1', 's');
    nb.lsp('s', 'vm1', ['0a:00:00:00:00:10 10.1.0.10']);
    nb.lsp('s', 'vm2', ['0a:00:00:00:00:11 10.1.0.11']);
    nb.route('r', '10.2.0.0/24', '10.1.0.10');
    nb.route('r', '10.3.0.0/24', '10.1.0.11');
    const sb = new SbBuilder(1);
    const dp = sb.datapath('r', r);
    // hv-a: vxlan + stt + geneve (two geneve IPs); hv-b: stt and vxlan only -> shared best is stt
    const ga1 = sb.insert('Encap', { type: 'geneve', ip: '192.0.2.1', options: {}, chassis_name: 'hv-a' });
    const ga2 = sb.insert('Encap', { type: 'geneve', ip: '192.0.2.11', options: {}, chassis_name: 'hv-a' });
    const sa = sb.insert('Encap', { type: 'stt', ip: '192.0.2.21', options: {}, chassis_name: 'hv-a' });
    const va = sb.insert('Encap', { type: 'vxlan', ip: '192.0.2.31', options: {}, chassis_name: 'hv-a' });
    sb.insert('Chassis', { name: 'hv-a', hostname: '', encaps: [va, sa, ga1, ga2] });
    const sbB = sb.insert('Encap', { type: 'stt', ip: '192.0.2.2', options: {}, chassis_name: 'hv-b' });
    const vbB = sb.insert('Encap', { type: 'vxlan', ip: '192.0.2.32', options: {}, chassis_name: 'hv-b' });
    sb.insert('Chassis', { name: 'hv-b', hostname: '', encaps: [vbB, sbB] });
    sb.bind('vm1', 'hv-a');
    const pb2 = sb.bind('vm2', 'hv-a');
    sb.get('Port_Binding', pb2).encap = [ga2];
    for (const [p, nh] of [['10.2.0.0/24', '10.1.0.10'], ['10.3.0.0/24', '10.1.0.11']] as const) {
      const f = routeFlow2303(p, nh, '10.1.0.1', '0a:00:00:00:00:01', 'lrp-1');
      sb.flow(dp, 'lr_in_ip_routing', 73, f.match, f.actions);
    }
    const ev = evaluate([pcr('x', { router: 'r', nexthop: '10.1.0.10', cidrs: ['10.2.0.0/24'] }), pcr('y', { router: 'r', nexthop: '10.1.0.11', cidrs: ['10.3.0.0/24'] })], nbView(nb), sbView(sb), NOW);
    expect(ev.findings).toEqual([]);
    expect(ev.routes.map((x) => [x.route, x.actual.hypervisor?.encapType, x.actual.hypervisor?.encapIp])).toEqual([
      ['x', 'stt', '192.0.2.21'],
      ['y', 'geneve', '192.0.2.11'],
    ]);
  });
});
