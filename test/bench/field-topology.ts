// Field-scale topology for `npm run bench:field`: about 200,000 declared routes (PodCIDRRoute-style:
// pod CIDR -> VM nexthop) over 1,000 logical routers, with the noise a real deployment carries:
// a VM switch per router whose ports have addresses and port_security, two gateway ports per router
// behind an ECMP default route, three router policies per router, a few declared prefixes that also
// carry an ECMP sibling, and 50 chassis that claim the VM ports (Port_Binding.chassis + up, as
// ovn-controller does; a few VMs stay unclaimed). Drift the check must find: 7 declared routes
// missing from the NB, 5 VMs unbound, 10 prefixes with a competing ECMP member.
//
// Built the way a CMS writes it after an outage: the NB is written in large OVSDB transactions
// (like libovsdb in ovn-kubernetes) while ovn-northd is stopped, then northd starts once and computes
// the whole SB (what happens after a northd restart in production); the chassis then claim their
// ports in the SB and northd follows. The resulting nb.db/sb.db (compacted) and the PodCIDRRoute
// manifests are cached OUTSIDE the repository under $BENCH_FIELD_CACHE (default
// /var/cache/ovn-drift) in field-<hash of the builder parameters and the OVN version>/, so later
// runs start from the files in seconds. `startField()` serves a private copy of the cached files
// (ovsdb-server NB + SB, ovn-northd) in a temp dir, so a run may change them freely.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { OvnSandbox, OvsdbServerProcess, freePort } from '../../operator/sandbox/sandbox.js';
import { OvsdbClient, namedUuid, set, map, uuid, type Operation } from '../../operator/ovsdb/index.js';
import { startSlow } from '../ovsdb/servers.js';

const execFileP = promisify(execFile);

export interface FieldParams {
  routers: number;
  vmsPerRouter: number;
  prefixesPerVm: number;
  chassis: number;
  policiesPerRouter: number;
  /** declared routes left out of the NB (drift: RouteMissing) */
  missing: number;
  /** VMs whose port no chassis claims (drift: NexthopUnbound) */
  unbound: number;
  /** declared prefixes given a second ECMP member to another VM (drift: ConflictingRoute) */
  ecmpConflicts: number;
}

/** Bump when the builder's output changes: it is part of the cache key. */
const BUILDER_VERSION = 1;

export function fieldParams(): FieldParams {
  const n = (k: string, d: number) => Number(process.env[k] ?? d);
  return {
    routers: n('BENCH_FIELD_ROUTERS', 1000),
    vmsPerRouter: n('BENCH_FIELD_VMS', 10),
    prefixesPerVm: n('BENCH_FIELD_PREFIXES', 20),
    chassis: 50,
    policiesPerRouter: 3,
    missing: 7,
    unbound: 5,
    ecmpConflicts: 10,
  };
}

export interface FieldMeta {
  params: FieldParams;
  ovnVersion: string;
  builtAt: string;
  buildMs: { nb: number; northd: number; bind: number; total: number };
  declaredRoutes: number;
  nbRoutes: number;
  podCidrRoutes: number;
  logicalFlows: number;
  routingFlows: number;
  nbBytes: number;
  sbBytes: number;
}

export interface FieldCache {
  dir: string;
  nbDb: string;
  sbDb: string;
  manifest: string;
  meta: FieldMeta;
}

// ---- naming -------------------------------------------------------------------------------

const hex2 = (n: number) => (n & 255).toString(16).padStart(2, '0');
export const routerName = (r: number) => `lr${String(r).padStart(4, '0')}`;
export const vmPort = (r: number, v: number) => `${routerName(r)}-vm${v}`;
/** 10.{r>>8}.{r&255}.{10+v}: the VM's IP on its router's /24 */
export const vmIp = (r: number, v: number) => `10.${r >> 8}.${r & 255}.${10 + v}`;
const gwIp = (r: number, g: number) => `10.${r >> 8}.${r & 255}.${250 + g}`;
/** Pod CIDRs are /28s of 100.64.0.0/10, globally unique: route g is 100.64.0.0 + 16 g. */
export function podCidr(p: FieldParams, r: number, v: number, i: number): string {
  const g = (r * p.vmsPerRouter + v) * p.prefixesPerVm + i;
  const a = 0x64400000 + g * 16;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/28`;
}
export const chassisName = (c: number) => `field-hv-${String(c).padStart(3, '0')}`;
const chassisOf = (p: FieldParams, r: number, v: number) => (r * p.vmsPerRouter + v) % p.chassis;
/** The drift, chosen deterministically. */
const isMissing = (p: FieldParams, r: number, v: number, i: number) => {
  for (let k = 0; k < p.missing; k++) if (r === (k * 137) % p.routers && v === k % p.vmsPerRouter && i === 3) return true;
  return false;
};
const isUnbound = (p: FieldParams, r: number, v: number) => {
  for (let k = 0; k < p.unbound; k++) if (r === (k * 211 + 5) % p.routers && v === (k + 1) % p.vmsPerRouter) return true;
  return false;
};
const hasEcmpConflict = (p: FieldParams, r: number, v: number, i: number) => {
  for (let k = 0; k < p.ecmpConflicts; k++) if (r === (k * 97 + 11) % p.routers && v === 0 && i === 7) return true;
  return false;
};

// ---- cache --------------------------------------------------------------------------------

async function ovnVersion(): Promise<string> {
  const { stdout } = await execFileP('ovn-northd', ['--version']);
  return stdout.split('\n')[0]!.trim();
}

export async function cacheDir(p: FieldParams): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify({ p, v: BUILDER_VERSION, ovn: await ovnVersion() })).digest('hex').slice(0, 12);
  return join(process.env.BENCH_FIELD_CACHE ?? '/var/cache/ovn-drift', `field-${key}`);
}

/** The cached topology, built first if the cache holds none for these parameters. */
export async function ensureField(p: FieldParams, log: (s: string) => void): Promise<FieldCache> {
  const dir = await cacheDir(p);
  const metaFile = join(dir, 'meta.json');
  if (existsSync(metaFile) && process.env.BENCH_FIELD_REBUILD !== '1') {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as FieldMeta;
    log(`field topology from cache ${dir} (built ${meta.builtAt} in ${(meta.buildMs.total / 1000).toFixed(0)} s)`);
    return { dir, nbDb: join(dir, 'nb.db'), sbDb: join(dir, 'sb.db'), manifest: join(dir, 'routes.yaml'), meta };
  }
  log(`field topology not cached: building into ${dir} (once; later runs reuse it)`);
  await mkdir(join(dir, '..'), { recursive: true });
  const tmp = `${dir}.partial-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const meta = await build(p, tmp, log);
  await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  log(`cached in ${dir}`);
  return { dir, nbDb: join(dir, 'nb.db'), sbDb: join(dir, 'sb.db'), manifest: join(dir, 'routes.yaml'), meta };
}

// ---- northd ---------------------------------------------------------------------------------

/** ovn-northd as a child process on the given unix remotes (the pid is northd's own: setpriv execs). */
export class Northd {
  private constructor(readonly child: ChildProcess) {}

  static start(dir: string, nbRemote: string, sbRemote: string): Northd {
    const args = [`--ovnnb-db=${nbRemote}`, `--ovnsb-db=${sbRemote}`, `--unixctl=${join(dir, 'northd.ctl')}`, `--log-file=${join(dir, 'northd.log')}`, '-vconsole:off'];
    const env = { ...process.env, OVN_RUNDIR: dir, OVN_LOGDIR: dir, OVS_RUNDIR: dir, OVS_LOGDIR: dir };
    const child = existsSync('/usr/bin/setpriv')
      ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', 'ovn-northd', ...args], { cwd: dir, stdio: 'ignore', env })
      : spawn('ovn-northd', args, { cwd: dir, stdio: 'ignore', env });
    return new Northd(child);
  }

  /** user+system CPU seconds so far, from /proc. */
  cpuSeconds(): number {
    try {
      const f = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
    } catch {
      return 0;
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  }
}

/** Bumps NB_Global.nb_cfg and waits until northd has written the SB for it (sb_cfg caught up). */
export async function waitNorthd(nb: OvsdbClient, log: (s: string) => void, northd: Northd, what: string): Promise<number> {
  const t0 = Date.now();
  const res = (await nb.transact('OVN_Northbound', [
    { op: 'mutate', table: 'NB_Global', where: [], mutations: [['nb_cfg', '+=', 1]] },
    { op: 'select', table: 'NB_Global', where: [], columns: ['nb_cfg'] },
  ])) as [unknown, { rows: { nb_cfg: number }[] }];
  const want = res[1].rows[0]!.nb_cfg;
  let last = t0;
  for (;;) {
    const r = (await nb.transact('OVN_Northbound', [{ op: 'select', table: 'NB_Global', where: [], columns: ['sb_cfg'] }])) as [{ rows: { sb_cfg: number }[] }];
    if (r[0].rows[0]!.sb_cfg >= want) break;
    if (Date.now() - last >= 15_000) {
      last = Date.now();
      log(`  ${what}: waiting for ovn-northd, ${((Date.now() - t0) / 1000).toFixed(0)} s, northd CPU ${northd.cpuSeconds().toFixed(0)} s`);
    }
    if (Date.now() - t0 > 3_600_000) throw new Error(`ovn-northd did not catch up with nb_cfg ${want} within an hour`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return Date.now() - t0;
}

// ---- build ----------------------------------------------------------------------------------

function routerOps(p: FieldParams, r: number, docs: string[]): { ops: Operation[]; routes: number; declared: number } {
  const name = routerName(r);
  const sw = `${name}-vms`;
  const lrp = `lrp-${name}-to-${sw}`;
  const ops: Operation[] = [];
  const routeRefs: unknown[] = [];
  const portRefs: unknown[] = [];
  let routes = 0;
  let declared = 0;
  const id = (s: string) => `${s}_${r}`;
  const addRoute = (prefix: string, nexthop: string) => {
    const u = id(`rt${routes}`);
    ops.push({ op: 'insert', table: 'Logical_Router_Static_Route', 'uuid-name': u, row: { ip_prefix: prefix, nexthop } });
    routeRefs.push(namedUuid(u));
    routes++;
  };
  // the VM switch: router port + VMs + 2 gateways
  ops.push({ op: 'insert', table: 'Logical_Switch_Port', 'uuid-name': id('lspr'), row: { name: `${sw}-to-${name}`, type: 'router', addresses: 'router', options: map({ 'router-port': lrp }) } });
  portRefs.push(namedUuid(id('lspr')));
  for (let v = 0; v < p.vmsPerRouter + 2; v++) {
    const gw = v >= p.vmsPerRouter;
    const port = gw ? `${name}-gw${v - p.vmsPerRouter}` : vmPort(r, v);
    const ip = gw ? gwIp(r, v - p.vmsPerRouter) : vmIp(r, v);
    const addr = `0a:${hex2(gw ? 0xfe : 1)}:${hex2(r >> 8)}:${hex2(r)}:${hex2(v >> 8)}:${hex2(v)} ${ip}`;
    ops.push({ op: 'insert', table: 'Logical_Switch_Port', 'uuid-name': id(`lsp${v}`), row: { name: port, addresses: addr, port_security: addr, external_ids: map({ 'ovn-drift-bench/vm': port }) } });
    portRefs.push(namedUuid(id(`lsp${v}`)));
  }
  ops.push({ op: 'insert', table: 'Logical_Switch', row: { name: sw, ports: set(portRefs as never) } });
  ops.push({ op: 'insert', table: 'Logical_Router_Port', 'uuid-name': id('lrp'), row: { name: lrp, mac: `0a:00:00:00:${hex2(r >> 8)}:${hex2(r)}`, networks: `10.${r >> 8}.${r & 255}.1/24` } });
  // declared routes (minus the missing ones), ECMP siblings, the ECMP default route
  for (let v = 0; v < p.vmsPerRouter; v++) {
    const cidrs: string[] = [];
    for (let i = 0; i < p.prefixesPerVm; i++) {
      const prefix = podCidr(p, r, v, i);
      cidrs.push(prefix);
      declared++;
      if (!isMissing(p, r, v, i)) addRoute(prefix, vmIp(r, v));
      if (hasEcmpConflict(p, r, v, i)) addRoute(prefix, vmIp(r, (v + 1) % p.vmsPerRouter));
    }
    docs.push(
      `apiVersion: ovndrift.io/v1alpha1\nkind: PodCIDRRoute\nmetadata:\n  name: ${vmPort(r, v)}\nspec:\n  router: ${name}\n  nexthop: ${vmIp(r, v)}\n  expectedChassis: ${chassisName(chassisOf(p, r, v))}\n  cidrs: [${cidrs.join(', ')}]\n`,
    );
  }
  addRoute('0.0.0.0/0', gwIp(r, 0));
  addRoute('0.0.0.0/0', gwIp(r, 1));
  // policies: allow east-west, drop a blackholed range, reroute a service range to gateway 0
  const policies: unknown[] = [];
  const pol = [
    { priority: 1000, match: `ip4.src == 10.${r >> 8}.${r & 255}.0/24 && ip4.dst == 10.0.0.0/8`, action: 'allow' },
    { priority: 900, match: `ip4.dst == 198.51.100.0/24`, action: 'drop' },
    { priority: 800, match: `ip4.dst == 203.0.113.0/24`, action: 'reroute', nexthops: gwIp(r, 0) },
  ].slice(0, p.policiesPerRouter);
  pol.forEach((x, k) => {
    ops.push({ op: 'insert', table: 'Logical_Router_Policy', 'uuid-name': id(`pol${k}`), row: x as never });
    policies.push(namedUuid(id(`pol${k}`)));
  });
  ops.push({ op: 'insert', table: 'Logical_Router', row: { name, ports: set([namedUuid(id('lrp'))]), static_routes: set(routeRefs as never), policies: set(policies as never) } });
  return { ops, routes, declared };
}

async function build(p: FieldParams, out: string, log: (s: string) => void): Promise<FieldMeta> {
  const tAll = Date.now();
  const sandbox = await OvnSandbox.start({ northd: false, parentDir: process.env.BENCH_FIELD_TMP ?? tmpdir() });
  let northd: Northd | undefined;
  let nb: OvsdbClient | undefined;
  let sb: OvsdbClient | undefined;
  try {
    nb = await OvsdbClient.connect(sandbox.nb.members[0]!.unixRemote, { requestTimeoutMs: 3_600_000, probeIntervalMs: 0 });
    sb = await OvsdbClient.connect(sandbox.sb.members[0]!.unixRemote, { requestTimeoutMs: 3_600_000, probeIntervalMs: 0 });
    // 1. NB, northd stopped: 25 routers (about 5,000 routes) per transaction
    const docs: string[] = [];
    let nbRoutes = 0;
    let declared = 0;
    const t1 = Date.now();
    const batch = 25;
    for (let r0 = 0; r0 < p.routers; r0 += batch) {
      const ops: Operation[] = [];
      for (let r = r0; r < Math.min(p.routers, r0 + batch); r++) {
        const x = routerOps(p, r, docs);
        ops.push(...x.ops);
        nbRoutes += x.routes;
        declared += x.declared;
      }
      await nb.transact('OVN_Northbound', ops);
      if ((r0 / batch) % 8 === 7 || r0 + batch >= p.routers) log(`  NB: ${Math.min(p.routers, r0 + batch)}/${p.routers} routers, ${nbRoutes} static routes, ${((Date.now() - t1) / 1000).toFixed(0)} s`);
    }
    const nbMs = Date.now() - t1;
    await writeFile(join(out, 'routes.yaml'), docs.join('---\n'));
    // 2. northd starts once and computes the whole SB
    const t2 = Date.now();
    log(`  NB written in ${(nbMs / 1000).toFixed(1)} s; starting ovn-northd (one full computation of the SB)`);
    northd = Northd.start(sandbox.dir, sandbox.nb.members[0]!.unixRemote, sandbox.sb.members[0]!.unixRemote);
    await waitNorthd(nb, log, northd, 'initial SB');
    const northdMs = Date.now() - t2;
    log(`  SB computed by ovn-northd in ${(northdMs / 1000).toFixed(1)} s (northd CPU ${northd.cpuSeconds().toFixed(0)} s)`);
    // 3. chassis register and claim their VMs' ports, as ovn-controller does
    const t3 = Date.now();
    const ops: Operation[] = [];
    for (let c = 0; c < p.chassis; c++) {
      const ip = `192.0.${2 + (c >> 8)}.${(c & 255) + 1}`;
      ops.push({ op: 'insert', table: 'Encap', 'uuid-name': `enc${c}`, row: { type: 'geneve', ip, chassis_name: chassisName(c), options: map({ csum: 'true' }) } });
      ops.push({ op: 'insert', table: 'Chassis', 'uuid-name': `ch${c}`, row: { name: chassisName(c), hostname: `hv-${String(c).padStart(3, '0')}`, encaps: set([namedUuid(`enc${c}`)]) } });
    }
    // update by _uuid: a where clause on logical_port makes ovsdb-server scan the table per operation
    const pbs = (await sb.transact('OVN_Southbound', [{ op: 'select', table: 'Port_Binding', where: [], columns: ['_uuid', 'logical_port'] }])) as [{ rows: { _uuid: [string, string]; logical_port: string }[] }];
    const pbUuid = new Map(pbs[0].rows.map((x) => [x.logical_port, x._uuid[1]]));
    let bound = 0;
    for (let r = 0; r < p.routers; r++) {
      for (let v = 0; v < p.vmsPerRouter + 2; v++) {
        const gw = v >= p.vmsPerRouter;
        if (!gw && isUnbound(p, r, v)) continue;
        const port = gw ? `${routerName(r)}-gw${v - p.vmsPerRouter}` : vmPort(r, v);
        const c = gw ? (r + v) % p.chassis : chassisOf(p, r, v);
        const u = pbUuid.get(port);
        if (!u) throw new Error(`ovn-northd wrote no Port_Binding for ${port}`);
        ops.push({ op: 'update', table: 'Port_Binding', where: [['_uuid', '==', uuid(u)]], row: { chassis: namedUuid(`ch${c}`), up: true } });
        bound++;
      }
    }
    await sb.transact('OVN_Southbound', ops);
    await waitNorthd(nb, log, northd, 'bindings');
    const bindMs = Date.now() - t3;
    log(`  ${p.chassis} chassis claimed ${bound} ports in ${(bindMs / 1000).toFixed(1)} s`);
    // 4. counts, compaction, copy to the cache
    const counts = (await sb.transact('OVN_Southbound', [
      { op: 'select', table: 'Logical_Flow', where: [], columns: ['_uuid'] },
      { op: 'select', table: 'Logical_Flow', where: [['external_ids', 'includes', map({ 'stage-name': 'lr_in_ip_routing' })]], columns: ['_uuid'] },
    ])) as { rows: unknown[] }[];
    await northd.stop();
    northd = undefined;
    await nb.close();
    await sb.close();
    nb = sb = undefined;
    for (const m of ['nb', 'sb']) await execFileP('ovs-appctl', ['-t', join(sandbox.dir, `${m}.ctl`), 'ovsdb-server/compact']);
    await copyFile(join(sandbox.dir, 'nb.db'), join(out, 'nb.db'));
    await copyFile(join(sandbox.dir, 'sb.db'), join(out, 'sb.db'));
    const size = async (f: string) => (await readFile(f)).length;
    return {
      params: p,
      ovnVersion: await ovnVersion(),
      builtAt: new Date().toISOString(),
      buildMs: { nb: nbMs, northd: northdMs, bind: bindMs, total: Date.now() - tAll },
      declaredRoutes: declared,
      nbRoutes,
      podCidrRoutes: p.routers * p.vmsPerRouter,
      logicalFlows: counts[0]!.rows.length,
      routingFlows: counts[1]!.rows.length,
      nbBytes: await size(join(out, 'nb.db')),
      sbBytes: await size(join(out, 'sb.db')),
    };
  } finally {
    await northd?.stop();
    await nb?.close();
    await sb?.close();
    await sandbox.stop();
  }
}

// ---- serving a copy -------------------------------------------------------------------------

/** A private copy of the cached NB and SB served by ovsdb-server, with ovn-northd running. */
export class FieldOvn {
  northd: Northd | undefined;
  private constructor(
    readonly dir: string,
    readonly nb: OvsdbServerProcess,
    readonly sb: OvsdbServerProcess,
  ) {}

  get nbRemote(): string {
    return this.nb.tcpRemote;
  }
  get sbRemote(): string {
    return this.sb.tcpRemote;
  }

  static async start(cache: FieldCache, opts: { northd?: boolean } = {}): Promise<FieldOvn> {
    const dir = await mkdtemp(join(process.env.BENCH_FIELD_TMP ?? tmpdir(), 'ovn-drift-field-'));
    await copyFile(cache.nbDb, join(dir, 'nb.db'));
    await copyFile(cache.sbDb, join(dir, 'sb.db'));
    const nb = new OvsdbServerProcess('nb', dir, join(dir, 'nb.db'), await freePort(), join(dir, 'nb.sock'));
    const sb = new OvsdbServerProcess('sb', dir, join(dir, 'sb.db'), await freePort(), join(dir, 'sb.sock'));
    const f = new FieldOvn(dir, nb, sb);
    try {
      await startSlow(nb);
      await startSlow(sb);
      if (opts.northd ?? true) f.northd = Northd.start(dir, nb.unixRemote, sb.unixRemote);
    } catch (err) {
      await f.stop();
      throw err;
    }
    return f;
  }

  async stop(): Promise<void> {
    await this.northd?.stop();
    await this.nb.stop();
    await this.sb.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

// `node dist/test/bench/field-topology.js`: build (or find) the cached topology and print where it is.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const log = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
  ensureField(fieldParams(), log).then(
    (c) => console.log(JSON.stringify(c.meta, null, 2)),
    (err) => {
      console.error(err);
      process.exit(2);
    },
  );
}
