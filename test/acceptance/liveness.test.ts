// Acceptance: northd liveness with evidence and the settle window, as `ovn-drift check` sees them
// against a real NB/SB + ovn-northd changed the way CMSs change it (no nb_cfg bump).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { ManifestDir, bind, chassis, cli, describeRun, ensureBuilt, kinds, nbCfg, parseReport, pcr, routerWithSwitch, vmPort, waitSb } from './support.js';

let sb: OvnSandbox;
let md: ManifestDir;
const db = () => ['--nb', sb.nbRemote, '--sb', sb.sbRemote];

beforeAll(async () => {
  await ensureBuilt();
  md = await ManifestDir.create();
  sb = await OvnSandbox.start();
  await routerWithSwitch(sb, 'r1', 'ls1', ['10.61.0.1/24']);
  await vmPort(sb, 'ls1', 'vmA', ['10.61.0.10']);
  await vmPort(sb, 'ls1', 'vmB', ['10.61.0.11']);
  await chassis(sb, 'ch1', '192.168.7.1', 'host1');
  await bind(sb, 'vmA', 'ch1');
  await bind(sb, 'vmB', 'ch1');
});
afterAll(async () => {
  await sb?.startNorthd().catch(() => undefined);
  await sb?.stop();
  await md?.remove();
});

describe('northd liveness without nb_cfg (OVN 23.03, local)', () => {
  it('a route re-created with northd stopped: the SB flow still carries the stage-hint of the deleted NB row -> FlowStale + NorthdLagging at once', async () => {
    await sb.nbctl('lr-route-add', 'r1', '10.62.0.0/24', '10.61.0.10');
    await waitSb(sb);
    await sb.stopNorthd();
    try {
      const before = await nbCfg(sb);
      // as Kube-OVN or Neutron would: delete and re-create, no --wait, no nb_cfg bump
      await sb.nbctl('--no-wait', 'lr-route-del', 'r1', '10.62.0.0/24');
      await sb.nbctl('--no-wait', 'lr-route-add', 'r1', '10.62.0.0/24', '10.61.0.11');
      expect(await nbCfg(sb)).toBe(before);
      const f = await md.write('hint.yaml', pcr('hint', { router: 'r1', nexthop: '10.61.0.11', cidrs: ['10.62.0.0/24'] }));
      const t0 = Date.now();
      const r = await cli(['check', ...db(), '-f', f, '--output', 'json', '--settle', '30']);
      expect(r.code, describeRun(r)).toBe(3);
      expect(Date.now() - t0).toBeLessThan(30_000); // evidence: no settle wait
      const rep = parseReport(r);
      expect(kinds(rep)).toEqual(['FlowStale', 'NorthdLagging']);
      const lag = rep.findings.find((x) => x.kind === 'NorthdLagging')!;
      expect(lag.message).toContain('stage-hint');
      expect(lag.message).toContain('no longer exist');
      expect(rep.findings.find((x) => x.kind === 'FlowStale')!.actual.nexthop).toBe('10.61.0.10');
    } finally {
      await sb.startNorthd();
    }
  });

  it('a route added a moment ago to a healthy system is not drift: check re-reads within --settle and exits 0', async () => {
    await sb.stopNorthd();
    await sb.nbctl('--no-wait', 'lr-route-add', 'r1', '10.63.0.0/24', '10.61.0.10');
    const f = await md.write('fresh.yaml', pcr('fresh', { router: 'r1', nexthop: '10.61.0.10', cidrs: ['10.63.0.0/24'] }));
    const checking = cli(['check', ...db(), '-f', f, '--output', 'json', '--settle', '20']);
    await new Promise((r) => setTimeout(r, 1500));
    await sb.startNorthd(); // northd catches up inside the window
    const r = await checking;
    expect(r.code, describeRun(r)).toBe(0);
    expect(parseReport(r).findings).toEqual([]);
  });

  it('an NB route with no flow for longer than the window: FlowMissing + NorthdLagging naming how long', async () => {
    await sb.stopNorthd();
    try {
      await sb.nbctl('--no-wait', 'lr-route-add', 'r1', '10.64.0.0/24', '10.61.0.10');
      const f = await md.write('late.yaml', pcr('late', { router: 'r1', nexthop: '10.61.0.10', cidrs: ['10.64.0.0/24'] }));
      const r = await cli(['check', ...db(), '-f', f, '--output', 'json', '--settle', '1']);
      expect(r.code, describeRun(r)).toBe(3);
      const rep = parseReport(r);
      expect(kinds(rep)).toEqual(['FlowMissing', 'NorthdLagging']);
      expect(rep.findings[1]!.message).toMatch(/has not compiled the NB route for 10\.64\.0\.0\/24 for \d+s \(since \d{4}-/);
      // --settle 0: the finding as read, at once, without the age evidence
      const now = parseReport(await cli(['check', ...db(), '-f', f, '--output', 'json', '--settle', '0']));
      expect(kinds(now)).toEqual(['FlowMissing']);
    } finally {
      await sb.startNorthd();
    }
  });

  it('BfdDown: a BFD-monitored route whose session is down has no flow by design; named, not blamed on northd', async () => {
    const bfd = (await sb.nbctl('create', 'BFD', 'logical_port=r1-ls1', 'dst_ip=10.61.0.10')).trim();
    await sb.nbctl(`--bfd=${bfd}`, 'lr-route-add', 'r1', '10.66.0.0/24', '10.61.0.10');
    await waitSb(sb); // with no ovn-controller answering, northd marks the session down and withdraws the route
    expect((await sb.nbctl('get', 'BFD', bfd, 'status')).trim()).toBe('down');
    const f = await md.write('bfd.yaml', pcr('bfd', { router: 'r1', nexthop: '10.61.0.10', cidrs: ['10.66.0.0/24'] }));
    const r = await cli(['check', ...db(), '-f', f, '--output', 'json', '--settle', '30']);
    expect(r.code, describeRun(r)).toBe(3);
    const rep = parseReport(r);
    expect(kinds(rep)).toEqual(['BfdDown']);
    expect(rep.findings[0]!.message).toMatch(/session is down .*logical port r1-ls1, dst 10\.61\.0\.10/);
  });

  it('NexthopDown: the nexthop port is bound but not up (Port_Binding.up=false)', async () => {
    await sb.nbctl('--wait=sb', 'lr-route-add', 'r1', '10.67.0.0/24', '10.61.0.11');
    await sb.sbctl('set', 'Port_Binding', 'vmB', 'up=false');
    try {
      const f = await md.write('down.yaml', pcr('down', { router: 'r1', nexthop: '10.61.0.11', cidrs: ['10.67.0.0/24'] }));
      const r = await cli(['check', ...db(), '-f', f, '--output', 'json']);
      expect(r.code, describeRun(r)).toBe(3);
      const rep = parseReport(r);
      expect(kinds(rep)).toEqual(['NexthopDown']);
      expect(rep.findings[0]!.message).toContain('vmB');
      expect(rep.findings[0]!.message).toContain('Port_Binding.up=false');
    } finally {
      await sb.sbctl('set', 'Port_Binding', 'vmB', 'up=true');
    }
  });

  it('NexthopDown: the chassis stopped confirming nb_cfg (Chassis_Private left behind) for longer than --chassis-down-after', async () => {
    await vmPort(sb, 'ls1', 'vmC', ['10.61.0.12']);
    await chassis(sb, 'ch2', '192.168.7.2', 'host2');
    await bind(sb, 'vmC', 'ch2');
    const ch2 = (await sb.sbctl('--bare', '--columns=_uuid', 'find', 'Chassis', 'name=ch2')).trim();
    // what a real ovn-controller keeps current; this one stops answering at nb_cfg 0
    await sb.sbctl('create', 'Chassis_Private', 'name=ch2', `chassis=${ch2}`, 'nb_cfg=0');
    await sb.nbctl('--wait=sb', 'lr-route-add', 'r1', '10.68.0.0/24', '10.61.0.12');
    await sb.nbctl('--wait=sb', 'sync'); // a client bumps nb_cfg; northd confirms it in the SB, ch2 never does
    await new Promise((r) => setTimeout(r, 1500));
    const f = await md.write('chassis.yaml', pcr('chassis', { router: 'r1', nexthop: '10.61.0.12', cidrs: ['10.68.0.0/24'] }));
    const r = await cli(['check', ...db(), '-f', f, '--output', 'json', '--chassis-down-after', '1']);
    expect(r.code, describeRun(r)).toBe(3);
    const rep = parseReport(r);
    expect(kinds(rep)).toEqual(['NexthopDown']);
    expect(rep.findings[0]!.message).toMatch(/chassis ch2 \(host2\) .*Chassis_Private\.nb_cfg=0/);
    expect(rep.findings[0]!.expected.hypervisor).toMatchObject({ chassis: 'ch2', encapIp: '192.168.7.2' });
    // within the default 60 s the chassis is given time
    const calm = await cli(['check', ...db(), '-f', f, '--output', 'json']);
    expect(calm.code, describeRun(calm)).toBe(0);
  });

  it('--settle that is not a number of seconds is bad input (exit 1, names the flag)', async () => {
    const f = await md.write('any.yaml', pcr('any', { router: 'r1', nexthop: '10.61.0.10', cidrs: ['10.65.0.0/24'] }));
    const r = await cli(['check', ...db(), '-f', f, '--settle', 'soon']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--settle');
  });
});
