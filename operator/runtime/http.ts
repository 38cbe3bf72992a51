// The one metrics/health HTTP server (node:http) of the operator and the agent, and the one
// listen-address parser of `--metrics-addr`: /metrics (Prometheus text from a prom-client
// registry), /healthz and /livez (200 unless the mode says it is failing), /readyz (when the mode
// has a readiness notion: 200 or 503 with its checks as JSON). HTTP only; imports no project code.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface Readiness {
  ready: boolean;
  checks: Record<string, string>;
}

export interface HttpServerOptions {
  /** host:port, [v6]:port or :port (":8080" listens on every address). */
  addr: string;
  registry: Registry;
  /** /healthz: undefined or ok=true answers 200 "ok"; ok=false answers 503 with `text`. */
  health?: () => { ok: boolean; text?: string };
  /** /readyz: 200 or 503 with the checks as JSON (404 when absent). */
  readiness?: () => Readiness;
}

export interface RunningServer {
  server: Server;
  /** http://host:port as bound (the real port when :0 was asked for). */
  url: string;
  close(): Promise<void>;
}

/** `host:port`, `[v6]:port` or `:port` -> host (undefined = every address) and port; throws naming the address. */
export function parseListenAddr(addr: string): { host?: string; port: number } {
  const m = /^(?:\[?([^\]]*)\]?)?:(\d+)$/.exec(addr.trim());
  if (!m) throw new Error(`invalid listen address ${JSON.stringify(addr)} (expected host:port or :port)`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`invalid port in listen address ${JSON.stringify(addr)}`);
  return m[1] ? { host: m[1], port } : { port };
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningServer> {
  const { host, port } = parseListenAddr(opts.addr);
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (path === '/metrics') {
        const body = await opts.registry.metrics();
        res.writeHead(200, { 'Content-Type': opts.registry.contentType });
        res.end(body);
      } else if (path === '/healthz' || path === '/livez') {
        const h = opts.health?.() ?? { ok: true };
        res.writeHead(h.ok ? 200 : 503, { 'Content-Type': 'text/plain' });
        res.end(h.ok ? 'ok\n' : `${h.text ?? 'failing'}\n`);
      } else if (path === '/readyz' && opts.readiness) {
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
