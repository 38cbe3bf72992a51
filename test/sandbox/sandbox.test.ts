import { afterAll, describe, expect, it } from 'vitest';
import { OvnSandbox, clusterLeader } from '../../operator/sandbox/sandbox.js';

describe('OvnSandbox', () => {
  const started: OvnSandbox[] = [];
  afterAll(async () => {
    for (const s of started) await s.stop();
  });

  it('runs NB, SB and northd: a router in NB becomes a datapath in SB', async () => {
    const sb = await OvnSandbox.start();
    started.push(sb);
    expect(sb.nbRemote).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
    await sb.nbctl('--wait=sb', 'lr-add', 'r1');
    const dps = await sb.sbctl('--bare', '--columns=external_ids', 'list', 'Datapath_Binding');
    expect(dps).toContain('name=r1');
    await sb.stop();
    const { existsSync } = await import('node:fs');
    expect(existsSync(sb.dir)).toBe(false);
  });

  it('builds 3-member RAFT clusters with a leader', async () => {
    const sb = await OvnSandbox.start({ cluster: true, northd: false });
    started.push(sb);
    expect(sb.nbRemote.split(',')).toHaveLength(3);
    const leader = await clusterLeader(sb, sb.nb);
    expect(leader).toBeDefined();
    await sb.nbctl('--no-wait', 'lr-add', 'r1');
    expect(await sb.nbctl('lr-list')).toContain('r1');
  });
});
