// The real kubectl as a client: against the strict test API server (with Kubernetes' own
// validation deciding admission where ../shared/tools/crd-validate exists) and against a running
// operator watching a real OVN sandbox. What kubectl prints here comes from what the server
// derives at run time from crds/ (OpenAPI v3, printer columns evaluated with JSONPath, one Event
// store behind two APIs): nothing is canned. Where kubectl is not installed the tests say so and skip.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { loadCrds } from '../../operator/api/crds.js';
import { EventRecorder } from '../../operator/kube/events.js';
import { OvnSandbox } from '../../operator/sandbox/sandbox.js';
import { SEED, buildSeedInSync, bumpWithoutNorthd, seedManifest } from '../../operator/ovn/seed-topology.js';
import { run as runOperator } from '../../operator/commands/operator.js';
import { TestApiServer, findRepoDir } from '../support/test-api-server.js';

const ROOT = resolve(findRepoDir('crds'), '..');
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
const CRD_VALIDATE = resolve(ROOT, '../shared/tools/crd-validate/crd-validate');
const HAVE_CRD_VALIDATE = existsSync(CRD_VALIDATE);
const FIXTURES = join(ROOT, 'test/fixtures/crs');
const G = { group: 'ovndrift.io', version: 'v1alpha1', plural: 'podcidrroutes' };
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const SHOW = process.env.SHOW_KUBECTL === '1';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** A kubeconfig for a test API server in a fresh directory (kubectl's cache goes there too). */
function kubeconfig(url: string): { env: NodeJS.ProcessEnv; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kubectl-'));
  const file = join(dir, 'config');
  writeFileSync(
    file,
    `apiVersion: v1\nkind: Config\nclusters: [{name: t, cluster: {server: "${url}"}}]\nusers: [{name: t, user: {token: test}}]\ncontexts: [{name: t, context: {cluster: t, user: t}}]\ncurrent-context: t\n`,
  );
  return { env: { PATH: process.env.PATH ?? '', HOME: dir, KUBECONFIG: file, KUBECACHEDIR: join(dir, 'cache') }, dir };
}

/** Runs kubectl without blocking the event loop (the API server lives in this process). */
function kubectl(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Ran> {
  return new Promise((ok) => {
    execFile(KUBECTL!, args, { env, timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      if (SHOW) console.log(`$ kubectl ${args.join(' ')}\n${stdout}${stderr}`);
      ok({ code, stdout, stderr });
    });
  });
}

const header = (table: string) => table.split('\n')[0]!.trim().split(/\s{2,}/);
const row = (table: string, name: string) => table.split('\n').find((l) => l.startsWith(`${name} `))?.trim().split(/\s{2,}/);

const skipNote = KUBECTL ? KUBECTL : 'kubectl not installed: skipped';

describe.skipIf(!KUBECTL)(`kubectl against the test API server (${skipNote}${HAVE_CRD_VALIDATE ? ', admission by crd-validate' : ', crd-validate absent: CEL verdicts not checked'})`, () => {
  let api: TestApiServer;
  let env: NodeJS.ProcessEnv;
  let dir: string;
  beforeAll(async () => {
    api = await TestApiServer.start(HAVE_CRD_VALIDATE ? { crdValidate: CRD_VALIDATE } : {});
    ({ env, dir } = kubeconfig(api.url));
  });
  afterAll(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('kubectl apply validates (OpenAPI v3 from crds/, fieldValidation=Strict) and creates', async () => {
    const r = await kubectl(env, 'apply', '-f', join(FIXTURES, 'valid/pcr-seed.yaml'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('podcidrroute.ovndrift.io/dev-jr-pods created');
    expect(api.requests.some((q) => q.path === '/openapi/v3')).toBe(true);
    expect(api.requests.some((q) => q.method === 'POST' && q.path.endsWith('/podcidrroutes') && q.query.includes('fieldValidation=Strict'))).toBe(true);
    expect(api.get('podcidrroutes', 'dev-jr-pods')!.spec).toMatchObject({ router: 'dev-jr', remediation: 'Report', deletionPolicy: 'Orphan' });
  });

  it('a typo\'d field is refused by strict field validation and nothing is stored', async () => {
    const r = await kubectl(env, 'apply', '-f', join(FIXTURES, 'invalid/pcr-typo-field.yaml'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('strict decoding error: unknown field "spec.expectedchassis"');
    expect(api.get('podcidrroutes', 'typo')).toBeUndefined();
  });

  it.skipIf(!HAVE_CRD_VALIDATE)('CEL rules answer with their exact messages (host bits, family)', async () => {
    const hb = await kubectl(env, 'apply', '-f', join(FIXTURES, 'invalid/pcr-host-bits.yaml'));
    expect(hb.code).toBe(1);
    expect(hb.stderr).toContain('spec.cidrs[0]: Invalid value: "string": host bits set in 10.9.52.145/28: give the network address of the prefix');
    const fam = await kubectl(env, 'apply', '-f', join(FIXTURES, 'invalid/pcr-family-mismatch.yaml'));
    expect(fam.stderr).toContain('every prefix in spec.cidrs must be of the same IP family as spec.nexthop 10.9.2.146');
    expect(api.get('podcidrroutes', 'host-bits')).toBeUndefined();
  });

  it('a second apply is "unchanged"; a changed manifest is "configured" through a merge patch', async () => {
    const file = join(FIXTURES, 'valid/pcr-seed.yaml');
    expect((await kubectl(env, 'apply', '-f', file)).stdout.trim()).toBe('podcidrroute.ovndrift.io/dev-jr-pods unchanged');
    const changed = join(dir, 'changed.yaml');
    writeFileSync(changed, readFileSync(file, 'utf8').replace('expectedChassis: hv-36', 'expectedChassis: hv-36\n  remediation: Repair'));
    const r = await kubectl(env, 'apply', '-f', changed);
    expect(r.stdout.trim(), r.stderr).toBe('podcidrroute.ovndrift.io/dev-jr-pods configured');
    const obj = api.get('podcidrroutes', 'dev-jr-pods')!;
    expect([obj.spec.remediation, obj.metadata.generation]).toEqual(['Repair', 2]);
  });

  it('kubectl get pcr prints the CRD\'s printer columns (and -o wide the priority-1 ones), values by JSONPath', async () => {
    const version = loadCrds(join(ROOT, 'crds')).find((c) => c.crd.spec.names.kind === 'PodCIDRRoute')!.crd.spec.versions[0]!;
    const cols = version.additionalPrinterColumns!;
    const before = await kubectl(env, 'get', 'pcr');
    expect(header(before.stdout)).toEqual(['NAME', ...cols.filter((c) => !c.priority).map((c) => c.name.toUpperCase())]);
    await api.kubeConfig().makeApiClient(CustomObjectsApi).patchClusterCustomObjectStatus(
      { ...G, name: 'dev-jr-pods', body: { status: { observedGeneration: 2, counts: { routes: 2, inSync: 1, drifted: 1 }, conditions: [{ type: 'Ready', status: 'False', reason: 'NexthopMismatch', message: 'x', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] } } },
      merge,
    );
    const get = await kubectl(env, 'get', 'pcr');
    expect(row(get.stdout, 'dev-jr-pods')).toEqual(['dev-jr-pods', 'dev-jr', '10.9.2.146', '2', '1', 'False', expect.stringMatching(/^\d+s$/)]);
    const wide = await kubectl(env, 'get', 'pcr', '-o', 'wide');
    expect(header(wide.stdout)).toEqual(['NAME', ...cols.map((c) => c.name.toUpperCase())]);
    expect(row(wide.stdout, 'dev-jr-pods')).toContain('NexthopMismatch');
    expect(row(wide.stdout, 'dev-jr-pods')).toContain('Repair');
    console.log(`kubectl get pcr -o wide (real kubectl, test API server):\n${wide.stdout}`);
  });

  it('the columns are read from the CRD at run time: a server given another CRD prints another table', async () => {
    const crds = mkdtempSync(join(tmpdir(), 'crds-'));
    cpSync(join(ROOT, 'crds'), crds, { recursive: true });
    const f = join(crds, 'ovndrift.io_podcidrroutes.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('        - name: Age\n', '        - name: Table\n          type: string\n          jsonPath: .spec.routeTable\n        - name: Age\n'));
    const other = await TestApiServer.start({ crdDir: crds });
    const k = kubeconfig(other.url);
    try {
      other.put({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name: 'rt' }, spec: { router: 'r', nexthop: '10.0.0.1', cidrs: ['10.1.0.0/16'], routeTable: 'rtb-7' } });
      const r = await kubectl(k.env, 'get', 'pcr');
      expect(header(r.stdout)).toContain('TABLE');
      expect(row(r.stdout, 'rt')).toContain('rtb-7');
    } finally {
      await other.close();
      rmSync(crds, { recursive: true, force: true });
      rmSync(k.dir, { recursive: true, force: true });
    }
  });

  it('kubectl wait --for=condition=Ready returns when the status says so', async () => {
    const waiting = kubectl(env, 'wait', '--for=condition=Ready', 'pcr/dev-jr-pods', '--timeout=30s');
    await new Promise((r) => setTimeout(r, 1000));
    await api.kubeConfig().makeApiClient(CustomObjectsApi).patchClusterCustomObjectStatus(
      { ...G, name: 'dev-jr-pods', body: { status: { counts: { routes: 2, inSync: 2, drifted: 0 }, conditions: [{ type: 'Ready', status: 'True', reason: 'InSync', message: 'every route in sync', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] } } },
      merge,
    );
    const r = await waiting;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('podcidrroute.ovndrift.io/dev-jr-pods condition met');
  });

  it('an Event the operator\'s recorder writes (events.k8s.io/v1) is shown by kubectl describe and kubectl get events (core v1)', async () => {
    const obj = api.get('podcidrroutes', 'dev-jr-pods')!;
    const recorder = new EventRecorder({ kubeConfig: api.kubeConfig(), instance: 'ovn-drift-operator-0' });
    await recorder.record({
      regarding: { apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', name: 'dev-jr-pods', uid: obj.metadata.uid },
      type: 'Warning',
      reason: 'DriftDetected',
      action: 'Check',
      note: 'NexthopMismatch: 10.9.52.144/28 on dev-jr goes to 10.215.91.233, expected 10.9.2.146',
    });
    const describe = await kubectl(env, 'describe', 'pcr', 'dev-jr-pods');
    expect(describe.code, describe.stderr).toBe(0);
    const events = describe.stdout.slice(describe.stdout.indexOf('Events:'));
    expect(events).toMatch(/Warning\s+DriftDetected\s+\d+s\s+ovndrift.io\/operator\s+NexthopMismatch: 10.9.52.144\/28 on dev-jr goes to 10.215.91.233/);
    const get = await kubectl(env, 'get', 'events');
    expect(header(get.stdout)).toEqual(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
    expect(get.stdout).toMatch(/Warning\s+DriftDetected\s+podcidrroute\/dev-jr-pods\s+NexthopMismatch/);
    const v1 = await kubectl(env, 'get', 'events.v1.events.k8s.io', '-o', 'jsonpath={.items[*].note}');
    expect(v1.stdout).toContain('NexthopMismatch: 10.9.52.144/28');
    console.log(`kubectl describe pcr dev-jr-pods (Events):\n${events}\nkubectl get events:\n${get.stdout}`);
  });
});

describe.skipIf(!KUBECTL)(`kubectl against a running operator and a real OVN sandbox (${skipNote})`, () => {
  let ovn: OvnSandbox;
  let api: TestApiServer;
  let env: NodeJS.ProcessEnv;
  let dir: string;
  const abort = new AbortController();
  let exit: Promise<number>;
  const name = 'dev-jr-vm-10-9-2-146';

  beforeAll(async () => {
    ovn = await OvnSandbox.start();
    await buildSeedInSync(ovn);
    api = await TestApiServer.start();
    ({ env, dir } = kubeconfig(api.url));
    await new Promise<void>((started) => {
      exit = runOperator(
        ['--nb-remote', ovn.nbRemote, '--sb-remote', ovn.sbRemote, '--metrics-addr', '127.0.0.1:0', '--resync', '1h', '--no-leader-elect', '--identity', 'ovn-drift-operator-0'],
        { kubeConfig: api.kubeConfig(), logger: pino({ level: 'silent' }), signal: abort.signal, onStarted: () => started() },
      );
    });
  }, 120_000);
  afterAll(async () => {
    abort.abort();
    await exit;
    await api?.close();
    await ovn?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('apply, wait for Ready, get: the operator\'s status through kubectl\'s eyes', async () => {
    const file = join(dir, 'seed.yaml');
    writeFileSync(file, seedManifest(name));
    const applied = await kubectl(env, 'apply', '-f', file);
    expect(applied.stdout.trim(), applied.stderr).toBe(`podcidrroute.ovndrift.io/${name} created`);
    const wait = await kubectl(env, 'wait', '--for=condition=Ready', `pcr/${name}`, '--timeout=60s');
    expect(wait.code, wait.stderr).toBe(0);
    const get = await kubectl(env, 'get', 'pcr');
    expect(row(get.stdout, name)).toEqual([name, SEED.router, SEED.vmIp, '5', '5', 'True', expect.stringMatching(/^\d+s$/)]);
    console.log(`$ kubectl apply -f seed.yaml\n${applied.stdout}$ kubectl wait --for=condition=Ready pcr/${name}\n${wait.stdout}$ kubectl get pcr\n${get.stdout}`);
  });

  it('drift in OVN: kubectl wait sees Ready=False, describe and get events show the operator\'s Event', async () => {
    await ovn.stopNorthd();
    await bumpWithoutNorthd(ovn, '--may-exist', 'lr-route-add', SEED.router, SEED.stalePrefix, SEED.otherIp);
    const wait = await kubectl(env, 'wait', '--for=condition=Ready=false', `pcr/${name}`, '--timeout=60s');
    expect(wait.code, wait.stderr).toBe(0);
    let describe: Ran = { code: 1, stdout: '', stderr: '' };
    for (let i = 0; i < 40 && !/DriftDetected/.test(describe.stdout); i++) {
      describe = await kubectl(env, 'describe', 'pcr', name);
      if (!/DriftDetected/.test(describe.stdout)) await new Promise((r) => setTimeout(r, 250));
    }
    const events = describe.stdout.slice(describe.stdout.indexOf('Events:'));
    expect(events).toMatch(/Warning\s+DriftDetected\s+\S+\s+ovndrift.io\/operator\s+.*10\.9\.52\.144\/28/);
    const wide = await kubectl(env, 'get', 'pcr', '-o', 'wide');
    expect(row(wide.stdout, name)).toEqual([name, SEED.router, SEED.vmIp, '5', '4', 'False', 'NexthopMismatch', 'Report', expect.stringMatching(/^\d+s$/)]);
    const get = await kubectl(env, 'get', 'events');
    expect(get.stdout).toMatch(new RegExp(`Warning\\s+DriftDetected\\s+podcidrroute/${name}`));
    console.log(`$ kubectl get pcr -o wide\n${wide.stdout}$ kubectl describe pcr ${name}  (end)\n${events}\n$ kubectl get events\n${get.stdout}`);
  });
});
