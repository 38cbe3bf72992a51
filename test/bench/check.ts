// Benchmark (a script, not a test): `npm run bench:check`.
// Builds, through real ovn-northd, 100 logical routers with 5 VMs each and 20,000 declared routes
// (500 PodCIDRRoutes × 40 prefixes; a few routes deleted so there is drift to find), then measures
// in one run:
//   1. `ovn-drift check -o json` (the built CLI, a child process: wall time and peak RSS),
//   2. `ovsdb-client -f json dump` of the whole NB and of the whole SB (the wire limit),
//   3. the shell pipeline an engineer would run: per router `ovn-nbctl lr-route-list` plus
//      `ovn-sbctl lflow-list` filtered for lr_in_ip_routing, compared with awk.
// Prints all three and the ratios. Targets: >= 100x faster than the pipeline, no slower than the
// two dumps, peak RSS under 300 MiB. Env: BENCH_ROUTERS (100), BENCH_RUNS (3), BENCH_SKIP_PIPELINE=1,
// BENCH_CHECK_ONLY=1 (only step 1), BENCH_CPU_PROF=DIR (CPU profile of the check child),
// BENCH_HOLD=1 (build, print the remotes, keep running until Ctrl-C).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { attachSwitchArgs } from '../../operator/ovn/seed-topology.js';

const ROUTERS = Number(process.env.BENCH_ROUTERS ?? 100);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const VMS = 5;
const PREFIXES_PER_VM = 40;
const CHASSIS = 20;
const DELETED = 7; // routes removed by hand: the drift both tools must find
const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

export interface Run { wallMs: number; maxRssKB: number; code: number; stdout: string; stderr: string }

/** Runs a command under /usr/bin/time -v: wall time measured here, peak RSS from time(1). */
export async function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const t0 = process.hrtime.bigint();
  const p = spawn('/usr/bin/time', ['-v', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await new Promise<number>((r) => p.on('exit', (c) => r(c ?? -1)));
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const maxRssKB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1] ?? 0);
  return { wallMs, maxRssKB, code, stdout, stderr };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);

async function build(sandbox: OvnSandbox, dir: string): Promise<{ manifest: string; routes: number }> {
  const docs: string[] = [];
  const chassisArgs: string[] = [];
  for (let c = 0; c < CHASSIS; c++) chassisArgs.push('--', 'chassis-add', `hv${c}`, 'geneve', `192.0.${2 + (c >> 8)}.${(c & 255) + 1}`);
  await sandbox.sbctl(...chassisArgs);
  let routes = 0;
  const batch = 10;
  for (let r0 = 1; r0 <= ROUTERS; r0 += batch) {
    const nb: string[] = [];
    const bind: string[] = [];
    for (let r = r0; r < r0 + batch && r <= ROUTERS; r++) {
      const name = `lr${r}`;
      const net = `10.${r >> 8}.${r & 255}`; // 10.X.Y.0/24 per router
      nb.push('--', 'lr-add', name, ...attachSwitchArgs(name, `${name}-vms`, `0a:00:00:00:${(r >> 8).toString(16).padStart(2, '0')}:${(r & 255).toString(16).padStart(2, '0')}`, [`${net}.1/24`]));
      for (let v = 1; v <= VMS; v++) {
        const port = `${name}-vm${v}`;
        const ip = `${net}.${10 + v}`;
        nb.push('--', 'lsp-add', `${name}-vms`, port, '--', 'lsp-set-addresses', port, `0a:00:01:${(r >> 8).toString(16).padStart(2, '0')}:${(r & 255).toString(16).padStart(2, '0')}:${v.toString(16).padStart(2, '0')} ${ip}`);
        bind.push('--', 'lsp-bind', port, `hv${(r * VMS + v) % CHASSIS}`);
        const cidrs: string[] = [];
        for (let i = 0; i < PREFIXES_PER_VM; i++) {
          const idx = (v - 1) * PREFIXES_PER_VM + i;
          const prefix = `100.${64 + (idx >> 8)}.${idx & 255}.0/24`;
          cidrs.push(prefix);
          nb.push('--', 'lr-route-add', name, prefix, ip);
          routes++;
        }
        docs.push(`apiVersion: ovndrift.io/v1alpha1\nkind: PodCIDRRoute\nmetadata: {name: ${port}}\nspec:\n  router: ${name}\n  nexthop: ${ip}\n  cidrs: [${cidrs.join(', ')}]\n`);
      }
    }
    await sandbox.nbctl('--wait=sb', '--timeout=600', ...nb);
    await sandbox.sbctl(...bind);
  }
  // The drift: a few routes deleted by hand.
  const del: string[] = [];
  for (let k = 0; k < DELETED; k++) del.push('--', 'lr-route-del', `lr${1 + ((k * 13) % ROUTERS)}`, `100.64.${k * 3}.0/24`);
  await sandbox.nbctl('--no-wait', ...del);
  await sandbox.nbctl('--wait=sb', '--timeout=600', 'sync');
  const manifest = join(dir, 'routes.yaml');
  await writeFile(manifest, docs.join('---\n'));
  return { manifest, routes };
}

const PIPELINE = `
set -e
n=0
for r in $(ovn-nbctl --db="$NB" --bare --columns=name list Logical_Router); do
  ovn-nbctl --db="$NB" lr-route-list "$r" | awk '$1 ~ /\\// {print $1, $2}' | sort > "$TMP/nb"
  ovn-sbctl --db="$SB" lflow-list "$r" | awk '/lr_in_ip_routing / {
      if (!match($0, /ip[46]\\.dst == [^ )]+/)) next; p = substr($0, RSTART + 11, RLENGTH - 11);
      if (!match($0, /reg0 = [^;]+/)) next; h = substr($0, RSTART + 7, RLENGTH - 7);
      print p, h }' | sort > "$TMP/sb"
  d=$(comm -3 "$TMP/nb" "$TMP/sb" | wc -l); n=$((n + d))
done
echo "$n"
`;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ovn-drift-bench-'));
  console.log(`bench:check — ${ROUTERS} routers × ${VMS} VMs × ${PREFIXES_PER_VM} prefixes = ${ROUTERS * VMS * PREFIXES_PER_VM} declared routes, built through real ovn-northd`);
  const sandbox = await OvnSandbox.start();
  try {
    const t0 = Date.now();
    const { manifest, routes } = await build(sandbox, dir);
    const flows = (await sandbox.sbctl('--bare', '--columns=_uuid', 'find', 'Logical_Flow', 'external_ids:stage-name=lr_in_ip_routing')).split('\n').filter(Boolean).length;
    const allFlows = (await sandbox.sbctl('--bare', '--columns=_uuid', 'list', 'Logical_Flow')).split('\n').filter(Boolean).length;
    console.log(`topology built in ${fmt(Date.now() - t0)}: ${routes} routes (${DELETED} deleted by hand), ${flows} lr_in_ip_routing flows of ${allFlows} Logical_Flow rows`);

    if (process.env.BENCH_HOLD === '1') {
      // Keep the topology up for profiling by hand: prints the remotes, waits for Ctrl-C.
      console.log(`NB ${sandbox.nbRemote} SB ${sandbox.sbRemote} manifest ${manifest}`);
      await new Promise<void>((r) => process.once('SIGINT', () => r()));
      return;
    }
    // 1. ovn-drift check
    const checks: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      checks.push(await measure('node', [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : []), join(ROOT, 'bin/ovn-drift.js'), 'check', '--nb', sandbox.nbRemote, '--sb', sandbox.sbRemote, '-f', manifest, '-o', 'json', '--timeout', '60']));
    }
    const out = JSON.parse(checks[0]!.stdout) as { summary: { routes: number; inSync: number }; findings: { kind: string }[] };
    const checkMs = median(checks.map((c) => c.wallMs));
    const rssKB = Math.max(...checks.map((c) => c.maxRssKB));
    console.log(`ovn-drift check:        ${fmt(checkMs)} (median of ${RUNS}: ${checks.map((c) => fmt(c.wallMs)).join(', ')}), peak RSS ${(rssKB / 1024).toFixed(0)} MiB, exit ${checks[0]!.code}, ${out.summary.routes} routes checked, ${out.findings.length} findings (${[...new Set(out.findings.map((f) => f.kind))].join(', ')})`);

    if (process.env.BENCH_CHECK_ONLY === '1') return;
    // 2. ovsdb-client dumps of the whole NB and SB
    const dumps: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const nb = await measure('ovsdb-client', ['-f', 'json', 'dump', sandbox.nbRemote, 'OVN_Northbound']);
      const sb = await measure('ovsdb-client', ['-f', 'json', 'dump', sandbox.sbRemote, 'OVN_Southbound']);
      dumps.push(nb.wallMs + sb.wallMs);
    }
    const dumpMs = median(dumps);
    console.log(`ovsdb-client dump NB+SB: ${fmt(dumpMs)} (median of ${RUNS}: ${dumps.map(fmt).join(', ')})`);

    // 3. the shell pipeline
    let pipeMs: number | undefined;
    if (process.env.BENCH_SKIP_PIPELINE !== '1') {
      const pipe = await measure('bash', ['-c', PIPELINE], { ...process.env, NB: sandbox.nbRemote, SB: sandbox.sbRemote, TMP: dir });
      pipeMs = pipe.wallMs;
      console.log(`shell pipeline:          ${fmt(pipeMs)} (${ROUTERS} × ovn-nbctl lr-route-list + ovn-sbctl lflow-list | awk), ${pipe.stdout.trim()} differing lines (NB-only and SB-only, incl. connected routes)`);
    }

    console.log('');
    if (pipeMs !== undefined) console.log(`speed-up vs pipeline: ${(pipeMs / checkMs).toFixed(0)}x   (target >= 100x: ${pipeMs / checkMs >= 100 ? 'met' : 'NOT met'})`);
    console.log(`check / dumps:        ${(checkMs / dumpMs).toFixed(2)}   (target <= 1.00: ${checkMs <= dumpMs ? 'met' : 'NOT met'})`);
    console.log(`peak RSS:             ${(rssKB / 1024).toFixed(0)} MiB (target < 300 MiB: ${rssKB / 1024 < 300 ? 'met' : 'NOT met'})`);
  } finally {
    await sandbox.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

// run as a script (bench:field imports the helpers above)
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
