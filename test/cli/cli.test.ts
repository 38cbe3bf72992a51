// The CLI contract through the real built program (`node bin/ovn-drift.js ...`) against a real
// OVN control plane: exit codes, the JSON shape of DESIGN.md, text tables, trace, repair, demo.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { SEED, buildSeedDrift, seedManifest } from '../../operator/ovn/seed-topology.js';

const execFileP = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

interface Ran { code: number; stdout: string; stderr: string; ms: number }
async function cli(...args: string[]): Promise<Ran> {
  const start = Date.now();
  try {
    const { stdout, stderr } = await execFileP('node', [join(ROOT, 'bin/ovn-drift.js'), ...args], { cwd: ROOT, timeout: 60_000, env: { ...process.env, OVN_NB_DB: '', OVN_SB_DB: '' } });
    return { code: 0, stdout, stderr, ms: Date.now() - start };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr, ms: Date.now() - start };
  }
}

let sandbox: OvnSandbox;
let dir: string;
let manifest: string;
const db = () => ['--nb', sandbox.nbRemote, '--sb', sandbox.sbRemote];

beforeAll(async () => {
  // The CLI runs from dist/: `npm test` builds it first (pretest); build here only when it is missing.
  if (!existsSync(join(ROOT, 'dist/operator/cli.js'))) await execFileP('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, timeout: 170_000 });
  dir = await mkdtemp(join(tmpdir(), 'ovn-drift-cli-'));
  manifest = join(dir, 'seed.yaml');
  await writeFile(manifest, seedManifest('seed'));
  sandbox = await OvnSandbox.start();
  await buildSeedDrift(sandbox);
}, 180_000);

afterAll(async () => {
  await sandbox?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('ovn-drift check', () => {
  it('prints the DESIGN.md JSON and exits 3 for the seed drift', async () => {
    const r = await cli('check', ...db(), '-f', manifest, '--output', 'json');
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(['summary', 'findings', 'routes']);
    expect(out.summary).toMatchObject({ routes: 5, inSync: 4, outOfSync: 1 });
    expect(out.findings.map((f: { kind: string }) => f.kind)).toEqual(['FlowStale', 'NorthdLagging']);
    const f = out.findings[0];
    expect(Object.keys(f)).toEqual(['kind', 'route', 'router', 'prefix', 'expected', 'actual', 'message']);
    expect(f).toMatchObject({ route: 'seed', router: 'dev-jr', prefix: '10.9.52.144/28' });
    expect(f.expected).toEqual({ nexthop: '10.9.2.146', hypervisor: { chassis: SEED.vmChassis, hostname: SEED.vmHostname, encapType: 'stt', encapIp: '10.184.163.36' } });
    expect(f.actual).toEqual({ nexthop: '10.215.91.233', hypervisor: { chassis: SEED.otherChassis, hostname: SEED.otherHostname, encapType: 'stt', encapIp: '10.96.133.20' } });
  });

  it('prints a readable table per route', async () => {
    const r = await cli('check', ...db(), '-f', dir);
    expect(r.code).toBe(3);
    const row = r.stdout.split('\n').find((l) => l.startsWith('dev-jr  10.9.52.144/28'))!;
    expect(row).toMatch(/10\.9\.2\.146 @ stt 10\.184\.163\.36 .* -> +10\.215\.91\.233 @ stt 10\.96\.133\.20 .*FlowStale, NorthdLagging/);
    expect(r.stdout.split('\n').filter((l) => /✓ in sync$/.test(l))).toHaveLength(4);
  });

  it('rejects invalid manifests with exit 1 before connecting, naming file, resource and field', async () => {
    const bad = join(dir, 'bad', 'routes.yaml');
    await execFileP('mkdir', ['-p', join(dir, 'bad')]);
    await writeFile(bad, 'apiVersion: ovndrift.io/v1alpha1\nkind: PodCIDRRoute\nmetadata: {name: broken}\nspec: {router: dev-jr, nexthop: 10.9.2.146, cidrs: ["10.9.52.144/33"]}\n');
    // The remotes do not exist: exit 1 (not 2) proves nothing tried to connect.
    const r = await cli('check', '--nb', 'tcp:127.0.0.1:1', '--sb', 'tcp:127.0.0.1:1', '-f', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad} (document 1): PodCIDRRoute broken: spec.cidrs[0]: "10.9.52.144/33" is not a valid CIDR prefix`);
    await rm(join(dir, 'bad'), { recursive: true });
  });

  it('exits 2 naming the remote when a database is unreachable, within the bound', async () => {
    const r = await cli('check', '--nb', 'tcp:127.0.0.1:1', '--sb', sandbox.sbRemote, '-f', manifest, '--timeout', '2');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('tcp:127.0.0.1:1');
    expect(r.stderr).toMatch(/NB/);
    const u = await cli('check', '--nb', sandbox.nbRemote, '--sb', 'unix:/nonexistent/sb.sock', '-f', manifest, '--timeout', '1');
    expect(u.code).toBe(2);
    expect(u.stderr).toContain('unix:/nonexistent/sb.sock');
    // A server that accepts the connection and never answers: still exit 2, never a hang.
    const { createServer } = await import('node:net');
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as { port: number }).port;
    try {
      const h = await cli('check', '--nb', sandbox.nbRemote, '--sb', `tcp:127.0.0.1:${port}`, '-f', manifest, '--timeout', '1');
      expect(h.code).toBe(2);
      expect(h.stderr).toContain(`SB database at tcp:127.0.0.1:${port}`);
    } finally {
      silent.close();
    }
  });

  it('exits 1 on usage errors', async () => {
    expect((await cli('check', '-f', manifest)).code).toBe(1);
    expect((await cli('check', ...db())).code).toBe(1);
    expect((await cli('check', ...db(), '-f', manifest, '--output', 'yaml')).code).toBe(1);
    expect((await cli('check', ...db(), '-f', manifest, '--bogus')).code).toBe(1);
    const bad = await cli('check', '--nb', 'http://127.0.0.1:1', '--sb', sandbox.sbRemote, '-f', manifest);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--nb http://127.0.0.1:1');
  });
});

describe('ovn-drift trace', () => {
  it('shows the NB route, the SB flow and both hypervisors, marking the differences (IPv4)', async () => {
    const r = await cli('trace', ...db(), '--router', 'dev-jr', '10.9.52.150');
    expect(r.code).toBe(0); // an investigation view, not a gate: differences are marked, not an error
    expect(r.stdout).toContain('NB  route     10.9.52.144/28 via 10.9.2.146');
    expect(r.stdout).toMatch(/reaches +chassis .*stt 10\.184\.163\.36/);
    expect(r.stdout).toMatch(/reaches +chassis .*stt 10\.96\.133\.20/);
    expect(r.stdout).toContain('✗ nexthop: NB 10.9.2.146 vs SB 10.215.91.233');
    const j = JSON.parse((await cli('trace', ...db(), '--router', 'dev-jr', '10.9.143.1', '-o', 'json')).stdout);
    expect(j.differences).toEqual([]);
    expect(j.sb.hops[0].endpoint.hypervisor.encapIp).toBe('10.184.163.36');
  });

  it('handles IPv6, an IP no route matches, and bad input', async () => {
    await sandbox.nbctl('--no-wait', 'lrp-add', 'dev-jr', 'lrp-v6', '0a:00:00:00:66:01', 'fd66::1/64');
    const v6 = await cli('trace', ...db(), '--router', 'dev-jr', 'fd66::42');
    expect(v6.stdout).toContain('NB  route     fd66::/64 via fd66::42 (connected network of router port lrp-v6)');
    expect(v6.stdout).toContain('SB  flow      none matches'); // northd is down in this topology
    expect(v6.code).toBe(0);
    const none = await cli('trace', ...db(), '--router', 'dev-jr', '192.168.77.1');
    expect(none.stdout).toContain('no NB route and no SB flow on dev-jr matches 192.168.77.1');
    expect((await cli('trace', ...db(), '--router', 'dev-jr', '10.9.999.1')).code).toBe(1);
    expect((await cli('trace', ...db(), '--router', 'nope', '10.9.52.150')).code).toBe(1);
  });
});

describe('ovn-drift check --repair and demo', () => {
  it('repairs a deleted route (owned, stamped), waits for the SB and exits 0', async () => {
    await sandbox.startNorthd();
    await sandbox.nbctl('--wait=sb', 'lr-route-del', 'dev-jr', '10.9.207.64/28');
    const r = await cli('check', ...db(), '-f', manifest, '--repair', '-o', 'json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.findings).toEqual([]);
    expect(out.summary.repair).toMatchObject({ applied: true, sbSynced: true, touched: [{ action: 'insert', prefix: '10.9.207.64/28' }] });
    const row = await sandbox.nbctl('--bare', '--columns=nexthop,external_ids', 'find', 'Logical_Router_Static_Route', 'ip_prefix="10.9.207.64/28"');
    expect(row).toContain('10.9.2.146');
    expect(row).toContain('ovndrift.io/owner=seed');
  });

  it('demo plays the seed story and exits 0', async () => {
    const r = await cli('demo');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/10\.9\.52\.144\/28 .*10\.9\.2\.146 @ stt 10\.184\.163\.36 .*10\.215\.91\.233 @ stt 10\.96\.133\.20 .*FlowStale/);
    expect(r.stdout).toContain('demo complete');
  });
});
