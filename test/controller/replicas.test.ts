// The operator's replica lifecycle (controller/replicas.ts) against real NB/SB ovsdb-servers:
// ovndrift_ovsdb_reconnects_total counts every attempt to get a lost connection back, the failed
// ones too (a reconnect loop that never succeeds used to read 0), and the replica comes back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { Replicas } from '../../operator/controller/replicas.js';
import { OperatorMetrics } from '../../operator/controller/metrics.js';
import { TcpProxy } from '../ovsdb/servers.js';

async function until(cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function reconnects(metrics: OperatorMetrics, db: string): Promise<number> {
  const m = await metrics.ovsdbReconnects.get();
  return m.values.find((v) => v.labels.db === db)?.value ?? 0;
}

describe('Replicas: reconnect attempts are counted', () => {
  let sandbox: OvnSandbox;
  let proxy: TcpProxy;

  beforeAll(async () => {
    sandbox = await OvnSandbox.start({ northd: false });
    proxy = await TcpProxy.start(sandbox.sb.members[0]!.port);
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await sandbox?.stop();
  });

  it('counts failed attempts while the SB is unreachable, and reconnects when it is back', async () => {
    const metrics = new OperatorMetrics(false);
    let changes = 0;
    const replicas = new Replicas(
      { nbRemote: sandbox.nbRemote, sbRemote: proxy.remote, backoff: { minMs: 20, maxMs: 50 }, logger: pino({ level: 'silent' }), metrics, probeIntervalMs: 0 },
      { onChange: () => changes++, onStateChange: () => undefined },
    );
    replicas.start();
    try {
      await until(() => replicas.sb?.status().connected === true && replicas.nb?.status().connected === true);
      expect(await reconnects(metrics, 'SB')).toBe(0);
      await proxy.cut();
      // connection refused on every attempt: nothing succeeds, the counter still rises
      await until(async () => (await reconnects(metrics, 'SB')) >= 3);
      expect(replicas.sb!.status().connected).toBe(false);
      expect(replicas.readiness()['ovsdb:SB']).toBe('disconnected');
      await proxy.restore();
      await until(() => replicas.sb!.status().connected);
      expect(replicas.readiness()['ovsdb:SB']).toBe('ok');
      expect(await reconnects(metrics, 'NB')).toBe(0);
    } finally {
      await replicas.close();
    }
  }, 60_000);
});
