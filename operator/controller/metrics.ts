// The operator's Prometheus metrics (prom-client), on a registry of its own so several
// controllers can live in one process (tests, benchmarks). Names are documented in docs/operator.md.
// No I/O beyond prom-client; must not import the Kubernetes client or OVSDB code.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly routes = new Gauge({ name: 'ovndrift_routes', help: 'PodCIDRRoute prefixes by state (InSync, Drifted, Unknown)', labelNames: ['state'] as const, registers: [this.registry] });
  readonly findings = new Gauge({ name: 'ovndrift_findings', help: 'Current drift findings by kind', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly reconcileDuration = new Histogram({
    name: 'ovndrift_reconcile_duration_seconds',
    help: 'Duration of one reconcile batch (gather, evaluate, repair, render, write)',
    labelNames: ['resource'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly detectionLatency = new Histogram({
    name: 'ovndrift_detection_latency_seconds',
    help: 'Time from an OVSDB update reaching the operator to the PodCIDRRoute status write it caused',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly ovsdbConnected = new Gauge({ name: 'ovndrift_ovsdb_connected', help: '1 when the replica of the database is connected', labelNames: ['db'] as const, registers: [this.registry] });
  readonly ovsdbStale = new Gauge({ name: 'ovndrift_ovsdb_stale', help: '1 when the connected server is a follower cut off from its cluster', labelNames: ['db'] as const, registers: [this.registry] });
  readonly ovsdbReconnects = new Counter({ name: 'ovndrift_ovsdb_reconnects_total', help: 'OVSDB reconnection attempts after a lost or failed connection (failed attempts count too)', labelNames: ['db'] as const, registers: [this.registry] });
  readonly repairs = new Counter({ name: 'ovndrift_repairs_total', help: 'NB repairs by result (applied, failed, skipped)', labelNames: ['result'] as const, registers: [this.registry] });
  readonly statusWrites = new Counter({ name: 'ovndrift_status_writes_total', help: 'Status subresource writes', labelNames: ['resource', 'result'] as const, registers: [this.registry] });
  readonly events = new Counter({ name: 'ovndrift_events_total', help: 'Kubernetes Events emitted, by reason', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly northdLag = new Gauge({ name: 'ovndrift_northd_lag_generations', help: 'NB_Global.nb_cfg minus SB_Global.nb_cfg at the last reconcile: how many NB generations ovn-northd has not yet written to the SB', registers: [this.registry] });
  readonly leader = new Gauge({ name: 'ovndrift_leader', help: '1 while this replica holds the leader Lease', registers: [this.registry] });
  readonly kubeRelists = new Counter({ name: 'ovndrift_kube_relists_total', help: 'Informer relists (410 Gone and errors)', labelNames: ['resource', 'reason'] as const, registers: [this.registry] });
  readonly kubeWatchRestarts = new Counter({ name: 'ovndrift_kube_watch_restarts_total', help: 'Watch restarts (ended, error, watchdog)', labelNames: ['resource', 'reason'] as const, registers: [this.registry] });

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'ovndrift_' }); // ovndrift_process_cpu_seconds_total, ovndrift_nodejs_*
    for (const db of ['NB', 'SB']) {
      this.ovsdbConnected.set({ db }, 0);
      this.ovsdbStale.set({ db }, 0);
    }
    this.leader.set(0);
  }

  /**
   * A replica that lost (or gave up) the Lease no longer reports what the leader reports: its
   * route and finding gauges are dropped so `sum()` over replicas does not count a route twice.
   */
  clearLeaderGauges(): void {
    this.leader.set(0);
    this.routes.reset();
    this.findings.reset();
    this.northdLag.reset();
  }
}
