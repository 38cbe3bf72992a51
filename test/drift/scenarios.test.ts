// Every drift kind built the way it happens in a real cluster: real ovsdb-server and ovn-northd
// (the sandbox), topology through ovn-nbctl/ovn-sbctl, checked through the real OVSDB replicas.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RELEASES, describeRelease, itRunsRelease, type Sandbox } from '../support/releases.js';
import { openOvn, readViews } from '../../operator/ovn/index.js';
import { evaluate, type Evaluation } from '../../operator/drift/index.js';
import { SEED, buildSeedDrift, attachSwitchArgs, bumpWithoutNorthd } from '../../operator/ovn/seed-topology.js';
import type { PodCIDRRoute } from '../../operator/api/podcidrroute.js';
import { pcr } from '../support/ovn-fixtures.js';

async function check(sandbox: Sandbox, desired: PodCIDRRoute[]): Promise<Evaluation> {
  const dbs = await openOvn({ nbRemote: sandbox.nbRemote, sbRemote: sandbox.sbRemote, timeoutMs: 10_000 });
  try {
    const { nb, sb } = readViews(dbs);
    return evaluate(desired, nb, sb, new Date());
  } finally {
    await dbs.close();
  }
}

const kinds = (ev: Evaluation) => ev.findings.map((f) => `${f.kind} ${f.prefix}`);

// One suite per OVN release (test/support/releases.ts); body not re-indented to keep the diff small.
for (const release of RELEASES) describeRelease(release, () => {
describe('seed scenario (real northd)', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await release.start();
    await buildSeedDrift(sandbox);
  });
  afterAll(async () => sandbox?.stop());

  itRunsRelease(release, () => sandbox);

  it('reports FlowStale for 10.9.52.144/28 with the real hypervisors, the other four in sync', async () => {
    const route = pcr('dev-jr-vm', { router: SEED.router, nexthop: SEED.vmIp, cidrs: [...SEED.prefixes] });
    const ev = await check(sandbox, [route]);
    expect(kinds(ev)).toEqual([`FlowStale ${SEED.stalePrefix}`, `NorthdLagging ${SEED.stalePrefix}`]);
    const f = ev.findings[0]!;
    expect(f.expected).toEqual({ nexthop: SEED.vmIp, hypervisor: { chassis: SEED.vmChassis, hostname: SEED.vmHostname, encapType: 'stt', encapIp: SEED.vmEncapIp } });
    expect(f.actual).toEqual({ nexthop: SEED.otherIp, hypervisor: { chassis: SEED.otherChassis, hostname: SEED.otherHostname, encapType: 'stt', encapIp: SEED.otherEncapIp } });
    expect(f.message).toMatch(/NB_Global\.nb_cfg=\d+ but SB_Global\.nb_cfg=\d+/);
    expect(ev.routes.filter((r) => r.inSync).map((r) => r.prefix)).toEqual(SEED.prefixes.slice(1).sort());
  });

  it('is in sync once northd is back', async () => {
    await sandbox.startNorthd();
    const route = pcr('dev-jr-vm', { router: SEED.router, nexthop: SEED.vmIp, cidrs: [...SEED.prefixes] });
    const ev = await check(sandbox, [route]);
    expect(ev.findings).toEqual([]);
    expect(ev.summary.inSync).toBe(5);
  });
});

describe('drift kinds (real northd)', () => {
  let sandbox: Sandbox;
  let n = 0;
  /** A fresh router r<n> with a VM switch (10.<n>.0.0/16, fd<n>::/64) and a second switch, chassis hv-a/hv-b. */
  async function router(): Promise<{ r: string; vm: string; vm2: string; ip: string; ip2: string; v6: string }> {
    n++;
    const r = `r${n}`;
    await sandbox.nbctl(
      'lr-add', r,
      ...attachSwitchArgs(r, `${r}-sw1`, `0a:00:00:00:${n.toString(16).padStart(2, '0')}:01`, [`10.${n}.0.1/16`, `fd${n}::1/64`]),
      ...attachSwitchArgs(r, `${r}-sw2`, `0a:00:00:00:${n.toString(16).padStart(2, '0')}:02`, [`10.${100 + n}.0.1/16`]),
      '--', 'lsp-add', `${r}-sw1`, `${r}-vm`, '--', 'lsp-set-addresses', `${r}-vm`, `0a:00:00:01:${n.toString(16).padStart(2, '0')}:01 10.${n}.0.10 fd${n}::10`,
      '--', 'lsp-add', `${r}-sw2`, `${r}-vm2`, '--', 'lsp-set-addresses', `${r}-vm2`, `0a:00:00:01:${n.toString(16).padStart(2, '0')}:02 10.${100 + n}.0.10`,
    );
    // the Port_Binding rows exist once northd has caught up: bind only then
    await sandbox.nbctl('--wait=sb', '--timeout=20', 'sync');
    await sandbox.sbctl('lsp-bind', `${r}-vm`, 'hv-a');
    await sandbox.sbctl('lsp-bind', `${r}-vm2`, 'hv-b');
    return { r, vm: `${r}-vm`, vm2: `${r}-vm2`, ip: `10.${n}.0.10`, ip2: `10.${100 + n}.0.10`, v6: `fd${n}::10` };
  }

  beforeAll(async () => {
    sandbox = await release.start();
    await sandbox.sbctl('chassis-add', 'hv-a', 'geneve', '192.0.2.1');
    await sandbox.sbctl('chassis-add', 'hv-b', 'geneve', '192.0.2.2');
  });
  afterAll(async () => sandbox?.stop());

  it('RouterNotFound', async () => {
    const ev = await check(sandbox, [pcr('x', { router: 'no-such-router', nexthop: '10.0.0.1', cidrs: ['10.200.0.0/24'] })]);
    expect(kinds(ev)).toEqual(['RouterNotFound 10.200.0.0/24']);
  });

  it('RouteMissing after a route is deleted', async () => {
    const t = await router();
    await sandbox.nbctl('--wait=sb', 'lr-route-add', t.r, '10.250.1.0/24', t.ip, '--', 'lr-route-add', t.r, '10.250.2.0/24', t.ip);
    await sandbox.nbctl('--wait=sb', 'lr-route-del', t.r, '10.250.2.0/24');
    const ev = await check(sandbox, [pcr('a', { router: t.r, nexthop: t.ip, cidrs: ['10.250.1.0/24', '10.250.2.0/24'] })]);
    expect(kinds(ev)).toEqual(['RouteMissing 10.250.2.0/24']);
    expect(ev.findings[0]!.expected.hypervisor).toEqual({ chassis: 'hv-a', encapType: 'geneve', encapIp: '192.0.2.1' });
  });

  it('NexthopMismatch: the NB route points at another VM, and the SB follows it to the other hypervisor', async () => {
    const t = await router();
    await sandbox.nbctl('--wait=sb', 'lr-route-add', t.r, '10.250.3.0/24', t.ip2);
    const ev = await check(sandbox, [pcr('a', { router: t.r, nexthop: t.ip, cidrs: ['10.250.3.0/24'] })]);
    expect(kinds(ev)).toEqual(['NexthopMismatch 10.250.3.0/24']);
    expect(ev.findings[0]!.actual).toEqual({ nexthop: t.ip2, hypervisor: { chassis: 'hv-b', encapType: 'geneve', encapIp: '192.0.2.2' } });
    expect(ev.routes[0]!.actual.hypervisor!.chassis).toBe('hv-b');
  });

  it('ConflictingRoute: an unmanaged --ecmp route competes; the ECMP flow reaches both hypervisors', async () => {
    const t = await router();
    await sandbox.nbctl('--wait=sb', '--ecmp', 'lr-route-add', t.r, '10.250.4.0/24', t.ip, '--', '--ecmp', 'lr-route-add', t.r, '10.250.4.0/24', t.ip2);
    const ev = await check(sandbox, [pcr('a', { router: t.r, nexthop: t.ip, cidrs: ['10.250.4.0/24'] })]);
    expect(kinds(ev)).toEqual(['ConflictingRoute 10.250.4.0/24']);
    expect(ev.routes[0]!.actual.ecmp!.map((m) => m.hypervisor?.chassis).sort()).toEqual(['hv-a', 'hv-b']);
  });

  it('FlowMissing: no router port reaches the nexthop, so northd builds no flow', async () => {
    const t = await router();
    await sandbox.nbctl('ls-add', `${t.r}-island`, '--', 'lsp-add', `${t.r}-island`, `${t.r}-vm3`, '--', 'lsp-set-addresses', `${t.r}-vm3`, '0a:00:00:02:00:03 172.31.9.9');
    await sandbox.sbctl('lsp-bind', `${t.r}-vm3`, 'hv-a');
    await sandbox.nbctl('--wait=sb', 'lr-route-add', t.r, '10.250.5.0/24', '172.31.9.9');
    const ev = await check(sandbox, [pcr('a', { router: t.r, nexthop: '172.31.9.9', cidrs: ['10.250.5.0/24'] })]);
    expect(kinds(ev)).toEqual(['FlowMissing 10.250.5.0/24']);
    expect(ev.findings[0]!.message).toMatch(/No path for static route/);
  });

  it('NexthopPortNotFound: no port carries the nexthop IP', async () => {
    const t = await router();
    await sandbox.nbctl('--wait=sb', 'lr-route-add', t.r, '10.250.6.0/24', `10.${n}.0.99`);
    const ev = await check(sandbox, [pcr('a', { router: t.r, nexthop: `10.${n}.0.99`, cidrs: ['10.250.6.0/24'] })]);
    expect(kinds(ev)).toEqual(['NexthopPortNotFound 10.250.6.0/24']);
  });

  it('NexthopUnbound: the VM port is unbound (lsp-unbind)', async () => {
    const t = await router();
    await sandbox.nbctl('--wait=sb', 'lr-route-add', t.r, '10.250.7.0/24', t.ip);
    await sandbox.sbctl('lsp-unbind', t.vm);
    const ev = await check(sandbox, [pcr('a', { router: t.r, nexthop: t.ip, cidrs: ['10.250.7.0/24'] })]);
    expect(kinds(ev)).toEqual(['NexthopUnbound 10.250.7.0/24']);
  });

  it('ChassisMismatch: the VM port is bound on another chassis (lsp-bind)', async () => {
    const t = await router();
    await sandbox.nbctl('--wait=sb', 'lr-route-add', t.r, '10.250.8.0/24', t.ip);
    const route = pcr('a', { router: t.r, nexthop: t.ip, cidrs: ['10.250.8.0/24'], expectedChassis: 'hv-a' });
    expect((await check(sandbox, [route])).findings).toEqual([]);
    await sandbox.sbctl('lsp-unbind', t.vm);
    await sandbox.sbctl('lsp-bind', t.vm, 'hv-b');
    const ev = await check(sandbox, [route]);
    expect(kinds(ev)).toEqual(['ChassisMismatch 10.250.8.0/24']);
    expect(ev.findings[0]!.actual.hypervisor).toEqual({ chassis: 'hv-b', encapType: 'geneve', encapIp: '192.0.2.2' });
    expect(ev.findings[0]!.expected.hypervisor).toEqual({ chassis: 'hv-a', encapType: 'geneve', encapIp: '192.0.2.1' });
  });

  it('IPv6: in sync, then NexthopMismatch', async () => {
    const t = await router();
    await sandbox.nbctl('--wait=sb', 'lr-route-add', t.r, 'fd99:1::/64', t.v6, '--', 'lr-route-add', t.r, 'fd99:2::/64', `fd${n}::1:1`);
    await sandbox.nbctl('--wait=sb', 'lsp-add', `${t.r}-sw1`, `${t.r}-vm6`, '--', 'lsp-set-addresses', `${t.r}-vm6`, `0a:00:00:03:00:06 fd${n}::1:1`);
    await sandbox.sbctl('lsp-bind', `${t.r}-vm6`, 'hv-b');
    const ev = await check(sandbox, [pcr('a', { router: t.r, nexthop: t.v6, cidrs: ['fd99:1::/64', 'fd99:2::/64'] })]);
    expect(kinds(ev)).toEqual(['NexthopMismatch fd99:2::/64']);
    expect(ev.routes.find((r) => r.prefix === 'fd99:1::/64')!.actual.hypervisor!.chassis).toBe('hv-a');
    expect(ev.findings[0]!.actual.hypervisor!.chassis).toBe('hv-b');
  });

  it('FlowStale + FlowMissing + NorthdLagging while northd is down (IPv6 too)', async () => {
    const t = await router();
    await sandbox.nbctl('--wait=sb', 'lr-route-add', t.r, 'fd99:3::/64', t.v6, '--', 'lr-route-add', t.r, '10.250.9.0/24', t.ip2);
    await sandbox.stopNorthd();
    try {
      await bumpWithoutNorthd(sandbox, '--', '--may-exist', 'lr-route-add', t.r, '10.250.9.0/24', t.ip, '--', 'lr-route-add', t.r, 'fd99:4::/64', t.v6);
      const ev = await check(sandbox, [pcr('a', { router: t.r, nexthop: t.ip, cidrs: ['10.250.9.0/24'] }), pcr('b', { router: t.r, nexthop: t.v6, cidrs: ['fd99:3::/64', 'fd99:4::/64'] })]);
      expect(kinds(ev)).toEqual(['FlowStale 10.250.9.0/24', 'NorthdLagging 10.250.9.0/24', 'FlowMissing fd99:4::/64', 'NorthdLagging fd99:4::/64']);
      expect(ev.findings[0]!.actual.hypervisor!.chassis).toBe('hv-b');
      expect(ev.findings[0]!.expected.hypervisor!.chassis).toBe('hv-a');
    } finally {
      await sandbox.startNorthd();
    }
  });

  it('route tables: the same prefix in two tables resolves to each table\'s flow', async () => {
    const t = await router();
    await sandbox.nbctl('lrp-set-options', `lrp-${t.r}-to-${t.r}-sw2`, 'route_table=blue');
    await sandbox.nbctl('--wait=sb', '--route-table=blue', 'lr-route-add', t.r, '10.250.11.0/24', t.ip2, '--', '--route-table=green', 'lr-route-add', t.r, '10.250.11.0/24', t.ip, '--', 'lr-route-add', t.r, '10.250.11.0/24', t.ip);
    const blue = pcr('blue', { router: t.r, nexthop: t.ip2, cidrs: ['10.250.11.0/24'], routeTable: 'blue' });
    const main = pcr('main', { router: t.r, nexthop: t.ip, cidrs: ['10.250.11.0/24'] });
    const ev = await check(sandbox, [blue, main]);
    expect(ev.findings).toEqual([]);
    expect(ev.routes.map((r) => [r.route, r.actual.hypervisor?.chassis])).toEqual([['blue', 'hv-b'], ['main', 'hv-a']]);
    expect(ev.routes.find((r) => r.route === 'blue')!.sb!.match).toMatch(/^reg7 == [1-9]/);
    const green = await check(sandbox, [pcr('green', { router: t.r, nexthop: t.ip, cidrs: ['10.250.11.0/24'], routeTable: 'green' })]);
    expect(green.findings).toEqual([]); // no port uses green: its flow is the non-main one that is not blue's
    expect(green.routes[0]!.actual.hypervisor?.chassis).toBe('hv-a');
    const wrong = await check(sandbox, [pcr('blue', { router: t.r, nexthop: t.ip, cidrs: ['10.250.11.0/24'], routeTable: 'blue' })]);
    expect(kinds(wrong)).toEqual(['NexthopMismatch 10.250.11.0/24']);
  });

  it('NorthdLagging alone: northd down, a client bumped nb_cfg, no route changed', async () => {
    const t = await router();
    await sandbox.nbctl('--wait=sb', 'lr-route-add', t.r, '10.250.10.0/24', t.ip);
    await sandbox.stopNorthd();
    try {
      await bumpWithoutNorthd(sandbox, 'sync');
      const ev = await check(sandbox, [pcr('a', { router: t.r, nexthop: t.ip, cidrs: ['10.250.10.0/24'] })]);
      expect(ev.findings.map((f) => [f.kind, f.route])).toEqual([['NorthdLagging', '']]);
      expect(ev.routes[0]!.inSync).toBe(true);
    } finally {
      await sandbox.startNorthd();
    }
  });
});

describe('large clean topology (real northd)', () => {
  let sandbox: Sandbox;
  afterAll(async () => sandbox?.stop());

  it('hundreds of routes on several routers, IPv4 and IPv6, yield zero findings', async () => {
    sandbox = await release.start();
    const desired: PodCIDRRoute[] = [];
    for (let r = 1; r <= 4; r++) {
      const name = `big${r}`;
      const args = ['lr-add', name, ...attachSwitchArgs(name, `${name}-sw`, `0a:00:00:10:00:0${r}`, [`10.${r}.0.1/16`, `fd${r}::1/64`])];
      const vms: { port: string; ip: string; v6: string }[] = [];
      for (let v = 1; v <= 5; v++) {
        const port = `${name}-vm${v}`;
        vms.push({ port, ip: `10.${r}.0.${10 + v}`, v6: `fd${r}::${10 + v}` });
        args.push('--', 'lsp-add', `${name}-sw`, port, '--', 'lsp-set-addresses', port, `0a:00:00:11:0${r}:0${v} 10.${r}.0.${10 + v} fd${r}::${10 + v}`);
      }
      vms.forEach((vm, v) => {
        const cidrs: string[] = [];
        const cidrs6: string[] = [];
        for (let i = 0; i < 30; i++) {
          const p = `10.${100 + r}.${v * 30 + i}.0/24`;
          const p6 = i === 0 ? `fd${r}:${v + 1}::/64` : `fd${r}:${v + 1}:${i}::/64`; // canonical IPv6 text; not fd<r>::/64 itself: that is the connected network (RouteShadowed)
          cidrs.push(p);
          args.push('--', 'lr-route-add', name, p, vm.ip);
          if (i < 10) {
            cidrs6.push(p6);
            args.push('--', 'lr-route-add', name, p6, vm.v6);
          }
        }
        desired.push(pcr(`${name}-vm${v + 1}`, { router: name, nexthop: vm.ip, cidrs }));
        desired.push(pcr(`${name}-vm${v + 1}-v6`, { router: name, nexthop: vm.v6, cidrs: cidrs6 }));
      });
      await sandbox.nbctl('--wait=sb', ...args);
      for (const [i, vm] of vms.entries()) {
        await sandbox.sbctl('--may-exist', 'chassis-add', `hv${i}`, 'geneve', `192.0.2.${i + 1}`);
        await sandbox.sbctl('lsp-bind', vm.port, `hv${i}`);
      }
    }
    const ev = await check(sandbox, desired);
    expect(ev.summary.routes).toBe(4 * 5 * 40);
    expect(ev.findings).toEqual([]);
    expect(ev.routes.every((r) => r.actual.hypervisor?.chassis === r.expected.hypervisor?.chassis && r.expected.hypervisor)).toBe(true);
  });
});
});
