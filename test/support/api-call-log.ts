// A recording HTTP proxy between a Kubernetes client (client-node, kubectl) and the test API server:
// every request the client makes is logged as the RBAC verb, API group and resource it needs,
// then forwarded unchanged (watch streams included). Tests point only the component under test at
// the proxy, so their own setup calls are not recorded. Used by test/chart/observed.test.ts to
// check the chart's RBAC against what the operator and the agent really call.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeConfigFor } from './test-api-server.js';

export interface ApiCall {
  method: string;
  path: string;
  query: string;
  status?: number;
}

export interface RbacRequest {
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';
  apiGroup: string;
  /** plural, or plural/subresource */
  resource: string;
  namespace?: string;
  name?: string;
}

/** The RBAC attributes kube-apiserver derives from one request (non-resource URLs: undefined). */
function rbacRequest(method: string, path: string, query: string): RbacRequest | undefined {
  const parts = path.split('/').filter(Boolean);
  let apiGroup: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    apiGroup = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    apiGroup = parts[1]!;
    rest = parts.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, sub] = rest;
  if (!plural) return undefined;
  const resource = sub ? `${plural}/${sub}` : plural;
  const watch = /(^|[?&])watch=(true|1)(&|$)/.test(query);
  const m = method.toUpperCase();
  const verb: RbacRequest['verb'] =
    m === 'GET' ? (watch ? 'watch' : name ? 'get' : 'list') : m === 'POST' ? 'create' : m === 'PUT' ? 'update' : m === 'PATCH' ? 'patch' : name ? 'delete' : 'deletecollection';
  return { verb, apiGroup, resource, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) };
}

export class ApiCallLog {
  readonly calls: ApiCall[] = [];
  url = '';
  private server!: Server;
  private constructor(private readonly target: URL) {}

  static async start(targetUrl: string): Promise<ApiCallLog> {
    const log = new ApiCallLog(new URL(targetUrl));
    log.server = createServer((req, res) => log.forward(req, res));
    await new Promise<void>((ok) => log.server.listen(0, '127.0.0.1', ok));
    const addr = log.server.address();
    if (!addr || typeof addr === 'string') throw new Error('api-call-log: no address');
    log.url = `http://127.0.0.1:${addr.port}`;
    return log;
  }

  kubeConfig(): KubeConfig {
    return kubeConfigFor(this.url);
  }

  /** The distinct RBAC requests seen, as "group|resource|verb" ("" = core group). */
  rbac(): RbacRequest[] {
    const seen = new Map<string, RbacRequest>();
    for (const c of this.calls) {
      const r = rbacRequest(c.method, c.path, c.query);
      if (r) seen.set(`${r.apiGroup}|${r.resource}|${r.verb}|${r.namespace ?? ''}|${r.verb === 'list' || r.verb === 'watch' || r.verb === 'create' ? '' : r.name ?? ''}`, r);
    }
    return [...seen.values()];
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const call: ApiCall = { method: req.method ?? 'GET', path: url.pathname, query: url.search };
    this.calls.push(call);
    const up = request(
      { host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: { ...req.headers, host: this.target.host } },
      (upRes) => {
        call.status = upRes.statusCode;
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        res.on('close', () => upRes.destroy());
      },
    );
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502).end(err.message);
      else res.destroy();
    });
    req.pipe(up);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }
}
