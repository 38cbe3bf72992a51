// The operator, as `ovn-drift operator` runs it, inside a process that can measure its own heap
// (a child of test/bench/operator-heap.ts; run with `node --expose-gc`). It runs the operator
// command with the given arguments and, on the parent's {measure} message, answers with:
//   - process.memoryUsage() before and after a forced full GC, and the V8 heap spaces ({peek}:
//     memoryUsage alone, no GC);
//   - the live bytes by allocation site from the sampling heap profiler (started before the
//     operator, so it sees what the initial sync allocated and is still alive);
//   - the bytes each structure of the operator retains on its own, by releasing them one at a time
//     (each followed by a forced GC) in the order reconciler maps, affected index, informer caches,
//     row-key indexes, OVSDB replicas; the process is of no further use afterwards.
// A benchmark helper, never used by the product.
import { Session } from 'node:inspector/promises';
import { getHeapSpaceStatistics } from 'node:v8';
import { run } from '../../operator/commands/operator.js';
import type { Controller } from '../../operator/controller/controller.js';
import { NB_TABLES, SB_TABLES } from '../../operator/ovn/tables.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('operator-heap-child: run with node --expose-gc');

const session = new Session();
session.connect();
const SAMPLING_INTERVAL = Number(process.env.HEAP_SAMPLING_INTERVAL ?? 65536);
await session.post('HeapProfiler.enable');
await session.post('HeapProfiler.startSampling', { samplingInterval: SAMPLING_INTERVAL });

let controller: Controller | undefined;
const abort = new AbortController();
const done = run(process.argv.slice(2), { signal: abort.signal, onStarted: (c) => (controller = c) });

function fullGc(): void {
  for (let i = 0; i < 3; i++) gc!();
}

const mu = () => {
  const m = process.memoryUsage();
  return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
};

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** Live sampled bytes by allocating function, and by the innermost frame in our own code. */
function summariseSampling(root: SamplingNode): { bySite: [string, number][]; byOurFrame: [string, number][]; byOurPath: [string, number][]; total: number } {
  const site = new Map<string, number>();
  const ours = new Map<string, number>();
  const path = new Map<string, number>();
  let total = 0;
  const name = (f: SamplingNode['callFrame']) => `${f.functionName || '(anonymous)'} ${f.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
  const isOurs = (f: SamplingNode['callFrame']) => /\/dist\/operator\//.test(f.url);
  const walk = (n: SamplingNode, stack: SamplingNode['callFrame'][]) => {
    const s = [...stack, n.callFrame];
    if (n.selfSize > 0) {
      total += n.selfSize;
      const k = name(n.callFrame);
      site.set(k, (site.get(k) ?? 0) + n.selfSize);
      const our = [...s].reverse().filter(isOurs);
      const o = our[0] ? name(our[0]) : '(no frame of ours)';
      ours.set(o, (ours.get(o) ?? 0) + n.selfSize);
      const p = our.slice(0, 3).map((f) => f.functionName || '(anonymous)').join(' < ') || '(none)';
      path.set(p, (path.get(p) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, s);
  };
  walk(root, []);
  const top = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30);
  return { bySite: top(site), byOurFrame: top(ours), byOurPath: top(path), total };
}

async function measure(): Promise<unknown> {
  const c = controller as unknown as Record<string, any>;
  const before = mu();
  const t0 = Date.now();
  fullGc();
  const afterGc = mu();
  const gcMs = Date.now() - t0;
  const spaces = getHeapSpaceStatistics().map((s) => ({ space: s.space_name, size: s.space_size, used: s.space_used_size, physical: s.physical_space_size }));
  const { profile } = (await session.post('HeapProfiler.getSamplingProfile')) as unknown as { profile: { head: SamplingNode } };
  await session.post('HeapProfiler.stopSampling');
  const sampling = summariseSampling(profile.head);
  fullGc();
  // release one structure at a time; what the heap loses is what that structure alone retained
  const released: [string, number][] = [];
  let last = process.memoryUsage().heapUsed;
  const release = async (what: string, f: () => void | Promise<void>) => {
    await f();
    fullGc();
    const now = process.memoryUsage().heapUsed;
    released.push([what, last - now]);
    last = now;
  };
  const rr = c.routeReconciler as Record<string, any>;
  const counts = {
    informerRoutes: c.routes.cache.size,
    validated: rr.validated.size,
    lastWritten: rr.lastWritten.size,
    settling: rr.settling.size,
    perResource: rr.perResource.size,
    markedAt: rr.markedAt.size,
    affectedKeys: (c.index.byKey.m ?? c.index.byKey).size,
    affectedResources: c.index.keysOf.size,
  };
  await release('reconciler: validated (spec validation results)', () => rr.validated.clear());
  await release('reconciler: lastWritten (WrittenCache)', () => rr.lastWritten.entries.clear());
  await release('reconciler: settling (settle memory)', () => rr.settling.clear());
  await release('reconciler: perResource metrics + markedAt + drifted + pending', () => {
    rr.perResource.clear();
    rr.markedAt.clear();
    rr.drifted.clear();
    rr.pending.clear();
    rr.conflicts = undefined;
  });
  await release('affected-resource index', () => {
    (c.index.byKey.m ?? c.index.byKey).clear();
    c.index.keysOf.clear();
  });
  await release('work queues', () => {
    for (const q of [c.routeQueue, c.policyQueue]) for (const v of Object.values(q)) if (v instanceof Map || v instanceof Set) v.clear();
  });
  await release('informer cache: PodCIDRRoutes', () => c.routes.cache.clear());
  await release('informer caches: other kinds', () => {
    for (const i of [c.policies, c.nodeStates, c.nodes, c.allRoutes]) i?.cache.clear();
  });
  await release('prom-client registry values', () => c.metrics.registry.resetMetrics());
  await release('row-key indexes (NB + SB)', () => {
    c.replicas.nbIndex = undefined;
    c.replicas.sbIndex = undefined;
  });
  const replicaRows = { nb: 0, sb: 0 };
  for (const [which, specs] of [['nb', NB_TABLES], ['sb', SB_TABLES]] as const) {
    const db = c.replicas[which];
    for (const t of specs) replicaRows[which] += db?.has(t.table) ? db.rows(t.table).size : 0;
  }
  // closed first: an open socket keeps its client, and through it the replica, reachable
  await release('NB replica (rows, caches, client)', async () => {
    const db = c.replicas.nb;
    c.replicas.nb = undefined;
    await db?.close();
  });
  await release('SB replica (rows, flow index, caches, client)', async () => {
    const db = c.replicas.sb;
    c.replicas.sb = undefined;
    await db?.close();
  });
  const end = mu();
  return { before, afterGc, gcMs, spaces, sampling, released, counts, replicaRows, end };
}

process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'measure') {
    measure().then(
      (r) => process.send!({ measured: r }),
      (err) => process.send!({ error: String((err as Error).stack ?? err) }),
    );
  } else if (m.cmd === 'peek') {
    process.send!({ peeked: mu() });
  } else if (m.cmd === 'stop') {
    abort.abort();
  }
});

process.exitCode = await done;
process.exit();
