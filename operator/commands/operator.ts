// `ovn-drift operator`: the in-cluster reconciler (Deployment, 2 replicas, Lease leader election).
// Flags with environment fallbacks -> a Controller, the metrics/health server, signal handling.
// Wiring only: reconcile logic lives in operator/controller/, Kubernetes I/O in operator/kube/.
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import type { KubeConfig } from '@kubernetes/client-node';
import { EXIT } from '../cli.js';
import { Controller } from '../controller/controller.js';
import { OperatorMetrics } from '../controller/metrics.js';
import { parseListenAddr, startHealthServer } from '../controller/health.js';
import { loadKubeConfig } from '../kube/config.js';
import { EVENT_NAMESPACES_FOR_CLUSTER_SCOPED } from '../kube/events.js';
import { parseRemotes } from '../ovsdb/remote.js';
import { loadTls } from '../ovsdb/client.js';
import { parseDuration } from './flags.js';
import { watchLabelSelector as parseWatchLabelSelector } from '../controller/shard.js';

const USAGE = `usage: ovn-drift operator --nb-remote REMOTE --sb-remote REMOTE [flags]

Watches PodCIDRRoute and TunnelNoTrackPolicy resources, keeps live replicas of the OVN NB and SB
databases, writes status conditions, Events and metrics, and repairs the NB (remediation: Repair).

flags (environment fallback in parentheses):
  --nb-remote REMOTE      OVN NB: tcp:IP:PORT, ssl:IP:PORT, unix:PATH or a comma list (OVN_NB_REMOTE)
  --sb-remote REMOTE      OVN SB, same syntax (OVN_SB_REMOTE)
  --private-key PATH      TLS private key for ssl: remotes (OVN_PRIVATE_KEY)
  --certificate PATH      TLS certificate (OVN_CERTIFICATE)
  --ca-cert PATH          CA certificate the servers must present (OVN_CA_CERT)
  --kubeconfig PATH       kubeconfig file (KUBECONFIG; default: in-cluster service account)
  --lease-name NAME       leader election Lease (LEASE_NAME; default ovn-drift-operator)
  --lease-namespace NS    namespace of the Lease (POD_NAMESPACE; default: the pod's namespace)
  --no-leader-elect       run without leader election (a single replica)
  --identity ID           this replica's identity in the Lease (POD_NAME; default the hostname)
  --resync D              full resync period, the safety net (RESYNC; default 5m; e.g. 30s, 5m)
  --repair-timeout D      how long a repair waits for the SB to follow (default 5s); the wait never holds a worker
  --finalizer-timeout D   how long a deleted PodCIDRRoute with deletionPolicy Delete waits for OVN before its
                          finalizer is removed anyway, with a Warning Event naming the rows left behind (default 5m)
  --settle D              a flow finding with no evidence that ovn-northd is behind is Pending (Reconciling,
                          no Event) until it persisted this long (default 10s; 0 disables)
  --chassis-down-after D  a nexthop's chassis that has not confirmed the newest nb_cfg this long is down:
                          NexthopDown (default 60s; judged from NB_Global/Chassis_Private timestamps)
  --workers N             concurrent PodCIDRRoute reconciles (default 4)
  --agent-stale-after D   a node agent report older than this fails the node (default 15m)
  --agent-missing-grace D how long a selected node may go without any agent report (default 5m)
  --metrics-addr ADDR     /metrics, /healthz, /readyz on host:port (METRICS_ADDR; default :8080)
  --event-namespace NS    namespace for Events about cluster-scoped resources: default or kube-system
                          (the only two kube-apiserver accepts for them; default: default)
  --log-level L           pino level (LOG_LEVEL; default info)
  --watch-label-selector S  shard: reconcile only the PodCIDRRoutes and TunnelNoTrackPolicies matching this
                          label selector, e.g. "sharding.ovndrift.io/key in (shard1)" or "!sharding.ovndrift.io/key"
                          for the default shard (WATCH_LABEL_SELECTOR; default: all); give each shard its own --lease-name`;

export { parseDuration };

export interface OperatorDeps {
  kubeConfig?: KubeConfig;
  logger?: Logger;
  /** Stops the operator (tests); SIGTERM/SIGINT do it otherwise. */
  signal?: AbortSignal;
  /** Called once the controller runs (tests). */
  onStarted?: (c: Controller, metricsUrl: string) => void;
}

function podNamespace(): string | undefined {
  const f = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
  return existsSync(f) ? readFileSync(f, 'utf8').trim() : undefined;
}

export async function run(argv: string[], deps: OperatorDeps = {}): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'nb-remote': { type: 'string' },
        'sb-remote': { type: 'string' },
        'private-key': { type: 'string' },
        certificate: { type: 'string' },
        'ca-cert': { type: 'string' },
        kubeconfig: { type: 'string' },
        'lease-name': { type: 'string' },
        'lease-namespace': { type: 'string' },
        'no-leader-elect': { type: 'boolean' },
        identity: { type: 'string' },
        resync: { type: 'string' },
        'repair-timeout': { type: 'string' },
        'finalizer-timeout': { type: 'string' },
        workers: { type: 'string' },
        settle: { type: 'string' },
        'chassis-down-after': { type: 'string' },
        'agent-stale-after': { type: 'string' },
        'agent-missing-grace': { type: 'string' },
        'metrics-addr': { type: 'string' },
        'metrics-address': { type: 'string' },
        'event-namespace': { type: 'string' },
        'log-level': { type: 'string' },
        'watch-label-selector': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`ovn-drift operator: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT.badInput;
  }
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const env = process.env;
  const nbRemote = values['nb-remote'] ?? env.OVN_NB_REMOTE;
  const sbRemote = values['sb-remote'] ?? env.OVN_SB_REMOTE;
  const problems: string[] = [];
  if (!nbRemote) problems.push('--nb-remote (or OVN_NB_REMOTE) is required');
  if (!sbRemote) problems.push('--sb-remote (or OVN_SB_REMOTE) is required');
  for (const [flag, r] of [['--nb-remote', nbRemote], ['--sb-remote', sbRemote]] as const) {
    if (!r) continue;
    try {
      parseRemotes(r);
    } catch (err) {
      problems.push(`${flag}: ${(err as Error).message}`);
    }
  }
  const tls = {
    key: values['private-key'] ?? env.OVN_PRIVATE_KEY,
    cert: values.certificate ?? env.OVN_CERTIFICATE,
    ca: values['ca-cert'] ?? env.OVN_CA_CERT,
  };
  for (const [flag, path] of [['--private-key', tls.key], ['--certificate', tls.cert], ['--ca-cert', tls.ca]] as const) {
    if (path && !existsSync(path)) problems.push(`${flag}: file ${path} does not exist`);
  }
  if (problems.length === 0 && (tls.key || tls.cert || tls.ca)) {
    // key/certificate/CA that do not fit together are a configuration error, not an outage
    try {
      loadTls('the ssl: remotes', tls);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  const resyncText = values.resync ?? env.RESYNC ?? '5m';
  const resyncMs = parseDuration(resyncText);
  if (resyncMs === undefined) problems.push(`--resync: ${JSON.stringify(resyncText)} is not a duration (e.g. 30s, 5m)`);
  const repairText = values['repair-timeout'] ?? '5s';
  const repairTimeoutMs = parseDuration(repairText);
  if (repairTimeoutMs === undefined) problems.push(`--repair-timeout: ${JSON.stringify(repairText)} is not a duration`);
  const finalizerText = values['finalizer-timeout'] ?? '5m';
  const finalizerTimeoutMs = parseDuration(finalizerText);
  if (finalizerTimeoutMs === undefined) problems.push(`--finalizer-timeout: ${JSON.stringify(finalizerText)} is not a duration (e.g. 5m)`);
  const settleText = values.settle ?? '10s';
  const settleMs = settleText === '0' ? 0 : parseDuration(settleText);
  if (settleMs === undefined) problems.push(`--settle: ${JSON.stringify(settleText)} is not a duration (e.g. 10s, 0 to disable)`);
  const downText = values['chassis-down-after'] ?? '60s';
  const chassisDownAfterMs = parseDuration(downText);
  if (chassisDownAfterMs === undefined) problems.push(`--chassis-down-after: ${JSON.stringify(downText)} is not a duration (e.g. 60s)`);
  const workers = Number(values.workers ?? '4');
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) problems.push(`--workers: ${JSON.stringify(values.workers)} is not a whole number from 1 to 64`);
  const policyTiming: { staleAfterMs?: number; missingGraceMs?: number } = {};
  for (const [flag, key] of [['agent-stale-after', 'staleAfterMs'], ['agent-missing-grace', 'missingGraceMs']] as const) {
    const text = values[flag];
    if (text === undefined) continue;
    const ms = parseDuration(text);
    if (ms === undefined) problems.push(`--${flag}: ${JSON.stringify(text)} is not a duration (e.g. 15m)`);
    else policyTiming[key] = ms;
  }
  // Events about cluster-scoped resources (every ovndrift.io kind) carry a `regarding` without a
  // namespace; kube-apiserver accepts such an events.k8s.io/v1 Event only in "default" or
  // "kube-system" (ValidateEventCreate: regarding.namespace does not match event.namespace).
  const eventNamespace = values['event-namespace'] ?? 'default';
  if (!EVENT_NAMESPACES_FOR_CLUSTER_SCOPED.includes(eventNamespace)) {
    problems.push(`--event-namespace: ${JSON.stringify(eventNamespace)}: Events about cluster-scoped resources must be in ${EVENT_NAMESPACES_FOR_CLUSTER_SCOPED.map((n) => JSON.stringify(n)).join(' or ')} (kube-apiserver refuses them elsewhere)`);
  }
  const metricsAddr = values['metrics-addr'] ?? values['metrics-address'] ?? env.METRICS_ADDR ?? ':8080';
  try {
    parseListenAddr(metricsAddr);
  } catch (err) {
    problems.push(`--metrics-addr: ${(err as Error).message}`);
  }
  const selectorText = values['watch-label-selector'] ?? env.WATCH_LABEL_SELECTOR;
  let watchLabelSelector: string | undefined;
  if (selectorText !== undefined) {
    try {
      watchLabelSelector = parseWatchLabelSelector(selectorText);
    } catch (err) {
      problems.push(`--watch-label-selector: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) {
    console.error(`ovn-drift operator: ${problems.join('\n  ')}\n\n${USAGE}`);
    return EXIT.badInput;
  }

  const logger = deps.logger ?? pino({ level: values['log-level'] ?? env.LOG_LEVEL ?? 'info', base: { component: 'operator' }, redact: ['*.token', '*.password', '*.key'] });
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = deps.kubeConfig ?? loadKubeConfig(values.kubeconfig ?? undefined);
  } catch (err) {
    console.error(`ovn-drift operator: ${(err as Error).message}`);
    return EXIT.badInput;
  }
  const identity = values.identity ?? env.POD_NAME ?? hostname();
  const leaseNamespace = values['lease-namespace'] ?? env.POD_NAMESPACE ?? podNamespace() ?? 'default';
  const metrics = new OperatorMetrics(true);
  const controller = new Controller({
    kubeConfig,
    nbRemote: nbRemote!,
    sbRemote: sbRemote!,
    ...(tls.key || tls.cert || tls.ca ? { tls } : {}),
    identity,
    lease: values['no-leader-elect'] ? false : { namespace: leaseNamespace, name: values['lease-name'] ?? env.LEASE_NAME ?? 'ovn-drift-operator' },
    resyncMs,
    repairTimeoutMs,
    ...(finalizerTimeoutMs !== undefined ? { finalizerTimeoutMs } : {}),
    workers,
    ...(settleMs !== undefined ? { settleMs } : {}),
    ...(chassisDownAfterMs !== undefined ? { chassisDownAfterMs } : {}),
    policyTiming,
    eventNamespace,
    logger,
    metrics,
    ...(watchLabelSelector ? { watchLabelSelector } : {}),
  });

  let health: Awaited<ReturnType<typeof startHealthServer>>;
  try {
    health = await startHealthServer({ addr: metricsAddr, registry: metrics.registry, readiness: () => controller.readiness() });
  } catch (err) {
    console.error(`ovn-drift operator: cannot listen on ${metricsAddr}: ${(err as Error).message}`);
    return EXIT.runtime;
  }
  logger.info({ identity, nbRemote, sbRemote, metrics: health.url, leaseNamespace }, 'operator starting');

  let term = () => {};
  let int = () => {};
  const stopped = new Promise<string>((resolve) => {
    term = () => resolve('SIGTERM');
    int = () => resolve('SIGINT');
    process.once('SIGTERM', term);
    process.once('SIGINT', int);
    deps.signal?.addEventListener('abort', () => resolve('abort'), { once: true });
  }).finally(() => {
    process.off('SIGTERM', term);
    process.off('SIGINT', int);
  });
  try {
    await controller.start();
    deps.onStarted?.(controller, health.url);
    const why = await stopped;
    logger.info({ signal: why }, 'shutting down: releasing the lease');
  } catch (err) {
    logger.error({ err }, 'operator failed');
    await controller.stop().catch(() => undefined);
    await health.close();
    logger.flush();
    return EXIT.runtime;
  }
  await controller.stop();
  await health.close();
  logger.info('operator stopped');
  await new Promise<void>((ok) => logger.flush(() => ok()));
  return EXIT.ok;
}
