// `ovn-drift agent`: keeps iptables raw-table NOTRACK rules for tunnel ports on this node.
// File mode (`-f PATH`, no cluster) or cluster mode (watch TunnelNoTrackPolicy, write this node's
// NodeNoTrackState); `--once` for one pass, `--cleanup` to remove everything of ours.
// Wiring only: flags -> objects -> a mode. Rule logic lives in operator/agent/.
import { access } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseLabelList } from '../api/tunnelnotrackpolicy.js';
import { AgentError } from '../agent/errors.js';
import { NoTrackAgent, cleanupAll, runLoop, type PassInput, type PassResult } from '../agent/agent.js';
import { ProcessRunner, ShellRunner, type Backend, type CommandRunner } from '../agent/iptables.js';
import { loadTunnelNoTrackPolicies } from '../agent/manifests.js';
import { agentHealth, createAgentMetrics, type AgentMetrics } from '../agent/metrics.js';
import { EXIT, UsageError, exitCodeOf, messageOf } from '../errors.js';
import { startHttpServer } from '../runtime/http.js';
import { stopSignal } from '../runtime/signals.js';
import { aliasFlag, durationFlag, failed, flagContext, listenAddrFlag, logLevelFlag, setting, throwProblems, type FlagContext } from './flags.js';

const USAGE = `usage:
  ovn-drift agent --node-name N [--node-labels k=v,...] -f PATH [-f PATH]... [--once] [flags]
  ovn-drift agent --node-name N [flags]            (cluster mode: no -f; uses in-cluster config or KUBECONFIG)
  ovn-drift agent --cleanup [--netns NS]

Keeps iptables raw-table NOTRACK rules for the tunnel ports TunnelNoTrackPolicies select for this node.

flags:
  --node-name N          this node (env NODE_NAME; file mode defaults to the hostname)
  --node-labels k=v,...  node labels for nodeSelector matching in file mode
                         (kubernetes.io/hostname=<node-name> is added unless given)
  -f, --filename PATH    TunnelNoTrackPolicy YAML file or directory (repeatable); other kinds are skipped
  --once                 one pass, then exit: 0 applied, 1 bad input, 2 iptables failed
  --interval D           re-check interval (seconds or e.g. 500ms, 10s, 1m; default 10s)
  --backend B            auto | legacy | nft (env OVN_DRIFT_IPTABLES_BACKEND; default auto)
  --netns NS             act inside network namespace NS (ip netns exec)
  --cleanup              remove every chain and jump rule the agent installed (both backends, both families)
  --metrics-addr ADDR    serve /metrics and /healthz on host:port or :port (env METRICS_ADDR)
  --kubeconfig PATH      cluster mode: kubeconfig file (default: in-cluster, then KUBECONFIG)
  --log-level L          fatal | error | warn | info | debug | trace | silent (env LOG_LEVEL; default info)
deprecated, still accepted with a notice: --metrics-address and METRICS_ADDRESS (use --metrics-addr, METRICS_ADDR)`;

export interface AgentDeps {
  /** Environment of the iptables/conntrack commands (PATH decides the binaries). */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  metrics?: AgentMetrics;
  /** Stops a long-running agent (tests); SIGINT/SIGTERM do it otherwise. */
  signal?: AbortSignal;
  /** Called after every pass (tests, cluster reporter). */
  onResult?: (r: PassResult) => void;
  /** Retry delay after a failed pass (doubles up to the interval x 6). */
  backoffBaseMs?: number;
  /** Cluster mode: a ready KubeConfig (tests); otherwise --kubeconfig, in-cluster or KUBECONFIG. */
  kubeConfig?: KubeConfig;
}

export async function run(argv: string[]): Promise<number> {
  return runAgent(argv);
}

export async function runAgent(argv: string[], deps: AgentDeps = {}): Promise<number> {
  const env = deps.env ?? process.env;
  const ctx = flagContext('ovn-drift agent', env);
  let values: AgentFlags;
  let level: string;
  let backendFlag: string;
  let intervalMs: number;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'node-name': { type: 'string' },
        'node-labels': { type: 'string' },
        filename: { type: 'string', short: 'f', multiple: true },
        once: { type: 'boolean', default: false },
        interval: { type: 'string', default: '10s' },
        backend: { type: 'string' },
        netns: { type: 'string' },
        cleanup: { type: 'boolean', default: false },
        'metrics-addr': { type: 'string' },
        'metrics-address': { type: 'string' },
        kubeconfig: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
    if (values.help) {
      console.log(USAGE);
      return EXIT.ok;
    }
    const problems: string[] = [];
    level = logLevelFlag(ctx, problems, values['log-level']);
    backendFlag = setting(ctx, 'iptablesBackend', values.backend) ?? 'auto';
    if (backendFlag !== 'auto' && backendFlag !== 'legacy' && backendFlag !== 'nft') problems.push(`--backend must be auto, legacy or nft (got '${backendFlag}')`);
    const interval = durationFlag(problems, 'interval', values.interval, '10s', { example: '500ms, 10s, 1m' });
    const metricsAddr = setting(ctx, 'metricsAddr', aliasFlag(ctx, values as unknown as Record<string, unknown>, 'metrics-addr', 'metrics-address'));
    if (metricsAddr !== undefined) listenAddrFlag(problems, 'metrics-addr', metricsAddr);
    values.metricsAddr = metricsAddr;
    if (values.netns !== undefined && (!/^[A-Za-z0-9_.-]+$/.test(values.netns) || values.netns === '.' || values.netns === '..')) problems.push(`--netns '${values.netns}' is not a valid namespace name`);
    throwProblems(ctx, problems);
    intervalMs = interval!;
  } catch (err) {
    return failed(ctx, err, USAGE);
  }
  try {
    if (values.netns !== undefined) await checkNetns(values.netns, env);
  } catch (err) {
    return failed(ctx, err);
  }
  const logger = deps.logger ?? pino({ name: 'ovn-drift-agent', level }, pino.destination({ dest: 2, sync: true }));

  // Long-lived helper shells: a periodic check then costs two short commands, not two Node spawns.
  const runner: CommandRunner = new ShellRunner({ netns: values.netns, env });
  try {
    return await runWithRunner(ctx, runner, values, deps, env, logger, intervalMs, backendFlag);
  } finally {
    await runner.close();
  }
}

interface AgentFlags {
  'node-name'?: string;
  'node-labels'?: string;
  filename?: string[];
  once?: boolean;
  cleanup?: boolean;
  'metrics-addr'?: string;
  'metrics-address'?: string;
  /** --metrics-addr after env fallback and the deprecated spellings. */
  metricsAddr?: string;
  kubeconfig?: string;
  interval: string;
  backend?: string;
  netns?: string;
  'log-level'?: string;
  help?: boolean;
}

/**
 * --netns is checked before any command runs: a namespace that does not exist is bad input, and a
 * missing `ip` fails at once (exit 2) instead of after helper-shell timeouts.
 */
async function checkNetns(netns: string, env: NodeJS.ProcessEnv): Promise<void> {
  const runDir = env.NETNS_RUN_DIR ?? '/run/netns';
  try {
    await access(join(runDir, netns));
  } catch {
    throw new UsageError(`network namespace '${netns}' does not exist (no ${join(runDir, netns)}; create it with ip netns add)`);
  }
  if (!(await new ProcessRunner({ env }).has('ip'))) {
    throw new AgentError('IptablesMissing', `--netns needs 'ip' (iproute2) to run 'ip netns exec ${netns}', and it is not installed (PATH=${env.PATH ?? ''})`);
  }
}

async function runWithRunner(ctx: FlagContext, runner: CommandRunner, values: AgentFlags, deps: AgentDeps, env: NodeJS.ProcessEnv, logger: Logger, intervalMs: number, backendFlag: string): Promise<number> {
  const metrics = deps.metrics ?? createAgentMetrics(undefined, { defaults: true });

  if (values.cleanup) {
    // Both backends, both families: no detection needed.
    const { removed, errors } = await cleanupAll(runner, logger);
    for (const e of errors) console.error(`ovn-drift agent: cleanup: ${e.message}`);
    if (removed.length > 0) console.log(`removed NOTRACK rules from ${removed.join(', ')}`);
    else if (errors.length === 0) console.log('nothing of ours to remove');
    return errors.length > 0 ? EXIT.runtime : EXIT.ok;
  }

  // Backend: fixed by flag, or detected (the way iptables-wrapper does) on the first pass that can.
  const agent = new NoTrackAgent({ runner, backend: backendFlag as Backend | 'auto', logger, metrics });

  const nodeName = setting(ctx, 'nodeName', values['node-name']) ?? (values.filename ? hostname() : undefined);
  if (!nodeName) return failed(ctx, new UsageError('--node-name (or NODE_NAME) is required in cluster mode'));

  const files = values.filename ?? [];
  if (files.length === 0) {
    if (values['node-labels'] !== undefined) return failed(ctx, new UsageError('--node-labels is for file mode (-f); in a cluster the Node object carries the labels'));
    const { runClusterMode } = await import('../agent/cluster.js');
    return runClusterMode({ agent, nodeName, kubeconfig: values.kubeconfig, intervalMs, once: values.once === true, logger, metrics, signal: deps.signal, metricsAddress: values.metricsAddr, backoffBaseMs: deps.backoffBaseMs, kubeConfig: deps.kubeConfig, onResult: deps.onResult });
  }

  // File mode.
  const parsed = parseLabelList(values['node-labels'] ?? '');
  if (parsed.errors.length > 0) return failed(ctx, new UsageError(`--node-labels: ${parsed.errors.join('; ')}`));
  const nodeLabels = { 'kubernetes.io/hostname': nodeName, ...parsed.labels };
  let skippedLogged = false;
  const gather = async (): Promise<PassInput> => {
    const loaded = await loadTunnelNoTrackPolicies(files);
    if (!skippedLogged) {
      for (const s of loaded.skipped) logger.info({ document: s }, 'manifest skipped: not a TunnelNoTrackPolicy');
      skippedLogged = true;
    }
    return { policies: loaded.policies, invalid: loaded.invalid, nodeLabels };
  };

  if (values.once) {
    let input: PassInput;
    try {
      input = await gather();
    } catch (err) {
      return failed(ctx, err); // ManifestUnreadable: exit 1
    }
    if (input.invalid.length > 0) {
      // Reject before touching anything: no rule changes on bad input.
      for (const m of input.invalid) console.error(`ovn-drift agent: ${m}`);
      console.error('ovn-drift agent: no rules changed');
      return EXIT.badInput;
    }
    const result = await agent.pass(input);
    deps.onResult?.(result);
    console.log(summarize(result, nodeName, agent.backend));
    for (const w of result.warnings) console.error(`ovn-drift agent: warning: ${w}`);
    if (result.otherBackendErrors && result.otherBackendErrors.length > 0 && !result.error) {
      for (const e of result.otherBackendErrors) console.error(`ovn-drift agent: ${e.message}`);
      return exitCodeOf(result.otherBackendErrors[0]);
    }
    if (result.error) {
      const messages = result.families.flatMap((f) => (f.error ? [f.error] : []));
      for (const m of messages.length > 0 ? messages : [result.error.message]) console.error(`ovn-drift agent: ${m}`);
      return exitCodeOf(result.error);
    }
    return EXIT.ok;
  }

  const { signal, dispose } = stopSignal(deps.signal);
  let server: Awaited<ReturnType<typeof startHttpServer>> | undefined;
  try {
    server = values.metricsAddr ? await startHttpServer({ addr: values.metricsAddr, registry: metrics.registry, health: agentHealth(() => agent.lastResult) }) : undefined;
  } catch (err) {
    dispose();
    console.error(`${ctx.command}: cannot listen on ${values.metricsAddr}: ${messageOf(err)}`);
    return EXIT.runtime;
  }
  if (server) logger.info({ address: server.url }, 'metrics server listening');
  try {
    await runLoop(agent, {
      intervalMs,
      backoffBaseMs: deps.backoffBaseMs,
      maxBackoffMs: Math.max(intervalMs * 6, 1_000),
      signal,
      gather,
      onResult: (r) => {
        if (r.error && !r.ruleset) logger.error({ err: r.error.message, code: r.error.code }, 'agent pass failed');
        deps.onResult?.(r);
      },
    });
  } finally {
    dispose();
    await server?.close();
  }
  return EXIT.ok;
}

export function summarize(result: PassResult, nodeName: string, backend: Backend | undefined): string {
  const fams = result.families.map((f) => `${f.family} ${f.error ? 'FAILED' : `${f.rules} rules${f.changed ? ' (changed)' : ''}`}`).join(', ');
  const ports = result.ruleset ? [...new Set(Object.values(result.ruleset.families).flatMap((f) => f.ports.map((p) => `${p.protocol}/${p.port}`)))] : [];
  const selected = result.ruleset?.selected.map((p) => p.name) ?? [];
  return `node ${nodeName} (${backend ?? 'no iptables'}): ${result.outcome}; policies: ${selected.join(', ') || 'none'}; ports: ${ports.join(', ') || 'none'}; ${fams}${result.conntrackDeleted > 0 ? `; ${result.conntrackDeleted} conntrack entries deleted` : ''}`;
}
