// The agent against real iptables/ip6tables (nft and legacy backends) in network namespaces the
// test creates: apply, idempotence, drift repair, removal when the selector stops matching, cleanup.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHAIN } from '../../operator/agent/render.js';
import { Netns, ipt, ourRules, type BackendName } from './netns.js';
import { agentIn, closeRunners, metricValue, validPolicy } from './support.js';

const gw = validPolicy('ic-gateway', {
  nodeSelector: { matchLabels: { 'node-role.kubernetes.io/ic-gateway': '' } },
  ports: [{ name: 'stt', protocol: 'TCP', port: 7471 }, { name: 'geneve', protocol: 'UDP', port: 6081 }],
});
const vxlan = validPolicy('vxlan', { ports: [{ name: 'vxlan', protocol: 'UDP', port: 4789 }, { name: 'geneve', protocol: 'UDP', port: 6081 }], ipFamilies: ['IPv4'] });
const gwLabels = { 'node-role.kubernetes.io/ic-gateway': '' };

describe.each(['nft', 'legacy'] as BackendName[])('NOTRACK rules with the %s backend', (backend) => {
  let ns: Netns;
  beforeEach(() => {
    ns = Netns.create();
  });
  afterEach(async () => {
    await closeRunners();
    ns.delete();
  });

  it('applies one rule per port/protocol/family, jumps from PREROUTING and OUTPUT, then changes nothing on a second pass', async () => {
    const { agent } = agentIn(ns.name, backend);
    const first = await agent.pass({ policies: [gw, vxlan], invalid: [], nodeLabels: gwLabels });
    expect(first.outcome).toBe('Applied');
    expect(first.error).toBeUndefined();

    const v4 = ourRules(ns, backend, 'ipv4');
    expect(v4).toContain(`-N ${CHAIN}`);
    expect(v4.filter((l) => l.startsWith('-A PREROUTING') && l.endsWith(`-j ${CHAIN}`))).toHaveLength(1);
    expect(v4.filter((l) => l.startsWith('-A OUTPUT') && l.endsWith(`-j ${CHAIN}`))).toHaveLength(1);
    const v4rules = v4.filter((l) => l.startsWith(`-A ${CHAIN}`));
    expect(v4rules).toHaveLength(3);
    expect(v4rules.find((l) => l.includes('--ports 6081'))).toContain('policy=ic-gateway,vxlan');
    expect(v4rules.find((l) => l.includes('--ports 7471'))).toMatch(/-p tcp .* -j NOTRACK$/);
    const v6rules = ourRules(ns, backend, 'ipv6').filter((l) => l.startsWith(`-A ${CHAIN}`));
    expect(v6rules.map((l) => /--ports (\d+)/.exec(l)![1]).sort()).toEqual(['6081', '7471']);
    expect(v6rules.find((l) => l.includes('--ports 6081'))).toContain('policy=ic-gateway port=geneve');

    const before = ipt(ns, backend, 'ipv4', ['-t', 'raw', '-S']) + ipt(ns, backend, 'ipv6', ['-t', 'raw', '-S']);
    const second = await agent.pass({ policies: [gw, vxlan], invalid: [], nodeLabels: gwLabels });
    expect(second.outcome).toBe('InSync');
    expect(second.families.every((f) => !f.changed)).toBe(true);
    expect(ipt(ns, backend, 'ipv4', ['-t', 'raw', '-S']) + ipt(ns, backend, 'ipv6', ['-t', 'raw', '-S'])).toBe(before);
  });

  it('repairs a flushed chain and a deleted jump, counting the repairs', async () => {
    const { agent, metrics } = agentIn(ns.name, backend);
    await agent.pass({ policies: [gw], invalid: [], nodeLabels: gwLabels });
    const good4 = ourRules(ns, backend, 'ipv4');
    const good6 = ourRules(ns, backend, 'ipv6');

    ipt(ns, backend, 'ipv4', ['-w', '-t', 'raw', '-F', CHAIN]);
    expect(ourRules(ns, backend, 'ipv4').filter((l) => l.startsWith(`-A ${CHAIN}`))).toHaveLength(0);
    const r1 = await agent.pass({ policies: [gw], invalid: [], nodeLabels: gwLabels });
    expect(r1.outcome).toBe('Repaired');
    expect(ourRules(ns, backend, 'ipv4')).toEqual(good4);
    expect(await metricValue(metrics, 'ovndrift_agent_drift_repairs_total', { family: 'ipv4', kind: 'RulesChanged' })).toBe(1);

    const jump6 = good6.find((l) => l.startsWith('-A OUTPUT'))!;
    ipt(ns, backend, 'ipv6', ['-w', '-t', 'raw', ...jump6.replace('-A OUTPUT', '-D OUTPUT').match(/"[^"]*"|\S+/g)!.map((w) => w.replace(/^"|"$/g, ''))]);
    expect(ourRules(ns, backend, 'ipv6').some((l) => l.startsWith('-A OUTPUT'))).toBe(false);
    const r2 = await agent.pass({ policies: [gw], invalid: [], nodeLabels: gwLabels });
    expect(r2.outcome).toBe('Repaired');
    expect(ourRules(ns, backend, 'ipv6')).toEqual(good6);
    expect(await metricValue(metrics, 'ovndrift_agent_drift_repairs_total', { family: 'ipv6', kind: 'JumpMissing' })).toBe(1);

    // A whole-table flush (chain, jumps and all) is repaired too.
    ipt(ns, backend, 'ipv4', ['-w', '-t', 'raw', '-F']);
    ipt(ns, backend, 'ipv4', ['-w', '-t', 'raw', '-X']);
    expect((await agent.pass({ policies: [gw], invalid: [], nodeLabels: gwLabels })).outcome).toBe('Repaired');
    expect(ourRules(ns, backend, 'ipv4')).toEqual(good4);
  });

  it('removes everything of ours when no policy selects the node any more, and leaves other raw rules alone', async () => {
    ipt(ns, backend, 'ipv4', ['-w', '-t', 'raw', '-A', 'PREROUTING', '-p', 'udp', '--dport', '53', '-j', 'NOTRACK']);
    const { agent } = agentIn(ns.name, backend);
    await agent.pass({ policies: [gw], invalid: [], nodeLabels: gwLabels });
    expect(ourRules(ns, backend, 'ipv4').length).toBeGreaterThan(0);

    const r = await agent.pass({ policies: [gw], invalid: [], nodeLabels: { 'node-role.kubernetes.io/worker': '' } });
    expect(r.outcome).toBe('Removed');
    expect(ourRules(ns, backend, 'ipv4')).toEqual([]);
    expect(ourRules(ns, backend, 'ipv6')).toEqual([]);
    expect(ipt(ns, backend, 'ipv4', ['-t', 'raw', '-S', 'PREROUTING'])).toContain('--dport 53 -j NOTRACK');
    expect((await agent.pass({ policies: [gw], invalid: [], nodeLabels: {} })).outcome).toBe('InSync');
  });

  it('with an invalid policy in the input, keeps enforcing (and repairing) the last valid set', async () => {
    const { agent } = agentIn(ns.name, backend);
    await agent.pass({ policies: [gw], invalid: [], nodeLabels: gwLabels });
    const good = ourRules(ns, backend, 'ipv4');
    const bad = { policies: [vxlan], invalid: ['TunnelNoTrackPolicy ic-gateway is invalid: spec.ports[0].port: must be an integer in 1..65535 (got 0)'], nodeLabels: gwLabels };
    const r = await agent.pass(bad);
    expect(r.outcome).toBe('InvalidInput');
    expect(ourRules(ns, backend, 'ipv4')).toEqual(good);
    ipt(ns, backend, 'ipv4', ['-w', '-t', 'raw', '-F', CHAIN]);
    expect((await agent.pass(bad)).outcome).toBe('InvalidInput');
    expect(ourRules(ns, backend, 'ipv4')).toEqual(good);
    // A fresh agent with nothing valid yet changes nothing at all.
    const fresh = agentIn(ns.name, backend).agent;
    ipt(ns, backend, 'ipv4', ['-w', '-t', 'raw', '-F', CHAIN]);
    expect((await fresh.pass(bad)).families).toEqual([]);
    expect(ourRules(ns, backend, 'ipv4').filter((l) => l.startsWith(`-A ${CHAIN}`))).toEqual([]);
  });

  it('ipFamilies: [IPv4] leaves ip6tables without our chain', async () => {
    const { agent } = agentIn(ns.name, backend);
    await agent.pass({ policies: [vxlan], invalid: [], nodeLabels: {} });
    expect(ourRules(ns, backend, 'ipv4').filter((l) => l.startsWith(`-A ${CHAIN}`))).toHaveLength(2);
    expect(ourRules(ns, backend, 'ipv6')).toEqual([]);
  });

  it('cleanup removes chains and jumps from both families', async () => {
    const { agent } = agentIn(ns.name, backend);
    await agent.pass({ policies: [gw], invalid: [], nodeLabels: gwLabels });
    const { removed, errors } = await agent.cleanup();
    expect(errors).toEqual([]);
    expect(removed.sort()).toEqual([`${backend}/ipv4`, `${backend}/ipv6`]);
    expect(ourRules(ns, backend, 'ipv4')).toEqual([]);
    expect(ourRules(ns, backend, 'ipv6')).toEqual([]);
  });
});

describe('backend switch', () => {
  let ns: Netns;
  beforeEach(() => {
    ns = Netns.create();
  });
  afterEach(async () => {
    await closeRunners();
    ns.delete();
  });

  it('an nft agent removes stale rules a legacy agent left behind, and vice versa', async () => {
    await agentIn(ns.name, 'legacy').agent.pass({ policies: [gw], invalid: [], nodeLabels: gwLabels });
    expect(ourRules(ns, 'legacy', 'ipv4').length).toBeGreaterThan(0);
    const r = await agentIn(ns.name, 'nft').agent.pass({ policies: [gw], invalid: [], nodeLabels: gwLabels });
    expect(r.outcome).toBe('Applied');
    expect(ourRules(ns, 'legacy', 'ipv4')).toEqual([]);
    expect(ourRules(ns, 'legacy', 'ipv6')).toEqual([]);
    expect(ourRules(ns, 'nft', 'ipv4').filter((l) => l.startsWith(`-A ${CHAIN}`))).toHaveLength(2);

    await agentIn(ns.name, 'legacy').agent.pass({ policies: [gw], invalid: [], nodeLabels: gwLabels });
    expect(ourRules(ns, 'nft', 'ipv4')).toEqual([]);
    expect(ourRules(ns, 'legacy', 'ipv4').filter((l) => l.startsWith(`-A ${CHAIN}`))).toHaveLength(2);
  });
});
