// The OVN releases the drift scenario and CLI acceptance suites run against, and one factory that
// starts a sandbox of any of them. The machine's own OVN (Debian bookworm: 23.03) is the `local`
// release, run by OvnSandbox (operator/sandbox); every other release in test/images/releases is a
// `container` release, run by ContainerSandbox (./ovn-container.ts) from the image that
// test/images/build.sh builds. Container releases run only when OVN_DRIFT_MATRIX names them
// (`25.03`, `23.03,25.03` or `all`) — `.ci/run` sets it and starts Docker; without it they are
// registered as skipped suites and a line on stderr says the matrix was not run. When it names a
// release, that release's tests fail (never skip) if its container cannot start.
//
// Suites loop over RELEASES: `for (const release of RELEASES) describeRelease(release, () => {...})`,
// start their sandbox with `release.start()` and include `itRunsRelease(release, () => sb)`.
// Test-only (imports testcontainers through ./ovn-container.ts).
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvnSandbox, SandboxError, type DbName, type SandboxOptions } from '../../operator/sandbox/sandbox.js';
import type { ContainerSandbox, OvnContainer } from './ovn-container.js';

/** One ovsdb-server of a sandbox: what the suites use of OvsdbServerProcess. */
export interface SandboxServer {
  readonly name: string;
  readonly port: number;
  readonly socket: string;
  readonly tcpRemote: string;
  readonly unixRemote: string;
  readonly running: boolean;
  extraArgs: string[];
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  logTail(): string;
}

/** One database of a sandbox: what the suites use of SandboxDatabase. */
export interface SandboxDb {
  readonly kind: DbName;
  readonly members: SandboxServer[];
  readonly remote: string;
  readonly unixRemote: string;
  readonly clustered: boolean;
}

/** What the suites use of a running OVN control plane: OvnSandbox and ContainerSandbox both are one. */
export interface Sandbox {
  readonly dir: string;
  readonly nb: SandboxDb;
  readonly sb: SandboxDb;
  readonly nbRemote: string;
  readonly sbRemote: string;
  readonly northdRunning: boolean;
  nbctl(...args: string[]): Promise<string>;
  sbctl(...args: string[]): Promise<string>;
  ovsdbClient(db: DbName, ...args: string[]): Promise<string>;
  startNorthd(): Promise<void>;
  stopNorthd(): Promise<void>;
  stop(): Promise<void>;
}

export interface Release {
  /** OVN major.minor, e.g. 25.03. */
  readonly version: string;
  readonly backend: 'local' | 'container';
  /** The Debian suite whose ovn-central it is (container releases). */
  readonly debian?: string;
  /** Its test image (container releases), e.g. ovn-drift/ovn:25.03. */
  readonly image?: string;
  /** Whether this run runs it (the local release always; container releases via OVN_DRIFT_MATRIX). */
  readonly enabled: boolean;
  /** Suite title prefix, e.g. `OVN 25.03 (container)`; .ci/run counts tests per release by it. */
  readonly title: string;
  /** Starts a sandbox of this release (standalone NB/SB; northd unless `northd: false`). */
  start(opts?: Pick<SandboxOptions, 'northd'>): Promise<Sandbox>;
  /** Why its sandboxes cannot start on this machine (no Docker engine, no image), or undefined. */
  unavailable(): Promise<string | undefined>;
  /** Starts what the release's sandboxes share (its container); describeRelease calls it. */
  open(): Promise<void>;
  /** Stops it, with any sandbox still running in it. */
  close(): Promise<void>;
  /** `ovn-northd --version` (first line) of the northd this sandbox runs. */
  northdVersion(sandbox: Sandbox): Promise<string>;
}

const ROOT = resolve(import.meta.dirname, '../..');
const RELEASES_FILE = resolve(ROOT, 'test/images/releases');

/** test/images/releases: `<version> <debian suite>` per line. */
function knownReleases(): { version: string; debian: string }[] {
  return readFileSync(RELEASES_FILE, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((l) => {
      const [version, debian] = l.split(/\s+/);
      return { version: version!, debian: debian! };
    });
}

/** The machine's ovn-northd version (`23.03`), or undefined when it is not installed. */
function localVersion(): { full: string; version: string } | undefined {
  try {
    const full = execFileSync('ovn-northd', ['--version'], { encoding: 'utf8' }).split('\n')[0]!.trim();
    const m = /^ovn-northd (\d+\.\d+)\./.exec(full);
    return m ? { full, version: m[1]! } : undefined;
  } catch {
    return undefined;
  }
}

/** Versions OVN_DRIFT_MATRIX asks for; a release test/images/releases does not list is an error. */
export function requestedMatrix(env = process.env.OVN_DRIFT_MATRIX ?? ''): string[] {
  const known = knownReleases().map((r) => r.version);
  const asked = env.split(/[\s,]+/).filter(Boolean);
  if (asked.includes('all')) return known;
  const unknown = asked.filter((v) => !known.includes(v));
  if (unknown.length > 0) {
    throw new Error(`OVN_DRIFT_MATRIX names ${unknown.join(', ')}, which test/images/releases does not list (known: ${known.join(', ')})`);
  }
  return asked;
}

const execFileP = promisify(execFile);

/** A started sandbox must run the release it was asked for: otherwise the matrix proves nothing. */
async function checkVersion(release: Release, sandbox: Sandbox): Promise<void> {
  const got = await release.northdVersion(sandbox);
  if (!got.startsWith(`ovn-northd ${release.version}.`)) {
    await sandbox.stop();
    throw new SandboxError('StartFailed', `${release.title}: the sandbox runs '${got}', not OVN ${release.version}`);
  }
}

function localRelease(version: string): Release {
  const r: Release = {
    version,
    backend: 'local',
    enabled: true,
    title: `OVN ${version} (local)`,
    async start(opts = {}) {
      const sandbox = await OvnSandbox.start({ northd: opts.northd });
      await checkVersion(r, sandbox);
      return sandbox;
    },
    async unavailable() {
      return undefined;
    },
    async open() {},
    async close() {},
    async northdVersion() {
      return (await execFileP('ovn-northd', ['--version'])).stdout.split('\n')[0]!.trim();
    },
  };
  return r;
}

function containerRelease(version: string, debian: string, enabled: boolean): Release {
  const image = `${process.env.OVN_DRIFT_IMAGE_PREFIX ?? 'ovn-drift/ovn'}:${version}`;
  let shared: OvnContainer | undefined;
  const r: Release = {
    version,
    backend: 'container',
    debian,
    image,
    enabled,
    title: `OVN ${version} (container)`,
    async start(opts = {}) {
      // loaded only here, so a local-only run does not load testcontainers
      const { ContainerSandbox } = await import('./ovn-container.js');
      const sandbox = await ContainerSandbox.start({ image, version, northd: opts.northd, container: shared });
      await checkVersion(r, sandbox);
      return sandbox;
    },
    async unavailable() {
      const { containerUnavailable } = await import('./ovn-container.js');
      return containerUnavailable(image, version);
    },
    async open() {
      const { OvnContainer } = await import('./ovn-container.js');
      shared ??= await OvnContainer.start(image, version);
    },
    async close() {
      await shared?.stop();
      shared = undefined;
    },
    async northdVersion(sandbox) {
      if (!('northdVersion' in sandbox)) throw new Error(`${r.title}: not a container sandbox`);
      return (sandbox as ContainerSandbox).northdVersion();
    },
  };
  return r;
}

function releases(): Release[] {
  const local = localVersion();
  const asked = requestedMatrix();
  const list: Release[] = [localRelease(local?.version ?? 'local')];
  for (const { version, debian } of knownReleases()) {
    // The machine's own release runs locally; its container twin only when asked for by name.
    if (version === local?.version && !asked.includes(version)) continue;
    list.push(containerRelease(version, debian, asked.includes(version)));
  }
  const skipped = list.filter((r) => !r.enabled);
  if (skipped.length > 0) {
    process.stderr.write(
      `ovn-drift tests: OVN release matrix not run for ${skipped.map((r) => r.version).join(', ')} ` +
        `(only ${list.filter((r) => r.enabled).map((r) => r.title).join(', ')}): set OVN_DRIFT_MATRIX=${skipped.map((r) => r.version).join(',')} ` +
        `with a Docker engine and the images (scripts/docker-engine.sh start; test/images/build.sh <release>), as .ci/run does\n`,
    );
  }
  return list;
}

/** Every release this checkout knows, the local one first; disabled ones are registered as skipped. */
export const RELEASES: readonly Release[] = releases();

/**
 * The suite of one release, titled `OVN 25.03 (container)`; skipped when this run does not run it.
 * A release the run asks for but cannot start here (no Docker engine, no image) gets, instead of
 * its tests, one FAILING test that says why: a matrix asked for is never silently skipped. Its
 * first hook starts the release's container (minutes under load: vfs copies the image), so the
 * suite's own hooks keep their usual timeout; its last hook stops it.
 */
export function describeRelease(release: Release, body: () => void): void {
  describe.skipIf(!release.enabled)(release.title, async () => {
    const why = release.enabled ? await release.unavailable() : undefined;
    if (why) {
      it(`runs against ovn-northd ${release.version}.x`, () => {
        throw new SandboxError('StartFailed', why);
      });
      return;
    }
    beforeAll(() => release.open(), 300_000);
    afterAll(() => release.close(), 120_000);
    body();
  });
}

/** The test that says which northd a release's suite runs against (`ovn-northd 25.03.x`). */
export function itRunsRelease(release: Release, sandbox: () => Sandbox | undefined): void {
  it(`runs against ovn-northd ${release.version}.x`, async () => {
    const sb = sandbox();
    expect(sb, 'the suite has no sandbox (its beforeAll failed)').toBeDefined();
    expect(await release.northdVersion(sb!)).toMatch(new RegExp(`^ovn-northd ${release.version.replace('.', '\\.')}\\.\\d+`));
  });
}
