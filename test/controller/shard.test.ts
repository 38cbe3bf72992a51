// Sharding end to end: two operator shards in this process — shard1 a Controller, shard2 the real
// `operator` command with --watch-label-selector and --lease-name as the chart passes them — each
// with its own selector and its own Lease, against ONE real OVN sandbox (ovsdb-server + ovn-northd)
// and ONE strict test API server. Each shard talks to the API server through its own recording
// proxy (test/support/api-call-log.ts), so every status write is attributed to the shard that made
// it. Shows: each shard writes only its own resources' status; each SB replica holds only the
// Logical_Flow rows of its routers' datapaths (and groups containing them), fetched by a monitor
// condition — the server sends fewer bytes than to an unsharded replica (figures printed); a label
// change moves a resource to the other shard; a prefix claimed with different nexthops from two
// shards gives the same verdict in both and stays put over repeated reconciles.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { attachSwitchArgs } from '../../operator/ovn/seed-topology.js';
import { openReplica } from '../../operator/ovn/connect.js';
import { routerDatapaths } from '../../operator/ovn/shard.js';
import { Controller } from '../../operator/controller/controller.js';
import { run } from '../../operator/commands/operator.js';
import { LabelSelectorError, parseLabelSelector, watchLabelSelector } from '../../operator/controller/shard.js';
import type { Database } from '../../operator/ovsdb/database.js';
import type { Row } from '../../operator/ovsdb/types.js';
import { TestApiServer } from '../support/test-api-server.js';
import { ApiCallLog } from '../support/api-call-log.js';
import { until } from '../support/until.js';

const G = { group: 'ovndrift.io', version: 'v1alpha1', plural: 'podcidrroutes' };
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const LABEL = 'sharding.ovndrift.io/key';
const ROUTERS = 4;
const ROUTES_PER_ROUTER = 120;

const vmIp = (r: number, host = 10) => `10.${r}.0.${host}`;
const prefixes = (r: number) => Array.from({ length: ROUTES_PER_ROUTER }, (_, i) => `172.${16 + r}.${i}.0/24`);

/** ROUTERS routers, each behind its own switch with two VMs bound to a chassis, ROUTES_PER_ROUTER routes each. */
async function buildTopology(ovn: OvnSandbox): Promise<void> {
  for (let r = 0; r < ROUTERS; r++) {
    const args = ['--', 'lr-add', `r${r}`, ...attachSwitchArgs(`r${r}`, `sw${r}`, `0a:00:00:00:0${r}:01`, [`10.${r}.0.1/24`])];
    for (const host of [10, 11]) args.push('--', 'lsp-add', `sw${r}`, `vm${r}-${host}`, '--', 'lsp-set-addresses', `vm${r}-${host}`, `0a:00:00:0${r}:00:${host} ${vmIp(r, host)}`);
    for (const p of prefixes(r)) args.push('--', 'lr-route-add', `r${r}`, p, vmIp(r));
    await ovn.nbctl(...args);
    await ovn.sbctl('chassis-add', `hv${r}`, 'geneve', `192.168.0.${r + 1}`);
    for (const host of [10, 11]) await ovn.sbctl('lsp-bind', `vm${r}-${host}`, `hv${r}`);
  }
  await ovn.nbctl('--wait=sb', 'sync');
}

const pcr = (name: string, shard: string | undefined, spec: Record<string, unknown>) => ({
  apiVersion: 'ovndrift.io/v1alpha1',
  kind: 'PodCIDRRoute',
  metadata: { name, ...(shard ? { labels: { [LABEL]: shard } } : {}) },
  spec,
});

function ready(obj: any): { status: string; reason: string; message: string } | undefined {
  return obj?.status?.conditions?.find((c: any) => c.type === 'Ready');
}

/** Status writes (PATCH .../podcidrroutes/NAME/status) one shard made, by resource name. */
function statusWrites(log: ApiCallLog): string[] {
  return log.calls.filter((c) => c.method === 'PATCH' && /\/podcidrroutes\/[^/]+\/status$/.test(c.path)).map((c) => c.path.split('/').at(-2)!);
}

/** Every Logical_Flow row of the replica belongs to one of `datapaths` (directly or through its Logical_DP_Group). */
function foreignFlows(sb: Database, datapaths: Set<string>): Row[] {
  const groups = sb.rows('Logical_DP_Group');
  const one = (v: unknown) => (Array.isArray(v) ? v[0] : v) as string | undefined;
  return [...sb.rows('Logical_Flow').values()].filter((f) => {
    const dp = one(f.logical_datapath);
    if (dp) return !datapaths.has(dp);
    const g = groups.get(one(f.logical_dp_group) ?? '');
    return !((g?.datapaths as string[] | undefined) ?? []).some((d) => datapaths.has(d));
  });
}

const routingFlowsOn = (sb: Database, datapaths: Set<string>) =>
  [...sb.rows('Logical_Flow').values()].filter((f) => (f.external_ids as Record<string, string>)['stage-name'] === 'lr_in_ip_routing' && datapaths.has((Array.isArray(f.logical_datapath) ? f.logical_datapath[0] : f.logical_datapath) as string)).length;

describe('label selector validation (--watch-label-selector)', () => {
  it('accepts the Flux forms and sends them in canonical form', () => {
    expect(watchLabelSelector(`${LABEL} in (shard1)`)).toBe(`${LABEL}=shard1`);
    expect(watchLabelSelector(`${LABEL} in ( shard2 , shard1 )`)).toBe(`${LABEL} in (shard1,shard2)`);
    expect(watchLabelSelector(`!${LABEL}`)).toBe(`!${LABEL}`);
    expect(watchLabelSelector(`${LABEL}!=x, team==net`)).toBe(`${LABEL}!=x,team=net`);
    expect(parseLabelSelector(`${LABEL} notin (a,b),tier`)).toEqual([
      { key: LABEL, operator: 'notin', values: ['a', 'b'] },
      { key: 'tier', operator: 'exists', values: [] },
    ]);
  });

  it('refuses bad selectors with a message naming what is wrong', () => {
    const bad: [string, RegExp][] = [
      ['', /empty/],
      [`${LABEL} in ()`, /at least one value/],
      [`${LABEL} in (shard1`, /unbalanced parentheses/],
      [`Sharding.ovndrift.io/key=a`, /prefix "Sharding.ovndrift.io" is not a DNS subdomain/],
      [`${LABEL}=bad value`, /not label selector syntax/],
      [`${LABEL}=-x`, /label value "-x"/],
      [`${LABEL} > 3`, /'<' and '>' operators are not supported/],
      [`a,,b`, /empty requirement/],
    ];
    for (const [text, msg] of bad) {
      expect(() => parseLabelSelector(text), text).toThrow(LabelSelectorError);
      expect(() => parseLabelSelector(text), text).toThrow(msg);
    }
  });
});

describe('operator --watch-label-selector', () => {
  it('a bad selector (flag or WATCH_LABEL_SELECTOR) exits 1 naming the flag and what is wrong, and starts nothing', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errors.push(a.join(' ')));
    try {
      const remotes = ['--nb-remote', 'tcp:127.0.0.1:1', '--sb-remote', 'tcp:127.0.0.1:1', '--metrics-addr', '127.0.0.1:0'];
      expect(await run([...remotes, '--watch-label-selector', `${LABEL} in ()`])).toBe(1);
      expect(errors.join('\n')).toContain(`--watch-label-selector: requirement "${LABEL} in ()": 'in' needs at least one value`);
      errors.length = 0;
      vi.stubEnv('WATCH_LABEL_SELECTOR', `${LABEL}=a b`);
      expect(await run(remotes)).toBe(1);
      expect(errors.join('\n')).toContain('--watch-label-selector: requirement');
    } finally {
      vi.unstubAllEnvs();
      vi.restoreAllMocks();
    }
  });
});

describe('two shards against one OVN and one test API server', () => {
  let ovn: OvnSandbox;
  let api: TestApiServer;
  let custom: CustomObjectsApi;
  const logs: ApiCallLog[] = [];
  const shards: Controller[] = [];
  let unsharded: Database;
  let dps: (routers: string[]) => Set<string>;
  const stopShard2 = new AbortController();
  let shard2Exit: Promise<number>;

  beforeAll(async () => {
    ovn = await OvnSandbox.start();
    await buildTopology(ovn);
    api = await TestApiServer.start();
    custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
    for (let i = 0; i < 2; i++) logs.push(await ApiCallLog.start(api.url));
    // shard1: a Controller in this process
    const shard1 = new Controller({
      kubeConfig: logs[0]!.kubeConfig(),
      nbRemote: ovn.nbRemote,
      sbRemote: ovn.sbRemote,
      identity: 'shard1-pod',
      lease: { namespace: 'default', name: 'ovn-drift-shard1', durationMs: 10_000, renewDeadlineMs: 5000, retryPeriodMs: 200 },
      resyncMs: 0,
      settleMs: 0,
      repairTimeoutMs: 2000,
      watchLabelSelector: watchLabelSelector(`${LABEL} in (shard1)`),
      logger: silent,
    });
    await shard1.start();
    shards.push(shard1);
    // shard2: the real `operator` command with the flags the chart passes
    const started = new Promise<Controller>((ok) => {
      shard2Exit = run(
        ['--nb-remote', ovn.nbRemote, '--sb-remote', ovn.sbRemote, '--metrics-addr', '127.0.0.1:0', '--resync', '1h', '--settle', '0', '--repair-timeout', '2s',
          '--lease-name', 'ovn-drift-shard2', '--lease-namespace', 'default', '--identity', 'shard2-pod', '--watch-label-selector', `${LABEL} in (shard2)`],
        { kubeConfig: logs[1]!.kubeConfig(), logger: silent, signal: stopShard2.signal, onStarted: (c) => ok(c) },
      );
    });
    shards.push(await started);
    await until('both shards lead their own Lease', () => shards.every((c) => c.isLeader()));
    // what an unsharded operator's SB replica receives, for comparison
    unsharded = await openReplica('SB', ovn.sbRemote, { timeoutMs: 5000 });
    dps = (routers) => routerDatapaths(shards[0]!.databases().nb!, unsharded, new Set(routers));
  });
  afterAll(async () => {
    await shards[0]?.stop();
    stopShard2.abort();
    expect(await shard2Exit).toBe(0);
    await unsharded?.close();
    for (const l of logs) await l.close();
    await api?.close();
    await ovn?.stop();
  });

  it('each shard holds its own Lease; a shard with no resources follows no Logical_Flow row', async () => {
    expect(api.get('leases', 'ovn-drift-shard1', 'default')?.spec?.holderIdentity).toBe('shard1-pod');
    expect(api.get('leases', 'ovn-drift-shard2', 'default')?.spec?.holderIdentity).toBe('shard2-pod');
    await until('both SB replicas connected', () => shards.every((c) => c.databases().sb?.status().connected));
    for (const c of shards) expect(c.databases().sb!.rows('Logical_Flow').size).toBe(0);
    expect(unsharded.rows('Logical_Flow').size).toBeGreaterThan(ROUTERS * ROUTES_PER_ROUTER);
  });

  it('each shard writes only its own resources, holds only its routers flows, and is sent fewer bytes', async () => {
    await custom.createClusterCustomObject({ ...G, body: pcr('a0', 'shard1', { router: 'r0', nexthop: vmIp(0), cidrs: prefixes(0), expectedChassis: 'hv0' }) });
    await custom.createClusterCustomObject({ ...G, body: pcr('a1', 'shard1', { router: 'r1', nexthop: vmIp(1), cidrs: prefixes(1), expectedChassis: 'hv1' }) });
    await custom.createClusterCustomObject({ ...G, body: pcr('b2', 'shard2', { router: 'r2', nexthop: vmIp(2), cidrs: prefixes(2), expectedChassis: 'hv2' }) });
    // an unlabelled resource: neither shard's selector matches it (the default shard would take it)
    await custom.createClusterCustomObject({ ...G, body: pcr('u3', undefined, { router: 'r3', nexthop: vmIp(3), cidrs: prefixes(3).slice(0, 3) }) });
    for (const n of ['a0', 'a1', 'b2']) await until(`${n} Ready`, () => ready(api.get('podcidrroutes', n))?.status === 'True');
    for (const c of shards) await c.idle();

    expect(new Set(statusWrites(logs[0]!))).toEqual(new Set(['a0', 'a1']));
    expect(new Set(statusWrites(logs[1]!))).toEqual(new Set(['b2']));
    expect(api.get('podcidrroutes', 'u3')?.status).toBeUndefined();
    expect(api.get('podcidrroutes', 'a0')!.status.counts).toMatchObject({ routes: ROUTES_PER_ROUTER, inSync: ROUTES_PER_ROUTER });

    const [sb1, sb2] = shards.map((c) => c.databases().sb!) as [Database, Database];
    const own1 = dps(['r0', 'r1']);
    const own2 = dps(['r2']);
    expect(own1.size).toBe(2);
    expect(foreignFlows(sb1, own1)).toEqual([]);
    expect(foreignFlows(sb2, own2)).toEqual([]);
    // ... and all the routing flows of their routers (the same as the unsharded replica has)
    expect(routingFlowsOn(sb1, own1)).toBe(routingFlowsOn(unsharded, own1));
    expect(routingFlowsOn(sb2, own2)).toBe(routingFlowsOn(unsharded, own2));
    expect(routingFlowsOn(sb1, own1)).toBeGreaterThanOrEqual(2 * ROUTES_PER_ROUTER);
    expect(routingFlowsOn(sb1, dps(['r2', 'r3']))).toBe(0);

    const bytes = (db: Database) => db.client!.bytesReceived;
    const nbBytes = shards[0]!.databases().nb!.client!.bytesReceived;
    const flows = (db: Database) => db.rows('Logical_Flow').size;
    const line = (what: string, db: Database) =>
      `${what.padEnd(28)} ${String(bytes(db)).padStart(8)} bytes  ${String(flows(db)).padStart(5)} Logical_Flow rows  (${((100 * bytes(db)) / bytes(unsharded)).toFixed(0)}% of unsharded)`;
    console.log(
      [
        `SB bytes the server sent (${ROUTERS} routers x ${ROUTES_PER_ROUTER} routes, OVN 23.03 northd):`,
        line('unsharded (all routers)', unsharded),
        line('shard1 (r0, r1)', sb1),
        line('shard2 (r2)', sb2),
        `NB (same for every shard, not sharded): ${nbBytes} bytes`,
      ].join('\n'),
    );
    expect(bytes(sb1)).toBeLessThan(bytes(unsharded));
    expect(bytes(sb2)).toBeLessThan(bytes(sb1));
  });

  it('TunnelNoTrackPolicies are sharded by the same selector: only the owning shard writes a policy status', async () => {
    const TNTP = { group: 'ovndrift.io', version: 'v1alpha1', plural: 'tunnelnotrackpolicies' };
    const policy = (name: string, shard: string) => ({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'TunnelNoTrackPolicy', metadata: { name, labels: { [LABEL]: shard } }, spec: { ports: [{ name: 'geneve', protocol: 'UDP', port: 6081 }] } });
    await custom.createClusterCustomObject({ ...TNTP, body: policy('geneve-1', 'shard1') });
    await custom.createClusterCustomObject({ ...TNTP, body: policy('geneve-2', 'shard2') });
    for (const n of ['geneve-1', 'geneve-2']) await until(`${n} status`, () => api.get('tunnelnotrackpolicies', n)?.status?.conditions);
    for (const c of shards) await c.idle();
    const policyWrites = (log: ApiCallLog) => log.calls.filter((c) => c.method === 'PATCH' && /\/tunnelnotrackpolicies\/[^/]+\/status$/.test(c.path)).map((c) => c.path.split('/').at(-2));
    expect(new Set(policyWrites(logs[0]!))).toEqual(new Set(['geneve-1']));
    expect(new Set(policyWrites(logs[1]!))).toEqual(new Set(['geneve-2']));
  });

  it('a label change moves a resource: the old shard stops writing its status, the new one takes over', async () => {
    const before1 = statusWrites(logs[0]!).length;
    await custom.patchClusterCustomObject({ ...G, name: 'a1', body: { metadata: { labels: { [LABEL]: 'shard2' } } } }, merge);
    const [sb1, sb2] = shards.map((c) => c.databases().sb!) as [Database, Database];
    await until('shard2 follows r1 flows, shard1 no longer', () => routingFlowsOn(sb2, dps(['r1'])) >= ROUTES_PER_ROUTER && routingFlowsOn(sb1, dps(['r1'])) === 0);
    for (const c of shards) await c.idle();
    expect(foreignFlows(sb1, dps(['r0']))).toEqual([]);
    expect(foreignFlows(sb2, dps(['r1', 'r2']))).toEqual([]);

    // drift on r1: only shard2 reports it
    const gone = prefixes(1)[7]!;
    await ovn.nbctl('--wait=sb', 'lr-route-del', 'r1', gone);
    await until('a1 drifted', () => ready(api.get('podcidrroutes', 'a1'))?.reason === 'RouteMissing');
    await ovn.nbctl('--wait=sb', 'lr-route-add', 'r1', gone, vmIp(1));
    await until('a1 Ready again', () => ready(api.get('podcidrroutes', 'a1'))?.status === 'True');
    for (const c of shards) await c.idle();
    expect(statusWrites(logs[0]!).length).toBe(before1);
    expect(statusWrites(logs[1]!).filter((n) => n === 'a1').length).toBeGreaterThanOrEqual(2);
  });

  it('a resource edited to name another router moves the shard\'s Logical_Flow condition with it', async () => {
    const sb1 = shards[0]!.databases().sb!;
    await custom.patchClusterCustomObject({ ...G, name: 'a0', body: { spec: { router: 'r3', nexthop: vmIp(3), expectedChassis: 'hv3', cidrs: prefixes(3).slice(0, 5) } } }, merge);
    await until('shard1 follows r3 instead of r0', () => routingFlowsOn(sb1, dps(['r3'])) >= ROUTES_PER_ROUTER && routingFlowsOn(sb1, dps(['r0'])) === 0);
    await until('a0 in sync on r3', () => {
      const o = api.get('podcidrroutes', 'a0');
      return o?.status?.observedGeneration === 2 && ready(o)?.status === 'True';
    });
    expect(foreignFlows(sb1, dps(['r3']))).toEqual([]);
    await custom.patchClusterCustomObject({ ...G, name: 'a0', body: { spec: { router: 'r0', nexthop: vmIp(0), expectedChassis: 'hv0', cidrs: prefixes(0) } } }, merge);
    await until('shard1 follows r0 again', () => routingFlowsOn(sb1, dps(['r0'])) >= ROUTES_PER_ROUTER && routingFlowsOn(sb1, dps(['r3'])) === 0);
    await until('a0 in sync on r0', () => {
      const o = api.get('podcidrroutes', 'a0');
      return o?.status?.observedGeneration === 3 && ready(o)?.status === 'True';
    });
  });

  it('a prefix claimed with different nexthops from two shards: the same verdict in both, and it stays put', async () => {
    const prefix = '10.203.0.0/24';
    const spec = (host: number) => ({ router: 'r3', nexthop: vmIp(3, host), cidrs: [prefix] });
    await custom.createClusterCustomObject({ ...G, body: pcr('c1', 'shard1', spec(10)) });
    await custom.createClusterCustomObject({ ...G, body: pcr('c2', 'shard2', spec(11)) });
    const other = { c1: 'c2', c2: 'c1' } as const;
    for (const n of ['c1', 'c2'] as const) await until(`${n} sees the conflict`, () => ready(api.get('podcidrroutes', n))?.message.includes(`also claimed by ${other[n]}`));
    // now both ask for Repair (and to adopt): with a per-shard view each would take the route from the other
    for (const n of ['c1', 'c2']) await custom.patchClusterCustomObject({ ...G, name: n, body: { spec: { remediation: 'Repair', adopt: true } } }, merge);
    for (const n of ['c1', 'c2']) await until(`${n} observed generation 2`, () => api.get('podcidrroutes', n)?.status?.observedGeneration === 2);
    for (const c of shards) await c.idle();
    const snapshot = () => ({
      c1: api.get('podcidrroutes', 'c1')!.metadata.resourceVersion,
      c2: api.get('podcidrroutes', 'c2')!.metadata.resourceVersion,
    });
    const nbRoutes = async () => (await ovn.nbctl('lr-route-list', 'r3')).split('\n').filter((l) => l.includes('10.203.0.0')).join('\n');
    const first = snapshot();
    const firstRoutes = await nbRoutes();
    const repairs = shards.map((c) => c.stats.repairs);
    for (let round = 0; round < 5; round++) {
      for (const c of shards) c.markAll();
      for (const c of shards) await c.idle();
      await new Promise((r) => setTimeout(r, 100));
      expect(snapshot()).toEqual(first);
      expect(await nbRoutes()).toBe(firstRoutes);
    }
    expect(shards.map((c) => c.stats.repairs)).toEqual(repairs);
    expect(firstRoutes).toBe(''); // neither shard wrote the contested prefix
    const m1 = ready(api.get('podcidrroutes', 'c1'))!.message;
    const m2 = ready(api.get('podcidrroutes', 'c2'))!.message;
    expect(m1).toContain('also claimed by c2');
    expect(m2).toContain('also claimed by c1');
  });
});
