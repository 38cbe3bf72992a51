// The metrics and health endpoint (node:http): /metrics (Prometheus), /healthz (the process and its
// event loop answer), /readyz (informers synced, both OVN databases connected and not stale).
// HTTP only; must not import the Kubernetes client or OVSDB code.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface Readiness {
  ready: boolean;
  checks: Record<string, string>;
}

export interface HealthServerOptions {
  /** host:port or :port (":8080" listens on every address). */
  addr: string;
  registry: Registry;
  readiness: () => Readiness;
}

export function parseListenAddr(addr: string): { host?: string; port: number } {
  const m = /^(?:\[?([^\]]*)\]?)?:(\d+)$/.exec(addr.trim());
  if (!m) throw new Error(`invalid listen address ${JSON.stringify(addr)} (expected host:port or :port)`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`invalid port in listen address ${JSON.stringify(addr)}`);
  return m[1] ? { host: m[1], port } : { port };
}

export async function startHealthServer(opts: HealthServerOptions): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const { host, port } = parseListenAddr(opts.addr);
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (path === '/metrics') {
        const body = await opts.registry.metrics();
        res.writeHead(200, { 'Content-Type': opts.registry.contentType });
        res.end(body);
      } else if (path === '/healthz' || path === '/livez') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('ok\n');
      } else if (path === '/readyz') {
        const r = opts.readiness();
        res.writeHead(r.ready ? 200 : 503, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(r) + '\n');
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not found\n');
      }
    } catch (err) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(String(err));
    }
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok());
  });
  const a = server.address();
  const url = typeof a === 'object' && a ? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : '';
  return {
    server,
    url,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
