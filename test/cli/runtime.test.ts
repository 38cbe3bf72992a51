// operator/runtime: the one backoff (exponential, capped, equal jitter), the one stop signal and
// the one metrics/health HTTP server the operator and the agent share (real sockets on loopback).
import { afterEach, describe, expect, it } from 'vitest';
import { Registry, Counter } from 'prom-client';
import { backoffDelay } from '../../operator/runtime/backoff.js';
import { parseListenAddr, startHttpServer, type RunningServer } from '../../operator/runtime/http.js';
import { stopSignal } from '../../operator/runtime/signals.js';

describe('backoffDelay', () => {
  it('doubles from min, caps at max, and stays within [d/2, d]', () => {
    const lo = () => 0;
    const hi = () => 1;
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 250, 8000, hi))).toEqual([250, 500, 1000, 2000, 8000]);
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 250, 8000, lo))).toEqual([125, 250, 500, 1000, 4000]);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, 100, 10_000);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(800);
    }
    expect(backoffDelay(1e9, 1, 60_000, hi)).toBe(60_000); // no overflow
  });
});

describe('stopSignal', () => {
  it('fires on SIGTERM with the signal as reason, and dispose() removes the listeners', async () => {
    const before = process.listenerCount('SIGTERM');
    const s = stopSignal();
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    process.emit('SIGTERM', 'SIGTERM');
    expect(await s.stopped).toBe('SIGTERM');
    expect(s.signal.aborted).toBe(true);
    s.dispose();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('follows an outer signal (tests stop a mode this way), also one aborted already', async () => {
    const outer = new AbortController();
    const s = stopSignal(outer.signal);
    outer.abort();
    expect(await s.stopped).toBe('abort');
    s.dispose();
    const already = stopSignal(AbortSignal.abort());
    expect(already.signal.aborted).toBe(true);
    expect(await already.stopped).toBe('abort');
    already.dispose();
  });
});

describe('the metrics/health HTTP server', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it.each([
    [':8080', { port: 8080 }],
    ['127.0.0.1:9100', { host: '127.0.0.1', port: 9100 }],
    ['[::1]:9100', { host: '::1', port: 9100 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
  ])('parses %s', (addr, parsed) => expect(parseListenAddr(addr)).toEqual(parsed));

  it.each(['nope', '8080', 'host:', 'host:99999'])('refuses %s naming it', (addr) => expect(() => parseListenAddr(addr)).toThrow(addr));

  it('serves /metrics, /healthz (503 with the error while failing), /readyz when the mode has one, 404 otherwise', async () => {
    const registry = new Registry();
    new Counter({ name: 'ovndrift_test_total', help: 'test', registers: [registry] }).inc(3);
    let failing = false;
    server = await startHttpServer({ addr: '127.0.0.1:0', registry, health: () => (failing ? { ok: false, text: 'iptables-restore failed' } : { ok: true }) });
    const get = async (path: string) => {
      const r = await fetch(`${server!.url}${path}`);
      return { status: r.status, body: await r.text() };
    };
    expect(await get('/metrics')).toMatchObject({ status: 200, body: expect.stringMatching(/^ovndrift_test_total 3$/m) });
    expect(await get('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    failing = true;
    expect(await get('/healthz')).toEqual({ status: 503, body: 'iptables-restore failed\n' });
    expect((await get('/readyz')).status).toBe(404);
    await server.close();
    let ready = false;
    server = await startHttpServer({ addr: '127.0.0.1:0', registry, readiness: () => ({ ready, checks: { nb: ready ? 'ok' : 'connecting' } }) });
    expect(await get('/readyz')).toEqual({ status: 503, body: '{"ready":false,"checks":{"nb":"connecting"}}\n' });
    ready = true;
    expect((await get('/readyz')).status).toBe(200);
    expect((await get('/livez')).status).toBe(200);
    expect((await get('/other')).status).toBe(404);
  });
});
