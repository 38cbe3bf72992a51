// `ovn-drift operator`: the in-cluster reconciler (Deployment, 2 replicas, Lease leader election).
// Flags with environment fallbacks -> a Controller, the metrics/health server, signal handling.
// Wiring only: reconcile logic lives in operator/controller/, Kubernetes I/O in operator/kube/.
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import type { KubeConfig } from '@kubernetes/client-node';
import { EXIT } from '../errors.js';
import { setParseMemoGeneration } from '../ovn/ip.js';
import { Controller } from '../controller/controller.js';
import { OperatorMetrics } from '../controller/metrics.js';
import { loadKubeConfig } from '../kube/config.js';
import { EVENT_NAMESPACES_FOR_CLUSTER_SCOPED } from '../kube/events.js';
import { startHttpServer } from '../runtime/http.js';
import { stopSignal } from '../runtime/signals.js';
import { watchLabelSelector as parseWatchLabelSelector } from '../controller/shard.js';
import { aliasFlag, durationFlag, failed, flagContext, inactivityProbeFlag, listenAddrFlag, logLevelFlag, ovnConnectionFlags, setting, throwProblems, type FlagContext } from './flags.js';

const USAGE = `usage: ovn-drift operator --nb-remote REMOTE --sb-remote REMOTE [flags]

Watches PodCIDRRoute and TunnelNoTrackPolicy resources, keeps live replicas of the OVN NB and SB
databases, writes status conditions, Events and metrics, and repairs the NB (remediation: Repair).

flags (environment fallback in parentheses; durations D are seconds or e.g. 500ms, 30s, 5m):
  --nb-remote REMOTE      OVN NB: tcp:IP:PORT, ssl:IP:PORT, unix:PATH or a comma list (OVN_NB_DB)
  --sb-remote REMOTE      OVN SB, same syntax (OVN_SB_DB)
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
  --inactivity-probe D    OVSDB inactivity probe: after D without receiving anything send echo, drop the
                          connection if still silent after D more; never while a monitor reply is awaited
                          (OVN_DRIFT_INACTIVITY_PROBE; default 5s; 0 disables)
  --workers N             concurrent PodCIDRRoute reconciles (default 4)
  --agent-stale-after D   a node agent report older than this fails the node (default 15m)
  --agent-missing-grace D how long a selected node may go without any agent report (default 5m)
  --metrics-addr ADDR     /metrics, /healthz, /readyz on host:port (METRICS_ADDR; default :8080)
  --event-namespace NS    namespace for Events about cluster-scoped resources: default or kube-system
                          (the only two kube-apiserver accepts for them; default: default)
  --log-level L           fatal | error | warn | info | debug | trace | silent (LOG_LEVEL; default info)
  --watch-label-selector S  shard: reconcile only the PodCIDRRoutes and TunnelNoTrackPolicies matching this
                          label selector, e.g. "sharding.ovndrift.io/key in (shard1)" or "!sharding.ovndrift.io/key"
                          for the default shard (WATCH_LABEL_SELECTOR; default: all); give each shard its own --lease-name
deprecated, still accepted with a notice: --metrics-address (use --metrics-addr), OVN_NB_REMOTE and
OVN_SB_REMOTE (use OVN_NB_DB, OVN_SB_DB)`;

export interface OperatorDeps {
  kubeConfig?: KubeConfig;
  logger?: Logger;
  /** Stops the operator (tests); SIGTERM/SIGINT do it otherwise. */
  signal?: AbortSignal;
  /** Called once the controller runs (tests). */
  onStarted?: (c: Controller, metricsUrl: string) => void;
  /** Environment the flags fall back to (tests); process.env otherwise. */
  env?: NodeJS.ProcessEnv;
}

function podNamespace(): string | undefined {
  const f = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
  return existsSync(f) ? readFileSync(f, 'utf8').trim() : undefined;
}

/** The operator's parse memo generation (ovn/ip.ts): a reconcile parses a few hundred texts. */
const OPERATOR_PARSE_MEMO = 20_000;

export async function run(argv: string[], deps: OperatorDeps = {}): Promise<number> {
  setParseMemoGeneration(OPERATOR_PARSE_MEMO);
  const ctx = flagContext('ovn-drift operator', deps.env);
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
        'inactivity-probe': { type: 'string' },
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
    return failed(ctx, err, USAGE);
  }
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  let config: OperatorConfig;
  try {
    config = await readConfig(ctx, values);
  } catch (err) {
    return failed(ctx, err, USAGE);
  }
  const { nbRemote, sbRemote, tls, inactivityProbeMs, resyncMs, repairTimeoutMs, finalizerTimeoutMs, settleMs, chassisDownAfterMs, workers, policyTiming, eventNamespace, metricsAddr, logLevel, watchLabelSelector } = config;

  const logger = deps.logger ?? pino({ level: logLevel, base: { component: 'operator' }, redact: ['*.token', '*.password', '*.key'] });
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = deps.kubeConfig ?? loadKubeConfig(values.kubeconfig ?? undefined);
  } catch (err) {
    return failed(ctx, err); // KubeConfigError: exit 1
  }
  const identity = setting(ctx, 'podName', values.identity) ?? hostname();
  const leaseNamespace = setting(ctx, 'podNamespace', values['lease-namespace']) ?? podNamespace() ?? 'default';
  const metrics = new OperatorMetrics(true);
  const controller = new Controller({
    kubeConfig,
    nbRemote: nbRemote!,
    sbRemote: sbRemote!,
    ...(tls ? { tls } : {}),
    identity,
    lease: values['no-leader-elect'] ? false : { namespace: leaseNamespace, name: setting(ctx, 'leaseName', values['lease-name']) ?? 'ovn-drift-operator' },
    resyncMs,
    repairTimeoutMs,
    finalizerTimeoutMs,
    inactivityProbeMs,
    workers,
    settleMs,
    chassisDownAfterMs,
    policyTiming,
    eventNamespace,
    logger,
    metrics,
    ...(watchLabelSelector ? { watchLabelSelector } : {}),
  });

  let health: Awaited<ReturnType<typeof startHttpServer>>;
  try {
    health = await startHttpServer({ addr: metricsAddr, registry: metrics.registry, readiness: () => controller.readiness() });
  } catch (err) {
    console.error(`${ctx.command}: cannot listen on ${metricsAddr}: ${(err as Error).message}`);
    return EXIT.runtime;
  }
  logger.info({ identity, nbRemote, sbRemote, metrics: health.url, leaseNamespace }, 'operator starting');

  const stop = stopSignal(deps.signal);
  try {
    await controller.start();
    deps.onStarted?.(controller, health.url);
    const why = await stop.stopped;
    logger.info({ signal: why }, 'shutting down: releasing the lease');
  } catch (err) {
    logger.error({ err }, 'operator failed');
    stop.dispose();
    await controller.stop().catch(() => undefined);
    await health.close();
    logger.flush();
    return EXIT.runtime;
  }
  stop.dispose();
  await controller.stop();
  await health.close();
  logger.info('operator stopped');
  await new Promise<void>((ok) => logger.flush(() => ok()));
  return EXIT.ok;
}

interface OperatorConfig {
  nbRemote: string;
  sbRemote: string;
  tls?: { key?: string; cert?: string; ca?: string };
  inactivityProbeMs: number;
  resyncMs: number;
  repairTimeoutMs: number;
  finalizerTimeoutMs: number;
  settleMs: number;
  chassisDownAfterMs: number;
  workers: number;
  policyTiming: { staleAfterMs?: number; missingGraceMs?: number };
  eventNamespace: string;
  metricsAddr: string;
  logLevel: string;
  watchLabelSelector?: string;
}

/** Flags (and their environment fallbacks) -> the operator's configuration; UsageError listing every problem. */
async function readConfig(ctx: FlagContext, values: Record<string, string | boolean | undefined>): Promise<OperatorConfig> {
  const str = (name: string) => values[name] as string | undefined;
  const problems: string[] = [];
  const connection = await ovnConnectionFlags(ctx, problems, values, { nb: 'nb-remote', sb: 'sb-remote' });
  const resyncMs = durationFlag(problems, 'resync', setting(ctx, 'resync', str('resync')), '5m', { example: '30s, 5m' });
  const repairTimeoutMs = durationFlag(problems, 'repair-timeout', str('repair-timeout'), '5s');
  const finalizerTimeoutMs = durationFlag(problems, 'finalizer-timeout', str('finalizer-timeout'), '5m', { example: '5m' });
  const settleMs = durationFlag(problems, 'settle', str('settle'), '10s', { allowZero: true, example: '10s' });
  const inactivityProbeMs = inactivityProbeFlag(ctx, problems, str('inactivity-probe'));
  const chassisDownAfterMs = durationFlag(problems, 'chassis-down-after', str('chassis-down-after'), '60s', { example: '60s' });
  const workers = Number(str('workers') ?? '4');
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) problems.push(`--workers: ${JSON.stringify(str('workers'))} is not a whole number from 1 to 64`);
  const policyTiming: OperatorConfig['policyTiming'] = {};
  for (const [flag, key] of [['agent-stale-after', 'staleAfterMs'], ['agent-missing-grace', 'missingGraceMs']] as const) {
    if (str(flag) === undefined) continue;
    const ms = durationFlag(problems, flag, str(flag), '', { example: '15m' });
    if (ms !== undefined) policyTiming[key] = ms;
  }
  // Events about cluster-scoped resources (every ovndrift.io kind) carry a `regarding` without a
  // namespace; kube-apiserver accepts such an events.k8s.io/v1 Event only in "default" or
  // "kube-system" (ValidateEventCreate: regarding.namespace does not match event.namespace).
  const eventNamespace = str('event-namespace') ?? 'default';
  if (!EVENT_NAMESPACES_FOR_CLUSTER_SCOPED.includes(eventNamespace)) {
    problems.push(`--event-namespace: ${JSON.stringify(eventNamespace)}: Events about cluster-scoped resources must be in ${EVENT_NAMESPACES_FOR_CLUSTER_SCOPED.map((n) => JSON.stringify(n)).join(' or ')} (kube-apiserver refuses them elsewhere)`);
  }
  const metricsAddr = setting(ctx, 'metricsAddr', aliasFlag(ctx, values, 'metrics-addr', 'metrics-address')) ?? ':8080';
  listenAddrFlag(problems, 'metrics-addr', metricsAddr);
  const logLevel = logLevelFlag(ctx, problems, str('log-level'));
  const selectorText = setting(ctx, 'watchLabelSelector', str('watch-label-selector'));
  let watchLabelSelector: string | undefined;
  if (selectorText !== undefined) {
    try {
      watchLabelSelector = parseWatchLabelSelector(selectorText);
    } catch (err) {
      problems.push(`--watch-label-selector: ${(err as Error).message}`);
    }
  }
  throwProblems(ctx, problems);
  return {
    nbRemote: connection!.nbRemote,
    sbRemote: connection!.sbRemote,
    ...(connection!.tls ? { tls: connection!.tls } : {}),
    inactivityProbeMs: inactivityProbeMs!,
    resyncMs: resyncMs!,
    repairTimeoutMs: repairTimeoutMs!,
    finalizerTimeoutMs: finalizerTimeoutMs!,
    settleMs: settleMs!,
    chassisDownAfterMs: chassisDownAfterMs!,
    workers,
    policyTiming,
    eventNamespace,
    metricsAddr,
    logLevel,
    ...(watchLabelSelector ? { watchLabelSelector } : {}),
  };
}
