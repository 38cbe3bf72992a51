// Detection latency benchmark: OVSDB change -> PodCIDRRoute status written, with 5,000 routes.
// A real OVN sandbox (ovsdb-server + ovn-northd) carries 5,000 NB static routes on one router
// (1,000 PodCIDRRoutes x 5 prefixes, 1,000 VM ports bound to 20 chassis); the operator's
// Controller runs against it and the strict test API server. Each sample changes one route's
// nexthop in the NB through a separate OVSDB connection and times until the test API server
// stores the status write it causes (then the route is put back, a second sample).
// Baselines measured in the same run: the OVSDB notification alone (transact -> a replica's
// change event) and one bare status patch round trip. Prints p50/p90/p99/max and ratios.
// Run: npm run bench:latency  (BENCH_SAMPLES, BENCH_RESOURCES to change the size)
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { OvsdbClient } from '../../operator/ovsdb/client.js';
import { Database } from '../../operator/ovsdb/database.js';
import { NB_TABLES } from '../../operator/ovn/tables.js';
import { Controller } from '../../operator/controller/controller.js';
import { StatusWriter } from '../../operator/kube/status.js';
import { PODCIDRROUTES } from '../../operator/api/crds.js';
import { TestApiServer } from '../support/test-api-server.js';

const RESOURCES = Number(process.env.BENCH_RESOURCES ?? 1000);
const PER = 5;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);
const CHASSIS = 20;

export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
export function line(name: string, xs: number[]): string {
  return `${name.padEnd(38)} n=${String(xs.length).padEnd(4)} p50 ${fmt(pct(xs, 50)).padStart(10)}  p90 ${fmt(pct(xs, 90)).padStart(10)}  p99 ${fmt(pct(xs, 99)).padStart(10)}  max ${fmt(Math.max(...xs)).padStart(10)}`;
}

const vmIp = (i: number) => `10.${100 + Math.floor(i / 250)}.${i % 250}.10`;
const prefix = (i: number, j: number) => `172.${16 + Math.floor(i / 64)}.${(i % 64) * 4 + Math.floor(j / 2)}.${(j % 2) * 128}/25`;

/** One route to change per sample: the PodCIDRRoute whose status shows it, the NB row, and its wrong/right nexthop. */
export interface Pick {
  name: string;
  uuid: string;
  wrong: string;
  right: string;
}

/**
 * The sampling loop (also used by bench:field): per sample, one NB static route's nexthop is set
 * wrong through `nbClient` and timed until the test API server stores the status write for
 * `name` (drift detected), then put back and timed again (drift resolved). `notifyDb`, a replica
 * of the NB, gives the baseline: the same change seen as an OVSDB notification. `settle` runs
 * after each change (let northd and the operator go idle).
 */
export async function sampleChanges(o: {
  api: TestApiServer;
  nbClient: OvsdbClient;
  notifyDb: Database;
  samples: number;
  pick: (sample: number) => Pick;
  settle: () => Promise<void>;
  /** give up on a change after this long (counted in `timedOut`, not in the figures; default: wait forever) */
  timeoutMs?: number;
  /** stop sampling after this many timeouts in a row (the operator is not answering at all) */
  maxTimeoutsInARow?: number;
  /**
   * wait for the notify replica's change too before the next change (default true); false when
   * it lags far behind the operator's verdict (ovn-northd's full recompute at field scale): the
   * changes then follow each other as fast as the status writes, and `notify` stays empty
   */
  waitForNotify?: boolean;
}): Promise<{ detect: number[]; restore: number[]; notify: number[]; timedOut: number }> {
  const detect: number[] = [];
  const restore: number[] = [];
  const notify: number[] = [];
  let pending: { name: string; resolve: (t: number) => void } | undefined;
  const off = o.api.onWrite((type, obj) => {
    if (pending && type === 'MODIFIED' && obj.kind === 'PodCIDRRoute' && obj.metadata.name === pending.name) {
      const p = pending;
      pending = undefined;
      p.resolve(performance.now());
    }
  });
  let notified: (() => void) | undefined;
  const onChange = () => notified?.();
  o.notifyDb.on('change', onChange);
  let timedOut = 0;
  let inARow = 0;
  const change = async (name: string, uuid: string, nexthop: string): Promise<{ status: number; notify: number }> => {
    const written = new Promise<number>((resolve) => {
      pending = { name, resolve };
      if (o.timeoutMs !== undefined) setTimeout(() => resolve(Number.NaN), o.timeoutMs).unref();
    });
    const seen = o.waitForNotify === false
      ? Promise.resolve(Number.NaN)
      : new Promise<number>((resolve) => {
          notified = () => resolve(performance.now());
          if (o.timeoutMs !== undefined) setTimeout(() => resolve(Number.NaN), o.timeoutMs).unref();
        });
    const start = performance.now();
    await o.nbClient.transact('OVN_Northbound', [{ op: 'update', table: 'Logical_Router_Static_Route', where: [['_uuid', '==', ['uuid', uuid]]], row: { nexthop } }]);
    const [w, n] = await Promise.all([written, seen]);
    if (Number.isNaN(w)) {
      pending = undefined;
      timedOut++;
      inARow++;
    } else inARow = 0;
    return { status: w - start, notify: n - start };
  };
  const keep = (xs: number[], x: number) => {
    if (!Number.isNaN(x)) xs.push(x);
  };
  try {
    for (let s = 0; s < o.samples; s++) {
      const p = o.pick(s);
      const a = await change(p.name, p.uuid, p.wrong);
      keep(detect, a.status);
      keep(notify, a.notify);
      await o.settle();
      const b = await change(p.name, p.uuid, p.right);
      keep(restore, b.status);
      keep(notify, b.notify);
      await o.settle();
      if (o.maxTimeoutsInARow !== undefined && inARow >= o.maxTimeoutsInARow) break;
    }
  } finally {
    off();
    o.notifyDb.off('change', onChange);
  }
  return { detect, restore, notify, timedOut };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const ovn = await OvnSandbox.start();
  const api = await TestApiServer.start({ historyLimit: 20_000 });
  try {
    // --- topology: one router, one switch of VMs, chassis, bindings, 5,000 routes ---
    const nbArgs: string[] = ['--', 'lr-add', 'r0', '--', 'ls-add', 'vms', '--', 'lrp-add', 'r0', 'r0-vms', '00:00:00:00:ff:01', '10.100.0.1/14',
      '--', 'lsp-add', 'vms', 'vms-r0', '--', 'lsp-set-type', 'vms-r0', 'router', '--', 'lsp-set-addresses', 'vms-r0', 'router', '--', 'lsp-set-options', 'vms-r0', 'router-port=r0-vms'];
    await ovn.nbctl(...nbArgs);
    for (let start = 0; start < RESOURCES; start += 250) {
      const args: string[] = [];
      for (let i = start; i < Math.min(RESOURCES, start + 250); i++) {
        const mac = `0a:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
        args.push('--', 'lsp-add', 'vms', `vm-${i}`, '--', 'lsp-set-addresses', `vm-${i}`, `${mac} ${vmIp(i)}`);
      }
      await ovn.nbctl(...args);
    }
    for (let c = 0; c < CHASSIS; c++) await ovn.sbctl('chassis-add', `hv-${c}`, 'geneve', `192.168.0.${c + 1}`);
    await ovn.nbctl('--wait=sb', 'sync');
    for (let start = 0; start < RESOURCES; start += 250) {
      const args: string[] = [];
      for (let i = start; i < Math.min(RESOURCES, start + 250); i++) args.push('--', 'lsp-bind', `vm-${i}`, `hv-${i % CHASSIS}`);
      await ovn.sbctl(...args);
    }
    for (let start = 0; start < RESOURCES; start += 100) {
      const args: string[] = [];
      for (let i = start; i < Math.min(RESOURCES, start + 100); i++) for (let j = 0; j < PER; j++) args.push('--', 'lr-route-add', 'r0', prefix(i, j), vmIp(i));
      await ovn.nbctl('--no-wait', ...args);
    }
    await ovn.nbctl('--wait=sb', '--timeout=120', 'sync');
    const tTopo = performance.now();

    for (let i = 0; i < RESOURCES; i++) {
      api.put({
        apiVersion: 'ovndrift.io/v1alpha1',
        kind: 'PodCIDRRoute',
        metadata: { name: `vm-${i}` },
        spec: { router: 'r0', nexthop: vmIp(i), cidrs: Array.from({ length: PER }, (_, j) => prefix(i, j)), policy: 'dst-ip', routeTable: '', expectedChassis: '', remediation: 'Report', adopt: false },
      });
    }

    // --- operator ---
    const controller = new Controller({
      kubeConfig: api.kubeConfig(),
      nbRemote: ovn.nbRemote,
      sbRemote: ovn.sbRemote,
      identity: 'bench',
      lease: false,
      resyncMs: 0,
      workers: 8,
      logger: pino({ level: process.env.LOG_LEVEL ?? 'error' }),
    });
    const ready = (o: any) => o?.status?.conditions?.find((c: any) => c.type === 'Ready')?.status;
    await controller.start();
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      const objs = api.list('podcidrroutes');
      if (objs.length === RESOURCES && objs.every((o) => ready(o) === 'True')) break;
      if (performance.now() - tTopo > 300_000) throw new Error(`initial convergence did not finish: ${objs.filter((o) => ready(o) === 'True').length}/${RESOURCES} Ready`);
    }
    const tConverged = performance.now();
    await controller.idle();

    // full reconcile of everything (what a periodic resync costs)
    const r0 = performance.now();
    controller.markAll();
    await controller.idle();
    const fullResyncMs = performance.now() - r0;

    // --- samples --- (per-batch figures below cover the sample phase only)
    Object.assign(controller.stats, { batches: 0, evaluated: 0, statusWrites: 0, gatherMs: 0, evaluateMs: 0, renderMs: 0, writeMs: 0 });
    const nbClient = await OvsdbClient.connect(ovn.nbRemote);
    const watcherDb = await Database.open({ remote: ovn.nbRemote, db: 'OVN_Northbound', tables: NB_TABLES });
    const uuidOf = new Map<string, string>();
    for (const row of controller.databases().nb!.rows('Logical_Router_Static_Route').values()) uuidOf.set(String(row.ip_prefix), row._uuid);

    const { detect, restore, notify } = await sampleChanges({
      api,
      nbClient,
      notifyDb: watcherDb,
      samples: SAMPLES,
      pick: (s) => {
        const i = Math.floor(Math.random() * RESOURCES);
        return { name: `vm-${i}`, uuid: uuidOf.get(prefix(i, s % PER))!, wrong: vmIp((i + 1) % RESOURCES), right: vmIp(i) };
      },
      settle: async () => {
        await new Promise((r) => setTimeout(r, 30)); // northd follows; let its SB update settle
        await controller.idle();
      },
    });

    // baseline: one bare status patch round trip to the test API server
    const writer = new StatusWriter(api.kubeConfig());
    const bare: number[] = [];
    for (let s = 0; s < 100; s++) {
      const b0 = performance.now();
      await writer.patch(PODCIDRROUTES, 'vm-0', { lastCheckTime: 'x' }, { lastCheckTime: new Date(Date.now() + s * 1000).toISOString().replace(/\.\d+Z$/, 'Z') });
      bare.push(performance.now() - b0);
    }
    const all = [...detect, ...restore];
    const mem = process.memoryUsage();

    console.log(`ovn-drift detection latency (OVSDB change -> PodCIDRRoute status written)`);
    console.log(`routes: ${RESOURCES * PER} (${RESOURCES} PodCIDRRoutes x ${PER} prefixes, ${RESOURCES} VM ports on ${CHASSIS} chassis); samples: ${SAMPLES} drift + ${SAMPLES} restore`);
    console.log(`setup: topology ${((tTopo - t0) / 1000).toFixed(1)} s, initial convergence of all resources ${((tConverged - tTopo) / 1000).toFixed(1)} s, full resync ${fullResyncMs.toFixed(0)} ms`);
    console.log(line('drift detected (NB change -> status)', detect));
    console.log(line('drift resolved (NB change -> status)', restore));
    console.log(line('all status writes', all));
    console.log(line('baseline: OVSDB notification only', notify));
    console.log(line('baseline: bare status patch', bare));
    console.log(`ratio p50 to OVSDB notification: ${(pct(all, 50) / pct(notify, 50)).toFixed(1)}x; p99 target 100 ms: ${pct(all, 99) < 100 ? 'met' : 'NOT met'} (p99 ${fmt(pct(all, 99))})`);
    const st = controller.stats;
    console.log(`operator time per batch: gather ${(st.gatherMs / st.batches).toFixed(2)} ms, evaluate ${(st.evaluateMs / st.batches).toFixed(2)} ms, render ${(st.renderMs / st.batches).toFixed(2)} ms, write ${(st.writeMs / st.batches).toFixed(2)} ms`);
    console.log(`operator stats: ${controller.stats.batches} batches, ${controller.stats.evaluated} resource evaluations, ${controller.stats.statusWrites} status writes; rss ${(mem.rss / 1048576).toFixed(0)} MiB, heap ${(mem.heapUsed / 1048576).toFixed(0)} MiB`);

    await nbClient.close();
    await watcherDb.close();
    await controller.stop();
  } finally {
    await api.close();
    await ovn.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(2);
    },
  );
}
