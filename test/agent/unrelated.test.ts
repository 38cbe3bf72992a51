// Thousands of unrelated rules in other chains (filter, nat, and another owner's raw chains) stay
// byte-identical through apply, repair and removal: the agent only writes its own chain and jumps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAIN } from '../../operator/agent/render.js';
import { outsideOurChains, unrelatedRules } from './bigruleset.js';
import { Netns, ipt, ourRules, type BackendName } from './netns.js';
import { agentIn, closeRunners, validPolicy } from './support.js';

const stt = validPolicy('stt', { ports: [{ name: 'stt', protocol: 'TCP', port: 7471 }], ipFamilies: ['IPv4'] });

describe.each(['nft', 'legacy'] as BackendName[])('a busy %s node', (backend) => {
  let ns: Netns;
  let baseline: string;
  beforeAll(() => {
    ns = Netns.create();
    ns.exec([`iptables-${backend}-restore`, '--noflush', '-w'], unrelatedRules(6000));
    baseline = ns.exec([`iptables-${backend}-save`]);
  });
  afterAll(async () => {
    await closeRunners();
    ns.delete();
  });

  it('has the unrelated rules it was given', () => {
    expect(baseline.split('\n').filter((l) => l.startsWith('-A ')).length).toBeGreaterThan(6000);
  });

  it('stays byte-identical outside our chain through apply, repair and removal', async () => {
    const { agent } = agentIn(ns.name, backend, { families: ['ipv4'] });
    const save = (): string => ns.exec([`iptables-${backend}-save`]);

    expect((await agent.pass({ policies: [stt], invalid: [], nodeLabels: {} })).outcome).toBe('Applied');
    const applied = save();
    expect(applied).toContain(`-A ${CHAIN} -p tcp -m multiport --ports 7471`);
    expect(outsideOurChains(applied)).toBe(outsideOurChains(baseline));
    // Our jump goes first in PREROUTING, ahead of the other owner's jump.
    expect(ipt(ns, backend, 'ipv4', ['-t', 'raw', '-S', 'PREROUTING']).split('\n')[1]).toContain(`-j ${CHAIN}`);

    ipt(ns, backend, 'ipv4', ['-w', '-t', 'raw', '-F', CHAIN]);
    expect((await agent.pass({ policies: [stt], invalid: [], nodeLabels: {} })).outcome).toBe('Repaired');
    expect(outsideOurChains(save())).toBe(outsideOurChains(baseline));

    expect((await agent.pass({ policies: [], invalid: [], nodeLabels: {} })).outcome).toBe('Removed');
    expect(ourRules(ns, backend, 'ipv4')).toEqual([]);
    expect(outsideOurChains(save())).toBe(outsideOurChains(baseline));
  });
});
