// prom-client metrics of the NOTRACK agent, in a registry of their own (one per agent instance,
// so tests and the operator can hold several). One namespace with the operator: `ovndrift_agent_*`
// (process defaults `ovndrift_agent_process_*`, `ovndrift_agent_nodejs_*`). Names are documented in
// docs/agent.md and used by the chart's alerts and dashboard. Must not import kube, iptables or
// ovsdb modules.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface AgentMetrics {
  registry: Registry;
  checks: Counter<'family' | 'result'>;
  driftRepairs: Counter<'family' | 'kind'>;
  errors: Counter<'code'>;
  rules: Gauge<'family'>;
  checkDuration: Histogram;
  conntrackDeleted: Counter;
  /** Unix time of the last pass that ended without an iptables failure (alerts: agent stale). */
  lastSuccess: Gauge;
}

/** `defaults`: also prom-client's process/Node.js metrics (the agent binary; tests leave them out). */
export function createAgentMetrics(registry: Registry = new Registry(), opts: { defaults?: boolean } = {}): AgentMetrics {
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: 'ovndrift_agent_' });
  return {
    registry,
    checks: new Counter({ name: 'ovndrift_agent_checks_total', help: 'NOTRACK rule checks, by family and result (in_sync, applied, repaired, removed, failed)', labelNames: ['family', 'result'], registers: [registry] }),
    driftRepairs: new Counter({ name: 'ovndrift_agent_drift_repairs_total', help: 'NOTRACK drift found and repaired, by family and drift kind', labelNames: ['family', 'kind'], registers: [registry] }),
    errors: new Counter({ name: 'ovndrift_agent_errors_total', help: 'Agent pass errors by code', labelNames: ['code'], registers: [registry] }),
    rules: new Gauge({ name: 'ovndrift_agent_rules', help: 'Rules of ours in the raw table, by family', labelNames: ['family'], registers: [registry] }),
    checkDuration: new Histogram({ name: 'ovndrift_agent_pass_duration_seconds', help: 'Wall time of one check (and repair) pass', buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1, 5], registers: [registry] }),
    lastSuccess: new Gauge({ name: 'ovndrift_agent_last_success_timestamp_seconds', help: 'Unix time of the last pass that ended without an iptables failure', registers: [registry] }),
    conntrackDeleted: new Counter({ name: 'ovndrift_agent_conntrack_entries_deleted_total', help: 'Conntrack entries deleted after new NOTRACK rules went in', registers: [registry] }),
  };
}

/**
 * The agent's /healthz (for the shared server of operator/runtime/http.ts): failing (503, with the
 * error) while the last pass failed on iptables, ok before the first pass and otherwise.
 */
export function agentHealth(last: () => { outcome: string; error?: { message: string } } | undefined): () => { ok: boolean; text?: string } {
  return () => {
    const r = last();
    const ok = !r || r.outcome !== 'IptablesFailed';
    return ok ? { ok } : { ok, text: r.error?.message ?? 'failing' };
  };
}
