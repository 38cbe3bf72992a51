// Acceptance: `ovn-drift agent` in file mode (DESIGN.md "CLI contract" agent line and "NOTRACK
// agent") as a black box: the built CLI runs inside a network namespace this file creates
// (`ip netns exec NS node bin/ovn-drift.js agent ...`) and the result is read back with
// iptables/ip6tables (legacy and nft, whichever the agent picked) and conntrack.
// Expectations come from DESIGN.md and from how kube-proxy/Calico-style agents behave.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BIN, ROOT, ManifestDir, sleep, cliInNs, createNetns, deleteNetns, describeRun, ensureBuilt, inNs, notrackFor, rawSaves, rawTables,
  run, type RawTables, type Ran,
} from './support.js';

let md: ManifestDir;
let ns: string;
const made: string[] = [];
const out = (r: Ran) => `${r.stdout}\n${r.stderr}`;

function policy(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'ovndrift.io/v1alpha1', kind: 'TunnelNoTrackPolicy', metadata: { name }, spec };
}
const TUNNELS = [
  { name: 'stt', protocol: 'TCP', port: 7471 },
  { name: 'geneve', protocol: 'UDP', port: 6081 },
  { name: 'vxlan', protocol: 'UDP', port: 4789 },
];

async function agent(...args: string[]): Promise<Ran> {
  return cliInNs(ns, ['agent', ...args]);
}
async function once(node: string, labels: string | undefined, ...files: string[]): Promise<Ran> {
  const a = ['--node-name', node];
  if (labels !== undefined) a.push('--node-labels', labels);
  for (const f of files) a.push('-f', f);
  return agent(...a, '--once');
}

/** All four listings joined: v4 (legacy+nft) and v6 (legacy+nft). */
const v4 = (t: RawTables) => `${t.v4legacy}\n${t.v4nft}`;
const v6 = (t: RawTables) => `${t.v6legacy}\n${t.v6nft}`;
function expectTunnelRules(listing: string, what: string): void {
  expect(notrackFor(listing, 'tcp', 7471), `${what}: STT 7471/tcp\n${listing}`).not.toEqual([]);
  expect(notrackFor(listing, 'udp', 6081), `${what}: Geneve 6081/udp\n${listing}`).not.toEqual([]);
  expect(notrackFor(listing, 'udp', 4789), `${what}: VXLAN 4789/udp\n${listing}`).not.toEqual([]);
}
/** No NOTRACK rule and no chain that is not the foreign one. */
function expectNoAgentRules(listing: string, what: string): void {
  const agentLines = listing.split('\n').filter((l) => /NOTRACK|CT --notrack/.test(l) && !l.includes('foreign'));
  expect(agentLines, `${what}\n${listing}`).toEqual([]);
}

/** Someone else's raw-table rules (nft default backend + one legacy rule), each tagged "foreign". */
async function foreignRules(): Promise<void> {
  for (const bin of ['iptables', 'ip6tables']) {
    await inNs(ns, bin, '-t', 'raw', '-N', 'FOREIGN-RAW');
    await inNs(ns, bin, '-t', 'raw', '-A', 'FOREIGN-RAW', '-p', 'udp', '--dport', '53', '-m', 'comment', '--comment', 'foreign dns', '-j', 'NOTRACK');
    await inNs(ns, bin, '-t', 'raw', '-A', 'PREROUTING', '-m', 'comment', '--comment', 'foreign jump', '-j', 'FOREIGN-RAW');
    await inNs(ns, bin, '-t', 'raw', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '179', '-m', 'comment', '--comment', 'foreign bgp', '-j', 'NOTRACK');
  }
  await inNs(ns, 'iptables-legacy', '-t', 'raw', '-A', 'OUTPUT', '-p', 'udp', '--dport', '123', '-m', 'comment', '--comment', 'foreign legacy ntp', '-j', 'NOTRACK');
}
function foreignLines(t: RawTables): string[] {
  return Object.values(t).join('\n').split('\n').filter((l) => l.includes('foreign') || l.includes('FOREIGN-RAW')).sort();
}

beforeAll(async () => {
  await ensureBuilt();
  md = await ManifestDir.create();
});
beforeEach(async () => {
  ns = await createNetns();
  made.push(ns);
});
afterEach(async () => {
  await deleteNetns(ns);
});
afterAll(async () => {
  for (const n of made) await deleteNetns(n);
  await md?.remove();
});

describe('agent --once: applies policies from files', () => {
  it('STT 7471/TCP, Geneve 6081/UDP, VXLAN 4789/UDP as data: NOTRACK for both families, exit 0', async () => {
    const f = await md.write('all.yaml', policy('tunnels', { ports: TUNNELS }));
    const r = await once('node-a', undefined, f);
    expect(r.code, describeRun(r)).toBe(0);
    const t = await rawTables(ns);
    expectTunnelRules(v4(t), 'ipv4');
    expectTunnelRules(v6(t), 'ipv6');
    // rules in both directions: PREROUTING and OUTPUT reach them (directly or through the agent's chain)
    const all = Object.values(t).join('\n');
    expect(all).toMatch(/-A PREROUTING .*-j \S+/);
    expect(all).toMatch(/-A OUTPUT .*-j \S+/);
    // no port that was not asked for
    expect(notrackFor(all, 'udp', 7471)).toEqual([]);
    expect(notrackFor(all, 'tcp', 6081)).toEqual([]);
  });

  it('a port that is not a tunnel default (custom Geneve dst_port 6082) is taken as data', async () => {
    const f = await md.write('custom.yaml', policy('custom', { ports: [{ name: 'geneve-alt', protocol: 'UDP', port: 6082 }] }));
    const r = await once('node-a', undefined, f);
    expect(r.code, describeRun(r)).toBe(0);
    const t = await rawTables(ns);
    expect(notrackFor(v4(t), 'udp', 6082)).not.toEqual([]);
    expect(notrackFor(v4(t), 'udp', 6081)).toEqual([]);
  });

  it('is idempotent: a second --once leaves iptables-save -t raw byte-identical', async () => {
    await foreignRules();
    const f = await md.write('idem.yaml', policy('tunnels', { ports: TUNNELS }));
    const r1 = await once('node-a', undefined, f);
    expect(r1.code, describeRun(r1)).toBe(0);
    const first = await rawSaves(ns);
    const r2 = await once('node-a', undefined, f);
    expect(r2.code, describeRun(r2)).toBe(0);
    expect(await rawSaves(ns)).toBe(first);
  });

  it('ipFamilies [IPv4] leaves ip6tables untouched', async () => {
    await foreignRules();
    const before = await rawTables(ns);
    const f = await md.write('v4.yaml', policy('v4only', { ports: TUNNELS, ipFamilies: ['IPv4'] }));
    const r = await once('node-a', undefined, f);
    expect(r.code, describeRun(r)).toBe(0);
    const after = await rawTables(ns);
    expectTunnelRules(v4(after), 'ipv4');
    expect(after.v6legacy).toBe(before.v6legacy);
    expect(after.v6nft).toBe(before.v6nft);
  });

  it('ipFamilies [IPv6] leaves iptables (IPv4) untouched', async () => {
    const before = await rawTables(ns);
    const f = await md.write('v6.yaml', policy('v6only', { ports: TUNNELS, ipFamilies: ['IPv6'] }));
    const r = await once('node-a', undefined, f);
    expect(r.code, describeRun(r)).toBe(0);
    const after = await rawTables(ns);
    expectTunnelRules(v6(after), 'ipv6');
    expect(after.v4legacy).toBe(before.v4legacy);
    expect(after.v4nft).toBe(before.v4nft);
  });

  it('two policies selecting the node: the union of their ports', async () => {
    const f = await md.write('two.yaml',
      policy('a', { ports: [TUNNELS[0]] }),
      policy('b', { ports: [TUNNELS[1]] }),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other-kind' }, data: { x: 'y' } });
    const r = await once('node-a', undefined, f);
    expect(r.code, describeRun(r)).toBe(0);
    const t = await rawTables(ns);
    expect(notrackFor(v4(t), 'tcp', 7471)).not.toEqual([]);
    expect(notrackFor(v4(t), 'udp', 6081)).not.toEqual([]);
    expect(notrackFor(v4(t), 'udp', 4789)).toEqual([]);
  });

  it('NOTRACK takes effect and conntrack entries that existed before are cleared (conntrack -L)', async () => {
    // a tracked Geneve "flow" before any rule: UDP to 127.0.0.1:6081 creates a conntrack entry
    // a namespace only tracks connections once some rule uses conntrack (as on any real node)
    for (const chain of ['INPUT', 'OUTPUT']) await inNs(ns, 'iptables', '-A', chain, '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'ACCEPT');
    const send = (port: number) => run('ip', ['netns', 'exec', ns, 'bash', '-c', `echo x > /dev/udp/127.0.0.1/${port}`]);
    await send(6081);
    const tracked = await inNs(ns, 'conntrack', '-L', '-p', 'udp');
    expect(tracked, 'precondition: the packet was tracked').toMatch(/dport=6081/);
    const f = await md.write('ct.yaml', policy('tunnels', { ports: TUNNELS }));
    const r = await once('node-a', undefined, f);
    expect(r.code, describeRun(r)).toBe(0);
    expect(await inNs(ns, 'conntrack', '-L', '-p', 'udp'), 'old 6081 entry cleared').not.toMatch(/dport=6081/);
    await send(6081);
    await send(6090);
    const ct = await inNs(ns, 'conntrack', '-L', '-p', 'udp');
    expect(ct, 'new 6081 packets are not tracked').not.toMatch(/dport=6081/);
    expect(ct, 'other ports still tracked').toMatch(/dport=6090/);
  });
});

describe('agent --once: iptables backend', () => {
  for (const backend of ['legacy', 'nft'] as const) {
    it(`kubelet's KUBE-IPTABLES-HINT in the ${backend} mangle table: rules go to ${backend} only, cleanup removes them`, async () => {
      await inNs(ns, `iptables-${backend}`, '-t', 'mangle', '-N', 'KUBE-IPTABLES-HINT');
      await inNs(ns, `ip6tables-${backend}`, '-t', 'mangle', '-N', 'KUBE-IPTABLES-HINT');
      const f = await md.write(`hint-${backend}.yaml`, policy('tunnels', { ports: TUNNELS }));
      const r = await once('node-a', undefined, f);
      expect(r.code, describeRun(r)).toBe(0);
      const t = await rawTables(ns);
      const other = backend === 'legacy' ? 'nft' : 'legacy';
      expectTunnelRules(t[`v4${backend}`], `ipv4 ${backend}`);
      expectTunnelRules(t[`v6${backend}`], `ipv6 ${backend}`);
      expectNoAgentRules(t[`v4${other}`] + t[`v6${other}`], `nothing in ${other}`);
      const c = await agent('--cleanup');
      expect(c.code, describeRun(c)).toBe(0);
      expectNoAgentRules(Object.values(await rawTables(ns)).join('\n'), 'after cleanup');
    });
  }
});

describe('agent --once: nodeSelector through --node-labels', () => {
  const sel = (name: string, nodeSelector: Record<string, unknown>) => policy(name, { nodeSelector, ports: [TUNNELS[1]] });
  const cases: [string, Record<string, unknown>, string, boolean][] = [
    ['matchLabels match', { matchLabels: { role: 'gateway' } }, 'role=gateway,zone=a', true],
    ['matchLabels mismatch', { matchLabels: { role: 'gateway' } }, 'role=worker', false],
    ['matchLabels: all labels needed', { matchLabels: { role: 'gateway', zone: 'b' } }, 'role=gateway,zone=a', false],
    ['matchExpressions In', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }, 'zone=b', true],
    ['matchExpressions In mismatch', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }, 'zone=c', false],
    ['matchExpressions NotIn', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, 'zone=c', true],
    ['matchExpressions NotIn mismatch', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, 'zone=a', false],
    ['matchExpressions Exists', { matchExpressions: [{ key: 'ovn/gw', operator: 'Exists' }] }, 'ovn/gw=', true],
    ['matchExpressions Exists mismatch', { matchExpressions: [{ key: 'ovn/gw', operator: 'Exists' }] }, 'zone=a', false],
    ['matchExpressions DoesNotExist', { matchExpressions: [{ key: 'no-tunnel', operator: 'DoesNotExist' }] }, 'zone=a', true],
    ['matchExpressions DoesNotExist mismatch', { matchExpressions: [{ key: 'no-tunnel', operator: 'DoesNotExist' }] }, 'no-tunnel=true', false],
    ['matchLabels and matchExpressions both required', { matchLabels: { role: 'gateway' }, matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, 'role=gateway,zone=b', false],
    ['kubernetes.io/hostname is the node name', { matchLabels: { 'kubernetes.io/hostname': 'node-a' } }, 'zone=a', true],
    ['empty selector selects every node', {}, 'zone=a', true],
  ];
  for (const [what, selector, labels, selected] of cases) {
    it(`${what} -> ${selected ? 'rules' : 'no rules'}`, async () => {
      const f = await md.write(`sel-${what.replace(/\W+/g, '-')}.yaml`, sel('p', selector));
      const r = await once('node-a', labels, f);
      expect(r.code, describeRun(r)).toBe(0);
      const t = await rawTables(ns);
      if (selected) expect(notrackFor(v4(t), 'udp', 6081), v4(t)).not.toEqual([]);
      else expectNoAgentRules(Object.values(t).join('\n'), 'not selected');
    });
  }

  it('a node no longer selected: previously installed rules are removed, foreign rules kept', async () => {
    await foreignRules();
    const foreign = foreignLines(await rawTables(ns));
    const f = await md.write('unsel.yaml', sel('p', { matchLabels: { role: 'gateway' } }));
    const r1 = await once('node-a', 'role=gateway', f);
    expect(r1.code, describeRun(r1)).toBe(0);
    expect(notrackFor(v4(await rawTables(ns)), 'udp', 6081)).not.toEqual([]);
    const r2 = await once('node-a', 'role=worker', f);
    expect(r2.code, describeRun(r2)).toBe(0);
    const t = await rawTables(ns);
    expectNoAgentRules(Object.values(t).join('\n'), 'after the node left the selector');
    expect(foreignLines(t)).toEqual(foreign);
  });

  it('a port removed from the policy is removed from iptables', async () => {
    const f1 = await md.write('shrink1.yaml', policy('p', { ports: TUNNELS }));
    expect((await once('node-a', undefined, f1)).code).toBe(0);
    const f2 = await md.write('shrink2.yaml', policy('p', { ports: [TUNNELS[1]] }));
    const r = await once('node-a', undefined, f2);
    expect(r.code, describeRun(r)).toBe(0);
    const t = await rawTables(ns);
    expect(notrackFor(v4(t), 'udp', 6081)).not.toEqual([]);
    expect(notrackFor(v4(t), 'tcp', 7471), v4(t)).toEqual([]);
    expect(notrackFor(v4(t), 'udp', 4789), v4(t)).toEqual([]);
  });
});

describe('agent --once: bad input -> 1 and nothing changed', () => {
  const bad: [string, string, string][] = [
    ['port 70000', 'apiVersion: ovndrift.io/v1alpha1\nkind: TunnelNoTrackPolicy\nmetadata: {name: bad}\nspec:\n  ports: [{name: x, protocol: UDP, port: 70000}]\n', '70000'],
    ['port 0', 'apiVersion: ovndrift.io/v1alpha1\nkind: TunnelNoTrackPolicy\nmetadata: {name: bad}\nspec:\n  ports: [{name: x, protocol: UDP, port: 0}]\n', 'port'],
    ['protocol ICMP', 'apiVersion: ovndrift.io/v1alpha1\nkind: TunnelNoTrackPolicy\nmetadata: {name: bad}\nspec:\n  ports: [{name: x, protocol: ICMP, port: 6081}]\n', 'ICMP'],
    ['missing ports', 'apiVersion: ovndrift.io/v1alpha1\nkind: TunnelNoTrackPolicy\nmetadata: {name: bad}\nspec:\n  nodeSelector: {}\n', 'ports'],
    ['empty ports', 'apiVersion: ovndrift.io/v1alpha1\nkind: TunnelNoTrackPolicy\nmetadata: {name: bad}\nspec:\n  ports: []\n', 'ports'],
    ['unknown ipFamily', 'apiVersion: ovndrift.io/v1alpha1\nkind: TunnelNoTrackPolicy\nmetadata: {name: bad}\nspec:\n  ports: [{name: x, protocol: UDP, port: 6081}]\n  ipFamilies: [IPv5]\n', 'IPv5'],
    ['malformed selector operator', 'apiVersion: ovndrift.io/v1alpha1\nkind: TunnelNoTrackPolicy\nmetadata: {name: bad}\nspec:\n  nodeSelector: {matchExpressions: [{key: a, operator: Maybe}]}\n  ports: [{name: x, protocol: UDP, port: 6081}]\n', 'Maybe'],
    ['malformed YAML', 'apiVersion: ovndrift.io/v1alpha1\nkind: TunnelNoTrackPolicy\nspec: {ports: [\n  - {name: x\n', 'bad.yaml'],
  ];

  async function installed(): Promise<{ good: string; before: RawTables; saves: string }> {
    await foreignRules();
    const good = await md.write(`good-${Math.random()}.yaml`, policy('good', { ports: TUNNELS }));
    const r = await once('node-a', undefined, good);
    expect(r.code, describeRun(r)).toBe(0);
    return { good, before: await rawTables(ns), saves: await rawSaves(ns) };
  }

  for (const [what, text, named] of bad) {
    it(`${what} -> 1, message names ${named}; installed and foreign rules unchanged`, async () => {
      const { before, saves } = await installed();
      const dir = await ManifestDir.create();
      try {
        const f = await dir.write('bad.yaml', text);
        const r = await once('node-a', undefined, f);
        expect(r.code, describeRun(r)).toBe(1);
        expect(out(r)).toContain(named);
        expect(await rawTables(ns)).toEqual(before);
        expect(await rawSaves(ns)).toBe(saves);
      } finally {
        await dir.remove();
      }
    });
  }

  it('a bad file next to a good one -> 1 and the good one is not applied either', async () => {
    const before = await rawTables(ns);
    const good = await md.write('mixed-good.yaml', policy('good', { ports: TUNNELS }));
    const badF = await md.write('mixed-bad.yaml', policy('bad', { ports: [{ name: 'x', protocol: 'UDP', port: 70000 }] }));
    const r = await once('node-a', undefined, good, badF);
    expect(r.code, describeRun(r)).toBe(1);
    expect(await rawTables(ns)).toEqual(before);
  });

  it('nonexistent path -> 1 naming it; nothing changed', async () => {
    const { before } = await installed();
    const r = await once('node-a', undefined, '/nonexistent/odacc/policies.yaml');
    expect(r.code, describeRun(r)).toBe(1);
    expect(out(r)).toContain('/nonexistent/odacc/policies.yaml');
    expect(await rawTables(ns)).toEqual(before);
  });

  it('bad --node-labels syntax (invalid label key) -> 1; nothing changed', async () => {
    const { good, before } = await installed();
    const r = await once('node-a', '@@bad key=1', good);
    expect(r.code, describeRun(r)).toBe(1);
    expect(await rawTables(ns)).toEqual(before);
  });
});

describe('agent --cleanup', () => {
  it('removes everything the agent installed (both families), keeps all foreign rules, exit 0; twice is fine', async () => {
    const pristine = await rawTables(ns);
    await foreignRules();
    const withForeign = await rawTables(ns);
    const f = await md.write('cl.yaml', policy('tunnels', { ports: TUNNELS }));
    const r1 = await once('node-a', undefined, f);
    expect(r1.code, describeRun(r1)).toBe(0);
    const r = await agent('--cleanup');
    expect(r.code, describeRun(r)).toBe(0);
    const after = await rawTables(ns);
    expect(after).toEqual(withForeign);
    expect(foreignLines(after).length).toBeGreaterThan(0);
    const again = await agent('--cleanup');
    expect(again.code, describeRun(again)).toBe(0);
    expect(await rawTables(ns)).toEqual(withForeign);
    expect(pristine.v4nft).not.toContain('FOREIGN');
  });

  it('on a host where the agent never ran: exit 0 and nothing changed', async () => {
    await foreignRules();
    const before = await rawTables(ns);
    const r = await agent('--cleanup');
    expect(r.code, describeRun(r)).toBe(0);
    expect(await rawTables(ns)).toEqual(before);
  });

  it('after rules were installed, partly deleted by someone else, then re-applied: cleanup still removes all', async () => {
    await foreignRules();
    const withForeign = await rawTables(ns);
    const f = await md.write('cl2.yaml', policy('tunnels', { ports: TUNNELS }));
    expect((await once('node-a', undefined, f)).code).toBe(0);
    // someone deletes the agent's PREROUTING jump (first non-foreign jump)
    const jump = (await rawTables(ns)).v4nft.split('\n').find((l) => l.startsWith('-A PREROUTING') && !l.includes('foreign'));
    if (jump) await inNs(ns, 'iptables-nft', '-t', 'raw', ...jump.replace(/^-A /, '-D ').match(/"[^"]*"|\S+/g)!.map((x) => x.replace(/^"|"$/g, '')));
    const r = await once('node-a', undefined, f);
    expect(r.code, describeRun(r)).toBe(0);
    const t = await rawTables(ns);
    expect(t.v4nft + t.v4legacy, 'the deleted jump came back').toMatch(/-A PREROUTING (?!.*foreign).*-j \S+/);
    expect((await agent('--cleanup')).code).toBe(0);
    expect(await rawTables(ns)).toEqual(withForeign);
  });
});

describe('agent without --once (the DaemonSet loop)', () => {
  let child: ChildProcess | undefined;
  let logs = '';
  function start(f: string): Promise<number | null> {
    logs = '';
    const c = spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, 'agent', '--node-name', 'node-a', '-f', f, '--interval', '500ms'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.on('data', (d) => (logs += d));
    c.stderr!.on('data', (d) => (logs += d));
    return new Promise((res) => c.on('close', (code) => res(code)));
  }
  /** Polls the tables until `ok` holds (bounded; the assertion is on the state, not the time). */
  async function until(ok: (t: RawTables) => boolean, what: string): Promise<RawTables> {
    let t = await rawTables(ns);
    for (let i = 0; i < 60 && !ok(t); i++) {
      await sleep(500);
      t = await rawTables(ns);
    }
    expect(ok(t), `${what}\n${JSON.stringify(t, null, 1)}\nagent logs:\n${logs}`).toBe(true);
    return t;
  }
  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
  });

  it('rules flushed or a jump deleted by someone else come back; SIGTERM exits 0 and keeps the rules (no data-plane gap on a rolling update)', async () => {
    await foreignRules();
    const foreign = foreignLines(await rawTables(ns));
    const f = await md.write('daemon.yaml', policy('tunnels', { ports: TUNNELS }));
    const exited = start(f);
    const has = (t: RawTables) => notrackFor(v4(t), 'udp', 6081).length > 0 && notrackFor(v6(t), 'tcp', 7471).length > 0;
    const t1 = await until(has, 'initial rules');
    // someone flushes the agent's chain(s): every non-foreign user chain in the nft raw table
    const chains = t1.v4nft.split('\n').filter((l) => l.startsWith('-N ') && !l.includes('FOREIGN')).map((l) => l.slice(3).trim());
    for (const c of chains) await inNs(ns, 'iptables-nft', '-t', 'raw', '-F', c);
    if (chains.length === 0) await inNs(ns, 'iptables-nft', '-t', 'raw', '-F', 'PREROUTING');
    await until(has, 'rules restored after a flush');
    // someone deletes the OUTPUT jump / rules
    const outLine = (await rawTables(ns)).v4nft.split('\n').find((l) => l.startsWith('-A OUTPUT') && !l.includes('foreign'));
    if (outLine) await inNs(ns, 'iptables-nft', '-t', 'raw', ...outLine.replace(/^-A /, '-D ').match(/"[^"]*"|\S+/g)!.map((x) => x.replace(/^"|"$/g, '')));
    await until((t) => t.v4nft.split('\n').some((l) => l.startsWith('-A OUTPUT') && !l.includes('foreign')), 'OUTPUT jump restored');
    expect(foreignLines(await rawTables(ns))).toEqual(foreign);
    const before = await rawSaves(ns);
    child!.kill('SIGTERM');
    expect(await exited, logs).toBe(0);
    expect(await rawSaves(ns)).toBe(before);
  });
});

describe('agent --once: iptables failure', () => {
  it('no iptables binaries on PATH -> 2 with a message naming iptables', async () => {
    const empty = `${md.dir}/empty-bin`;
    await mkdir(empty, { recursive: true });
    const f = await md.write('nobin.yaml', policy('tunnels', { ports: TUNNELS }));
    const r = await run('ip', ['netns', 'exec', ns, 'env', `PATH=${empty}`, process.execPath, BIN, 'agent', '--node-name', 'node-a', '-f', f, '--once']);
    expect(r.code, describeRun(r)).toBe(2);
    expect(out(r)).toMatch(/iptables/);
  });
});
