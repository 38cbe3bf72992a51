// Acceptance: `ovn-drift check` against clustered (3-member RAFT) NB and SB given as
// comma-separated remotes, including after the leader is stopped and with unix: lists.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvnSandbox, clusterLeader } from '../../operator/sandbox/sandbox.js';
import {
  ManifestDir, bind, chassis, cli, describeRun, ensureBuilt, kinds, nbRoutes, parseReport, pcr, routerWithSwitch, sleep,
  vmPort, waitSb,
} from './support.js';

let sb: OvnSandbox;
let md: ManifestDir;

beforeAll(async () => {
  await ensureBuilt();
  md = await ManifestDir.create();
  sb = await OvnSandbox.start({ cluster: true });
  await routerWithSwitch(sb, 'r1', 'ls1', ['10.9.2.1/24']);
  await vmPort(sb, 'ls1', 'vm1', ['10.9.2.146']);
  await vmPort(sb, 'ls1', 'vm2', ['10.9.2.147']);
  await chassis(sb, 'ch1', '192.168.0.11', 'host1');
  await chassis(sb, 'ch2', '192.168.0.12', 'host2');
  await bind(sb, 'vm1', 'ch1');
  await bind(sb, 'vm2', 'ch2');
  await sb.nbctl('lr-route-add', 'r1', '10.9.52.144/28', '10.9.2.146');
  await sb.nbctl('lr-route-add', 'r1', '10.9.54.0/24', '10.9.2.147');
  await waitSb(sb);
}, 240_000);

afterAll(async () => {
  await sb?.stop();
  await md?.remove();
});

describe('clustered remotes', () => {
  it('comma-separated tcp remotes: in sync -> 0', async () => {
    expect(sb.nbRemote.split(',')).toHaveLength(3);
    const f = await md.write('ok.yaml', pcr('ok', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28'], expectedChassis: 'host1' }));
    const r = await cli(['check', '--nb', sb.nbRemote, '--sb', sb.sbRemote, '-f', f, '--output', 'json']);
    expect(r.code, describeRun(r)).toBe(0);
    expect(parseReport(r).findings).toEqual([]);
  });

  it('comma-separated unix remotes: drift -> 3', async () => {
    const f = await md.write('mm.yaml', pcr('mm', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.54.0/24'] }));
    const r = await cli(['check', '--nb', sb.nb.unixRemote, '--sb', sb.sb.unixRemote, '-f', f, '--output', 'json']);
    expect(r.code, describeRun(r)).toBe(3);
    expect(kinds(parseReport(r))).toEqual(['NexthopMismatch']);
  });

  it('--repair through the cluster list writes via the leader and waits for the SB', async () => {
    const f = await md.write('create.yaml', pcr('create', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.53.0/24'] }));
    const r = await cli(['check', '--nb', sb.nbRemote, '--sb', sb.sbRemote, '-f', f, '--output', 'json', '--repair']);
    expect(r.code, describeRun(r)).toBe(0);
    expect((await nbRoutes(sb, 'r1')).filter((x) => x.prefix === '10.9.53.0/24').map((x) => x.nexthop)).toEqual(['10.9.2.146']);
  });

  it('after the NB and SB leaders are stopped, the same lists still check and repair', async () => {
    const nbLeader = await clusterLeader(sb, sb.nb);
    const sbLeader = await clusterLeader(sb, sb.sb);
    expect(nbLeader).toBeDefined();
    expect(sbLeader).toBeDefined();
    await nbLeader!.stop();
    await sbLeader!.stop();
    try {
      // wait for both clusters to elect a new leader (observed through the tools, not the product)
      for (let i = 0; i < 60 && (!(await clusterLeader(sb, sb.nb)) || !(await clusterLeader(sb, sb.sb))); i++) await sleep(500);
      await waitSb(sb);
      const f = await md.write(
        'failover.yaml',
        pcr('ok', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28'] }),
        pcr('new', { router: 'r1', nexthop: '10.9.2.147', cidrs: ['10.9.55.0/24'] }),
      );
      const pre = await cli(['check', '--nb', sb.nbRemote, '--sb', sb.sbRemote, '-f', f, '--output', 'json'], { killAfterMs: 90_000 });
      expect(pre.code, describeRun(pre)).toBe(3);
      expect(kinds(parseReport(pre))).toEqual(['RouteMissing']);
      const r = await cli(['check', '--nb', sb.nbRemote, '--sb', sb.sbRemote, '-f', f, '--output', 'json', '--repair'], { killAfterMs: 90_000 });
      expect(r.code, describeRun(r)).toBe(0);
      expect((await nbRoutes(sb, 'r1')).filter((x) => x.prefix === '10.9.55.0/24').map((x) => x.nexthop)).toEqual(['10.9.2.147']);
    } finally {
      await nbLeader!.start();
      await sbLeader!.start();
    }
  });

  it('a lone NB member cut off from its cluster is never taken as truth (StaleView or exit 2, never 0)', async () => {
    const leader = await clusterLeader(sb, sb.nb);
    const [lone, ...rest] = [...sb.nb.members.filter((m) => m !== leader), leader!];
    const stopped = rest.filter((m) => m!.running);
    for (const m of stopped) await m!.stop();
    try {
      await sleep(5_000); // past the election timer: the survivor has no leader and no quorum
      const f = await md.write('stale.yaml', pcr('ok', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28'] }));
      const r = await cli(['check', '--nb', lone!.tcpRemote, '--sb', sb.sbRemote, '-f', f, '--output', 'json', '--timeout', '5'], { killAfterMs: 90_000 });
      expect(r.killed).toBe(false);
      expect([2, 3], describeRun(r)).toContain(r.code);
      if (r.code === 3) expect(kinds(parseReport(r))).toContain('StaleView');
    } finally {
      for (const m of stopped) await m!.start();
    }
  });
});
