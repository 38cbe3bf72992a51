// Acceptance: NexthopDown with REAL hypervisors. Two userspace OVS + ovn-controller "hosts", each in
// a network namespace this test creates, join the sandbox SB over its unix socket and bind the VM
// ports themselves (Port_Binding.chassis, up=true, Chassis_Private.nb_cfg written by them, not by
// ovn-sbctl). Then hv2's ovn-controller is SIGKILLed like a host losing power: `check` must call
// the hv2 route NexthopDown once hv2 stays behind nb_cfg for longer than --chassis-down-after, and
// leave the hv1 route InSync.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { Hypervisor } from '../support/hypervisor.js';
import { ManifestDir, cli, describeRun, ensureBuilt, parseReport, pcr, routerWithSwitch, rowsOf, sleep, vmPort, type Finding, type Report } from './support.js';

interface RouteEntry {
  route: string;
  router: string;
  prefix: string;
  state: string;
  expected: Finding['expected'];
  actual: Finding['actual'];
  kinds: string[];
}
type FullReport = Report & { routes: RouteEntry[] };

let sb: OvnSandbox;
let md: ManifestDir;
const hvs: Hypervisor[] = [];
let hv1: Hypervisor;
let hv2: Hypervisor;
let manifest: string;
const db = () => ['--nb', sb.nbRemote, '--sb', sb.sbRemote];

/** logical_port -> {chassis name, up} as the SB holds them. */
async function bindings(): Promise<Map<string, { chassis?: string; up?: boolean }>> {
  const chassisName = new Map(rowsOf(await sb.sbctl('--format=json', '--columns=_uuid,name', 'list', 'Chassis')).map((r) => [r._uuid as string, r.name as string]));
  const out = new Map<string, { chassis?: string; up?: boolean }>();
  for (const r of rowsOf(await sb.sbctl('--format=json', '--columns=logical_port,chassis,up', 'list', 'Port_Binding'))) {
    const ch = Array.isArray(r.chassis) ? (r.chassis[0] as string | undefined) : (r.chassis as string | undefined);
    const up = Array.isArray(r.up) ? (r.up[0] as boolean | undefined) : (r.up as boolean | undefined);
    out.set(r.logical_port as string, { chassis: ch ? chassisName.get(ch) : undefined, up });
  }
  return out;
}

/** name -> Chassis_Private.nb_cfg. */
async function chassisPrivate(): Promise<Map<string, number>> {
  return new Map(rowsOf(await sb.sbctl('--format=json', '--columns=name,nb_cfg', 'list', 'Chassis_Private')).map((r) => [r.name as string, Number(r.nb_cfg)]));
}

async function sbNbCfg(): Promise<number> {
  return Number((await sb.sbctl('--bare', '--columns=nb_cfg', 'list', 'SB_Global')).trim());
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${hvs.map((h) => `--- ${h.name} ovn-controller.log\n${h.logTail('ovn-controller')}`).join('\n')}`);
    await sleep(100);
  }
}

const timings: Record<string, number> = {};

beforeAll(async () => {
  const t0 = Date.now();
  await ensureBuilt();
  md = await ManifestDir.create();
  sb = await OvnSandbox.start();
  await routerWithSwitch(sb, 'r1', 'ls1', ['10.71.0.1/24']);
  await vmPort(sb, 'ls1', 'vm1', ['10.71.0.11']);
  await vmPort(sb, 'ls1', 'vm2', ['10.71.0.12']);
  await sb.nbctl('lr-route-add', 'r1', '10.72.1.0/24', '10.71.0.11', '--', 'lr-route-add', 'r1', '10.72.2.0/24', '10.71.0.12');
  timings.sandbox = Date.now() - t0;
  const t1 = Date.now();
  // the SB unix socket is a filesystem path: reachable from any namespace
  const sbRemote = sb.sb.unixRemote;
  for (const [name, encapIp] of [['hv1', '192.0.2.1'], ['hv2', '192.0.2.2']] as const) {
    const hv = await Hypervisor.start({ name, encapIp, hostname: `${name}-host`, sbRemote });
    hvs.push(hv);
  }
  [hv1, hv2] = hvs as [Hypervisor, Hypervisor];
  await hv1.plugVm('vm1', 'vm1');
  await hv2.plugVm('vm2', 'vm2');
  timings.hypervisors = Date.now() - t1;
  const t2 = Date.now();
  await until('vm1 bound to hv1 and vm2 bound to hv2, both up=true', async () => {
    const b = await bindings();
    const ok = b.get('vm1')?.chassis === 'hv1' && b.get('vm1')?.up === true && b.get('vm2')?.chassis === 'hv2' && b.get('vm2')?.up === true;
    return ok ? true : undefined;
  });
  timings.bound = Date.now() - t2;
  manifest = await md.write('routes.yaml', pcr('to-vm1', { router: 'r1', nexthop: '10.71.0.11', cidrs: ['10.72.1.0/24'] }), pcr('to-vm2', { router: 'r1', nexthop: '10.71.0.12', cidrs: ['10.72.2.0/24'] }));
}, 120_000);

afterAll(async () => {
  for (const hv of hvs) await hv.stop();
  await sb?.stop();
  await md?.remove();
  console.log(`hypervisors.test timings (ms): ${JSON.stringify(timings)}`);
}, 60_000);

describe('NexthopDown with real hypervisors: userspace ovs-vswitchd + ovn-controller per namespace (OVN 23.03, local)', () => {
  it('both hypervisors bound their VM ports and confirm nb_cfg: check exits 0, both routes InSync on the right chassis', async () => {
    const t = Date.now();
    await sb.nbctl('--wait=hv', '--timeout=30', 'sync');
    timings.waitHv = Date.now() - t;
    const cfg = await sbNbCfg();
    expect(cfg).toBeGreaterThan(0);
    const cp = await chassisPrivate();
    expect(cp.get('hv1')).toBe(cfg);
    expect(cp.get('hv2')).toBe(cfg);

    const r = await cli(['check', ...db(), '-f', manifest, '--chassis-down-after', '2', '--output', 'json']);
    expect(r.code, describeRun(r)).toBe(0);
    const rep = parseReport(r) as FullReport;
    expect(rep.findings).toEqual([]);
    const byPrefix = new Map(rep.routes.map((x) => [x.prefix, x]));
    expect(byPrefix.get('10.72.1.0/24')).toMatchObject({ state: 'InSync', expected: { nexthop: '10.71.0.11', hypervisor: { chassis: 'hv1', hostname: 'hv1-host', encapType: 'geneve', encapIp: '192.0.2.1' } } });
    expect(byPrefix.get('10.72.2.0/24')).toMatchObject({ state: 'InSync', expected: { nexthop: '10.71.0.12', hypervisor: { chassis: 'hv2', hostname: 'hv2-host', encapType: 'geneve', encapIp: '192.0.2.2' } } });
  });

  it('hv2 ovn-controller SIGKILLed: after nb_cfg moves on and > 2 s pass, NexthopDown for the hv2 route only (exit 3); the default 60 s does not call it yet', async () => {
    const before = await bindings();
    await hv2.kill('ovn-controller'); // ovs-vswitchd of hv2 keeps running, as on a host whose agent died
    const cfgBefore = await sbNbCfg();
    await sb.nbctl('--wait=sb', '--timeout=30', 'sync');
    const cfg = await sbNbCfg();
    expect(cfg).toBeGreaterThan(cfgBefore);
    // hv1 keeps up; hv2 is left behind
    await until('hv1 to confirm the new nb_cfg', async () => ((await chassisPrivate()).get('hv1') === cfg ? true : undefined));
    const cp = await chassisPrivate();
    expect(cp.get('hv2')).toBe(cfgBefore);
    const after = await bindings();
    // what a dead ovn-controller leaves behind (recorded for the issue note, asserted as observed)
    console.log(
      `after SIGKILL of hv2 ovn-controller: Port_Binding vm2 before=${JSON.stringify(before.get('vm2'))} after=${JSON.stringify(after.get('vm2'))}; ` +
        `Chassis_Private nb_cfg hv1=${cp.get('hv1')} hv2=${cp.get('hv2')} SB_Global.nb_cfg=${cfg}`,
    );
    expect(after.get('vm2')?.chassis).toBe('hv2');

    // the default --chassis-down-after (60 s) gives the chassis time
    const calm = await cli(['check', ...db(), '-f', manifest, '--output', 'json']);
    expect(calm.code, describeRun(calm)).toBe(0);
    expect(parseReport(calm).findings.map((f) => f.kind)).not.toContain('NexthopDown');

    await sleep(2_500);
    const r = await cli(['check', ...db(), '-f', manifest, '--chassis-down-after', '2', '--output', 'json']);
    expect(r.code, describeRun(r)).toBe(3);
    const rep = parseReport(r) as FullReport;
    expect(rep.findings.map((f) => [f.kind, f.prefix])).toEqual([['NexthopDown', '10.72.2.0/24']]);
    const f = rep.findings[0]!;
    expect(f.route).toBe('to-vm2');
    expect(f.message).toMatch(new RegExp(`chassis hv2 \\(hv2-host\\) .*has not confirmed nb_cfg ${cfg} \\(Chassis_Private\\.nb_cfg=${cfgBefore}\\)`));
    expect(f.expected.hypervisor).toMatchObject({ chassis: 'hv2', encapIp: '192.0.2.2' });
    const byPrefix = new Map(rep.routes.map((x) => [x.prefix, x]));
    expect(byPrefix.get('10.72.1.0/24')).toMatchObject({ state: 'InSync', expected: { hypervisor: { chassis: 'hv1', encapIp: '192.0.2.1' } } });
    expect(byPrefix.get('10.72.2.0/24')).toMatchObject({ state: 'Drifted', kinds: ['NexthopDown'] });
  }, 60_000);

  it('hv2 ovs-vswitchd killed too (the whole host gone): the binding stays up=true on hv2; > 2 s after the next nb_cfg, NexthopDown on hv2 again', async () => {
    await hv2.kill('ovs-vswitchd');
    await sb.nbctl('--wait=sb', '--timeout=30', 'sync');
    const cfg = await sbNbCfg();
    const b = await bindings();
    const cp = await chassisPrivate();
    console.log(`after SIGKILL of hv2 ovs-vswitchd as well: Port_Binding vm2=${JSON.stringify(b.get('vm2'))}; Chassis_Private nb_cfg=${JSON.stringify([...cp])} SB_Global.nb_cfg=${cfg}`);
    expect(b.get('vm2')).toEqual({ chassis: 'hv2', up: true }); // nothing on the SB side notices a dead host
    expect(cp.get('hv2')).toBeLessThan(cfg);
    // the lag is judged from NB_Global.nb_cfg_timestamp of the newest nb_cfg: wait past the window again
    await sleep(2_500);
    const r = await cli(['check', ...db(), '-f', manifest, '--chassis-down-after', '2', '--output', 'json']);
    expect(r.code, describeRun(r)).toBe(3);
    expect(parseReport(r).findings.map((f) => [f.kind, f.prefix])).toEqual([['NexthopDown', '10.72.2.0/24']]);
  });

  it('hv1 ovn-controller stopped gracefully (ovs-appctl exit): it deletes its Chassis and releases vm1 -> NexthopUnbound, not NexthopDown', async () => {
    await hv1.inNs('ovs-appctl', '-t', await hv1.controllerCtl(), 'exit');
    const b = await until('vm1 released by hv1', async () => {
      const x = await bindings();
      return x.get('vm1')?.chassis === undefined ? x : undefined;
    });
    const cp = await chassisPrivate();
    const chassisNames = (await sb.sbctl('--bare', '--columns=name', 'list', 'Chassis')).trim().split(/\s+/).filter(Boolean);
    console.log(`after graceful exit of hv1 ovn-controller: Port_Binding vm1=${JSON.stringify(b.get('vm1'))}; Chassis=${JSON.stringify(chassisNames)}; Chassis_Private=${JSON.stringify([...cp])}`);
    expect(chassisNames).not.toContain('hv1');
    expect(cp.has('hv1')).toBe(false);
    const r = await cli(['check', ...db(), '-f', manifest, '--chassis-down-after', '2', '--output', 'json']);
    expect(r.code, describeRun(r)).toBe(3);
    const rep = parseReport(r);
    expect(rep.findings.map((f) => [f.kind, f.prefix])).toEqual([
      ['NexthopUnbound', '10.72.1.0/24'],
      ['NexthopDown', '10.72.2.0/24'],
    ]);
    expect(rep.findings[0]!.message).toContain('port vm1 has no chassis');
  });
});
