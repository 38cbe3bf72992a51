// `ovn-drift agent` through its real entry points (run / runAgent with argv) against real iptables
// in a network namespace: --once exit codes, bad input changes nothing, iptables failures keep the
// previous rules and are retried with backoff, drift repaired by the running loop, --cleanup,
// backend detection.
import { chmodSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PassResult } from '../../operator/agent/agent.js';
import { ProcessRunner, detectBackend } from '../../operator/agent/iptables.js';
import { CHAIN } from '../../operator/agent/render.js';
import { run, runAgent } from '../../operator/commands/agent.js';
import { Netns, ipt, ourRules } from './netns.js';
import { ManifestDir, policyDoc, silent } from './support.js';

const gwPolicy = policyDoc('ic-gateway', {
  nodeSelector: { matchLabels: { 'node-role.kubernetes.io/ic-gateway': '' } },
  ports: [{ name: 'stt', protocol: 'TCP', port: 7471 }, { name: 'geneve', protocol: 'UDP', port: 6081 }],
});
const pcr = { apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name: 'r' }, spec: { router: 'dev-jr', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28'] } };

function rawSave(ns: Netns): string {
  return ipt(ns, 'nft', 'ipv4', ['-t', 'raw', '-S']) + ipt(ns, 'nft', 'ipv6', ['-t', 'raw', '-S']);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A PATH directory holding only the given symlinks and shell scripts. */
function shimDir(links: Record<string, string>, scripts: Record<string, string> = {}): string {
  const d = mkdtempSync(join(tmpdir(), 'ovn-drift-path-'));
  for (const [name, target] of Object.entries(links)) symlinkSync(target, join(d, name));
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(d, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(d, name), 0o755);
  }
  return d;
}

async function until(cond: () => boolean, what: string, limit = 400): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never happened: ${what}`);
}

describe('agent command', () => {
  let ns: Netns;
  let dir: ManifestDir;
  let errors: string[];
  let logs: string[];
  beforeEach(() => {
    ns = Netns.create();
    dir = new ManifestDir();
    errors = [];
    logs = [];
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errors.push(a.join(' ')));
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void logs.push(a.join(' ')));
  });
  afterEach(() => {
    vi.restoreAllMocks();
    ns.delete();
    dir.remove();
  });

  it('run(argv) --once applies a multi-document manifest (other kinds skipped) and exits 0', async () => {
    const file = dir.write('all.yaml', [pcr, gwPolicy]);
    const code = await run(['--node-name', 'gw-1', '--node-labels', 'node-role.kubernetes.io/ic-gateway=', '-f', file, '--once', '--netns', ns.name, '--backend', 'nft', '--log-level', 'silent']);
    expect(code).toBe(0);
    expect(ourRules(ns, 'nft', 'ipv4').filter((l) => l.startsWith(`-A ${CHAIN}`))).toHaveLength(2);
    expect(ourRules(ns, 'nft', 'ipv6').filter((l) => l.startsWith(`-A ${CHAIN}`))).toHaveLength(2);
    expect(logs.join('\n')).toMatch(/node gw-1 \(nft\): Applied; policies: ic-gateway; ports: TCP\/7471, UDP\/6081/);
  });

  it('a node the selector does not match gets nothing; a directory of manifests is read', async () => {
    dir.write('a.yaml', [gwPolicy]);
    const code = await runAgent(['--node-name', 'worker-1', '-f', dir.dir, '--once', '--netns', ns.name, '--backend', 'nft'], { logger: silent });
    expect(code).toBe(0);
    expect(ourRules(ns, 'nft', 'ipv4')).toEqual([]);
    // kubernetes.io/hostname=<node-name> is a label in file mode, as on a real Node.
    dir.write('b.yaml', [policyDoc('by-host', { nodeSelector: { matchLabels: { 'kubernetes.io/hostname': 'worker-1' } }, ports: [{ protocol: 'UDP', port: 4789 }] })]);
    expect(await runAgent(['--node-name', 'worker-1', '-f', dir.dir, '--once', '--netns', ns.name, '--backend', 'nft'], { logger: silent })).toBe(0);
    expect(ourRules(ns, 'nft', 'ipv4').filter((l) => l.includes('--ports 4789'))).toHaveLength(1);
  });

  it('an invalid port or protocol is rejected with a clear message, exit 1, and no rule changes', async () => {
    const file = dir.write('p.yaml', [gwPolicy]);
    const argv = ['--node-name', 'gw-1', '--node-labels', 'node-role.kubernetes.io/ic-gateway=', '-f', file, '--once', '--netns', ns.name, '--backend', 'nft'];
    expect(await runAgent(argv, { logger: silent })).toBe(0);
    const before = rawSave(ns);

    dir.write('p.yaml', [policyDoc('ic-gateway', { ports: [{ name: 'stt', protocol: 'TCP', port: 74710 }, { protocol: 'ICMP', port: 1 }] })]);
    expect(await runAgent(argv, { logger: silent })).toBe(1);
    const msg = errors.join('\n');
    expect(msg).toContain('TunnelNoTrackPolicy ic-gateway is invalid');
    expect(msg).toContain('spec.ports[0].port: must be an integer in 1..65535 (got 74710)');
    expect(msg).toContain('spec.ports[1].protocol: must be one of TCP, UDP, SCTP (got "ICMP")');
    expect(rawSave(ns)).toBe(before);

    writeFileSync(file, 'kind: TunnelNoTrackPolicy\nspec: [unclosed\n');
    expect(await runAgent(argv, { logger: silent })).toBe(1);
    expect(errors.join('\n')).toMatch(/p\.yaml: document 1 is not valid YAML/);
    expect(await runAgent([...argv.slice(0, 4), '-f', join(dir.dir, 'missing.yaml'), '--once', '--netns', ns.name], { logger: silent })).toBe(1);
    expect(rawSave(ns)).toBe(before);
  });

  it('bad flags exit 1', async () => {
    expect(await runAgent(['--backend', 'iptables', '-f', 'x'], { logger: silent })).toBe(1);
    expect(await runAgent(['--interval', 'soon', '-f', 'x'], { logger: silent })).toBe(1);
    expect(await runAgent(['--node-name', 'n', '--node-labels', 'bad key=1', '-f', dir.dir, '--backend', 'nft', '--netns', ns.name], { logger: silent })).toBe(1);
  });

  it('iptables missing -> exit 2 and a message naming the binary', async () => {
    const file = dir.write('p.yaml', [gwPolicy]);
    // `ip` is there (for --netns), no iptables binary is.
    const only = shimDir({ ip: '/usr/sbin/ip' });
    try {
      const code = await runAgent(['--node-name', 'gw-1', '-f', file, '--once', '--netns', ns.name], { logger: silent, env: { ...process.env, PATH: only } });
      expect(code).toBe(2);
      expect(errors.join('\n')).toMatch(/iptables-nft-save nor iptables-legacy-save is installed/);
    } finally {
      rmSync(only, { recursive: true, force: true });
    }
  });

  it('ip missing with --netns -> exit 2 at once, naming ip; a namespace that does not exist -> exit 1', async () => {
    const file = dir.write('p.yaml', [gwPolicy]);
    expect(await runAgent(['--node-name', 'gw-1', '-f', file, '--once', '--netns', ns.name], { logger: silent, env: { ...process.env, PATH: '/nonexistent' } })).toBe(2);
    expect(errors.join('\n')).toMatch(/--netns needs 'ip' \(iproute2\)/);
    errors.length = 0;
    expect(await runAgent(['--node-name', 'gw-1', '-f', file, '--once', '--netns', `${ns.name}-gone`], { logger: silent })).toBe(1);
    expect(errors.join('\n')).toContain(`network namespace '${ns.name}-gone' does not exist`);
    errors.length = 0;
    expect(await run(['--cleanup', '--netns', `${ns.name}-gone`, '--log-level', 'silent'])).toBe(1);
    expect(errors.join('\n')).toContain('does not exist');
    expect(logs.join('\n')).not.toContain('nothing of ours to remove');
  });

  it('--cleanup: a failing iptables-save is exit 2 naming the command, never "nothing to remove"; no iptables at all is exit 2', async () => {
    const failing = shimDir({ ip: '/usr/sbin/ip' }, { 'iptables-nft-save': 'echo "iptables-nft-save: Could not fetch rule set generation id: Permission denied" >&2; exit 4' });
    try {
      expect(await runAgent(['--cleanup', '--netns', ns.name], { logger: silent, env: { ...process.env, PATH: failing } })).toBe(2);
      expect(errors.join('\n')).toMatch(/iptables-nft-save -t raw failed \(exit 4, netns .*\): iptables-nft-save: Could not fetch rule set generation id/);
      expect(logs.join('\n')).not.toContain('nothing of ours to remove');
      errors.length = 0;
      rmSync(join(failing, 'iptables-nft-save'));
      expect(await runAgent(['--cleanup', '--netns', ns.name], { logger: silent, env: { ...process.env, PATH: failing } })).toBe(2);
      expect(errors.join('\n')).toMatch(/no iptables save binary is installed/);
      expect(logs.join('\n')).not.toContain('nothing of ours to remove');
    } finally {
      rmSync(failing, { recursive: true, force: true });
    }
  });

  it('--once: a failing save of the other backend is exit 2 naming the command', async () => {
    const file = dir.write('p.yaml', [gwPolicy]);
    const links = Object.fromEntries(['ip', 'iptables-nft', 'ip6tables-nft', 'iptables-nft-restore', 'ip6tables-nft-restore', 'iptables-nft-save', 'ip6tables-nft-save'].map((b) => [b, `/usr/sbin/${b}`]));
    const shim = shimDir(links, { 'iptables-legacy-save': 'echo "iptables-legacy-save: cannot open /proc/net/ip_tables_names" >&2; exit 3' });
    try {
      const code = await runAgent(['--node-name', 'gw-1', '--node-labels', 'node-role.kubernetes.io/ic-gateway=', '-f', file, '--once', '--netns', ns.name, '--backend', 'nft'], { logger: silent, env: { ...process.env, PATH: shim } });
      expect(code).toBe(2);
      expect(errors.join('\n')).toMatch(/iptables-legacy-save failed \(exit 3, netns .*\): iptables-legacy-save: cannot open/);
    } finally {
      rmSync(shim, { recursive: true, force: true });
    }
  });

  it('LOG_LEVEL is read when --log-level is not given; a bad level is exit 1 naming it', async () => {
    const file = dir.write('p.yaml', [gwPolicy]);
    expect(await runAgent(['--node-name', 'gw-1', '-f', file, '--once', '--netns', ns.name], { env: { ...process.env, LOG_LEVEL: 'loud' } })).toBe(1);
    expect(errors.join('\n')).toContain("LOG_LEVEL 'loud' is not one of fatal, error, warn, info, debug, trace, silent");
    errors.length = 0;
    expect(await runAgent(['--node-name', 'gw-1', '-f', file, '--once', '--netns', ns.name, '--log-level', 'chatty'])).toBe(1);
    expect(errors.join('\n')).toContain("--log-level 'chatty' is not one of");
  });

  describe('with an iptables-restore that fails on demand', () => {
    let shim: string;
    let flag: string;
    let env: NodeJS.ProcessEnv;
    beforeEach(() => {
      shim = mkdtempSync(join(tmpdir(), 'ovn-drift-shim-'));
      flag = join(shim, 'fail');
      for (const bin of ['iptables-nft-restore', 'ip6tables-nft-restore']) {
        const path = join(shim, bin);
        writeFileSync(path, `#!/bin/sh\nif [ -e ${flag} ]; then echo "${bin}: line 2 failed (simulated)" >&2; exit 4; fi\nexec /usr/sbin/${bin} "$@"\n`);
        chmodSync(path, 0o755);
      }
      env = { ...process.env, PATH: `${shim}:${process.env.PATH}` };
    });
    afterEach(() => rmSync(shim, { recursive: true, force: true }));

    it('--once exits 2, the previous rules stay', async () => {
      const file = dir.write('p.yaml', [gwPolicy]);
      const argv = ['--node-name', 'gw-1', '--node-labels', 'node-role.kubernetes.io/ic-gateway=', '-f', file, '--once', '--netns', ns.name, '--backend', 'nft'];
      expect(await runAgent(argv, { logger: silent, env })).toBe(0);
      const before = rawSave(ns);
      writeFileSync(flag, '');
      dir.write('p.yaml', [policyDoc('ic-gateway', { ports: [{ protocol: 'UDP', port: 4789 }] })]);
      expect(await runAgent(argv, { logger: silent, env })).toBe(2);
      expect(errors.join('\n')).toMatch(/iptables-nft-restore --noflush failed \(exit 4, netns .*\): iptables-nft-restore: line 2 failed/);
      expect(rawSave(ns)).toBe(before);
    });

    it('the running agent retries with backoff and recovers; it repairs drift on its interval', async () => {
      const file = dir.write('p.yaml', [gwPolicy]);
      writeFileSync(flag, '');
      const results: PassResult[] = [];
      const ctl = new AbortController();
      const port = await freePort();
      const done = runAgent(['--node-name', 'gw-1', '--node-labels', 'node-role.kubernetes.io/ic-gateway=', '-f', file, '--interval', '300ms', '--netns', ns.name, '--backend', 'nft', '--metrics-address', `127.0.0.1:${port}`], {
        logger: silent,
        env,
        signal: ctl.signal,
        backoffBaseMs: 20,
        onResult: (r) => void results.push(r),
      });
      try {
        await until(() => results.filter((r) => r.outcome === 'IptablesFailed').length >= 3, 'three failed passes');
        expect(ourRules(ns, 'nft', 'ipv4')).toEqual([]);
        unlinkSync(flag);
        await until(() => results.some((r) => r.outcome === 'Applied'), 'an applied pass after the fault cleared');
        expect(ourRules(ns, 'nft', 'ipv4').filter((l) => l.startsWith(`-A ${CHAIN}`))).toHaveLength(2);

        const good = ourRules(ns, 'nft', 'ipv4');
        ipt(ns, 'nft', 'ipv4', ['-t', 'raw', '-D', 'PREROUTING', '-m', 'comment', '--comment', 'ovn-drift: tunnel ports skip conntrack', '-j', CHAIN]);
        await until(() => results.some((r) => r.outcome === 'Repaired'), 'a repair after the jump was deleted');
        expect(ourRules(ns, 'nft', 'ipv4')).toEqual(good);
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        expect(metrics).toMatch(/^ovndrift_agent_drift_repairs_total\{family="ipv4",kind="JumpMissing"\} 1$/m);
        expect(metrics).toMatch(/^ovndrift_agent_errors_total\{code="IptablesFailed"\} [1-9]/m);
        expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

        // Selector no longer matches (policy edited on disk): the running agent removes its rules.
        dir.write('p.yaml', [policyDoc('ic-gateway', { nodeSelector: { matchLabels: { zone: 'b' } }, ports: [{ protocol: 'UDP', port: 6081 }] })]);
        await until(() => results.some((r) => r.outcome === 'Removed'), 'removal after the selector stopped matching');
        expect(ourRules(ns, 'nft', 'ipv4')).toEqual([]);
        expect(ourRules(ns, 'nft', 'ipv6')).toEqual([]);
      } finally {
        ctl.abort();
        expect(await done).toBe(0);
      }
    });
  });

  it('--cleanup removes chains and jumps from both families and both backends', async () => {
    const file = dir.write('p.yaml', [policyDoc('all', { ports: [{ protocol: 'UDP', port: 6081 }] })]);
    expect(await runAgent(['--node-name', 'n', '-f', file, '--once', '--netns', ns.name, '--backend', 'legacy'], { logger: silent })).toBe(0);
    // Simulate an earlier nft install too (the agent would remove it itself; --cleanup must as well).
    ns.exec(['iptables-nft-restore', '--noflush', '-w'], `*raw\n:${CHAIN} - [0:0]\n-A PREROUTING -j ${CHAIN}\n-A ${CHAIN} -p udp -m multiport --ports 6081 -j NOTRACK\nCOMMIT\n`);
    expect(await run(['--cleanup', '--netns', ns.name, '--log-level', 'silent'])).toBe(0);
    for (const backend of ['nft', 'legacy'] as const) for (const family of ['ipv4', 'ipv6'] as const) expect(ourRules(ns, backend, family)).toEqual([]);
    expect(logs.join('\n')).toMatch(/removed NOTRACK rules from .*nft\/ipv4.*legacy\/ipv4|removed NOTRACK rules from .*legacy\/ipv4/);
    expect(await run(['--cleanup', '--netns', ns.name, '--log-level', 'silent'])).toBe(0);
    expect(logs.at(-1)).toBe('nothing of ours to remove');
  });
});

describe('backend detection (as iptables-wrapper does)', () => {
  let ns: Netns;
  beforeEach(() => {
    ns = Netns.create();
  });
  afterEach(() => ns.delete());
  const runner = (): ProcessRunner => new ProcessRunner({ netns: ns.name });

  it('nothing anywhere -> nft', async () => {
    expect((await detectBackend(runner())).backend).toBe('nft');
  });
  it("kubelet's KUBE-IPTABLES-HINT in the legacy mangle table -> legacy", async () => {
    ns.exec(['iptables-nft', '-A', 'INPUT', '-j', 'ACCEPT']);
    ns.exec(['iptables-legacy', '-t', 'mangle', '-N', 'KUBE-IPTABLES-HINT']);
    const d = await detectBackend(runner());
    expect(d).toEqual({ backend: 'legacy', reason: expect.stringContaining('KUBE-IPTABLES-HINT') });
  });
  it('KUBE-KUBELET-CANARY in nft mangle wins over more legacy rules', async () => {
    for (let i = 0; i < 3; i++) ns.exec(['iptables-legacy', '-A', 'INPUT', '-j', 'ACCEPT']);
    ns.exec(['ip6tables-nft', '-t', 'mangle', '-N', 'KUBE-KUBELET-CANARY']);
    expect((await detectBackend(runner())).backend).toBe('nft');
  });
  it('no hint -> the backend with more rules', async () => {
    for (let i = 0; i < 3; i++) ns.exec(['iptables-legacy', '-A', 'INPUT', '-j', 'ACCEPT']);
    ns.exec(['iptables-nft', '-A', 'INPUT', '-j', 'ACCEPT']);
    expect((await detectBackend(runner())).backend).toBe('legacy');
  });
});
