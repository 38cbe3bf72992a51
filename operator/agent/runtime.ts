// Process plumbing shared by the agent's file and cluster modes: a stop signal wired to
// SIGINT/SIGTERM, and the optional /metrics + /healthz HTTP server. Must not import kube,
// iptables or ovsdb modules.
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { PassResult } from './agent.js';
import { AgentError } from './errors.js';
import type { AgentMetrics } from './metrics.js';

/** An AbortSignal that fires on SIGINT/SIGTERM or when `outer` aborts. */
export function stopSignal(outer?: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  const ctl = new AbortController();
  const stop = (): void => ctl.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  outer?.addEventListener('abort', stop, { once: true });
  if (outer?.aborted) stop();
  return {
    signal: ctl.signal,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      outer?.removeEventListener('abort', stop);
    },
  };
}

/** Optional /metrics and /healthz server (host:port). */
export async function startMetricsServer(address: string | undefined, metrics: AgentMetrics, logger: Logger, last: () => PassResult | undefined): Promise<Server | undefined> {
  if (!address) return undefined;
  const i = address.lastIndexOf(':');
  const host = i > 0 ? address.slice(0, i) : '0.0.0.0';
  const port = Number(address.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new AgentError('Usage', `--metrics-address '${address}' is not host:port`);
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else if (req.url === '/healthz') {
      const r = last();
      const ok = !r || r.outcome !== 'IptablesFailed';
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : `${r?.error?.message ?? 'failing'}\n`);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  logger.info({ address }, 'metrics server listening');
  return server;
}
