// Metric naming the alerts and dashboard rely on: one `ovndrift_` namespace (agent
// `ovndrift_agent_*`), process defaults prefixed once, and a replica that loses the Lease drops the
// gauges only the leader may report (so sum() over replicas never counts a route twice).
import { describe, expect, it } from 'vitest';
import { OperatorMetrics } from '../../operator/controller/metrics.js';
import { createAgentMetrics } from '../../operator/agent/metrics.js';

const names = async (text: Promise<string>) => [...(await text).matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!);

describe('metric names', () => {
  it('operator: every metric starts with ovndrift_, process metrics are ovndrift_process_* (not ovndrift_process_process_*)', async () => {
    const m = new OperatorMetrics();
    const all = await names(m.registry.metrics());
    expect(all.filter((n) => !n.startsWith('ovndrift_'))).toEqual([]);
    expect(all).toContain('ovndrift_process_cpu_seconds_total');
    expect(all).toContain('ovndrift_nodejs_eventloop_lag_seconds');
    expect(all.filter((n) => n.includes('process_process'))).toEqual([]);
  });

  it('agent: every metric starts with ovndrift_agent_ (defaults included)', async () => {
    const m = createAgentMetrics(undefined, { defaults: true });
    const all = await names(m.registry.metrics());
    expect(all.filter((n) => !n.startsWith('ovndrift_agent_'))).toEqual([]);
    expect(all).toContain('ovndrift_agent_process_cpu_seconds_total');
    expect(all).toContain('ovndrift_agent_checks_total');
  });

  it('clearLeaderGauges: routes, findings and northd lag are dropped, leader is 0; connection gauges stay', async () => {
    const m = new OperatorMetrics(false);
    m.leader.set(1);
    m.routes.set({ state: 'Drifted' }, 2);
    m.findings.set({ kind: 'NexthopMismatch' }, 2);
    m.northdLag.set(3);
    m.ovsdbConnected.set({ db: 'NB' }, 1);
    m.clearLeaderGauges();
    const text = await m.registry.metrics();
    expect(text).toMatch(/^ovndrift_leader 0$/m);
    expect(text).not.toMatch(/^ovndrift_routes\{/m);
    expect(text).not.toMatch(/^ovndrift_findings\{/m);
    expect(text).not.toMatch(/^ovndrift_northd_lag_generations [1-9]/m);
    expect(text).toMatch(/^ovndrift_ovsdb_connected\{db="NB"\} 1$/m);
  });
});
