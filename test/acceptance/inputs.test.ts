// Acceptance: `ovn-drift check` inputs and exit codes (DESIGN.md "CLI contract"): bad input -> 1
// and nothing changed, unreachable / wrong databases -> 2 within a bounded time naming the remote,
// -f with directories, several -f, multi-document YAML with other kinds, unix: remotes.
import { createServer, type Server, type Socket } from 'node:net';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../operator/sandbox/sandbox.js';
import { RELEASES, describeRelease, itRunsRelease, type Sandbox } from '../support/releases.js';
import {
  BIN, ManifestDir, bind, chassis, cli, describeRun, ensureBuilt, kinds, nbRoutes, parseReport, pcr, routerWithSwitch,
  vmPort, waitSb, yamlDocs, type Ran,
} from './support.js';

let sb: Sandbox;
let md: ManifestDir;
const db = () => ['--nb', sb.nbRemote, '--sb', sb.sbRemote];
const GOOD = pcr('good', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28'] });
const out = (r: Ran) => `${r.stdout}\n${r.stderr}`;

// One suite per OVN release (test/support/releases.ts); body not re-indented to keep the diff small.
for (const release of RELEASES) describeRelease(release, () => {
beforeAll(async () => {
  await ensureBuilt();
  md = await ManifestDir.create();
  sb = await release.start();
  await routerWithSwitch(sb, 'r1', 'ls1', ['10.9.2.1/24', 'fd00:2::1/64']);
  await vmPort(sb, 'ls1', 'vm1', ['10.9.2.146', 'fd00:2::92']);
  await chassis(sb, 'ch1', '192.168.0.11', 'host1');
  await bind(sb, 'vm1', 'ch1');
  await sb.nbctl('lr-route-add', 'r1', '10.9.52.144/28', '10.9.2.146');
  await waitSb(sb);
}, 180_000);

afterAll(async () => {
  await sb?.stop();
  await md?.remove();
});

itRunsRelease(release, () => sb);

describe('exit 1: bad input or usage, and nothing is changed', () => {
  const bad: [string, Record<string, unknown>, string][] = [
    ['bad CIDR', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.300/28'] }, '10.9.52.300/28'],
    ['bad prefix length', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.0/33'] }, '10.9.52.0/33'],
    ['bad nexthop', { router: 'r1', nexthop: '10.9.2.256', cidrs: ['10.9.52.0/24'] }, '10.9.2.256'],
    ['family mismatch (v6 prefix, v4 nexthop)', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['fd00:52::/64'] }, 'fd00:52::/64'],
    ['family mismatch (v4 prefix, v6 nexthop)', { router: 'r1', nexthop: 'fd00:2::92', cidrs: ['10.9.52.0/24'] }, '10.9.52.0/24'],
    ['missing router', { nexthop: '10.9.2.146', cidrs: ['10.9.52.0/24'] }, 'router'],
    ['missing nexthop', { router: 'r1', cidrs: ['10.9.52.0/24'] }, 'nexthop'],
    ['missing cidrs', { router: 'r1', nexthop: '10.9.2.146' }, 'cidrs'],
    ['empty cidrs', { router: 'r1', nexthop: '10.9.2.146', cidrs: [] }, 'cidrs'],
    ['unknown policy', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.52.0/24'], policy: 'via-magic' }, 'via-magic'],
  ];
  for (const [what, spec, named] of bad) {
    it(`${what} -> 1, message names ${named}`, async () => {
      const f = await md.write(`bad-${what.replace(/\W+/g, '-')}.yaml`, pcr('bad', spec));
      const r = await cli(['check', ...db(), '-f', f, '--output', 'json']);
      expect(r.code, describeRun(r)).toBe(1);
      expect(out(r)).toContain(named);
    });
  }

  it('malformed YAML -> 1 naming the file', async () => {
    const f = await md.write('malformed.yaml', 'apiVersion: ovndrift.io/v1alpha1\nkind: PodCIDRRoute\nspec: {router: r1, cidrs: [10.9.52.0/24\n');
    const r = await cli(['check', ...db(), '-f', f]);
    expect(r.code, describeRun(r)).toBe(1);
    expect(out(r)).toContain('malformed.yaml');
  });

  it('nonexistent file -> 1 naming the path', async () => {
    const p = join(md.dir, 'does-not-exist.yaml');
    const r = await cli(['check', ...db(), '-f', p]);
    expect(r.code, describeRun(r)).toBe(1);
    expect(out(r)).toContain('does-not-exist.yaml');
  });

  it('unknown flag -> 1', async () => {
    const f = await md.write('good.yaml', GOOD);
    const r = await cli(['check', ...db(), '-f', f, '--frobnicate']);
    expect(r.code, describeRun(r)).toBe(1);
    expect(out(r)).toContain('frobnicate');
  });

  it('unknown --output format -> 1', async () => {
    const f = await md.write('good.yaml', GOOD);
    const r = await cli(['check', ...db(), '-f', f, '--output', 'xml']);
    expect(r.code, describeRun(r)).toBe(1);
  });

  it('missing --nb -> 1', async () => {
    const f = await md.write('good.yaml', GOOD);
    const r = await cli(['check', '--sb', sb.sbRemote, '-f', f]);
    expect(r.code, describeRun(r)).toBe(1);
  });

  it('missing -f -> 1', async () => {
    const r = await cli(['check', ...db()]);
    expect(r.code, describeRun(r)).toBe(1);
  });

  it('malformed remote syntax -> 1', async () => {
    const f = await md.write('good.yaml', GOOD);
    const r = await cli(['check', '--nb', 'http://127.0.0.1:1', '--sb', sb.sbRemote, '-f', f]);
    expect(r.code, describeRun(r)).toBe(1);
    expect(out(r)).toContain('http://127.0.0.1:1');
  });

  it('unknown command -> 1', async () => {
    const r = await cli(['chekc']);
    expect(r.code, describeRun(r)).toBe(1);
  });

  it('--adopt without --repair -> 1', async () => {
    const f = await md.write('good.yaml', GOOD);
    const r = await cli(['check', ...db(), '-f', f, '--adopt']);
    expect(r.code, describeRun(r)).toBe(1);
  });

  it('--repair with one bad manifest among good ones changes nothing in the NB', async () => {
    const before = await nbRoutes(sb, 'r1');
    const f = await md.write(
      'repair-bad.yaml',
      pcr('would-create', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.53.0/24'] }),
      pcr('broken', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.54.0/99'] }),
    );
    const r = await cli(['check', ...db(), '-f', f, '--repair']);
    expect(r.code, describeRun(r)).toBe(1);
    expect(await nbRoutes(sb, 'r1')).toEqual(before);
  });
});

describe('-f: files, directories, several -f, multi-document YAML', () => {
  const other = [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { router: 'r1', cidrs: 'bogus' } },
    {
      apiVersion: 'ovndrift.io/v1alpha1', kind: 'TunnelNoTrackPolicy', metadata: { name: 'geneve' },
      spec: { ports: [{ name: 'geneve', protocol: 'UDP', port: 6081 }] },
    },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'ovn-drift' }, spec: { replicas: 2 } },
  ];

  it('a directory with mixed kinds: only PodCIDRRoute documents are read (.yaml and .yml)', async () => {
    const sub = join(md.dir, 'mixed');
    await md.write('mixed/a.yaml', pcr('from-a', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.60.0/24'] }));
    await md.write('mixed/b.yml', other[0], pcr('from-b', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.61.0/24'] }), other[1]);
    await md.write('mixed/c.yaml', other[2]);
    const r = await cli(['check', ...db(), '-f', sub, '--output', 'json']);
    expect(r.code, describeRun(r)).toBe(3);
    const rep = parseReport(r);
    expect(new Set(rep.findings.map((f) => f.route))).toEqual(new Set(['from-a', 'from-b']));
    expect(kinds(rep).every((k) => k === 'RouteMissing')).toBe(true);
  });

  it('a directory of only in-sync routes and other kinds -> 0', async () => {
    const sub = join(md.dir, 'clean');
    await md.write('clean/routes.yaml', ...other, GOOD);
    await md.write('clean/tunnel.yaml', other[1]);
    const r = await cli(['check', ...db(), '-f', sub, '--output', 'json']);
    expect(r.code, describeRun(r)).toBe(0);
    expect(parseReport(r).findings).toEqual([]);
  });

  it('manifests with other kinds only -> 1 (a wrong path is not "in sync")', async () => {
    const f = await md.write('only-others.yaml', ...other);
    const r = await cli(['check', ...db(), '-f', f, '--output', 'json']);
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toContain('no PodCIDRRoute found');
  });

  it('a reader that closes the pipe early does not turn the exit status into an error', async () => {
    // 2,000 missing routes: far more JSON than a pipe buffers, so the writes hit EPIPE
    const cidrs = Array.from({ length: 2000 }, (_, i) => `10.50.${i >> 8}.${i & 255}/32`);
    const f = await md.write('epipe.yaml', pcr('many', { router: 'r1', nexthop: '10.9.2.146', cidrs }));
    const sh = `node ${JSON.stringify(BIN)} check ${db().join(' ')} -f ${JSON.stringify(f)} -o json | head -c 1 >/dev/null; echo "status=\${PIPESTATUS[0]}"`;
    const { stdout, stderr } = await promisify(execFile)('bash', ['-c', sh]);
    expect(stdout.trim()).toBe('status=3');
    expect(stderr).not.toMatch(/EPIPE/);
  });

  it('a directory that also holds a non-manifest file (README.md) still checks its manifests', async () => {
    const sub = join(md.dir, 'with-readme');
    await md.write('with-readme/routes.yaml', pcr('r', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.62.0/24'] }));
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, 'README.md'), '# routes for r1\n\nApply with `kubectl apply -f .` : done.\n');
    const r = await cli(['check', ...db(), '-f', sub, '--output', 'json']);
    expect(r.code, describeRun(r)).toBe(3);
    expect(parseReport(r).findings.map((f) => f.route)).toEqual(['r']);
  });

  it('several -f (file and directory) are all read', async () => {
    const f1 = await md.write('multi/one.yaml', pcr('one', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.63.0/24'] }));
    await md.write('multi-dir/two.yaml', pcr('two', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.64.0/24'] }));
    const r = await cli(['check', ...db(), '-f', f1, '-f', join(md.dir, 'multi-dir'), '--output', 'json']);
    expect(r.code, describeRun(r)).toBe(3);
    expect(new Set(parseReport(r).findings.map((f) => f.route))).toEqual(new Set(['one', 'two']));
  });

  it('a `kind: List` (kubectl get pcr -o yaml) is read item by item', async () => {
    const f = await md.write('list.yaml', {
      apiVersion: 'v1', kind: 'List',
      items: [pcr('listed', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.67.0/24'] }), GOOD],
    });
    const r = await cli(['check', ...db(), '-f', f, '--output', 'json']);
    expect(r.code, describeRun(r)).toBe(3);
    expect(parseReport(r).findings.map((x) => x.route)).toEqual(['listed']);
  });

  it('two PodCIDRRoutes claiming one prefix with different nexthops -> 1, --repair writes nothing', async () => {
    const before = await nbRoutes(sb, 'r1');
    const f = await md.write(
      'dup.yaml',
      pcr('a', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.68.0/24'] }),
      pcr('b', { router: 'r1', nexthop: 'fd00:2::92', cidrs: ['fd00:68::/64'] }),
      pcr('c', { router: 'r1', nexthop: '10.9.2.147', cidrs: ['10.9.68.0/24'] }),
    );
    const r = await cli(['check', ...db(), '-f', f, '--repair']);
    expect(r.code, describeRun(r)).toBe(1);
    expect(out(r)).toContain('10.9.68.0/24');
    expect(await nbRoutes(sb, 'r1')).toEqual(before);
  });

  it('multi-document YAML with empty and comment-only documents and other kinds', async () => {
    const text = yamlDocs(
      '# leading comment only\n',
      other[0],
      '',
      GOOD,
      other[1],
      pcr('second', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.65.0/24'] }),
    );
    const f = await md.write('multidoc.yaml', text);
    const r = await cli(['check', ...db(), '-f', f, '--output', 'json']);
    expect(r.code, describeRun(r)).toBe(3);
    const rep = parseReport(r);
    expect(rep.findings.map((x) => x.route)).toEqual(['second']);
    expect(rep.findings[0]!.kind).toBe('RouteMissing');
  });
});

describe('exit 2: unreachable or wrong databases, bounded, naming the remote', () => {
  let blackhole: Server;
  let garbage: Server;
  const sockets: Socket[] = [];
  let blackholePort = 0;
  let garbagePort = 0;

  beforeAll(async () => {
    blackhole = createServer((s) => { sockets.push(s); s.on('error', () => {}); }); // accepts, never answers
    garbage = createServer((s) => { sockets.push(s); s.on('error', () => {}); s.end('HTTP/1.1 400 Bad Request\r\n\r\n'); });
    // bind port 0 and read the port back: a port picked first could be taken by a parallel suite
    const listen = (srv: Server) => new Promise<number>((ok, fail) => {
      srv.once('error', fail);
      srv.listen(0, '127.0.0.1', () => ok((srv.address() as { port: number }).port));
    });
    blackholePort = await listen(blackhole);
    garbagePort = await listen(garbage);
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => blackhole?.close(r));
    await new Promise((r) => garbage?.close(r));
  });

  it('NB on a closed port -> 2, returns on its own, names the NB remote', async () => {
    const f = await md.write('good.yaml', GOOD);
    const closed = `tcp:127.0.0.1:${await freePort()}`;
    const r = await cli(['check', '--nb', closed, '--sb', sb.sbRemote, '-f', f], { killAfterMs: 60_000 });
    expect(r.killed, 'still running after 60 s').toBe(false);
    expect(r.code, describeRun(r)).toBe(2);
    expect(out(r)).toContain(closed);
  });

  it('SB on a closed port -> 2 naming the SB remote', async () => {
    const f = await md.write('good.yaml', GOOD);
    const closed = `tcp:127.0.0.1:${await freePort()}`;
    const r = await cli(['check', '--nb', sb.nbRemote, '--sb', closed, '-f', f, '--output', 'json'], { killAfterMs: 60_000 });
    expect(r.killed).toBe(false);
    expect(r.code, describeRun(r)).toBe(2);
    expect(out(r)).toContain(closed);
  });

  it('a cluster list of closed ports -> 2', async () => {
    const f = await md.write('good.yaml', GOOD);
    const list = `tcp:127.0.0.1:${await freePort()},tcp:127.0.0.1:${await freePort()}`;
    const r = await cli(['check', '--nb', list, '--sb', sb.sbRemote, '-f', f], { killAfterMs: 60_000 });
    expect(r.killed).toBe(false);
    expect(r.code, describeRun(r)).toBe(2);
  });

  it('unix: socket that does not exist -> 2 naming it', async () => {
    const f = await md.write('good.yaml', GOOD);
    const gone = `unix:${join(md.dir, 'no-such.sock')}`;
    const r = await cli(['check', '--nb', gone, '--sb', sb.sbRemote, '-f', f], { killAfterMs: 60_000 });
    expect(r.killed).toBe(false);
    expect(r.code, describeRun(r)).toBe(2);
    expect(out(r)).toContain('no-such.sock');
  });

  it('a peer that accepts and never answers -> 2 within --timeout (bounded), naming the remote', async () => {
    const f = await md.write('good.yaml', GOOD);
    const remote = `tcp:127.0.0.1:${blackholePort}`;
    const r = await cli(['check', '--nb', remote, '--sb', sb.sbRemote, '-f', f, '--timeout', '3'], { killAfterMs: 60_000 });
    expect(r.killed, 'hung on a silent peer').toBe(false);
    expect(r.code, describeRun(r)).toBe(2);
    expect(out(r)).toContain(remote);
  });

  it('a peer that is not OVSDB (answers HTTP and closes) -> 2', async () => {
    const f = await md.write('good.yaml', GOOD);
    const remote = `tcp:127.0.0.1:${garbagePort}`;
    const r = await cli(['check', '--nb', remote, '--sb', sb.sbRemote, '-f', f, '--timeout', '3'], { killAfterMs: 60_000 });
    expect(r.killed).toBe(false);
    expect(r.code, describeRun(r)).toBe(2);
    expect(out(r)).toContain(remote);
  });

  it('NB and SB swapped (server lacks OVN_Northbound) -> 2 naming the missing database', async () => {
    const f = await md.write('good.yaml', GOOD);
    const r = await cli(['check', '--nb', sb.sbRemote, '--sb', sb.nbRemote, '-f', f], { killAfterMs: 60_000 });
    expect(r.killed).toBe(false);
    expect(r.code, describeRun(r)).toBe(2);
    expect(out(r)).toMatch(/OVN_Northbound|OVN_Southbound/);
  });
});

describe('remotes', () => {
  it('unix:PATH remotes work', async () => {
    const f = await md.write('good.yaml', GOOD);
    const r = await cli(['check', '--nb', sb.nb.members[0]!.unixRemote, '--sb', sb.sb.members[0]!.unixRemote, '-f', f, '--output', 'json']);
    expect(r.code, describeRun(r)).toBe(0);
    expect(parseReport(r).findings).toEqual([]);
  });

  it('unix:PATH remotes see drift too', async () => {
    const f = await md.write('drift.yaml', pcr('d', { router: 'r1', nexthop: '10.9.2.146', cidrs: ['10.9.66.0/24'] }));
    const r = await cli(['check', '--nb', sb.nb.members[0]!.unixRemote, '--sb', sb.sb.members[0]!.unixRemote, '-f', f, '--output', 'json']);
    expect(r.code, describeRun(r)).toBe(3);
    expect(kinds(parseReport(r))).toEqual(['RouteMissing']);
  });
});

describe('ssl: remotes', () => {
  let sslPort = 0;
  const pki = () => join(md.dir, 'pki');
  const p = (n: string) => join(pki(), n);
  const openssl = (...a: string[]) => promisify(execFile)('openssl', a, { cwd: pki() });
  async function issue(ca: string, name: string): Promise<void> {
    await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2');
  }

  beforeAll(async () => {
    await mkdir(pki(), { recursive: true });
    for (const ca of ['ca', 'otherca']) {
      await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=${ca}`);
    }
    await issue('ca', 'server');
    await issue('ca', 'client');
    sslPort = await freePort();
    const m = sb.nb.members[0]!;
    m.extraArgs = [`--remote=pssl:${sslPort}:127.0.0.1`, `--private-key=${p('server.key')}`, `--certificate=${p('server.crt')}`, `--ca-cert=${p('ca.crt')}`];
    await m.stop();
    await m.start();
    await waitSb(sb);
  }, 120_000);

  it('ssl:IP:PORT with key, certificate and CA: in sync -> 0', async () => {
    const f = await md.write('good.yaml', GOOD);
    const r = await cli(['check', '--nb', `ssl:127.0.0.1:${sslPort}`, '--sb', sb.sbRemote, '-f', f, '--output', 'json',
      '--private-key', p('client.key'), '--certificate', p('client.crt'), '--ca-cert', p('ca.crt')], { killAfterMs: 60_000 });
    expect(r.code, describeRun(r)).toBe(0);
    expect(parseReport(r).findings).toEqual([]);
  });

  it('server certificate not signed by the given CA -> 2, bounded, naming the remote', async () => {
    const f = await md.write('good.yaml', GOOD);
    const remote = `ssl:127.0.0.1:${sslPort}`;
    const r = await cli(['check', '--nb', remote, '--sb', sb.sbRemote, '-f', f, '--timeout', '5',
      '--private-key', p('client.key'), '--certificate', p('client.crt'), '--ca-cert', p('otherca.crt')], { killAfterMs: 60_000 });
    expect(r.killed).toBe(false);
    expect(r.code, describeRun(r)).toBe(2);
    expect(out(r)).toContain(remote);
  });

  it('a private key file that does not exist: clear message naming it, no hang', async () => {
    const f = await md.write('good.yaml', GOOD);
    const r = await cli(['check', '--nb', `ssl:127.0.0.1:${sslPort}`, '--sb', sb.sbRemote, '-f', f, '--timeout', '5',
      '--private-key', p('nope.key'), '--certificate', p('client.crt'), '--ca-cert', p('ca.crt')], { killAfterMs: 60_000 });
    expect(r.killed).toBe(false);
    expect([1, 2]).toContain(r.code);
    expect(out(r)).toContain('nope.key');
  });
});

describe.skipIf(release.backend !== 'local')('demo', () => { // the CLI's own demo runs the local OVN only
  it('shows the seed drift (NB 10.9.2.146 vs SB 10.215.91.233, 10.96.133.20 instead of 10.184.163.36), heals it, exits 0', async () => {
    const r = await cli(['demo'], { killAfterMs: 120_000 });
    expect(r.code, describeRun(r)).toBe(0);
    for (const s of ['10.9.52.144/28', '10.9.2.146', '10.215.91.233', '10.96.133.20', '10.184.163.36', 'FlowStale']) expect(r.stdout).toContain(s);
  });
});
});
