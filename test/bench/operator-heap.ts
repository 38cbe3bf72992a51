// Where the operator's memory goes after its initial sync (a script, not a test):
// `npm run build && node dist/test/bench/operator-heap.js [--northd] [--snapshot]`.
// Serves the cached field topology (test/bench/field-topology.ts; BENCH_FIELD_* pick the size),
// loads its PodCIDRRoutes into the in-repo test API server, and runs the operator exactly as
// bench:field's operator part does (`--workers 8`, `--resync 1h`), but as
// test/bench/operator-heap-child.ts under `node --expose-gc`, so that once every resource carries
// a Ready verdict (+ 2 s, when bench:field reads the RSS) the child can report: memoryUsage before
// and after a forced GC, the V8 heap spaces, the live bytes by allocation site (sampling heap
// profiler), and the bytes each of its structures retains (released one at a time). The baseline
// is the same as bench:field's: the JSON bytes a bare replica of the followed rows receives.
// Prints a table and writes the whole result as JSON next to the cache (operator-heap-*.json).
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { freePort } from '../../operator/sandbox/sandbox.js';
import { Database, OvsdbClient } from '../../operator/ovsdb/index.js';
import { NB_TABLES, SB_TABLES } from '../../operator/ovn/tables.js';
import { TestApiServer } from '../support/test-api-server.js';
import { ensureField, fieldParams, waitNorthd, FieldOvn } from './field-topology.js';

const HERE = resolve(fileURLToPath(import.meta.url), '..');
const { values: opt } = parseArgs({ options: { northd: { type: 'boolean' }, 'no-measure': { type: 'boolean' }, 'wire-bytes': { type: 'string' } }, strict: true });

const t00 = performance.now();
const log = (s: string) => console.log(`[${((performance.now() - t00) / 1000).toFixed(0).padStart(4)} s] ${s}`);
const MiB = (b: number) => (b / 2 ** 20).toFixed(0).padStart(6);

function procRss(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

async function followedBytes(ovn: FieldOvn): Promise<{ nb: number; sb: number }> {
  const o = { requestTimeoutMs: 600_000, connectTimeoutMs: 600_000, probeIntervalMs: 0 };
  const nb = await Database.open({ remote: ovn.nbRemote, db: 'OVN_Northbound', tables: NB_TABLES, ...o });
  const sb = await Database.open({ remote: ovn.sbRemote, db: 'OVN_Southbound', tables: SB_TABLES, ...o });
  const r = { nb: nb.client!.bytesReceived, sb: sb.client!.bytesReceived };
  await nb.close();
  await sb.close();
  return r;
}

async function main(): Promise<void> {
  const p = fieldParams();
  const cache = await ensureField(p, log);
  const ovn = await FieldOvn.start(cache, { northd: opt.northd === true });
  const dir = await mkdtemp(join(tmpdir(), 'ovn-drift-heap-'));
  const api = await TestApiServer.start({ historyLimit: 2_000 });
  try {
    if (ovn.northd) {
      const nb = await OvsdbClient.connect(ovn.nbRemote, { requestTimeoutMs: 600_000, probeIntervalMs: 0 });
      await waitNorthd(nb, log, ovn.northd, 'northd restart');
      await nb.close();
    }
    // --wire-bytes NB,SB: the figures of an earlier run (the bare replica takes a minute at field size)
    const bytes = opt['wire-bytes'] ? (([nb, sb]) => ({ nb: Number(nb), sb: Number(sb) }))(opt['wire-bytes'].split(',')) : await followedBytes(ovn);
    const wire = bytes.nb + bytes.sb;
    log(`followed rows: ${MiB(wire)} MiB of JSON (NB ${MiB(bytes.nb)}, SB ${MiB(bytes.sb)}; --wire-bytes ${bytes.nb},${bytes.sb})`);
    const docs = parseAllDocuments(readFileSync(cache.manifest, 'utf8')).map((d) => d.toJS() as { metadata: { name: string }; spec: Record<string, unknown> });
    for (const d of docs) {
      api.put({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name: d.metadata.name }, spec: { policy: 'dst-ip', routeTable: '', remediation: 'Report', adopt: false, ...d.spec } });
    }
    // the JSON the informer's list receives for these objects (what it caches, before any status)
    const listBytes = Buffer.byteLength(JSON.stringify(docs));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeConfig().exportConfig());
    const ready = new Set<string>();
    let statusBytes = 0;
    const seen = new Map<string, number>();
    const off = api.onWrite((_t, o) => {
      const conds = (o as { status?: { conditions?: { type: string }[] } }).status?.conditions;
      if (o.kind !== 'PodCIDRRoute') return;
      seen.set(o.metadata.name, Buffer.byteLength(JSON.stringify(o)));
      if (conds?.some((c) => c.type === 'Ready')) ready.add(o.metadata.name);
    });
    const t0 = performance.now();
    const args = ['--nb-remote', ovn.nbRemote, '--sb-remote', ovn.sbRemote, '--kubeconfig', kubeconfig, '--no-leader-elect', '--identity', 'bench-heap',
      '--metrics-addr', `127.0.0.1:${await freePort()}`, '--resync', '1h', '--workers', '8', '--log-level', 'warn'];
    const child = fork(join(HERE, 'operator-heap-child.js'), args, { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
    let peak = 0;
    let lastLog = t0;
    while (ready.size < docs.length) {
      await new Promise((r) => setTimeout(r, 200));
      peak = Math.max(peak, procRss(child.pid!));
      if (child.exitCode !== null) throw new Error(`the operator exited ${child.exitCode}: ${stderr}`);
      if (performance.now() - lastLog > 30_000) {
        lastLog = performance.now();
        log(`  ${ready.size}/${docs.length} resources have a verdict, RSS ${MiB(procRss(child.pid!))} MiB`);
      }
    }
    const syncMs = performance.now() - t0;
    off();
    for (const v of seen.values()) statusBytes += v;
    await new Promise((r) => setTimeout(r, 2_000));
    const rss = procRss(child.pid!);
    log(`initial sync ${(syncMs / 1000).toFixed(0)} s; RSS 2 s later ${MiB(rss)} MiB = ${(rss / wire).toFixed(2)}x the followed rows' JSON; peak ${MiB(peak)} MiB`);
    log(`PodCIDRRoutes: ${MiB(listBytes)} MiB of JSON as created, ${MiB(statusBytes)} MiB with their statuses (what the informer caches)`);
    const ask = <R>(cmd: string, field: string) =>
      new Promise<R>((ok, fail) => {
        child.once('message', (m: Record<string, unknown>) => (m.error ? fail(new Error(String(m.error))) : ok(m[field] as R)));
        child.send({ cmd });
      });
    // left alone: does V8 give the sync's garbage back by itself once the operator is idle?
    const idle: [number, Record<string, number>][] = [];
    for (const at of [2, 10, 30, 60]) {
      await new Promise((r) => setTimeout(r, (at - (idle.at(-1)?.[0] ?? 2)) * 1000));
      idle.push([at, { ...(await ask<Record<string, number>>('peek', 'peeked')), procRss: procRss(child.pid!) }]);
      const x = idle.at(-1)![1];
      log(`idle +${at} s: RSS ${MiB(x.procRss!)} MiB, heapTotal ${MiB(x.heapTotal!)}, heapUsed ${MiB(x.heapUsed!)}`);
    }
    if (opt['no-measure']) return;
    const result = await ask<Record<string, any>>('measure', 'measured');
    result.idle = idle;
    const out = join(cache.dir, '..', `operator-heap-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(out, JSON.stringify({ params: p, syncMs, rss, peak, wire, bytes, listBytes, statusBytes, ...result }, null, 1));
    const m = (k: string, x: Record<string, number>) => `${k.padEnd(10)} rss ${MiB(x.rss!)}  heapTotal ${MiB(x.heapTotal!)}  heapUsed ${MiB(x.heapUsed!)}  external ${MiB(x.external!)}  arrayBuffers ${MiB(x.arrayBuffers!)}`;
    console.log(m('before GC', result.before));
    console.log(m(`after GC (${result.gcMs} ms)`, result.afterGc));
    console.log('heap spaces (used / size MiB):', result.spaces.map((s: any) => `${s.space} ${MiB(s.used).trim()}/${MiB(s.size).trim()}`).join(', '));
    console.log('counts:', JSON.stringify(result.counts), 'replica rows:', JSON.stringify(result.replicaRows));
    console.log('retained on its own (released in this order; MiB of heapUsed):');
    for (const [what, b] of result.released) console.log(`  ${MiB(b)}  ${what}`);
    console.log(m('at the end', result.end));
    console.log(`live sampled bytes ${MiB(result.sampling.total)} MiB; by innermost frame of ours:`);
    for (const [k, b] of result.sampling.byOurFrame.slice(0, 20)) console.log(`  ${MiB(b)}  ${k}`);
    console.log('by our call path (innermost 3 of ours):');
    for (const [k, b] of result.sampling.byOurPath.slice(0, 20)) console.log(`  ${MiB(b)}  ${k}`);
    console.log('by allocation site:');
    for (const [k, b] of result.sampling.bySite.slice(0, 20)) console.log(`  ${MiB(b)}  ${k}`);
    console.log(`result: ${out}`);
    child.kill('SIGKILL');
  } finally {
    await api.close();
    await ovn.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
