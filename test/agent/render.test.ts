// Pure parts of the NOTRACK agent: policy validation, node selection, rendering, drift planning.
import { describe, expect, it } from 'vitest';
import { selectorMatches, validateTunnelNoTrackPolicy, type ValidPolicy } from '../../operator/api/tunnelnotrackpolicy.js';
import { CHAIN, jumpRule, parseRawTable, planFamily, portComment, renderRuleset, tokenize } from '../../operator/agent/render.js';

function policy(name: string, spec: Record<string, unknown>): unknown {
  return { apiVersion: 'ovndrift.io/v1alpha1', kind: 'TunnelNoTrackPolicy', metadata: { name }, spec };
}
function valid(name: string, spec: Record<string, unknown>): ValidPolicy {
  const v = validateTunnelNoTrackPolicy(policy(name, spec));
  if (!v.policy) throw new Error(JSON.stringify(v.errors));
  return v.policy;
}

describe('validateTunnelNoTrackPolicy', () => {
  it('fills defaults: both families, empty selector', () => {
    const p = valid('stt', { ports: [{ name: 'stt', protocol: 'TCP', port: 7471 }] });
    expect(p.ipFamilies).toEqual(['IPv4', 'IPv6']);
    expect(p.nodeSelector).toEqual({});
  });
  it('names each bad field by path', () => {
    const v = validateTunnelNoTrackPolicy(
      policy('bad', {
        ports: [{ protocol: 'ICMP', port: 7471 }, { protocol: 'UDP', port: 70000 }, { protocol: 'UDP', port: 6081 }, { protocol: 'UDP', port: 6081 }],
        ipFamilies: ['IPv5'],
        nodeSelector: { matchExpressions: [{ key: 'zone', operator: 'In' }] },
      }),
    );
    expect(v.policy).toBeUndefined();
    expect(v.errors.map((e) => e.field).sort()).toEqual(['spec.ipFamilies[0]', 'spec.nodeSelector.matchExpressions[0].values', 'spec.ports[0].protocol', 'spec.ports[1].port', 'spec.ports[3]'].sort());
    expect(v.errors.find((e) => e.field === 'spec.ports[1].port')!.message).toContain('1..65535');
  });
  it('rejects an empty port list and a missing spec', () => {
    expect(validateTunnelNoTrackPolicy(policy('a', { ports: [] })).errors[0]!.field).toBe('spec.ports');
    expect(validateTunnelNoTrackPolicy({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'TunnelNoTrackPolicy', metadata: { name: 'a' } }).errors.map((e) => e.field)).toContain('spec');
  });
});

describe('selectorMatches', () => {
  const labels = { 'node-role.kubernetes.io/ic-gateway': '', zone: 'a' };
  it.each([
    [{}, true],
    [{ matchLabels: { zone: 'a' } }, true],
    [{ matchLabels: { zone: 'b' } }, false],
    [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }, true],
    [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, false],
    [{ matchExpressions: [{ key: 'rack', operator: 'NotIn', values: ['a'] }] }, true],
    [{ matchExpressions: [{ key: 'node-role.kubernetes.io/ic-gateway', operator: 'Exists' }] }, true],
    [{ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, false],
    [{ matchLabels: { zone: 'a' }, matchExpressions: [{ key: 'rack', operator: 'Exists' }] }, false],
  ] as const)('%j -> %s', (sel, want) => {
    expect(selectorMatches(sel as never, labels)).toBe(want);
  });
});

describe('renderRuleset', () => {
  it('one rule per port/protocol/family, shared ports name both policies, families per policy', () => {
    const a = valid('ic-gw', { nodeSelector: { matchLabels: { gw: 'yes' } }, ports: [{ name: 'stt', protocol: 'TCP', port: 7471 }, { name: 'geneve', protocol: 'UDP', port: 6081 }], ipFamilies: ['IPv4'] });
    const b = valid('geneve-all', { ports: [{ name: 'geneve', protocol: 'UDP', port: 6081 }] });
    const c = valid('other-nodes', { nodeSelector: { matchLabels: { gw: 'no' } }, ports: [{ protocol: 'UDP', port: 4789 }] });
    const rs = renderRuleset([a, b, c], { gw: 'yes' });
    expect(rs.selected.map((p) => p.name)).toEqual(['geneve-all', 'ic-gw']);
    expect(rs.families.ipv4.chainRules).toEqual([
      `-A ${CHAIN} -p tcp -m multiport --ports 7471 -m comment --comment "ovn-drift policy=ic-gw port=stt" -j NOTRACK`,
      `-A ${CHAIN} -p udp -m multiport --ports 6081 -m comment --comment "ovn-drift policy=geneve-all,ic-gw port=geneve" -j NOTRACK`,
    ]);
    expect(rs.families.ipv6.ports.map((p) => `${p.protocol}/${p.port}`)).toEqual(['UDP/6081']);
    expect(rs.families.ipv6.ports[0]!.policies).toEqual(['geneve-all']);
  });
  it('no selected policy renders nothing', () => {
    const rs = renderRuleset([valid('x', { nodeSelector: { matchLabels: { a: 'b' } }, ports: [{ protocol: 'UDP', port: 6081 }] })], {});
    expect(rs.families.ipv4.chainRules).toEqual([]);
    expect(rs.families.ipv6.chainRules).toEqual([]);
  });
  it('keeps comments within the 256-byte limit of the comment match', () => {
    const names = Array.from({ length: 40 }, (_, i) => `a-rather-long-policy-name-${i}`);
    const c = portComment({ policies: names, names: ['geneve'] });
    expect(c.length).toBeLessThanOrEqual(255);
    expect(c).toMatch(/,\+\d+$/);
  });
});

describe('planFamily', () => {
  const rs = renderRuleset([valid('p', { ports: [{ name: 'stt', protocol: 'TCP', port: 7471 }] })], {});
  const desired = rs.families.ipv4;
  const printed = (rules: string[], jumps = true): string =>
    ['-P PREROUTING ACCEPT', '-P OUTPUT ACCEPT', `-N ${CHAIN}`, ...(jumps ? [jumpRule('PREROUTING'), jumpRule('OUTPUT')] : []), ...rules].join('\n');

  it('in sync -> no restore', () => {
    const plan = planFamily(desired, parseRawTable(printed(desired.chainRules)));
    expect(plan.restore).toBeNull();
    expect(plan.drift).toEqual([]);
  });
  it('compares the way iptables prints back (quoting differences are not drift)', () => {
    const requoted = desired.chainRules.map((r) => r.replace('"ovn-drift policy=p port=stt"', 'ovn-drift\\ policy=p\\ port=stt').replace('--comment ', '--comment "').replace(' -j NOTRACK', '" -j NOTRACK'));
    expect(tokenize(requoted[0]!)).toEqual(tokenize(desired.chainRules[0]!));
  });
  it('empty table -> chain, rules, jumps; every port newly effective', () => {
    const plan = planFamily(desired, parseRawTable('-P PREROUTING ACCEPT\n-P OUTPUT ACCEPT'));
    expect(plan.drift).toEqual(['JumpMissing', 'ChainMissing']);
    expect(plan.restore).toContain(`:${CHAIN} - [0:0]`);
    expect(plan.restore).toContain(`-I PREROUTING 1 -m comment`);
    expect(plan.newlyEffective.map((p) => p.port)).toEqual([7471]);
  });
  it('flushed chain -> rewrite chain only', () => {
    const plan = planFamily(desired, parseRawTable(printed([])));
    expect(plan.drift).toEqual(['RulesChanged']);
    expect(plan.restore).not.toContain('PREROUTING');
  });
  it('duplicated and foreign jumps are removed, one canonical kept', () => {
    const text = printed(desired.chainRules) + `\n${jumpRule('OUTPUT')}\n-A PREROUTING -p udp -j ${CHAIN}`;
    const plan = planFamily(desired, parseRawTable(text));
    expect(plan.drift.sort()).toEqual(['JumpChanged', 'JumpDuplicated']);
    expect(plan.restore).toContain(`-D OUTPUT -m comment`);
    expect(plan.restore).toContain(`-D PREROUTING -p udp -j ${CHAIN}`);
    expect(plan.restore).not.toContain('-I ');
    expect(plan.newlyEffective).toEqual([]);
  });
  it('nothing desired -> remove jumps and chain', () => {
    const empty = renderRuleset([], {}).families.ipv4;
    const plan = planFamily(empty, parseRawTable(printed(desired.chainRules)));
    expect(plan.drift).toEqual(['Stale']);
    expect(plan.restore).toContain(`-X ${CHAIN}`);
    expect(planFamily(empty, parseRawTable('-P PREROUTING ACCEPT')).restore).toBeNull();
  });
});
