// One contract for every sandbox backend (OvnSandbox for the machine's OVN, ContainerSandbox for
// the other releases): what the drift and acceptance suites rely on, checked on each release the
// run enables. The container cases also check that the tools run inside the container (that
// release's own ovn-nbctl), and that a missing image is named with the command that builds it.
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../operator/sandbox/sandbox.js';
import { RELEASES, describeRelease, itRunsRelease, requestedMatrix, type Sandbox } from '../support/releases.js';

const connects = (target: { path: string } | { port: number; host: string }) =>
  new Promise<boolean>((resolve) => {
    const s = createConnection(target as never);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

for (const release of RELEASES) describeRelease(release, () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await release.start();
  });
  afterAll(async () => sb?.stop());

  itRunsRelease(release, () => sb);

  it('ovn-nbctl and ovn-sbctl are the release\'s own', async () => {
    expect(await sb.nbctl('--version')).toMatch(new RegExp(`^ovn-nbctl ${release.version.replace('.', '\\.')}\\.`));
    expect(await sb.sbctl('--version')).toMatch(new RegExp(`^ovn-sbctl ${release.version.replace('.', '\\.')}\\.`));
  });

  it('NB and SB listen on loopback TCP and on unix sockets; northd turns an NB router into an SB datapath', async () => {
    expect(sb.nbRemote).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
    expect(sb.sbRemote).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
    for (const db of [sb.nb, sb.sb]) {
      expect(await connects({ path: db.members[0]!.socket })).toBe(true);
      expect(await connects({ host: '127.0.0.1', port: db.members[0]!.port })).toBe(true);
    }
    await sb.nbctl('--wait=sb', 'lr-add', 'contract-r1');
    expect(await sb.sbctl('--bare', '--columns=external_ids', 'list', 'Datapath_Binding')).toContain('name=contract-r1');
    expect(await sb.ovsdbClient('sb', 'list-dbs')).toContain('OVN_Southbound');
  });

  it('a failing tool call rejects with CommandFailed and the tool\'s own message', async () => {
    await expect(sb.nbctl('lr-del', 'no-such-router')).rejects.toMatchObject({ code: 'CommandFailed', message: expect.stringContaining('no-such-router') });
  });

  it('stopNorthd leaves the SB behind; startNorthd catches it up', async () => {
    await sb.stopNorthd();
    expect(sb.northdRunning).toBe(false);
    await expect(sb.nbctl('--wait=sb', '--timeout=1', 'lr-add', 'contract-r2')).rejects.toMatchObject({ code: 'CommandFailed' });
    expect(await sb.sbctl('--bare', '--columns=external_ids', 'list', 'Datapath_Binding')).not.toContain('name=contract-r2');
    await sb.startNorthd();
    expect(sb.northdRunning).toBe(true);
    expect(await sb.sbctl('--bare', '--columns=external_ids', 'list', 'Datapath_Binding')).toContain('name=contract-r2');
  });

  it('a database server restarts with extra remotes and keeps its data', async () => {
    const m = sb.nb.members[0]!;
    const extra = await freePort();
    m.extraArgs = [`--remote=ptcp:${extra}:127.0.0.1`];
    await m.stop();
    expect(m.running).toBe(false);
    expect(await connects({ host: '127.0.0.1', port: m.port })).toBe(false);
    await m.start();
    expect(await connects({ host: '127.0.0.1', port: extra })).toBe(true);
    expect(await sb.nbctl('lr-list')).toContain('contract-r1');
    expect(m.logTail()).not.toBe('');
  });

  it('a second sandbox of the release is a separate control plane', async () => {
    const other = await release.start({ northd: false });
    try {
      expect(other.nbRemote).not.toBe(sb.nbRemote);
      expect(await other.nbctl('lr-list')).toBe('');
      expect(await sb.nbctl('lr-list')).toContain('contract-r1');
    } finally {
      await other.stop();
    }
    expect(await sb.nbctl('lr-list')).toContain('contract-r1');
  });

  it('stop ends the servers and removes the temp dir', async () => {
    const port = sb.nb.members[0]!.port;
    await sb.stop();
    expect(existsSync(sb.dir)).toBe(false);
    expect(await connects({ host: '127.0.0.1', port })).toBe(false);
  });
});

describe('release selection', () => {
  it('OVN_DRIFT_MATRIX takes versions from test/images/releases, `all`, and names an unknown one', () => {
    expect(requestedMatrix('')).toEqual([]);
    expect(requestedMatrix('25.03')).toEqual(['25.03']);
    expect(requestedMatrix('all')).toEqual(expect.arrayContaining(['23.03', '25.03']));
    expect(() => requestedMatrix('25.03,9.99')).toThrow(/9\.99.*test\/images\/releases/);
  });

  it('the local release runs first and always', () => {
    expect(RELEASES[0]!.backend).toBe('local');
    expect(RELEASES[0]!.enabled).toBe(true);
  });
});

describe.skipIf(!RELEASES.some((r) => r.backend === 'container' && r.enabled))('container backend', () => {
  it('a release whose image is not built fails naming the image and the command that builds it', async () => {
    const { ContainerSandbox } = await import('../support/ovn-container.js');
    await expect(ContainerSandbox.start({ image: 'ovn-drift/ovn:0.0', version: '0.0' })).rejects.toMatchObject({
      code: 'StartFailed',
      message: expect.stringContaining('test/images/build.sh 0.0'),
    });
  });

  it('says so before starting anything (suites of such a release fail with that message)', async () => {
    const { containerUnavailable } = await import('../support/ovn-container.js');
    expect(await containerUnavailable('ovn-drift/ovn:0.0', '0.0')).toMatch(/image ovn-drift\/ovn:0\.0 is not in the local Docker engine; build it: test\/images\/build\.sh 0\.0/);
    const ok = RELEASES.find((r) => r.backend === 'container' && r.enabled)!;
    expect(await containerUnavailable(ok.image!, ok.version)).toBeUndefined();
  });
});
