// Resolving routes the way OVN does, on topologies real OpenStack / Kube-OVN / ovn-kubernetes
// clusters have: overlapping tenant subnets, Logical_Router_Policy reroutes and drops, nexthops in
// port_security / virtual ports / MAC_Binding only, gateway routers, localnet switches, discard and
// ecmp_symmetric_reply routes, shadowing. Built through real ovn-northd with ovn-nbctl/ovn-sbctl as
// a CMS would. The oracle is OVN itself: for each scenario, `ovn-trace` (Debian package ovn-common)
// on the same SB must send packets to the prefix's first and last address to the same nexthop,
// router port and logical port that ovn-drift reports.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { openOvn, readViews } from '../../operator/ovn/index.js';
import { topologyOf } from '../../operator/ovn/topology.js';
import { parsePrefix } from '../../operator/ovn/ip.js';
import { checkJson, evaluate, traceIp, type Evaluation, type TraceResult } from '../../operator/drift/index.js';
import { attachSwitchArgs } from '../../operator/ovn/seed-topology.js';
import type { PodCIDRRoute } from '../../operator/api/podcidrroute.js';
import { pcr } from '../support/ovn-fixtures.js';
import { rowIndexes, scopedRead } from '../support/scoped.js';

/** The control plane these scenarios run on (one factory: a release matrix can swap it). */
interface OvnUnderTest {
  nbRemote: string;
  sbRemote: string;
  nbctl(...args: string[]): Promise<string>;
  sbctl(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}
async function startOvn(): Promise<OvnUnderTest> {
  return OvnSandbox.start();
}

const run = promisify(execFile);

/** What ovn-trace says the router does with a packet to `dst`: final reg0/outport of the router ingress, and the logical port it reaches. */
async function ovnTrace(ovn: OvnUnderTest, router: string, inport: string, mac: string, dst: string): Promise<{ nexthop?: string; outport?: string; port?: string; dropped: boolean; text: string }> {
  const v6 = dst.includes(':');
  const flow = `inport == "${inport}" && eth.dst == ${mac} && eth.src == 0a:00:00:ff:ff:01 && ${v6 ? `ip6.src == fd99::99 && ip6.dst == ${dst} && ip.ttl == 64` : `ip4.src == 192.0.2.99 && ip4.dst == ${dst} && ip.ttl == 64`}`;
  const { stdout } = await run('ovn-trace', ['--db', ovn.sbRemote, router, flow]);
  const sections = stdout.split(/\n(?=ingress\(|egress\()/);
  const ingress = sections.find((s) => s.startsWith(`ingress(dp="${router}"`)) ?? '';
  const last = (re: RegExp, text: string) => [...text.matchAll(re)].map((m) => m[1]!).pop();
  const nexthop = last(v6 ? /^\s+xxreg0 = ([0-9a-f:]+);/gm : /^\s+reg0 = ([0-9.]+);/gm, ingress);
  const outport = last(/^\s+outport = "([^"]+)";/gm, ingress);
  const port = last(/\/\* output to "([^"]+)"/g, stdout);
  const dropped = /^\s+drop;/m.test(ingress);
  return { ...(nexthop ? { nexthop } : {}), ...(outport ? { outport } : {}), ...(port ? { port } : {}), dropped, text: stdout };
}

function firstLast(prefix: string): [string, string] {
  const p = parsePrefix(prefix)!;
  const bits = p.family === 4 ? 32 : 128;
  const lastV = p.network + (1n << BigInt(bits - p.length)) - 1n;
  const fmt = (v: bigint) => (p.family === 4 ? [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.') : [...Array(8).keys()].map((i) => ((v >> BigInt((7 - i) * 16)) & 0xffffn).toString(16)).join(':'));
  return [fmt(p.network + (p.family === 4 && p.length < 31 ? 1n : 0n)), fmt(lastV - (p.family === 4 && p.length < 31 ? 1n : 0n))];
}

describe('resolving routes the way OVN does (real northd, ovn-trace as oracle)', () => {
  let ovn: OvnUnderTest;

  async function views() {
    const dbs = await openOvn({ nbRemote: ovn.nbRemote, sbRemote: ovn.sbRemote, timeoutMs: 10_000 });
    try {
      return readViews(dbs);
    } finally {
      await dbs.close();
    }
  }
  /**
   * Evaluates over the whole views (what `check` does), and asserts that the operator's scoped
   * read of each resource alone (controller/scope.ts: only the rows that resource can depend on)
   * gives exactly the same verdict on every scenario's topology.
   */
  async function check(desired: PodCIDRRoute[]): Promise<Evaluation> {
    const dbs = await openOvn({ nbRemote: ovn.nbRemote, sbRemote: ovn.sbRemote, timeoutMs: 10_000 });
    try {
      const now = new Date();
      const { nb, sb } = readViews(dbs);
      const whole = evaluate(desired, nb, sb, now);
      const idx = rowIndexes(dbs);
      for (const r of desired) {
        const v = scopedRead(dbs, r, idx);
        const part = evaluate([r], v.nb, v.sb, now);
        expect(part.routes, `scoped read of ${r.metadata.name}`).toEqual(whole.routes.filter((x) => x.route === r.metadata.name));
        expect(part.findings, `scoped read of ${r.metadata.name}`).toEqual(whole.findings.filter((f) => f.route === r.metadata.name));
      }
      return whole;
    } finally {
      await dbs.close();
    }
  }
  async function trace(router: string, ip: string, opts: { src?: string; inport?: string } = {}): Promise<TraceResult> {
    const { nb, sb } = await views();
    return traceIp(nb, sb, router, ip, opts);
  }
  /** A router with one tenant switch (a VM at .10 and .11), wired as ovn-nbctl does. */
  async function tenant(r: string, sw: string, mac: string, net: string, vms: [string, string, string][]): Promise<void> {
    const args = ['--', 'lr-add', r, ...attachSwitchArgs(r, sw, mac, [net])];
    for (const [port, m, ip] of vms) args.push('--', 'lsp-add', sw, port, '--', 'lsp-set-addresses', port, `${m} ${ip}`);
    await ovn.nbctl(...args);
  }

  /**
   * Asserts the oracle: for the prefix's first and last address, ovn-trace's router decision
   * (nexthop register, outport) and the logical port reached equal what ovn-drift's trace says
   * wins (policy, else the SB flow) and the nexthop's resolved port.
   */
  async function assertOracle(router: string, inport: string, mac: string, prefix: string): Promise<void> {
    for (const ip of firstLast(prefix)) {
      const o = await ovnTrace(ovn, router, inport, mac, ip);
      const t = await trace(router, ip);
      const decided = t.policy && t.policy.action !== 'allow' ? t.policy : undefined;
      if (decided?.action === 'drop' || (!decided && t.sb?.dropped)) {
        expect(o.dropped, o.text).toBe(true);
        continue;
      }
      const hop = decided ? decided.hops[0]! : t.sb!.hops[0]!;
      expect({ nexthop: hop.nexthop, outport: hop.routerPort }, o.text).toEqual({ nexthop: o.nexthop, outport: o.outport });
      if (o.port && o.port !== o.outport && hop.port?.kind === 'Logical_Switch_Port') expect(hop.port.name, o.text).toBe(o.port);
    }
  }

  beforeAll(async () => {
    ovn = await startOvn();
    await ovn.sbctl('chassis-add', 'hv-a', 'geneve', '192.0.2.1');
    await ovn.sbctl('chassis-add', 'hv-b', 'geneve', '192.0.2.2');
    await ovn.sbctl('chassis-add', 'hv-c', 'vxlan', '192.0.2.3');
    await ovn.sbctl('--', 'add', 'Chassis', 'hv-c', 'encaps', '@e', '--', '--id=@e', 'create', 'Encap', 'type=geneve', 'ip=192.0.2.33', 'chassis_name=hv-c');
  });
  afterAll(async () => ovn?.stop());

  it('overlapping tenant subnets: a route via .10 on router A resolves to A\'s VM, never to B\'s', async () => {
    // tenant B's switch sorts first by name: a global index would pick its VM
    await tenant('tenant-a', 'zz-net-a', '0a:00:00:0a:00:01', '10.70.0.1/24', [['vm-a', '0a:00:00:0a:00:10', '10.70.0.10']]);
    await tenant('tenant-b', 'aa-net-b', '0a:00:00:0b:00:01', '10.70.0.1/24', [['vm-b', '0a:00:00:0b:00:10', '10.70.0.10']]);
    await ovn.nbctl('--wait=sb', 'lr-route-add', 'tenant-a', '10.71.0.0/24', '10.70.0.10', '--', 'lr-route-add', 'tenant-b', '10.72.0.0/24', '10.70.0.10');
    await ovn.sbctl('lsp-bind', 'vm-a', 'hv-a');
    await ovn.sbctl('lsp-bind', 'vm-b', 'hv-b');
    const ev = await check([
      pcr('a', { router: 'tenant-a', nexthop: '10.70.0.10', cidrs: ['10.71.0.0/24'], expectedChassis: 'hv-a' }),
      pcr('b', { router: 'tenant-b', nexthop: '10.70.0.10', cidrs: ['10.72.0.0/24'], expectedChassis: 'hv-b' }),
    ]);
    expect(ev.findings).toEqual([]);
    expect(ev.routes.map((r) => [r.route, r.state, r.expected.hypervisor?.chassis, r.actual.hypervisor?.chassis])).toEqual([
      ['a', 'InSync', 'hv-a', 'hv-a'],
      ['b', 'InSync', 'hv-b', 'hv-b'],
    ]);
    const json = checkJson(ev);
    expect(json.routes[0]).toMatchObject({ route: 'a', router: 'tenant-a', prefix: '10.71.0.0/24', state: 'InSync', kinds: [], actual: { nexthop: '10.70.0.10', hypervisor: { chassis: 'hv-a' } } });
    await assertOracle('tenant-a', 'lrp-tenant-a-to-zz-net-a', '0a:00:00:0a:00:01', '10.71.0.0/24');
    await assertOracle('tenant-b', 'lrp-tenant-b-to-aa-net-b', '0a:00:00:0b:00:01', '10.72.0.0/24');
  });

  it('policies: a reroute elsewhere or a drop is PolicyOverride (whole or part), allow and same-nexthop reroute are not, an address set is Unknown', async () => {
    await tenant('pol', 'pol-net', '0a:00:00:0c:00:01', '10.73.0.1/24', [
      ['pol-vm1', '0a:00:00:0c:00:10', '10.73.0.10'],
      ['pol-vm2', '0a:00:00:0c:00:11', '10.73.0.11'],
    ]);
    await ovn.nbctl(
      '--wait=sb',
      'lr-route-add', 'pol', '10.74.1.0/24', '10.73.0.10',
      '--', 'lr-route-add', 'pol', '10.74.2.0/24', '10.73.0.10',
      '--', 'lr-route-add', 'pol', '10.74.3.0/24', '10.73.0.10',
      '--', 'lr-route-add', 'pol', '10.74.4.0/24', '10.73.0.10',
      '--', 'lr-route-add', 'pol', '10.74.5.0/24', '10.73.0.10',
      '--', 'lr-route-add', 'pol', '10.74.6.0/24', '10.73.0.10',
      '--', 'lr-route-add', 'pol', '10.74.7.0/24', '10.73.0.10',
      '--', 'lr-policy-add', 'pol', '200', 'ip4.dst == 10.74.1.0/24', 'reroute', '10.73.0.11',
      '--', 'lr-policy-add', 'pol', '190', 'ip4.dst == 10.74.2.128/25', 'drop',
      '--', 'lr-policy-add', 'pol', '180', 'ip4.dst == 10.74.3.0/24', 'allow',
      '--', 'lr-policy-add', 'pol', '170', 'ip4.dst == 10.74.3.0/24', 'drop',
      '--', 'lr-policy-add', 'pol', '160', 'ip4.dst == 10.74.4.0/24', 'reroute', '10.73.0.10',
      '--', 'lr-policy-add', 'pol', '150', 'ip4.src == 10.99.0.0/16', 'reroute', '10.73.0.11',
    );
    await ovn.nbctl('--wait=sb', 'create', 'Address_Set', 'name=as_pol', 'addresses="10.74.6.7"');
    await ovn.nbctl('--wait=sb', 'lr-policy-add', 'pol', '140', 'ip4.dst == $as_pol', 'drop');
    // a port group's derived address set exists only in the SB: ovn-drift cannot decide it
    await ovn.nbctl('--wait=sb', 'pg-add', 'pgx', 'pol-vm2', '--', 'lr-policy-add', 'pol', '130', 'ip4.dst == 10.74.7.0/24 && ip4.dst == $pgx_ip4', 'drop');
    await ovn.sbctl('lsp-bind', 'pol-vm1', 'hv-a');
    await ovn.sbctl('lsp-bind', 'pol-vm2', 'hv-b');
    const route = pcr('pol', { router: 'pol', nexthop: '10.73.0.10', cidrs: ['10.74.1.0/24', '10.74.2.0/24', '10.74.3.0/24', '10.74.4.0/24', '10.74.5.0/24', '10.74.6.0/24', '10.74.7.0/24'] });
    const ev = await check([route]);
    const by = new Map(ev.routes.map((r) => [r.prefix, r]));
    expect(by.get('10.74.1.0/24')).toMatchObject({ state: 'Drifted', kinds: ['PolicyOverride'], actual: { nexthop: '10.73.0.11', hypervisor: { chassis: 'hv-b' } } });
    expect(by.get('10.74.1.0/24')!.findings[0]!.message).toMatch(/priority 200 match "ip4.dst == 10.74.1.0\/24" reroutes all of 10.74.1.0\/24 to 10.73.0.11/);
    // a part: the route's actual stays the flow's, the finding's actual is the drop
    expect(by.get('10.74.2.0/24')).toMatchObject({ state: 'Drifted', kinds: ['PolicyOverride'], actual: { nexthop: '10.73.0.10' } });
    expect(by.get('10.74.2.0/24')!.findings[0]!.actual).toEqual({ nexthop: 'discard', dropped: true });
    expect(by.get('10.74.2.0/24')!.findings[0]!.message).toMatch(/drops 10.74.2.128\/25/);
    expect(by.get('10.74.3.0/24')!.state).toBe('InSync'); // allow at 180 wins over drop at 170
    expect(by.get('10.74.4.0/24')!.state).toBe('InSync'); // reroute to the route's own nexthop
    expect(by.get('10.74.5.0/24')!.state).toBe('InSync'); // source-only policy: not per route
    // an NB Address_Set is followed: its one address is the part dropped
    expect(by.get('10.74.6.0/24')).toMatchObject({ state: 'Drifted', kinds: ['PolicyOverride'] });
    expect(by.get('10.74.6.0/24')!.findings[0]!.message).toMatch(/priority 140 match "ip4.dst == \$as_pol" drops 10.74.6.7\/32/);
    expect(by.get('10.74.7.0/24')).toMatchObject({ state: 'Unknown', kinds: [] });
    expect(by.get('10.74.7.0/24')!.reason).toMatch(/address set \$pgx_ip4 \(not an NB Address_Set\)/);
    for (const p of ['10.74.1.0/24', '10.74.2.0/24', '10.74.3.0/24', '10.74.4.0/24']) await assertOracle('pol', 'lrp-pol-to-pol-net', '0a:00:00:0c:00:01', p);
    // trace follows the source-only policy for a given source
    const t = await trace('pol', '10.74.5.1', { src: '10.99.1.1' });
    expect(t.policy).toMatchObject({ priority: 150, action: 'reroute', nexthops: ['10.73.0.11'] });
    expect(t.policy!.hops[0]!.endpoint.hypervisor?.chassis).toBe('hv-b');
    expect((await trace('pol', '10.74.5.1', { src: 'fd00::1' })).error).toMatch(/IPv6 but 10.74.5.1 is IPv4/);
  });

  it('nexthops in port_security, a virtual port\'s virtual-ip (claimed and unclaimed), and only in MAC_Binding', async () => {
    await tenant('nh', 'nh-net', '0a:00:00:0d:00:01', '10.75.0.1/24', [['nh-vm1', '0a:00:00:0d:00:10', '10.75.0.10']]);
    await ovn.nbctl(
      '--', 'lsp-set-port-security', 'nh-vm1', '0a:00:00:0d:00:10 10.75.0.10 10.75.0.50',
      '--', 'lsp-add', 'nh-net', 'nh-vip', '--', 'lsp-set-type', 'nh-vip', 'virtual',
      '--', 'lsp-set-options', 'nh-vip', 'virtual-ip=10.75.0.60', 'virtual-parents=nh-vm1',
      '--', 'lsp-add', 'nh-net', 'nh-vip2', '--', 'lsp-set-type', 'nh-vip2', 'virtual',
      '--', 'lsp-set-options', 'nh-vip2', 'virtual-ip=10.75.0.61', 'virtual-parents=nh-vm1',
      '--', 'lsp-add', 'nh-net', 'nh-macvm', '--', 'lsp-set-addresses', 'nh-macvm', '0a:00:00:0d:00:70',
    );
    await ovn.nbctl('--wait=sb', 'lr-route-add', 'nh', '10.76.1.0/24', '10.75.0.50', '--', 'lr-route-add', 'nh', '10.76.2.0/24', '10.75.0.60', '--', 'lr-route-add', 'nh', '10.76.3.0/24', '10.75.0.61', '--', 'lr-route-add', 'nh', '10.76.4.0/24', '10.75.0.70');
    await ovn.sbctl('lsp-bind', 'nh-vm1', 'hv-a');
    await ovn.sbctl('lsp-bind', 'nh-macvm', 'hv-b');
    // ovn-controller claims a virtual port for the parent that answers for the VIP: chassis + virtual_parent
    const hvA = (await ovn.sbctl('--bare', '--columns=_uuid', 'find', 'Chassis', 'name=hv-a')).trim();
    await ovn.sbctl('set', 'Port_Binding', 'nh-vip', `chassis=${hvA}`, 'virtual_parent=nh-vm1');
    // .70 is known only from MAC_Binding learned on nh's router port (names nh-macvm's MAC); a newer
    // row for the same IP learned by another tenant's router must not be confused with it
    const dp = (await ovn.sbctl('--bare', '--columns=_uuid', 'find', 'Datapath_Binding', 'external_ids:name=nh')).trim();
    const dpA = (await ovn.sbctl('--bare', '--columns=_uuid', 'find', 'Datapath_Binding', 'external_ids:name=tenant-a')).trim();
    await ovn.sbctl('create', 'MAC_Binding', 'logical_port=lrp-nh-to-nh-net', 'ip=10.75.0.70', 'mac="0a:00:00:0d:00:70"', `datapath=${dp}`, 'timestamp=1000');
    await ovn.sbctl('create', 'MAC_Binding', 'logical_port=lrp-tenant-a-to-zz-net-a', 'ip=10.75.0.70', 'mac="0a:00:00:0a:00:10"', `datapath=${dpA}`, 'timestamp=2000');
    const ev = await check([
      pcr('ps', { router: 'nh', nexthop: '10.75.0.50', cidrs: ['10.76.1.0/24'] }),
      pcr('vip', { router: 'nh', nexthop: '10.75.0.60', cidrs: ['10.76.2.0/24'] }),
      pcr('vip2', { router: 'nh', nexthop: '10.75.0.61', cidrs: ['10.76.3.0/24'] }),
      pcr('mb', { router: 'nh', nexthop: '10.75.0.70', cidrs: ['10.76.4.0/24'] }),
    ]);
    expect(ev.routes.map((r) => [r.route, r.state, r.kinds, r.actual.hypervisor?.chassis])).toEqual([
      ['ps', 'InSync', [], 'hv-a'],
      ['vip', 'InSync', [], 'hv-a'],
      ['vip2', 'Drifted', ['NexthopUnbound'], undefined],
      ['mb', 'InSync', [], 'hv-b'],
    ]);
    expect(ev.findings.find((f) => f.route === 'vip2')!.message).toMatch(/virtual port nh-vip2 is not claimed by any of its parents \(nh-vm1\)/);
    const { nb, sb } = await views();
    const mb = topologyOf(nb, sb).resolveNexthop('nh', '10.75.0.70');
    expect(mb.port).toMatchObject({ name: 'nh-macvm', source: 'MAC_Binding' });
    // hv-a and hv-b share only geneve; hv-c offers vxlan and geneve: geneve is what ovn-controller uses
    expect(topologyOf(nb, sb).hypervisorOf(sb.chassisByName.get('hv-c')!)).toMatchObject({ encapType: 'geneve', encapIp: '192.0.2.33' });
    await assertOracle('nh', 'lrp-nh-to-nh-net', '0a:00:00:0d:00:01', '10.76.1.0/24');
    await assertOracle('nh', 'lrp-nh-to-nh-net', '0a:00:00:0d:00:01', '10.76.2.0/24');
  });

  it('a gateway router behind a join switch resolves to its chassis; a localnet switch is the last hop', async () => {
    await ovn.nbctl(
      '--', 'lr-add', 'edge',
      ...attachSwitchArgs('edge', 'join', '0a:00:00:0e:00:01', ['100.64.0.1/16']),
      '--', 'lr-add', 'gw', '--', 'set', 'Logical_Router', 'gw', 'options:chassis=hv-b',
      ...attachSwitchArgs('gw', 'join', '0a:00:00:0e:00:02', ['100.64.0.2/16']),
      ...attachSwitchArgs('edge', 'phys', '0a:00:00:0e:00:03', ['172.16.0.1/24']),
      '--', 'lsp-add', 'phys', 'phys-localnet', '--', 'lsp-set-type', 'phys-localnet', 'localnet', '--', 'lsp-set-addresses', 'phys-localnet', 'unknown',
      '--', 'lsp-set-options', 'phys-localnet', 'network_name=physnet',
      '--', 'lsp-add', 'phys', 'phys-host', '--', 'lsp-set-addresses', 'phys-host', '0a:00:00:0e:00:10 172.16.0.10',
    );
    await ovn.nbctl('--wait=sb', 'lr-route-add', 'edge', '10.77.0.0/24', '100.64.0.2', '--', 'lr-route-add', 'edge', '10.78.0.0/24', '172.16.0.10');
    await ovn.sbctl('lsp-bind', 'phys-host', 'hv-a');
    const ev = await check([
      pcr('gw', { router: 'edge', nexthop: '100.64.0.2', cidrs: ['10.77.0.0/24'], expectedChassis: 'hv-b' }),
      pcr('ln', { router: 'edge', nexthop: '172.16.0.10', cidrs: ['10.78.0.0/24'] }),
    ]);
    expect(ev.findings).toEqual([]);
    expect(ev.routes[0]!.actual).toMatchObject({ nexthop: '100.64.0.2', hypervisor: { chassis: 'hv-b' } });
    expect(ev.routes[1]!.actual).toMatchObject({ nexthop: '172.16.0.10', lastHop: 'localnet', hypervisor: { chassis: 'hv-a' } });
    await assertOracle('edge', 'lrp-edge-to-join', '0a:00:00:0e:00:01', '10.77.0.0/24');
    await assertOracle('edge', 'lrp-edge-to-join', '0a:00:00:0e:00:01', '10.78.0.0/24');
  });

  it('a distributed gateway port of another router resolves to its HA chassis group: the cr- binding holder, else the highest priority', async () => {
    await ovn.nbctl(
      '--', 'lr-add', 'core',
      ...attachSwitchArgs('core', 'transit', '0a:00:00:10:00:01', ['100.65.0.1/24']),
      '--', 'lr-add', 'dgw',
      ...attachSwitchArgs('dgw', 'transit', '0a:00:00:10:00:02', ['100.65.0.2/24']),
      '--', 'lrp-set-gateway-chassis', 'lrp-dgw-to-transit', 'hv-a', '10',
      '--', 'lrp-set-gateway-chassis', 'lrp-dgw-to-transit', 'hv-b', '20',
    );
    await ovn.nbctl('--wait=sb', 'lr-route-add', 'core', '10.85.0.0/24', '100.65.0.2');
    const route = pcr('dgp', { router: 'core', nexthop: '100.65.0.2', cidrs: ['10.85.0.0/24'] });
    let ev = await check([route]);
    expect(ev.findings).toEqual([]);
    // no ovn-controller claimed cr-lrp-dgw-to-transit: the highest-priority member (hv-b) is active
    expect(ev.routes[0]!.actual).toMatchObject({ nexthop: '100.65.0.2', hypervisor: { chassis: 'hv-b' } });
    expect(ev.routes[0]!.actual.hypervisors!.map((h) => h.chassis).sort()).toEqual(['hv-a', 'hv-b']);
    // after a failover ovn-controller on hv-a claims the cr- port: that chassis is where traffic goes
    const hvA = (await ovn.sbctl('--bare', '--columns=_uuid', 'find', 'Chassis', 'name=hv-a')).trim();
    await ovn.sbctl('set', 'Port_Binding', 'cr-lrp-dgw-to-transit', `chassis=${hvA}`);
    ev = await check([route]);
    expect(ev.routes[0]!.actual.hypervisor?.chassis).toBe('hv-a');
    await assertOracle('core', 'lrp-core-to-transit', '0a:00:00:10:00:01', '10.85.0.0/24');
  });

  it('discard routes, ecmp_symmetric_reply and shadowing: no false FlowStale, the part and where named', async () => {
    await tenant('fx', 'fx-net', '0a:00:00:0f:00:01', '10.79.0.1/24', [
      ['fx-vm1', '0a:00:00:0f:00:10', '10.79.0.10'],
      ['fx-vm2', '0a:00:00:0f:00:11', '10.79.0.11'],
    ]);
    await ovn.nbctl(
      '--wait=sb',
      'lr-route-add', 'fx', '10.80.1.0/24', 'discard',
      '--', '--ecmp-symmetric-reply', 'lr-route-add', 'fx', '10.80.2.0/24', '10.79.0.10',
      '--', '--ecmp-symmetric-reply', 'lr-route-add', 'fx', '10.80.3.0/24', '10.79.0.10',
      '--', '--ecmp-symmetric-reply', 'lr-route-add', 'fx', '10.80.3.0/24', '10.79.0.11',
      '--', 'lr-route-add', 'fx', '10.81.0.0/16', '10.79.0.10',
      '--', 'lr-route-add', 'fx', '10.81.7.0/24', '10.79.0.11',
    );
    await ovn.sbctl('lsp-bind', 'fx-vm1', 'hv-a');
    await ovn.sbctl('lsp-bind', 'fx-vm2', 'hv-b');
    const ev = await check([
      pcr('dis', { router: 'fx', nexthop: '10.79.0.10', cidrs: ['10.80.1.0/24'] }),
      pcr('sym', { router: 'fx', nexthop: '10.79.0.10', cidrs: ['10.80.2.0/24'] }),
      pcr('shadow', { router: 'fx', nexthop: '10.79.0.10', cidrs: ['10.81.0.0/16'] }),
    ]);
    const by = new Map(ev.routes.map((r) => [r.route, r]));
    expect(by.get('dis')).toMatchObject({ state: 'Drifted', kinds: ['NexthopMismatch'], actual: { dropped: true } });
    expect(by.get('sym')).toMatchObject({ state: 'InSync', kinds: [] });
    expect(by.get('shadow')).toMatchObject({ state: 'Drifted', kinds: ['RouteShadowed'] });
    expect(by.get('shadow')!.findings[0]!.message).toMatch(/more specific dst-ip route 10.81.7.0\/24 on fx sends that part of 10.81.0.0\/16 to 10.79.0.11 \(chassis hv-b/);
    // the symmetric ECMP pair: both members, each with its hypervisor, no false FlowStale
    const ecmp = await check([pcr('ecmp', { router: 'fx', nexthop: '10.79.0.10', cidrs: ['10.80.3.0/24'] })]);
    expect(ecmp.routes[0]!.kinds).toEqual(['ConflictingRoute']);
    expect([...ecmp.routes[0]!.actual.nexthops!].sort()).toEqual(['10.79.0.10', '10.79.0.11']);
    await assertOracle('fx', 'lrp-fx-to-fx-net', '0a:00:00:0f:00:01', '10.80.1.0/24');
    await assertOracle('fx', 'lrp-fx-to-fx-net', '0a:00:00:0f:00:01', '10.80.2.0/24');
    await assertOracle('fx', 'lrp-fx-to-fx-net', '0a:00:00:0f:00:01', '10.81.7.0/24');
  });
});
