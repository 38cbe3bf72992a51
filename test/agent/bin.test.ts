// The agent through the real built program, as a DaemonSet or a person runs it:
// `ip netns exec NS node bin/ovn-drift.js agent ...` (exit codes 0 / 1 / 2, rules, --cleanup).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAIN } from '../../operator/agent/render.js';
import { Netns, ourRules } from './netns.js';
import { ManifestDir, policyDoc } from './support.js';

const execFileP = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

async function agent(ns: Netns, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP('/usr/sbin/ip', ['netns', 'exec', ns.name, process.execPath, join(ROOT, 'bin/ovn-drift.js'), 'agent', ...args], { cwd: ROOT, timeout: 60_000, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('node bin/ovn-drift.js agent (built program, in a namespace)', () => {
  let ns: Netns;
  let dir: ManifestDir;
  beforeAll(async () => {
    // The CLI runs from dist/: `npm test` builds it first (pretest); build here only when it is missing.
    if (!existsSync(join(ROOT, 'dist/operator/cli.js'))) await execFileP('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, timeout: 170_000 });
    ns = Netns.create();
    dir = new ManifestDir();
  }, 180_000);
  afterAll(() => {
    ns?.delete();
    dir?.remove();
  });

  it('--once applies (0), rejects bad input without changes (1), fails without iptables (2), --cleanup removes all', async () => {
    const file = dir.write('p.yaml', [policyDoc('geneve', { ports: [{ name: 'geneve', protocol: 'UDP', port: 6081 }] })]);
    const ok = await agent(ns, ['--node-name', 'n1', '-f', file, '--once']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/node n1 \((nft|legacy)\): Applied; policies: geneve; ports: UDP\/6081/);
    const backend = /\((nft|legacy)\)/.exec(ok.stdout)![1] as 'nft' | 'legacy';
    const applied = ourRules(ns, backend, 'ipv4');
    expect(applied.filter((l) => l.startsWith(`-A ${CHAIN}`))).toHaveLength(1);

    const bad = dir.write('bad.yaml', [policyDoc('bad', { ports: [{ protocol: 'UDP', port: 0 }] })]);
    const rejected = await agent(ns, ['--node-name', 'n1', '-f', bad, '--once']);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toContain('spec.ports[0].port: must be an integer in 1..65535 (got 0)');
    expect(ourRules(ns, backend, 'ipv4')).toEqual(applied);

    const missing = await agent(ns, ['--node-name', 'n1', '-f', file, '--once'], { ...process.env, PATH: '/nonexistent' });
    expect(missing.code).toBe(2);

    const cleaned = await agent(ns, ['--cleanup']);
    expect(cleaned.code, cleaned.stderr).toBe(0);
    expect(ourRules(ns, backend, 'ipv4')).toEqual([]);
    expect(ourRules(ns, backend, 'ipv6')).toEqual([]);
  });
});
