// Benchmark (a script, not a test): `npm run bench:ovsdb`.
// Part 1 (initial sync): builds an SB (real OVN schema, no northd) with 200,000 Logical_Flow rows,
// then measures in one run: our initial sync of that table into a Database replica (in a child
// process, so its peak RSS is its own) vs `ovsdb-client dump` of the same table; wall time and peak
// RSS, and the ratios. Targets: wall time within 1.5x of ovsdb-client; peak RSS under 2x the JSON
// the server sends.
// Part 2 (reconnect): the same 200,000 flows on a 3-member RAFT SB (only clustered databases keep
// the transaction history). A replica follows Logical_Flow through a loopback proxy; the proxy
// cuts the connection, 300 flows change while it is away (100 inserted, 100 modified, 100
// deleted), and the replica reconnects. Measured: resync time (monitor request sent -> replica
// current) and bytes received, with monitor_cond_since (only the changes) and, as the baseline in
// the same run, with monitor_cond (a full re-fetch diffed against the replica).
// Env: BENCH_FLOWS (default 200000), BENCH_RUNS (default 3), BENCH_PART (initial | reconnect;
// both when unset), BENCH_ACTIONS: `unique` (default: every flow's actions text differs, the worst
// case for the replica's text interning) or `per-nexthop` (as northd writes lr_in_ip_routing: the
// actions depend only on the nexthop and its port, here one of 97, so they repeat).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { OvnSandbox, OVN_SCHEMA_DIR } from '../../operator/sandbox/sandbox.js';
import { Database, OvsdbClient, uuid, map, type MonitorMethod, type Operation } from '../../operator/ovsdb/index.js';
import { ServerSet, TcpProxy } from '../ovsdb/servers.js';

const FLOWS = Number(process.env.BENCH_FLOWS ?? 200_000);
const PART = process.env.BENCH_PART ?? '';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ACTIONS = process.env.BENCH_ACTIONS === 'per-nexthop' ? 'per-nexthop' : 'unique';
const DATAPATHS = 100;
const STAGES = ['ls_in_port_sec_l2', 'ls_in_acl', 'ls_in_l2_lkup', 'lr_in_ip_input', 'lr_in_ip_routing', 'lr_in_ip_routing_ecmp', 'lr_in_arp_resolve', 'ls_out_acl'];

/** Child mode: sync Logical_Flow into a replica, report figures as one JSON line. */
async function child(remote: string): Promise<void> {
  const t0 = process.hrtime.bigint();
  const db = await Database.open({ remote, db: 'OVN_Southbound', tables: [{ table: 'Logical_Flow' }], requestTimeoutMs: 600_000 });
  const syncMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const rows = db.rows('Logical_Flow').size;
  const bytes = db.client!.bytesReceived;
  await db.close();
  process.stdout.write(JSON.stringify({ syncMs, rows, bytes, maxRssKB: process.resourceUsage().maxRSS }) + '\n');
}

interface Run {
  wallMs: number;
  maxRssKB: number;
  stdout: string;
}

/** Runs a command under /usr/bin/time -v; wall time measured here, peak RSS from time(1). */
async function measure(cmd: string, args: string[], keepStdout: boolean): Promise<Run> {
  const t0 = process.hrtime.bigint();
  const p = spawn('/usr/bin/time', ['-v', cmd, ...args], { stdio: ['ignore', keepStdout ? 'pipe' : 'ignore', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  p.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await new Promise<number | null>((r) => p.on('exit', r));
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  return { wallMs, maxRssKB: rss ? Number(rss[1]) : NaN, stdout };
}

function flowRow(i: number, dp: string): Operation {
  const stage = STAGES[i % STAGES.length]!;
  const a = (i >> 16) & 255;
  const b = (i >> 8) & 255;
  const c = i & 255;
  return {
    op: 'insert',
    table: 'Logical_Flow',
    row: {
      logical_datapath: uuid(dp),
      pipeline: stage.includes('_out_') ? 'egress' : 'ingress',
      table_id: 13,
      priority: 1 + (i % 200),
      match: `reg7 == 0 && ip4.dst == 10.${a}.${b}.${c}/32 && inport == "lrp-${i % 97}"`,
      actions:
        ACTIONS === 'unique'
          ? `ip.ttl--; reg8[0..15] = 0; reg0 = 10.9.${b}.${c}; reg1 = 10.9.2.1; eth.src = 00:00:00:00:${(b & 255).toString(16).padStart(2, '0')}:${c.toString(16).padStart(2, '0')}; outport = "lrp-${i % 97}"; flags.loopback = 1; next;`
          : `ip.ttl--; reg8[0..15] = 0; reg0 = 10.9.${i % 97}.1; reg1 = 10.9.${i % 97}.254; eth.src = 00:00:00:00:01:${(i % 97).toString(16).padStart(2, '0')}; outport = "lrp-${i % 97}"; flags.loopback = 1; next;`,
      external_ids: map({ source: `northd.c:${10000 + (i % 5000)}`, 'stage-name': stage, 'stage-hint': (0x10000000 + i).toString(16) }),
    },
  };
}

async function build(remote: string): Promise<string[]> {
  const c = await OvsdbClient.connect(remote, { requestTimeoutMs: 600_000, probeIntervalMs: 0 });
  const dps: Operation[] = [];
  for (let i = 0; i < DATAPATHS; i++) dps.push({ op: 'insert', table: 'Datapath_Binding', 'uuid-name': `dp${i}`, row: { tunnel_key: i + 1, external_ids: map({ name: `dp${i}` }) } });
  const res = (await c.transact('OVN_Southbound', dps)) as { uuid: [string, string] }[];
  const dpUuids = res.map((r) => r.uuid[1]);
  const BATCH = 10_000;
  for (let start = 0; start < FLOWS; start += BATCH) {
    const ops: Operation[] = [];
    for (let i = start; i < Math.min(FLOWS, start + BATCH); i++) ops.push(flowRow(i, dpUuids[i % DATAPATHS]!));
    await c.transact('OVN_Southbound', ops);
  }
  await c.close();
  return dpUuids;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function initialSync(): Promise<void> {
  const sandbox = await OvnSandbox.start({ northd: false });
  try {
    const tb = Date.now();
    await build(sandbox.sb.members[0]!.unixRemote);
    const remote = sandbox.sb.members[0]!.unixRemote;
    console.log(`actions texts: ${ACTIONS}`);
    console.log(`built ${fmt(FLOWS)} Logical_Flow rows in ${fmt((Date.now() - tb) / 1000, 1)} s (SB at ${remote}, no northd)`);
    const ours: (Run & { syncMs: number; bytes: number; rows: number; childRssKB: number })[] = [];
    const dumps: Run[] = [];
    const script = fileURLToPath(import.meta.url);
    for (let r = 0; r < RUNS; r++) {
      dumps.push(await measure('ovsdb-client', ['dump', remote, 'OVN_Southbound', 'Logical_Flow'], false));
      const run = await measure(process.execPath, [script, '--child', remote], true);
      const fig = JSON.parse(run.stdout.trim().split('\n').pop()!) as { syncMs: number; rows: number; bytes: number; maxRssKB: number };
      if (fig.rows !== FLOWS) throw new Error(`replica has ${fig.rows} rows, expected ${FLOWS}`);
      ours.push({ ...run, ...fig, maxRssKB: run.maxRssKB, childRssKB: fig.maxRssKB });
    }
    const idle = await measure(process.execPath, [script, '--idle'], true);
    const oWall = median(ours.map((o) => o.wallMs));
    const oSync = median(ours.map((o) => o.syncMs));
    const oRss = median(ours.map((o) => o.maxRssKB)) / 1024;
    const dWall = median(dumps.map((d) => d.wallMs));
    const dRss = median(dumps.map((d) => d.maxRssKB)) / 1024;
    const jsonMB = ours[0]!.bytes / 2 ** 20;
    const timeRatio = oWall / dWall;
    const rssRatio = oRss / jsonMB;
    console.log(`runs: ${RUNS} (medians)`);
    console.log(`ovsdb-client dump Logical_Flow : wall ${fmt(dWall)} ms, peak RSS ${fmt(dRss, 1)} MB`);
    console.log(`ovn-drift replica initial sync : wall ${fmt(oWall)} ms (process; sync itself ${fmt(oSync)} ms), peak RSS ${fmt(oRss, 1)} MB`);
    console.log(`JSON received from the server  : ${fmt(jsonMB, 1)} MB`);
    console.log(`idle node with the same modules: peak RSS ${fmt(idle.maxRssKB / 1024, 1)} MB (so the replica itself costs ${fmt(oRss - idle.maxRssKB / 1024, 1)} MB = ${fmt((oRss - idle.maxRssKB / 1024) / jsonMB, 2)}x the JSON)`);
    console.log(`time ratio (ours / ovsdb-client): ${fmt(timeRatio, 2)}x  (target <= 1.5x)  ${timeRatio <= 1.5 ? 'OK' : 'MISSED'}`);
    console.log(`peak RSS / JSON size           : ${fmt(rssRatio, 2)}x  (target < 2x)  ${rssRatio < 2 ? 'OK' : 'MISSED'}`);
  } finally {
    await sandbox.stop();
  }
}

interface Resync {
  ms: number;
  bytes: number;
  rows: number;
  found: boolean;
}

/** Cuts the replica's connection, changes 300 flows while it is away, lets it reconnect; returns the resync figures. */
async function oneReconnect(db: Database, proxy: TcpProxy, writer: OvsdbClient, dps: string[], round: number): Promise<Resync> {
  const syncs = db.status().sync!.syncs;
  await proxy.cut();
  while (db.status().connected) await new Promise((r) => setTimeout(r, 10));
  const flows = [...db.rows('Logical_Flow').values()];
  const ops: Operation[] = [];
  for (let i = 0; i < 100; i++) ops.push(flowRow(FLOWS + round * 1000 + i, dps[i % dps.length]!));
  for (let i = 0; i < 100; i++) ops.push({ op: 'update', table: 'Logical_Flow', where: [['_uuid', '==', uuid(flows[i]!._uuid)]], row: { priority: 1000 + round } });
  for (let i = 0; i < 100; i++) ops.push({ op: 'delete', table: 'Logical_Flow', where: [['_uuid', '==', uuid(flows[flows.length - 1 - i]!._uuid)]] });
  await writer.transact('OVN_Southbound', ops);
  const expected = flows.length;
  await proxy.restore();
  while (!(db.status().connected && db.status().sync!.syncs > syncs)) await new Promise((r) => setTimeout(r, 10));
  const s = db.status().sync!;
  if (db.rows('Logical_Flow').size !== expected) throw new Error(`replica has ${db.rows('Logical_Flow').size} flows after the resync, expected ${expected}`);
  return { ms: s.ms, bytes: s.bytes, rows: s.rows, found: s.found };
}

async function reconnect(): Promise<void> {
  const set = await ServerSet.create();
  const proxies: TcpProxy[] = [];
  try {
    // written once into a standalone file, then made the initial content of the cluster: 20
    // transactions of 5 MB through the RAFT log take half an hour on a loaded 2-core machine
    const tb = Date.now();
    const seed = await set.standalone('seed', join(OVN_SCHEMA_DIR, 'ovn-sb.ovsschema'));
    const dps = await build(seed.unixRemote);
    await seed.stop();
    const members = await set.clusterFrom('sb', 'OVN_Southbound', seed.dbFile);
    const leader = (await set.leaderOf(members, 'OVN_Southbound'))!;
    console.log(`built ${fmt(FLOWS)} Logical_Flow rows on a 3-member RAFT SB in ${fmt((Date.now() - tb) / 1000, 1)} s (leader ${leader.tcpRemote}, no northd)`);
    const writer = await OvsdbClient.connect(leader.unixRemote, { requestTimeoutMs: 600_000, probeIntervalMs: 0 });
    const figures: Record<string, Resync[]> = {};
    const initial: Record<string, { ms: number; bytes: number }> = {};
    for (const method of ['monitor_cond_since', 'monitor_cond'] as MonitorMethod[]) {
      const proxy = await TcpProxy.start(leader.port);
      proxies.push(proxy);
      const db = await Database.open({ remote: proxy.remote, db: 'OVN_Southbound', tables: [{ table: 'Logical_Flow' }], monitorMethod: method, requestTimeoutMs: 600_000, connectTimeoutMs: 600_000, probeIntervalMs: 20_000, backoffMinMs: 50, backoffMaxMs: 100 });
      initial[method] = { ms: db.status().sync!.ms, bytes: db.status().sync!.bytes };
      // be at a recent, small transaction (the server trims its history to about the database's size)
      await writer.transact('OVN_Southbound', [flowRow(FLOWS + 999_000 + (method === 'monitor_cond' ? 1 : 0), dps[0]!)]);
      while (db.rows('Logical_Flow').size !== FLOWS + 1 + (method === 'monitor_cond' ? 1 : 0)) await new Promise((r) => setTimeout(r, 10));
      figures[method] = [];
      for (let r = 0; r < RUNS; r++) figures[method]!.push(await oneReconnect(db, proxy, writer, dps, r + (method === 'monitor_cond' ? 100 : 0)));
      await db.close();
      await proxy.stop();
    }
    await writer.close();
    const since = figures.monitor_cond_since!;
    const full = figures.monitor_cond!;
    if (!since.every((f) => f.found)) throw new Error(`monitor_cond_since did not find the last transaction: ${JSON.stringify(since)}`);
    const sMs = median(since.map((f) => f.ms));
    const fMs = median(full.map((f) => f.ms));
    const sB = median(since.map((f) => f.bytes));
    const fB = median(full.map((f) => f.bytes));
    console.log(`reconnect after 300 changed flows (100 inserted, 100 modified, 100 deleted), ${fmt(FLOWS)} flows, runs: ${RUNS} (medians)`);
    console.log(`  initial sync (for scale)              : ${fmt(initial.monitor_cond_since!.ms)} ms, ${fmt(initial.monitor_cond_since!.bytes / 2 ** 20, 1)} MB`);
    console.log(`  with monitor_cond_since (changes only): ${fmt(sMs, 1)} ms, ${fmt(sB / 1024, 1)} KB, ${fmt(median(since.map((f) => f.rows)))} row updates`);
    console.log(`  baseline monitor_cond (full re-fetch) : ${fmt(fMs)} ms, ${fmt(fB / 2 ** 20, 1)} MB, ${fmt(median(full.map((f) => f.rows)))} row updates`);
    console.log(`  => ${fmt(fMs / sMs, 0)}x faster, ${fmt(fB / sB, 0)}x fewer bytes`);
    console.log(`  each run: since ${JSON.stringify(since)} full ${JSON.stringify(full)}`);
  } finally {
    for (const p of proxies) await p.stop();
    await set.stop();
  }
}

async function main(): Promise<void> {
  console.log(`load average at start: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  if (PART !== 'reconnect') await initialSync();
  if (PART !== 'initial') await reconnect();
}

if (process.argv[2] === '--idle') {
  // the modules are loaded by the imports above; nothing else
  process.stdout.write('{}\n');
} else if (process.argv[2] === '--child') {
  child(process.argv[3]!).catch((err) => {
    console.error(err);
    process.exit(2);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(2);
  });
}
