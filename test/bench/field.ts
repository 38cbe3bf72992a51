// Field-scale benchmark (a script, not a test): `npm run bench:field [-- options]`.
// The topology (test/bench/field-topology.ts): 1,000 logical routers, 200,000 declared routes
// (10,000 PodCIDRRoutes x 20 pod CIDRs, one per VM), switch ports, policies, ECMP groups, 50
// chassis, built once through real ovn-northd and cached outside the repository. Each run serves a
// private copy of the cached NB/SB with ovn-northd running and prints, each with the baseline
// measured in the same run and the goal:
//   counts    Logical_Flow rows in the SB (total and lr_in_ip_routing), northd's restart recompute
//   check     `ovn-drift check` of all routes (the built CLI, a child) vs `ovsdb-client -f json dump`
//             of NB+SB (goal <= 0.5x) and the check's peak RSS
//   profile   `node --cpu-prof` of one check run: the top self-time functions
//   reconcile the operator's per-resource read + evaluate (gatherViews scoped to one PodCIDRRoute,
//             then evaluate), in this process on replicas of the followed rows: p50/p99 over
//             --samples resources, and the top self-time functions of that loop; baseline: one
//             evaluation of every resource over the whole views (what `check` does after reading)
//   shard     bytes the SB server sends to one shard's replica (the Logical_Flow condition of
//             controller/shard.ts for 1/4 and 1/10 of the routers) vs the unsharded replica
//   operator  the real operator (`ovn-drift operator`, a child) against the test API server holding
//             the 10,000 PodCIDRRoutes: initial sync time (start -> every resource has a Ready
//             condition) and RSS vs the JSON bytes of the rows it follows (goal RSS <= 2x)
//   latency   NB change -> status with the verdict written, through that operator with ovn-northd
//             running (its CPU share reported), p50/p99 (goal p99 < 100 ms); test/bench/latency.ts's loop
//   reconnect the SB as a 3-member RAFT cluster; a replica of what the operator follows, cut off while
//             300 routing flows change: resync with monitor_cond_since vs a full monitor_cond re-fetch
// Options: --only a,b (parts above), --skip-<part>, --runs N (check/dump runs, default 2),
// --samples N (latency changes, default 500), --rebuild (ignore the cache). Env: BENCH_FIELD_CACHE
// (cache root, default /var/cache/ovn-drift), BENCH_FIELD_ROUTERS / _VMS / _PREFIXES (size).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { freePort } from '../../operator/sandbox/sandbox.js';
import { Database, OvsdbClient, uuid, map, type MonitorMethod, type Operation } from '../../operator/ovsdb/index.js';
import { NB_TABLES, SB_TABLES } from '../../operator/ovn/tables.js';
import { TestApiServer } from '../support/test-api-server.js';
import { ServerSet, TcpProxy } from '../ovsdb/servers.js';
import { measure, median, type Run } from './check.js';
import { sampleChanges, pct, line } from './latency.js';
import { Session } from 'node:inspector/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Reason } from '../../operator/api/status.js';
import { RowKeyIndex } from '../../operator/controller/scope.js';
import { gatherViews } from '../../operator/controller/gather.js';
import { evaluate } from '../../operator/drift/index.js';
import { validatePodCIDRRoute, type PodCIDRRoute } from '../../operator/api/podcidrroute.js';
import { shardFlowCondition } from '../../operator/ovn/shard.js';
import { ensureField, fieldParams, routerName, waitNorthd, FieldOvn, vmPort, vmIp, podCidr, type FieldCache } from './field-topology.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const PARTS = ['counts', 'check', 'profile', 'reconcile', 'shard', 'operator', 'latency', 'reconnect'] as const;
type Part = (typeof PARTS)[number];

const { values: opt } = parseArgs({
  options: {
    only: { type: 'string' },
    ...Object.fromEntries(PARTS.map((p) => [`skip-${p}`, { type: 'boolean' as const }])),
    runs: { type: 'string', default: '2' },
    samples: { type: 'string', default: '500' },
    'sample-timeout': { type: 'string', default: '15' },
    rebuild: { type: 'boolean' },
  },
  strict: true,
});
const only = opt.only ? new Set(String(opt.only).split(',')) : undefined;
for (const p of only ?? []) if (!PARTS.includes(p as Part)) throw new Error(`--only: unknown part ${JSON.stringify(p)} (parts: ${PARTS.join(', ')})`);
const want = (p: Part) => (only ? only.has(p) : true) && !(opt as Record<string, unknown>)[`skip-${p}`];
const RUNS = Number(opt.runs);
const SAMPLES = Number(opt.samples);
const SAMPLE_TIMEOUT_MS = Number(opt['sample-timeout']) * 1000;
/** Changes (drift + restore pairs) that wait for ovn-northd's SB write: the baseline. */
const NORTHD_SAMPLES = 5;
if (opt.rebuild) process.env.BENCH_FIELD_REBUILD = '1';

const t00 = performance.now();
const log = (s: string) => console.log(`[${((performance.now() - t00) / 1000).toFixed(0).padStart(4)} s] ${s}`);
const load = () => `load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const secs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
const verdict = (ok: boolean, by: string) => (ok ? 'met' : `MISSED (${by})`);
const summary: string[] = [];
const figure = (s: string) => {
  console.log(s);
  summary.push(s);
};

/** Reads /proc/PID/status: current and peak RSS in bytes. */
function procRss(pid: number): { rss: number; hwm: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

function procCpu(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(x[11]) + Number(x[12])) / 100;
  } catch {
    return 0;
  }
}

// ---- counts ---------------------------------------------------------------------------------

async function counts(sb: OvsdbClient): Promise<{ total: number; routing: number }> {
  const r = (await sb.transact('OVN_Southbound', [
    { op: 'select', table: 'Logical_Flow', where: [], columns: ['_uuid'] },
    { op: 'select', table: 'Logical_Flow', where: [['external_ids', 'includes', map({ 'stage-name': 'lr_in_ip_routing' })]], columns: ['_uuid'] },
  ])) as { rows: unknown[] }[];
  return { total: r[0]!.rows.length, routing: r[1]!.rows.length };
}

// ---- check and dumps ------------------------------------------------------------------------

const checkArgs = (ovn: FieldOvn, cache: FieldCache) => [join(ROOT, 'bin/ovn-drift.js'), 'check', '--nb', ovn.nbRemote, '--sb', ovn.sbRemote, '-f', cache.manifest, '-o', 'json', '--timeout', '600'];

async function checkPart(ovn: FieldOvn, cache: FieldCache): Promise<void> {
  log(`check: ${RUNS} run(s) of ovn-drift check and of ovsdb-client dump NB+SB; ${load()}`);
  const checks: Run[] = [];
  for (let i = 0; i < RUNS; i++) checks.push(await measure('node', checkArgs(ovn, cache)));
  const c0 = checks[0]!;
  let out: { summary: { routes: number; inSync: number; kinds?: Record<string, number> } };
  try {
    out = JSON.parse(c0.stdout);
  } catch {
    throw new Error(`ovn-drift check exited ${c0.code} without JSON output`);
  }
  const dumps: number[] = [];
  let dumpBytes = 0;
  for (let i = 0; i < RUNS; i++) {
    const nb = await measure('ovsdb-client', ['-f', 'json', 'dump', ovn.nbRemote, 'OVN_Northbound']);
    const sb = await measure('ovsdb-client', ['-f', 'json', 'dump', ovn.sbRemote, 'OVN_Southbound']);
    dumps.push(nb.wallMs + sb.wallMs);
    dumpBytes = nb.stdout.length + sb.stdout.length;
  }
  const checkMs = median(checks.map((c) => c.wallMs));
  const dumpMs = median(dumps);
  const rss = Math.max(...checks.map((c) => c.maxRssKB)) * 1024;
  figure(`check:     ovn-drift check ${secs(checkMs)} (runs ${checks.map((c) => secs(c.wallMs)).join(', ')}; exit ${c0.code}; ${(c0.stdout.length / 1024).toFixed(0)} KiB of JSON output; ${out.summary.routes} routes, ${out.summary.inSync} in sync, findings ${JSON.stringify(out.summary.kinds ?? {})})`);
  figure(`           baseline ovsdb-client -f json dump NB+SB ${secs(dumpMs)} (runs ${dumps.map(secs).join(', ')}; ${mib(dumpBytes)} of JSON text)`);
  figure(`           ratio ${(checkMs / dumpMs).toFixed(2)}x the dump time (goal <= 0.5x: ${verdict(checkMs <= dumpMs / 2, `${(checkMs / (dumpMs / 2)).toFixed(1)}x over`)}); check peak RSS ${mib(rss)}`);
}

// ---- CPU profile ----------------------------------------------------------------------------

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }

/** The top self-time functions of a .cpuprofile (sum of the sample time deltas per function). */
function summariseProfile(file: string, top: number): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const n = byId.get(id)!;
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const f = n.callFrame;
    const where = f.url ? `${f.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  const idle = (self.get('(idle)') ?? 0) + (self.get('(program)') ?? 0);
  const mod = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const m = (f.url || f.functionName).replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/').replace(/^(node_modules\/[^/]+).*/, '$1');
    mod.set(m, (mod.get(m) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const mods = [...mod.entries()].filter(([k]) => k !== '(idle)' && k !== '(program)').sort((a, b) => b[1] - a[1]).slice(0, 8);
  const rows = [...self.entries()].filter(([k]) => k !== '(idle)' && k !== '(program)').sort((a, b) => b[1] - a[1]).slice(0, top);
  return [`sampled ${(total / 1000).toFixed(0)} ms, of which idle/program ${(idle / 1000).toFixed(0)} ms (waiting on the servers); % of all samples:`, ...rows.map(([k, us]) => `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`),
    `by module: ${mods.map(([k, us]) => `${k} ${((100 * us) / total).toFixed(1)}%`).join(', ')}`];
}

async function profilePart(ovn: FieldOvn, cache: FieldCache): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ovn-drift-field-prof-'));
  try {
    log(`profile: one ovn-drift check under node --cpu-prof; ${load()}`);
    const r = await measure('node', ['--cpu-prof', '--cpu-prof-dir', dir, ...checkArgs(ovn, cache)], { ...process.env, OVN_DRIFT_TIMING: '1' });
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('node --cpu-prof wrote no profile');
    const keep = join(cache.dir, '..', `field-check-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
    writeFileSync(keep, readFileSync(join(dir, file)));
    figure(`profile:   ovn-drift check under --cpu-prof ${secs(r.wallMs)}; top self time (profile kept in ${keep}):`);
    for (const l of summariseProfile(join(dir, file), 12)) figure(`           ${l}`);
    const phases = r.stderr.split('\n').filter((l) => l.startsWith('timing: ')).map((l) => l.slice(8));
    if (phases.length > 0) figure(`           phases (OVN_DRIFT_TIMING=1): ${phases.join('; ')}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- reconcile (per-resource read + evaluate, in process) ------------------------------------

/** Live heap bytes after a full garbage collection (V8's gc exposed for this process). */
function liveHeap(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

function declaredRoutes(cache: FieldCache): PodCIDRRoute[] {
  return parseAllDocuments(readFileSync(cache.manifest, 'utf8')).map((d) => {
    const r = validatePodCIDRRoute(d.toJS());
    if (!r.route) throw new Error(`the field manifest holds an invalid PodCIDRRoute: ${JSON.stringify(r.errors)}`);
    return r.route;
  });
}

async function reconcilePart(ovn: FieldOvn, cache: FieldCache): Promise<void> {
  log(`reconcile: replicas of the followed rows in this process, then ${SAMPLES} scoped reconciles; ${load()}`);
  const t0 = performance.now();
  const open = (remote: string, db: string, tables: typeof NB_TABLES) => Database.open({ remote, db, tables, requestTimeoutMs: 600_000, connectTimeoutMs: 600_000, probeIntervalMs: 0 });
  const heap0 = liveHeap();
  const nb = await open(ovn.nbRemote, 'OVN_Northbound', NB_TABLES);
  const sb = await open(ovn.sbRemote, 'OVN_Southbound', SB_TABLES);
  try {
    const heap1 = liveHeap();
    const ti = performance.now();
    const nbIndex = new RowKeyIndex(nb, NB_TABLES.map((t) => t.table));
    const sbIndex = new RowKeyIndex(sb, SB_TABLES.map((t) => t.table));
    const indexMs = performance.now() - ti;
    const heap2 = liveHeap();
    const syncMs = performance.now() - t0;
    figure(`reconcile: live heap (after a full GC) of the replicas ${mib(heap1 - heap0)} for ${mib(nb.client!.bytesReceived + sb.client!.bytesReceived)} of JSON; of the scoped-read indexes ${mib(heap2 - heap1)}, built in ${secs(indexMs)} (one pass)`);
    const routes = declaredRoutes(cache);
    const now = new Date();
    const one = (route: PodCIDRRoute) => {
      const views = gatherViews(nb, sb, {}, { nbIndex, sbIndex, prefixes: route.spec.cidrs, nexthops: [route.spec.nexthop], routers: [route.spec.router] });
      if (!views.ok) throw new Error(views.reason);
      return evaluate([route], views.nb, views.sb, now);
    };
    // the same resources every run (a fixed stride), so runs compare
    const picked = Array.from({ length: SAMPLES }, (_, i) => routes[(i * 7919) % routes.length]!);
    for (const r of picked.slice(0, 20)) one(r); // warm up the JIT
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    const ms: number[] = [];
    let findings = 0;
    const tl = performance.now();
    for (const r of picked) {
      const a = performance.now();
      findings += one(r).findings.length;
      ms.push(performance.now() - a);
    }
    const loopMs = performance.now() - tl;
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    const tw = performance.now();
    const whole = gatherViews(nb, sb, {});
    if (!whole.ok) throw new Error(whole.reason);
    const all = evaluate(routes, whole.nb, whole.sb, now);
    const wholeMs = performance.now() - tw;
    const sorted = [...ms].sort((x, y) => x - y);
    figure(`reconcile: ${SAMPLES} scoped reconciles (read + evaluate of one PodCIDRRoute, ${routes[0]!.spec.cidrs.length} routes each) on replicas synced in ${secs(syncMs)}: p50 ${pct(sorted, 50).toFixed(2)} ms, p99 ${pct(sorted, 99).toFixed(2)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms, ${((1000 * SAMPLES) / loopMs).toFixed(0)}/s; ${findings} findings`);
    figure(`           baseline: every resource over the whole views ${secs(wholeMs)} (${(wholeMs / routes.length).toFixed(2)} ms per resource, ${all.findings.length} findings)`);
    const file = join(tmpdir(), `ovn-drift-field-reconcile-${process.pid}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    for (const l of summariseProfile(file, 10)) figure(`           ${l}`);
    await rm(file, { force: true });
  } finally {
    await nb.close();
    await sb.close();
  }
}

// ---- shard (bytes the server sends to one shard) ------------------------------------------------

async function shardPart(ovn: FieldOvn): Promise<void> {
  const p = fieldParams();
  log(`shard: the SB replica of one shard (its routers' datapaths and datapath groups) vs unsharded; ${load()}`);
  const open = (remote: string, db: string, tables: typeof NB_TABLES) => Database.open({ remote, db, tables, requestTimeoutMs: 600_000, connectTimeoutMs: 600_000, probeIntervalMs: 0 });
  const nb = await open(ovn.nbRemote, 'OVN_Northbound', NB_TABLES);
  const sb = await open(ovn.sbRemote, 'OVN_Southbound', SB_TABLES);
  try {
    const whole = sb.client!.bytesReceived;
    const flows = sb.rows('Logical_Flow').size;
    figure(`shard:     unsharded SB replica: ${mib(whole)} of JSON, ${flows} Logical_Flow rows (routing stages only: ROUTING_FLOW_CONDITION)`);
    for (const shards of [4, 10]) {
      const routers = new Set(Array.from({ length: Math.ceil(p.routers / shards) }, (_, r) => routerName(r)));
      const c = shardFlowCondition(nb, sb, routers);
      const t0 = performance.now();
      const one = await open(ovn.sbRemote, 'OVN_Southbound', SB_TABLES.map((t) => (t.table === 'Logical_Flow' ? { ...t, where: c.where } : t)));
      const ms = performance.now() - t0;
      const bytes = one.client!.bytesReceived;
      figure(`           1 of ${shards} shards (${routers.size} routers: ${c.datapaths} datapath and ${c.groups} datapath-group clauses): ${mib(bytes)} (${((100 * bytes) / whole).toFixed(0)} % of unsharded), ${one.rows('Logical_Flow').size} Logical_Flow rows (every stage of its routers' datapaths), synced in ${secs(ms)}`);
      await one.close();
    }
  } finally {
    await nb.close();
    await sb.close();
  }
}

// ---- operator (initial sync, then detection latency) -------------------------------------------

/** Bytes the server sends for an initial sync of exactly the rows and columns the operator follows. */
async function followedBytes(ovn: FieldOvn): Promise<{ nb: number; sb: number; ms: number }> {
  const t0 = performance.now();
  const nb = await Database.open({ remote: ovn.nbRemote, db: 'OVN_Northbound', tables: NB_TABLES, requestTimeoutMs: 600_000, connectTimeoutMs: 600_000, probeIntervalMs: 0 });
  const sb = await Database.open({ remote: ovn.sbRemote, db: 'OVN_Southbound', tables: SB_TABLES, requestTimeoutMs: 600_000, connectTimeoutMs: 600_000, probeIntervalMs: 0 });
  const ms = performance.now() - t0;
  const r = { nb: nb.client!.bytesReceived, sb: sb.client!.bytesReceived, ms };
  await nb.close();
  await sb.close();
  return r;
}

async function operatorPart(ovn: FieldOvn, cache: FieldCache, latency: boolean): Promise<void> {
  log(`operator: measuring the followed rows' JSON bytes (a bare replica of NB_TABLES + SB_TABLES); ${load()}`);
  const bytes = await followedBytes(ovn);
  const docs = parseAllDocuments(readFileSync(cache.manifest, 'utf8')).map((d) => d.toJS() as { metadata: { name: string }; spec: Record<string, unknown> });
  const api = await TestApiServer.start({ historyLimit: 2_000 });
  const dir = await mkdtemp(join(tmpdir(), 'ovn-drift-field-op-'));
  let child: ChildProcess | undefined;
  try {
    const tPut = performance.now();
    for (const d of docs) {
      api.put({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name: d.metadata.name }, spec: { policy: 'dst-ip', routeTable: '', remediation: 'Report', adopt: false, ...d.spec } });
    }
    log(`operator: ${docs.length} PodCIDRRoutes loaded into the test API server in ${secs(performance.now() - tPut)}`);
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeConfig().exportConfig());
    const ready = new Set<string>();
    const off = api.onWrite((_t, o) => {
      // a verdict: a Ready condition that is not "the OVN databases are not connected (yet)"
      const conds = (o as { status?: { conditions?: { type: string; reason?: string }[] } }).status?.conditions;
      if (o.kind === 'PodCIDRRoute' && conds?.some((c) => c.type === 'Ready' && c.reason !== Reason.OvsdbUnavailable)) ready.add(o.metadata.name);
    });
    const t0 = performance.now();
    const metricsPort = await freePort();
    child = spawn('node', [join(ROOT, 'bin/ovn-drift.js'), 'operator', '--nb-remote', ovn.nbRemote, '--sb-remote', ovn.sbRemote, '--kubeconfig', kubeconfig,
      '--no-leader-elect', '--identity', 'bench-field', '--metrics-addr', `127.0.0.1:${metricsPort}`, '--resync', '1h', '--workers', '8', '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_OPTIONS: OPERATOR_NODE_OPTIONS } });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
    const pid = child.pid!;
    let peakRss = 0;
    let lastLog = t0;
    while (ready.size < docs.length) {
      await new Promise((r) => setTimeout(r, 200));
      peakRss = Math.max(peakRss, procRss(pid).rss);
      if (child.exitCode !== null) throw new Error(`the operator exited ${child.exitCode} during the initial sync: ${stderr}`);
      if (performance.now() - lastLog > 15_000) {
        lastLog = performance.now();
        log(`  operator initial sync: ${ready.size}/${docs.length} resources have a verdict, RSS ${mib(procRss(pid).rss)}, ${load()}`);
      }
      if (performance.now() - t0 > 1_800_000) throw new Error(`initial sync did not finish in 30 min: ${ready.size}/${docs.length}`);
    }
    const syncMs = performance.now() - t0;
    off();
    await new Promise((r) => setTimeout(r, 2_000));
    const after = procRss(pid);
    // resources whose flows were Pending are looked at again after the settle window: RSS once the
    // operator is idle (its reconcile count unchanged for 15 s, at most 3 min)
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const tIdle = performance.now();
    let last = await reconcileCount(metricsUrl);
    let stableSince = performance.now();
    while (performance.now() - stableSince < 15_000 && performance.now() - tIdle < 180_000) {
      await new Promise((r) => setTimeout(r, 1_000));
      const n = await reconcileCount(metricsUrl);
      if (n !== last) {
        last = n;
        stableSince = performance.now();
      }
    }
    const idle = procRss(pid);
    const wire = bytes.nb + bytes.sb;
    figure(`operator:  initial sync ${secs(syncMs)} (start -> all ${docs.length} PodCIDRRoutes carry a Ready verdict; ${docs.reduce((n, d) => n + (d.spec.cidrs as string[]).length, 0)} routes)`);
    figure(`           baseline: a bare replica of the same followed rows synced in ${secs(bytes.ms)}; the server sent ${mib(wire)} of JSON (NB ${mib(bytes.nb)}, SB ${mib(bytes.sb)})`);
    figure(`           RSS 2 s after sync ${mib(after.rss)} = ${(after.rss / wire).toFixed(2)}x the JSON bytes; idle (${((performance.now() - tIdle) / 1000).toFixed(0)} s later, ${last} reconciles in all) ${mib(idle.rss)} = ${(idle.rss / wire).toFixed(2)}x; peak ${mib(Math.max(idle.hwm, peakRss))} = ${(Math.max(idle.hwm, peakRss) / wire).toFixed(2)}x (goal <= 2x: ${verdict(idle.rss <= 2 * wire, `${(idle.rss / (2 * wire)).toFixed(2)}x over`)}); includes the informer cache of ${docs.length} PodCIDRRoutes; NODE_OPTIONS=${OPERATOR_NODE_OPTIONS} as in the image`);
    if (latency) await latencyPart(ovn, api, pid, metricsUrl);
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child!.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    await api.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The V8 options the image runs the operator with (Dockerfile ENV NODE_OPTIONS). */
const OPERATOR_NODE_OPTIONS = /^ENV NODE_OPTIONS=(.*)$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1] ?? '';

/** The operator's PodCIDRRoute reconciles so far (ovndrift_reconcile_duration_seconds_count). */
async function reconcileCount(url: string): Promise<number> {
  try {
    const text = await (await fetch(url)).text();
    return Number(/^ovndrift_reconcile_duration_seconds_count\{[^}]*PodCIDRRoute[^}]*\} (\d+)/m.exec(text)?.[1] ?? -1);
  } catch {
    return -1;
  }
}

/** `connection dropped` lines in the SB ovsdb-server's log (clients that went away mid-reply). */
function droppedSb(ovn: FieldOvn): number {
  try {
    return readFileSync(join(ovn.dir, 'sb.log'), 'utf8').split('connection dropped').length - 1;
  } catch {
    return 0;
  }
}

/** The operator's ovndrift_ovsdb_reconnects_total by db, from its /metrics. */
async function sbReconnects(url: string): Promise<string> {
  try {
    const text = await (await fetch(url)).text();
    const m = [...text.matchAll(/^ovndrift_ovsdb_reconnects_total\{db="(\w+)"\} (\d+)/gm)].map((x) => `${x[1]} ${x[2]}`);
    return m.join(', ') || '0';
  } catch (err) {
    return `unknown (${(err as Error).message})`;
  }
}

async function latencyPart(ovn: FieldOvn, api: TestApiServer, operatorPid: number, metricsUrl: string): Promise<void> {
  const p = fieldParams();
  log(`latency: ${SAMPLES} NB changes (half drift, half restore) through the running operator; ${load()}`);
  const nbClient = await OvsdbClient.connect(ovn.nbRemote, { requestTimeoutMs: 600_000, probeIntervalMs: 0 });
  const notifyDb = await Database.open({ remote: ovn.nbRemote, db: 'OVN_Northbound', tables: NB_TABLES, requestTimeoutMs: 600_000, connectTimeoutMs: 600_000, probeIntervalMs: 0 });
  // the baseline at this size: when ovn-northd has written the SB for the change (first change of a
  // replica of the followed SB rows after the NB change), since the verdict needs the SB flow
  const sbNotify = await Database.open({ remote: ovn.sbRemote, db: 'OVN_Southbound', tables: SB_TABLES, requestTimeoutMs: 600_000, connectTimeoutMs: 600_000, probeIntervalMs: 0 });
  try {
    const uuidOf = new Map<string, string>();
    for (const row of notifyDb.rows('Logical_Router_Static_Route').values()) {
      const k = String(row.ip_prefix);
      uuidOf.set(k, uuidOf.has(k) ? '' : row._uuid); // '' = several rows (ECMP): not sampled
    }
    // a route is sampled only where the NB holds exactly the declared row (no drift already)
    const pick = (s: number) => {
      for (;;) {
        const r = Math.floor(Math.random() * p.routers);
        const v = Math.floor(Math.random() * p.vmsPerRouter);
        const i = s % p.prefixesPerVm;
        const u = uuidOf.get(podCidr(p, r, v, i));
        if (u) return { name: vmPort(r, v), uuid: u, wrong: vmIp(r, (v + 1) % p.vmsPerRouter), right: vmIp(r, v) };
      }
    };
    const dropped0 = droppedSb(ovn);
    const northdPid = ovn.northd!.child.pid!;
    const half = Math.ceil(SAMPLES / 2);
    let done = 0;
    const settle = async () => {
      if (++done % 100 === 0) log(`  ${done} changes, ${load()}`);
      await new Promise((res) => setTimeout(res, 20));
    };
    // the baseline first: a few changes, each waiting for ovn-northd's SB write (a full recompute
    // at this size takes seconds); then the figures: changes one after the other, each waiting only
    // for the operator's status write, while northd keeps recomputing as in production
    const base = await sampleChanges({ api, nbClient, notifyDb: sbNotify, samples: NORTHD_SAMPLES, pick: (s) => pick(s + half), timeoutMs: Math.max(SAMPLE_TIMEOUT_MS, 60_000), maxTimeoutsInARow: 3, settle });
    // CPU shares over the figures' changes only
    const cpu0 = { northd: procCpu(northdPid), op: procCpu(operatorPid), t: performance.now() };
    const r = await sampleChanges({
      api,
      nbClient,
      notifyDb: sbNotify,
      samples: half,
      pick,
      timeoutMs: SAMPLE_TIMEOUT_MS,
      maxTimeoutsInARow: 6,
      waitForNotify: false,
      settle,
    });
    const wallS = (performance.now() - cpu0.t) / 1000;
    const northdShare = (procCpu(northdPid) - cpu0.northd) / wallS;
    const opShare = (procCpu(operatorPid) - cpu0.op) / wallS;
    const reconnects = `${await sbReconnects(metricsUrl)}; SB server log: ${droppedSb(ovn) - dropped0} client connection(s) dropped`;
    const all = [...r.detect, ...r.restore];
    if (r.timedOut > 0) figure(`latency:   ${r.timedOut} change(s) got no status write within ${SAMPLE_TIMEOUT_MS / 1000} s${r.timedOut >= 6 ? ' (sampling stopped: 6 in a row)' : ''}; operator OVSDB reconnect attempts since it started: ${reconnects}`);
    else figure(`latency:   operator OVSDB reconnect attempts since it started: ${reconnects}`);
    if (all.length === 0) throw new Error('no change got a status write: no latency figures');
    const p99 = pct(all, 99);
    figure(`latency:   NB change -> status with the verdict written, ${all.length} changes over ${wallS.toFixed(0)} s, ovn-northd running (CPU ${(100 * northdShare).toFixed(0)}% of a core; operator ${(100 * opShare).toFixed(0)}%)`);
    for (const [name, xs] of [['drift detected', r.detect], ['drift resolved', r.restore], ['all status writes', all], [`baseline: ovn-northd wrote the SB (${2 * NORTHD_SAMPLES} changes apart)`, base.notify]] as const) {
      figure(`           ${xs.length > 0 ? line(name, [...xs]) : `${name.padEnd(38)} n=0`}`);
    }
    figure(`           p99 ${p99.toFixed(1)} ms (goal < 100 ms: ${verdict(p99 < 100, `${(p99 / 100).toFixed(1)}x over`)})`);
  } finally {
    await nbClient.close();
    await notifyDb.close();
    await sbNotify.close();
  }
}

// ---- reconnect ------------------------------------------------------------------------------

async function reconnectPart(cache: FieldCache): Promise<void> {
  log(`reconnect: the cached SB as a 3-member RAFT cluster (only clustered databases keep the history monitor_cond_since needs); ${load()}`);
  const set = await ServerSet.create();
  const proxies: TcpProxy[] = [];
  try {
    const t0 = performance.now();
    const members = await set.clusterFrom('sb', 'OVN_Southbound', cache.sbDb);
    let leader = await set.leaderOf(members, 'OVN_Southbound');
    for (const t = Date.now(); !leader && Date.now() - t < 300_000; leader = await set.leaderOf(members, 'OVN_Southbound')) await new Promise((r) => setTimeout(r, 1_000));
    if (!leader) throw new Error('the SB cluster elected no leader within 5 min');
    log(`  cluster up in ${secs(performance.now() - t0)}`);
    const writer = await OvsdbClient.connect(leader.unixRemote, { requestTimeoutMs: 600_000, probeIntervalMs: 0 });
    const res: Record<string, { ms: number; bytes: number; rows: number; found: boolean; initialMs: number; initialBytes: number }> = {};
    for (const method of ['monitor_cond_since', 'monitor_cond'] as MonitorMethod[]) {
      const proxy = await TcpProxy.start(leader.port);
      proxies.push(proxy);
      const db = await Database.open({ remote: proxy.remote, db: 'OVN_Southbound', tables: SB_TABLES, monitorMethod: method, requestTimeoutMs: 600_000, connectTimeoutMs: 600_000, probeIntervalMs: 60_000, backoffMinMs: 50, backoffMaxMs: 100 });
      const initial = db.status().sync!;
      // be at a recent transaction, then cut the replica off and change 300 routing flows
      const flows = [...db.rows('Logical_Flow').values()];
      await writer.transact('OVN_Southbound', [{ op: 'update', table: 'Logical_Flow', where: [['_uuid', '==', uuid(flows[0]!._uuid)]], row: { priority: 1 } }]);
      await new Promise((r) => setTimeout(r, 500));
      const syncs = db.status().sync!.syncs;
      await proxy.cut();
      while (db.status().connected) await new Promise((r) => setTimeout(r, 10));
      const picked = flows.slice(1, 301);
      const sel = (await writer.transact('OVN_Southbound', picked.slice(0, 100).map((f) => ({ op: 'select', table: 'Logical_Flow', where: [['_uuid', '==', uuid(f._uuid)]], columns: ['logical_datapath', 'logical_dp_group', 'pipeline', 'table_id', 'priority', 'match', 'actions', 'external_ids'] }) as Operation))) as { rows: Record<string, unknown>[] }[];
      const ops: Operation[] = [];
      sel.forEach((s, k) => ops.push({ op: 'insert', table: 'Logical_Flow', row: { ...s.rows[0]!, match: `${String(s.rows[0]!.match)} && ip4.ttl != ${k % 255}` } as never }));
      for (const f of picked.slice(100, 200)) ops.push({ op: 'update', table: 'Logical_Flow', where: [['_uuid', '==', uuid(f._uuid)]], row: { priority: 2 } });
      for (const f of picked.slice(200, 300)) ops.push({ op: 'delete', table: 'Logical_Flow', where: [['_uuid', '==', uuid(f._uuid)]] });
      await writer.transact('OVN_Southbound', ops);
      await proxy.restore();
      while (!(db.status().connected && db.status().sync!.syncs > syncs)) await new Promise((r) => setTimeout(r, 10));
      const s = db.status().sync!;
      res[method] = { ms: s.ms, bytes: s.bytes, rows: s.rows, found: s.found, initialMs: initial.ms, initialBytes: initial.bytes };
      await db.close();
      await proxy.stop();
    }
    await writer.close();
    const a = res.monitor_cond_since!;
    const b = res.monitor_cond!;
    figure(`reconnect: replica of the followed SB rows (initial sync ${secs(a.initialMs)}, ${mib(a.initialBytes)}), cut off while 300 routing flows changed (100 inserted, 100 modified, 100 deleted)`);
    figure(`           monitor_cond_since: ${secs(a.ms)}, ${(a.bytes / 1024).toFixed(1)} KiB, ${a.rows} row updates (history found: ${a.found})`);
    figure(`           baseline monitor_cond full re-fetch: ${secs(b.ms)}, ${mib(b.bytes)}, ${b.rows} row updates => ${(b.ms / a.ms).toFixed(0)}x faster, ${(b.bytes / a.bytes).toFixed(0)}x fewer bytes`);
  } finally {
    for (const p of proxies) await p.stop();
    await set.stop();
  }
}

// ---- main -----------------------------------------------------------------------------------

/** A part that fails is reported in the summary; the other parts still run. */
async function part(name: string, f: () => Promise<void>): Promise<void> {
  try {
    await f();
  } catch (err) {
    process.exitCode = 2;
    console.error(err);
    figure(`${name}:`.padEnd(11) + `FAILED: ${(err as Error).message.split('\n')[0]}`);
  }
}

async function main(): Promise<void> {
  const p = fieldParams();
  log(`bench:field — ${p.routers} routers x ${p.vmsPerRouter} VMs x ${p.prefixesPerVm} pod CIDRs = ${p.routers * p.vmsPerRouter * p.prefixesPerVm} declared routes; ${load()}`);
  const cache = await ensureField(p, log);
  const m = cache.meta;
  figure(`topology:  ${m.declaredRoutes} declared routes in ${m.podCidrRoutes} PodCIDRRoutes, ${m.nbRoutes} NB static routes, ${p.chassis} chassis; ${m.ovnVersion}; cache ${cache.dir} (nb.db ${mib(m.nbBytes)}, sb.db ${mib(m.sbBytes)})`);
  figure(`           built ${m.builtAt} in ${secs(m.buildMs.total)}: NB transactions ${secs(m.buildMs.nb)}, ovn-northd's first computation ${secs(m.buildMs.northd)}, chassis claims ${secs(m.buildMs.bind)}`);
  const ovn = await FieldOvn.start(cache);
  try {
    const nb = await OvsdbClient.connect(ovn.nbRemote, { requestTimeoutMs: 600_000, probeIntervalMs: 0 });
    const sb = await OvsdbClient.connect(ovn.sbRemote, { requestTimeoutMs: 600_000, probeIntervalMs: 0 });
    try {
      // a restarted northd recomputes everything once; the figures start after it caught up
      const recomputeMs = await waitNorthd(nb, log, ovn.northd!, 'northd restart');
      const c = await counts(sb);
      figure(`counts:    SB Logical_Flow ${c.total} rows, ${c.routing} in lr_in_ip_routing (read from the SB); ovn-northd restart -> caught up ${secs(recomputeMs)} (northd CPU ${ovn.northd!.cpuSeconds().toFixed(0)} s)`);
    } finally {
      await nb.close();
      await sb.close();
    }
    if (want('check')) await part('check', () => checkPart(ovn, cache));
    if (want('profile')) await part('profile', () => profilePart(ovn, cache));
    if (want('reconcile')) await part('reconcile', () => reconcilePart(ovn, cache));
    if (want('shard')) await part('shard', () => shardPart(ovn));
    if (want('operator') || want('latency')) await part('operator', () => operatorPart(ovn, cache, want('latency')));
  } finally {
    await ovn.stop();
  }
  if (want('reconnect')) await part('reconnect', () => reconnectPart(cache));
  console.log('');
  console.log(`==== bench:field summary (${load()}, total ${secs(performance.now() - t00)}) ====`);
  for (const s of summary) console.log(s);
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
