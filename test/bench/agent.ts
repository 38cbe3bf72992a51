// Benchmark: cost of the NOTRACK agent's periodic check on a busy node. Builds a network namespace
// holding 20,000 unrelated rules (one iptables-restore: kube-proxy-style filter/nat chains and a
// few raw chains of another owner), then, from a process running inside that namespace (as the
// agent runs on a node, without `ip netns exec` in each command), times: one drift check (both
// families, in sync), one repair (after `iptables -t raw -F OVN-DRIFT-NOTRACK`), and the baseline
// cost of a full `iptables-save`; each with the agent's helper-shell runner and, for comparison,
// one Node spawn per command. Prints figures and ratios; target: a check under 20 ms.
// Run: npm run bench:agent (or compile and `node dist/test/bench/agent.js [--rules N] [--runs N]`).
import { execFileSync, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { NoTrackAgent } from '../../operator/agent/agent.js';
import { ProcessRunner, ShellRunner, type Backend, type CommandRunner } from '../../operator/agent/iptables.js';
import { createAgentMetrics } from '../../operator/agent/metrics.js';
import { CHAIN } from '../../operator/agent/render.js';
import { validateTunnelNoTrackPolicy, type ValidPolicy } from '../../operator/api/tunnelnotrackpolicy.js';
import { unrelatedRules } from '../agent/bigruleset.js';
import { Netns } from '../agent/netns.js';

const { values } = parseArgs({
  options: {
    inner: { type: 'boolean', default: false },
    backend: { type: 'string', multiple: true },
    rules: { type: 'string', default: '20000' },
    runs: { type: 'string', default: '30' },
  },
});
const runs = Number(values.runs);

function policy(): ValidPolicy {
  const v = validateTunnelNoTrackPolicy({
    apiVersion: 'ovndrift.io/v1alpha1',
    kind: 'TunnelNoTrackPolicy',
    metadata: { name: 'ic-gateway' },
    spec: { ports: [{ name: 'stt', protocol: 'TCP', port: 7471 }, { name: 'geneve', protocol: 'UDP', port: 6081 }, { name: 'vxlan', protocol: 'UDP', port: 4789 }] },
  });
  if (!v.policy) throw new Error('bad bench policy');
  return v.policy;
}

function stats(ms: number[]): { median: number; p95: number; min: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, p95: s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]!, min: s[0]! };
}
const fmt = (n: number): string => `${n.toFixed(1)} ms`;

/** Runs inside the namespace: times check, repair and the iptables-save baseline. */
async function timePasses(runner: CommandRunner, backend: Backend): Promise<{ check: number[]; repair: number[] }> {
  const agent = new NoTrackAgent({ runner, backend, logger: pino({ level: 'silent' }), metrics: createAgentMetrics() });
  const input = { policies: [policy()], invalid: [], nodeLabels: {} };
  const first = await agent.pass(input);
  if (first.error) throw new Error(`first pass: ${first.outcome} ${first.error.message}`);
  await agent.pass(input); // warm-up
  const check: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = await agent.pass(input);
    check.push(performance.now() - t);
    if (r.outcome !== 'InSync') throw new Error(`check pass: ${r.outcome}`);
  }
  const repair: number[] = [];
  for (let i = 0; i < Math.max(5, Math.floor(runs / 3)); i++) {
    execFileSync(`iptables-${backend}`, ['-w', '-t', 'raw', '-F', CHAIN]);
    const t = performance.now();
    const r = await agent.pass(input);
    repair.push(performance.now() - t);
    if (r.outcome !== 'Repaired') throw new Error(`repair pass: ${r.outcome}`);
  }
  return { check, repair };
}

/** Runs inside the namespace: times check and repair (both runners) and the iptables-save baseline. */
async function inner(backend: Backend): Promise<void> {
  const shell = new ShellRunner();
  const viaShell = await timePasses(shell, backend);
  const viaSpawn = await timePasses(new ProcessRunner(), backend);
  const timeCmd = (argv: string[], n: number): number[] => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
      out.push(performance.now() - t);
      if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
    }
    return out;
  };
  const fullSave = timeCmd([`iptables-${backend}-save`], Math.max(5, Math.floor(runs / 3)));
  const bothSaves = timeCmd(['sh', '-c', `iptables-${backend}-save >/dev/null && ip6tables-${backend}-save >/dev/null`], 5);
  // Context: what starting any process costs from this Node process on this machine right now.
  const spawnTrue: number[] = [];
  const proc = new ProcessRunner();
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await proc.run(['true']);
    spawnTrue.push(performance.now() - t);
  }
  await shell.close();
  const lines = execFileSync(`iptables-${backend}-save`, { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 }).split('\n').filter((l) => l.startsWith('-A')).length;
  process.stdout.write(
    JSON.stringify({
      backend,
      lines,
      check: stats(viaShell.check),
      repair: stats(viaShell.repair),
      checkSpawn: stats(viaSpawn.check),
      repairSpawn: stats(viaSpawn.repair),
      fullSave: stats(fullSave),
      bothSaves: stats(bothSaves),
      spawnTrue: stats(spawnTrue),
    }) + '\n',
  );
}

async function outer(): Promise<void> {
  const backends = (values.backend ?? ['nft', 'legacy']) as Backend[];
  const total = Number(values.rules);
  console.log(`NOTRACK agent check cost: ${total} unrelated rules, ${runs} runs, node ${process.version}`);
  for (const backend of backends) {
    const ns = Netns.create('odtbench');
    try {
      ns.exec([`iptables-${backend}-restore`, '--noflush', '-w'], unrelatedRules(total));
      const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, ...process.execArgv, process.argv[1]!, '--inner', '--backend', backend, '--runs', String(runs)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`inner run failed: ${r.stderr}`);
      const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, { median: number; p95: number; min: number }> & { lines: number };
      console.log(`\n[${backend}] iptables-save shows ${res.lines} rules (-A lines)`);
      console.log(`  drift check (v4+v6, in sync)      median ${fmt(res.check.median)}  p95 ${fmt(res.check.p95)}  min ${fmt(res.check.min)}   target < 20 ms: ${res.check.median < 20 ? 'met' : 'MISSED'}`);
      console.log(`  repair (flushed chain, v4+v6)     median ${fmt(res.repair.median)}  p95 ${fmt(res.repair.p95)}`);
      console.log(`  same, one Node spawn per command: check ${fmt(res.checkSpawn.median)}, repair ${fmt(res.repairSpawn.median)}`);
      console.log(`  Node spawn of \`true\` (load context) median ${fmt(res.spawnTrue.median)}`);
      console.log(`  baseline iptables-save (v4)       median ${fmt(res.fullSave.median)}`);
      console.log(`  baseline iptables-save v4+v6      median ${fmt(res.bothSaves.median)}`);
      console.log(`  ratio check / iptables-save (v4)  ${(res.check.median / res.fullSave.median).toFixed(3)}  (a check costs ${(res.fullSave.median / res.check.median).toFixed(1)}x less)`);
      console.log(`  ratio repair / iptables-save (v4) ${(res.repair.median / res.fullSave.median).toFixed(3)}`);
    } finally {
      ns.delete();
    }
  }
}

if (values.inner) await inner((values.backend?.[0] ?? 'nft') as Backend);
else await outer();
