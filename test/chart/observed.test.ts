// What the chart's alerts, dashboard and RBAC are checked against: a real run of the operator
// (real OVN sandbox: ovsdb-server + ovn-northd) and of the agent in cluster mode (real iptables in a
// network namespace), both talking to the strict test API server through a recording proxy
// (test/support/api-call-log.ts), so only their own requests are logged.
//  - every metric an alert (charts/ovn-drift/files/prometheus-rules.yaml) or a dashboard panel
//    (files/grafana-dashboard.json) uses appears in a real /metrics scrape of the operator or agent;
//  - every API request the operator or the agent made is granted by the chart's RBAC for its
//    ServiceAccount, and every verb the chart grants was used.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { SEED, buildSeedInSync, bumpWithoutNorthd } from '../../operator/ovn/seed-topology.js';
import { run as runOperator } from '../../operator/commands/operator.js';
import { runAgent } from '../../operator/commands/agent.js';
import { EventRecorder } from '../../operator/kube/events.js';
import { TestApiServer } from '../support/test-api-server.js';
import { ApiCallLog, type RbacRequest } from '../support/api-call-log.js';
import { until } from '../support/until.js';
import { Netns, ipt } from '../agent/netns.js';
import { CHART, chartGrants, type Grant } from './support.js';

const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const PCR = { group: 'ovndrift.io', version: 'v1alpha1', plural: 'podcidrroutes' };
const TNP = { group: 'ovndrift.io', version: 'v1alpha1', plural: 'tunnelnotrackpolicies' };
const LEASE = { name: 'rel-operator', namespace: 'ovn-drift' };

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Metric names (ovndrift_*, and Prometheus' own `up`) in PromQL text. */
function metricNames(promql: string): string[] {
  return [...promql.matchAll(/\b(ovndrift_[a-z0-9_]+|up)\b(?=\s*[{[)\s]|$)/g)].map((m) => m[1]!);
}
/** Histogram series (_bucket/_sum/_count) belong to the base metric. */
const base = (name: string, types: Map<string, string>): string => {
  const b = name.replace(/_(bucket|sum|count)$/, '');
  return b !== name && types.get(b) === 'histogram' ? b : name;
};
function parseExposition(text: string): { types: Map<string, string>; samples: Set<string> } {
  const types = new Map<string, string>();
  const samples = new Set<string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    else if (line && !line.startsWith('#')) samples.add(/^[^{\s]+/.exec(line)![0]);
  }
  return { types, samples };
}

const rulesText = readFileSync(join(CHART, 'files/prometheus-rules.yaml'), 'utf8');
const dashboard = JSON.parse(readFileSync(join(CHART, 'files/grafana-dashboard.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };

describe('operator and agent observed: metrics scrape and API calls', () => {
  let ovn: OvnSandbox;
  let api: TestApiServer;
  let opLog: ApiCallLog;
  let agentLog: ApiCallLog;
  let ns: Netns;
  const stop = new AbortController();
  let opExit: Promise<number>;
  let agentExit: Promise<number>;
  let metricsUrl = '';
  let agentPort = 0;
  const scrapes: string[] = [];

  beforeAll(async () => {
    ovn = await OvnSandbox.start();
    await buildSeedInSync(ovn);
    api = await TestApiServer.start();
    opLog = await ApiCallLog.start(api.url);
    agentLog = await ApiCallLog.start(api.url);
    ns = Netns.create('odc');
    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNode({ body: { metadata: { name: 'node-a', labels: { tunnel: 'geneve' } } } });
    const started = new Promise<void>((ok) => {
      opExit = runOperator(
        ['--nb-remote', ovn.nbRemote, '--sb-remote', ovn.sbRemote, '--metrics-addr', '127.0.0.1:0', '--resync', '1h', '--repair-timeout', '3s', '--lease-name', LEASE.name, '--lease-namespace', LEASE.namespace, '--identity', 'op-1'],
        { kubeConfig: opLog.kubeConfig(), logger: silent, signal: stop.signal, onStarted: (_c, url) => ((metricsUrl = url), ok()) },
      );
    });
    await started;
    agentPort = await freePort();
    agentExit = runAgent(['--node-name', 'node-a', '--netns', ns.name, '--backend', 'nft', '--interval', '300ms', '--metrics-address', `127.0.0.1:${agentPort}`], {
      kubeConfig: agentLog.kubeConfig(),
      logger: silent,
      signal: stop.signal,
      backoffBaseMs: 100,
    });
  }, 120_000);

  afterAll(async () => {
    stop.abort();
    expect(await opExit).toBe(0);
    expect(await agentExit).toBe(0);
    await opLog?.close();
    await agentLog?.close();
    await api?.close();
    await ovn?.stop();
    ns?.delete();
  });

  it('drives the operator and the agent through drift, repair and policy status, scraping /metrics', async () => {
    const custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
    await until('leader', () => api.get('leases', LEASE.name, LEASE.namespace)?.spec?.holderIdentity === 'op-1');
    await custom.createClusterCustomObject({ ...PCR, body: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name: 'r1' }, spec: { router: SEED.router, nexthop: SEED.vmIp, cidrs: [...SEED.prefixes], expectedChassis: SEED.vmChassis } } });
    await until('InSync', () => api.get('podcidrroutes', 'r1')?.status?.counts?.inSync === 5);

    // Drift while northd is down: Drifted routes, northd lag, a DriftDetected event.
    await ovn.stopNorthd();
    await bumpWithoutNorthd(ovn, '--may-exist', 'lr-route-add', SEED.router, SEED.stalePrefix, SEED.otherIp);
    await until('Drifted', () => api.get('podcidrroutes', 'r1')?.status?.counts?.drifted === 1);
    scrapes.push(await (await fetch(`${metricsUrl}/metrics`)).text());
    expect(scrapes[0]).toMatch(/^ovndrift_routes\{state="Drifted"\} 1$/m);
    expect(scrapes[0]).toMatch(/^ovndrift_northd_lag_generations [1-9]/m);

    // Repair mode: the NB row is fixed (repairs_total{result="applied"}).
    await ovn.startNorthd();
    await custom.patchClusterCustomObject({ ...PCR, name: 'r1', body: { spec: { remediation: 'Repair', adopt: true } } }, merge);
    await until('repaired', () => api.get('podcidrroutes', 'r1')?.status?.counts?.inSync === 5 && api.get('podcidrroutes', 'r1')?.status?.observedGeneration === 2);

    // A policy the agent applies on node-a; the operator aggregates the agent's report.
    await custom.createClusterCustomObject({ ...TNP, body: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'TunnelNoTrackPolicy', metadata: { name: 'geneve' }, spec: { nodeSelector: { matchLabels: { tunnel: 'geneve' } }, ports: [{ name: 'geneve', protocol: 'UDP', port: 6081 }] } } });
    await until('policy Applied', () => api.get('tunnelnotrackpolicies', 'geneve')?.status?.appliedNodes === 1, 30_000);
    // NOTRACK drift on the node: the agent's loop repairs it.
    ipt(ns, 'nft', 'ipv4', ['-t', 'raw', '-F', 'PREROUTING']);
    await until('agent repaired the jump', () => ipt(ns, 'nft', 'ipv4', ['-t', 'raw', '-S', 'PREROUTING']).includes('OVN-DRIFT'), 20_000);

    // The operator's Event series path (a repeated event is patched, not created again): the
    // operator's own EventRecorder through the operator's proxy, with the 60 s series interval at 0.
    const rec = new EventRecorder({ kubeConfig: opLog.kubeConfig(), instance: 'op-1', seriesMinIntervalMs: 0 });
    const ev = { regarding: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', name: 'r1' }, type: 'Warning' as const, reason: 'DriftDetected', action: 'Check', note: 'same' };
    await rec.record(ev);
    await rec.record(ev);

    scrapes.push(await (await fetch(`${metricsUrl}/metrics`)).text());
    scrapes.push(await (await fetch(`http://127.0.0.1:${agentPort}/metrics`)).text());
    expect(scrapes[1]).toMatch(/^ovndrift_repairs_total\{result="applied"\} [1-9]/m);
    expect(scrapes[1]).toMatch(/^ovndrift_process_cpu_seconds_total /m);
    expect(scrapes[1]).not.toMatch(/ovndrift_process_process_/);
    expect(scrapes[2]).toMatch(/^ovndrift_agent_drift_repairs_total\{family="ipv4",kind="JumpMissing"\} [1-9]/m);
    expect(scrapes[2]).toMatch(/^ovndrift_agent_process_cpu_seconds_total /m);
    expect(scrapes[2]).toMatch(/^ovndrift_agent_last_success_timestamp_seconds \d/m);
  }, 120_000);

  it('every metric an alert or a dashboard panel uses is in a real scrape', () => {
    const { types, samples } = parseExposition(scrapes.join('\n'));
    const used = new Map<string, string[]>();
    const add = (names: string[], where: string) => names.forEach((n) => used.set(n, [...(used.get(n) ?? []), where]));
    for (const m of rulesText.matchAll(/^\s+expr: (.+)$/gm)) add(metricNames(m[1]!), 'alert');
    for (const p of dashboard.panels) for (const t of p.targets) add(metricNames(t.expr), `panel "${p.title}"`);
    expect(used.size).toBeGreaterThan(15);
    used.delete('up'); // Prometheus' own scrape health series
    const missing: string[] = [];
    const declaredOnly: string[] = [];
    for (const [name, where] of used) {
      const b = base(name, types);
      if (!types.has(b)) missing.push(`${name} (${[...new Set(where)].join(', ')})`);
      else if (![...samples].some((s) => s === name || (b !== name && s.startsWith(b)))) declaredOnly.push(name);
    }
    expect(missing).toEqual([]);
    // Labelled counters that only this run's events would produce are declared but may have no
    // sample yet (e.g. reconnects, agent errors): declared in the exposition is what proves the name.
    console.log(`metrics used by alerts/panels: ${used.size}; declared without a sample in this run: ${declaredOnly.join(', ') || 'none'}`);
  });

  it("every API request is granted by the chart's RBAC, and every granted verb was used", () => {
    const grants = chartGrants();
    const check = (who: 'operator' | 'agent', calls: RbacRequest[]) => {
      const mine = grants.filter((g) => g.role === `FULLNAME-${who}` || (who === 'operator' && g.role === 'FULLNAME-leader-election'));
      const allows = (g: Grant, r: RbacRequest) =>
        g.apiGroup === r.apiGroup && g.resource === r.resource && g.verb === r.verb && (!g.resourceNames || (r.name !== undefined && g.resourceNames.includes(r.name.replace(LEASE.name, 'LEASE'))));
      const denied = calls.filter((r) => !mine.some((g) => allows(g, r))).map((r) => `${r.verb} ${r.apiGroup || 'core'}/${r.resource}${r.name ? ` ${r.name}` : ''}`);
      const unused = mine.filter((g) => !calls.some((r) => allows(g, r))).map((g) => `${g.verb} ${g.apiGroup || 'core'}/${g.resource}`);
      console.log(`${who}: ${calls.map((r) => `${r.verb} ${r.apiGroup || 'core'}/${r.resource}`).sort().join(', ')}`);
      expect(denied, `${who} requests the chart does not grant`).toEqual([]);
      expect(unused, `${who} grants never used`).toEqual([]);
    };
    // The Lease is named after the release in the chart; here LEASE.name stands for it.
    check('operator', opLog.rbac());
    check('agent', agentLog.rbac());
  });
});
