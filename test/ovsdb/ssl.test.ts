// SSL remotes against a real ovsdb-server with a pssl listener, certificates made with openssl at
// test time: the right CA connects, a wrong CA or a bad file is refused with a clear TlsError.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OvnSandbox, freePort } from '../../operator/sandbox/sandbox.js';
import { Database, OvsdbClient, OvsdbError } from '../../operator/ovsdb/index.js';

const execFileP = promisify(execFile);
const openssl = (...args: string[]) => execFileP('openssl', args);

async function makeCa(dir: string, name: string): Promise<{ key: string; cert: string }> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`);
  return { key, cert };
}

async function makeLeaf(dir: string, name: string, ca: { key: string; cert: string }): Promise<{ key: string; cert: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  await openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`);
  await openssl('x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '2');
  return { key, cert };
}

describe('ssl remotes', () => {
  let sandbox: OvnSandbox;
  let dir: string;
  let remote: string;
  let ca: { key: string; cert: string };
  let wrongCa: { key: string; cert: string };
  let client: { key: string; cert: string };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ovn-drift-ssl-'));
    ca = await makeCa(dir, 'ca');
    wrongCa = await makeCa(dir, 'other-ca');
    const server = await makeLeaf(dir, 'server', ca);
    client = await makeLeaf(dir, 'client', ca);
    sandbox = await OvnSandbox.start({ northd: false });
    const port = await freePort();
    const member = sandbox.nb.members[0]!;
    member.extraArgs = [`--private-key=${server.key}`, `--certificate=${server.cert}`, `--ca-cert=${ca.cert}`, `--remote=pssl:${port}:127.0.0.1`];
    await member.stop();
    await member.start();
    remote = `ssl:127.0.0.1:${port}`;
    await sandbox.nbctl('--no-wait', 'lr-add', 'over-ssl');
  });
  afterAll(async () => {
    await sandbox?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const refusal = async (p: Promise<unknown>): Promise<OvsdbError> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OvsdbError);
    return err as OvsdbError;
  };

  it('connects with the right CA, and a Database syncs over ssl', async () => {
    const c = await OvsdbClient.connect(remote, { tls: { key: client.key, cert: client.cert, ca: ca.cert } });
    expect(await c.listDbs()).toContain('OVN_Northbound');
    await c.close();
    const db = await Database.open({ remote, db: 'OVN_Northbound', tables: [{ table: 'Logical_Router', columns: ['name'] }], tls: { key: client.key, cert: client.cert, ca: ca.cert } });
    expect([...db.rows('Logical_Router').values()].map((r) => r.name)).toEqual(['over-ssl']);
    await db.close();
  });

  it('refuses a server whose certificate is not signed by the given CA', async () => {
    const err = await refusal(OvsdbClient.connect(remote, { tls: { key: client.key, cert: client.cert, ca: wrongCa.cert } }));
    expect(err.code).toBe('TlsError');
    expect(err.message).toContain(remote);
    expect(err.message).toContain(wrongCa.cert);
    expect(err.message).toMatch(/not signed by the CA/);
    const viaDb = await refusal(Database.open({ remote, db: 'OVN_Northbound', tables: [], tls: { key: client.key, cert: client.cert, ca: wrongCa.cert }, connectTimeoutMs: 2000 }));
    expect(viaDb.code).toBe('TlsError');
  });

  it('is refused by the server when our certificate is signed by another CA', async () => {
    const stranger = await makeLeaf(dir, 'stranger', wrongCa);
    const err = await refusal(
      (async () => {
        const c = await OvsdbClient.connect(remote, { tls: { key: stranger.key, cert: stranger.cert, ca: ca.cert } });
        // TLS 1.3: the server's verdict on our certificate can arrive after the handshake
        try {
          await c.listDbs();
        } finally {
          await c.close();
        }
      })(),
    );
    // the pending request fails as Disconnected, caused by the TLS refusal that names our certificate
    const tls = err.code === 'TlsError' ? err : (err.cause as OvsdbError);
    expect(tls.code).toBe('TlsError');
    expect(tls.message).toContain(stranger.cert);
    const viaDb = await refusal(Database.open({ remote, db: 'OVN_Northbound', tables: [], tls: { key: stranger.key, cert: stranger.cert, ca: ca.cert }, connectTimeoutMs: 2000 }));
    expect(viaDb.code).toBe('TlsError');
    expect(viaDb.message).toMatch(/refused our certificate/);
  });

  it('names a missing, unreadable or non-PEM file and the missing CA', async () => {
    const missing = join(dir, 'nope.key');
    const e1 = await refusal(OvsdbClient.connect(remote, { tls: { key: missing, cert: client.cert, ca: ca.cert } }));
    expect(e1.code).toBe('TlsError');
    expect(e1.message).toContain(missing);
    expect(e1.message).toContain('ENOENT');
    const junk = join(dir, 'junk.pem');
    await writeFile(junk, 'not a certificate');
    const e2 = await refusal(OvsdbClient.connect(remote, { tls: { key: client.key, cert: client.cert, ca: junk } }));
    expect(e2.message).toContain(junk);
    const e3 = await refusal(OvsdbClient.connect(remote, {}));
    expect(e3.code).toBe('TlsError');
    expect(e3.message).toContain('CA certificate');
    const e4 = await refusal(OvsdbClient.connect(remote, { tls: { key: wrongCa.key, cert: client.cert, ca: ca.cert } }));
    expect(e4.code).toBe('TlsError');
    expect(e4.message).toContain(wrongCa.key);
  });
});
