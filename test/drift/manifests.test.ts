import { mkdtemp, writeFile, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatManifestError } from '../../operator/api/manifests.js';
import { loadPodCIDRRoutes } from '../../operator/manifests/files.js';
import { validatePodCIDRRoute, findConflicts } from '../../operator/api/podcidrroute.js';

const pcr = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name }, spec });

describe('validatePodCIDRRoute', () => {
  it('applies defaults', () => {
    const r = validatePodCIDRRoute(pcr('a', { router: 'dev-jr', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28', '10.9.143.0/28'] }));
    expect(r.errors).toEqual([]);
    expect(r.route!.spec).toEqual({
      router: 'dev-jr', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28', '10.9.143.0/28'],
      policy: 'dst-ip', routeTable: '', expectedChassis: '', remediation: 'Report', adopt: false, deletionPolicy: 'Orphan',
    });
  });

  it('accepts IPv6 in canonical form and deletionPolicy Delete', () => {
    const r = validatePodCIDRRoute(pcr('v6', { router: 'r', nexthop: 'fd00:9::146', cidrs: ['fd00:52::/64'], deletionPolicy: 'Delete' }));
    expect(r.errors).toEqual([]);
    expect(r.route!.spec.cidrs).toEqual(['fd00:52::/64']);
    expect(r.route!.spec.deletionPolicy).toBe('Delete');
  });

  it('refuses what the CRD refuses: host bits, other spellings, family mismatch, duplicates, unknown fields', () => {
    const msgs = (spec: Record<string, unknown>) => validatePodCIDRRoute(pcr('x', { router: 'r', nexthop: '10.0.0.1', ...spec })).errors.map((e) => `${e.field}: ${e.message}`);
    expect(msgs({ cidrs: ['10.9.52.145/28'] })).toEqual(['spec.cidrs[0]: host bits set in 10.9.52.145/28: give the network address of the prefix']);
    expect(msgs({ nexthop: 'fd00::1', cidrs: ['FD00:52:0:0::/64'] })).toEqual(['spec.cidrs[0]: must be written in canonical form (lower case, shortest IPv6 notation), got FD00:52:0:0::/64']);
    expect(msgs({ cidrs: ['fd00::/64'] })).toEqual(['spec.cidrs[0]: fd00::/64 is IPv6 but nexthop 10.0.0.1 is IPv4: every prefix in spec.cidrs must be of the same IP family as spec.nexthop']);
    expect(msgs({ cidrs: ['10.1.0.0/16', '10.1.0.0/16'] })).toEqual(['spec.cidrs[1]: Duplicate value: "10.1.0.0/16"']);
    expect(msgs({ cidrs: ['10.1.0.0/16'], expectedchassis: 'node-c' })).toEqual(['spec.expectedchassis: unknown field "spec.expectedchassis"']);
    expect(msgs({ cidrs: ['10.1.0.0/16'], deletionPolicy: 'Keep' })).toEqual(['spec.deletionPolicy: Unsupported value: "Keep": supported values: "Orphan", "Delete"']);
    expect(msgs({ nexthop: '10.09.0.1', cidrs: ['10.1.0.0/016', '::ffff:10.0.0.0/104'] }).map((m) => m.split(':')[0])).toEqual(['spec.nexthop', 'spec.cidrs[0]', 'spec.cidrs[1]']);
  });

  it('names the field of every error', () => {
    const r = validatePodCIDRRoute(pcr('bad', { router: '', nexthop: '10.9.2.146', cidrs: ['10.9.52.300/28', '10.0.0.0/33', '10.1.0.0/16', '10.1.0.5/16'], policy: 'any', remediation: 'Fix', adopt: 'yes' }));
    const fields = r.errors.map((e) => e.field);
    expect(fields).toEqual(['spec.router', 'spec.policy', 'spec.remediation', 'spec.adopt', 'spec.cidrs[0]', 'spec.cidrs[1]', 'spec.cidrs[3]']);
    expect(r.route).toBeUndefined();
  });

  it('rejects empty lists, a bad nexthop and a missing name', () => {
    expect(validatePodCIDRRoute(pcr('a', { router: 'r', nexthop: '10.0.0.1', cidrs: [] })).errors[0]!.field).toBe('spec.cidrs');
    expect(validatePodCIDRRoute(pcr('a', { router: 'r', nexthop: '10.0.0.256', cidrs: ['10.0.0.0/8'] })).errors[0]!.field).toBe('spec.nexthop');
    expect(validatePodCIDRRoute({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', spec: { router: 'r', nexthop: '10.0.0.1', cidrs: ['10.0.0.0/8'] } }).errors[0]!.field).toBe('metadata.name');
  });

  it('reports a prefix claimed with two nexthops on both resources', () => {
    const a = validatePodCIDRRoute(pcr('a', { router: 'r', nexthop: '10.0.0.1', cidrs: ['10.1.0.0/16'] })).route!;
    const b = validatePodCIDRRoute(pcr('b', { router: 'r', nexthop: '10.0.0.2', cidrs: ['10.2.0.0/16', '10.1.0.0/16'] })).route!;
    const c = validatePodCIDRRoute(pcr('c', { router: 'other', nexthop: '10.0.0.3', cidrs: ['10.1.0.0/16'] })).route!;
    const same = validatePodCIDRRoute(pcr('d', { router: 'r', nexthop: '10.0.0.1', cidrs: ['10.1.0.0/16'] })).route!;
    const conflicts = findConflicts([a, b, c]);
    expect(conflicts.map((x) => [x.route, x.field, x.others])).toEqual([['a', 'spec.cidrs[0]', ['b']], ['b', 'spec.cidrs[1]', ['a']]]);
    expect(findConflicts([a, same])).toEqual([]);
  });
});

describe('loadPodCIDRRoutes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pcr-'));
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'routes.yaml'), `
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
---
apiVersion: ovndrift.io/v1alpha1
kind: PodCIDRRoute
metadata: {name: seed}
spec: {router: dev-jr, nexthop: 10.9.2.146, cidrs: [10.9.52.144/28, 10.9.143.0/28]}
---
`);
    await writeFile(join(dir, 'sub', 'more.yml'), `
apiVersion: v1
kind: List
items:
- apiVersion: ovndrift.io/v1alpha1
  kind: PodCIDRRoute
  metadata: {name: six}
  spec: {router: dev-jr, nexthop: "fd00:9::146", cidrs: ["fd00:52::/64"], remediation: Repair}
`);
    await writeFile(join(dir, 'notes.txt'), 'not yaml');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('reads a directory recursively, multi-document files and Lists, skipping other kinds', async () => {
    const res = await loadPodCIDRRoutes([dir]);
    expect(res.errors).toEqual([]);
    expect(res.routes.map((r) => [r.route.metadata.name, r.source.file.replace(dir, ''), r.source.document])).toEqual([
      ['seed', '/routes.yaml', 2],
      ['six', '/sub/more.yml', 1],
    ]);
    expect(res.notices).toHaveLength(1);
    expect(res.notices[0]).toMatch(/routes\.yaml \(document 1\): skipped ConfigMap cm/);
  });

  it('names file, resource and field for invalid input and conflicts', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, `
apiVersion: ovndrift.io/v1alpha1
kind: PodCIDRRoute
metadata: {name: broken}
spec: {router: dev-jr, nexthop: 10.9.2.146, cidrs: [10.9.52.144/28, "fd00::/64"]}
---
apiVersion: ovndrift.io/v1alpha1
kind: PodCIDRRoute
metadata: {name: rival}
spec: {router: dev-jr, nexthop: 10.9.2.147, cidrs: [10.9.143.0/28]}
`);
    const res = await loadPodCIDRRoutes([join(dir, 'routes.yaml'), bad]);
    const lines = res.errors.map(formatManifestError);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(`${bad} (document 1): PodCIDRRoute broken: spec.cidrs[1]: fd00::/64 is IPv6 but nexthop 10.9.2.146 is IPv4: every prefix in spec.cidrs must be of the same IP family as spec.nexthop`);
    expect(lines.slice(1).join('\n')).toMatch(/routes\.yaml \(document 2\): PodCIDRRoute seed: spec\.cidrs\[1\]: conflict: prefix 10\.9\.143\.0\/28 on router dev-jr is also claimed by rival/);
    expect(lines.slice(1).join('\n')).toMatch(/bad\.yaml \(document 2\): PodCIDRRoute rival: spec\.cidrs\[0\]: conflict: .*claimed by seed/);
    await rm(bad);
  });

  it('reports YAML syntax errors and missing files', async () => {
    const broken = join(dir, 'syntax.yaml');
    await writeFile(broken, 'kind: PodCIDRRoute\nspec: [\n');
    const res = await loadPodCIDRRoutes([broken, join(dir, 'nope.yaml')]);
    expect(res.errors.map((e) => [e.file, e.message.split(':')[0]])).toEqual([
      [join(dir, 'nope.yaml'), 'cannot read'],
      [broken, 'YAML syntax error'],
    ]);
    await rm(broken);
  });

  it('refuses manifests that hold no PodCIDRRoute at all', async () => {
    const other = join(dir, 'only-configmaps.yaml');
    await writeFile(other, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n');
    const res = await loadPodCIDRRoutes([other]);
    expect(res.routes).toEqual([]);
    expect(res.errors.map((e) => e.message)).toEqual(['no PodCIDRRoute found (2 documents of other kinds skipped)']);
    await rm(other);
  });
});

describe('strict decoding (as kubectl and kube-apiserver decode)', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const write = async (name: string, text: string) => {
    const d = await mkdtemp(join(tmpdir(), 'pcr-strict-'));
    dirs.push(d);
    const f = join(d, name);
    await writeFile(f, text);
    return f;
  };
  const seed = 'apiVersion: ovndrift.io/v1alpha1\nkind: PodCIDRRoute\nmetadata: {name: seed}\n';

  it('a duplicate key is bad input naming file, resource and field', async () => {
    const f = await write('dup.yaml', `${seed}spec:\n  router: dev-jr\n  nexthop: 10.9.2.146\n  cidrs: [10.9.52.144/28]\n  router: other\n`);
    const res = await loadPodCIDRRoutes([f]);
    expect(res.routes).toEqual([]);
    expect(res.errors.map(formatManifestError)).toEqual([`${f} (document 1): PodCIDRRoute seed: spec.router: duplicate key "router"`]);
  });

  it('a typo\'d field is bad input, never ignored', async () => {
    const f = await write('typo.yaml', `${seed}spec:\n  router: dev-jr\n  nexthop: 10.9.2.146\n  cidrs: [10.9.52.144/28]\n  expectedchassis: node-c\n`);
    const res = await loadPodCIDRRoutes([f]);
    expect(res.errors.map(formatManifestError)).toEqual([`${f} (document 1): PodCIDRRoute seed: spec.expectedchassis: unknown field "spec.expectedchassis"`]);
  });

  it('an alias bomb is bad input, not a stack trace', async () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill('*' + String.fromCharCode(96 + i)).join(',')}]`);
    const f = await write('bomb.yaml', bomb.join('\n') + '\n');
    const res = await loadPodCIDRRoutes([f]);
    expect(res.errors.map(formatManifestError)).toEqual([`${f} (document 1): YAML expands without bound: more than 100 aliases resolved in one document (an alias bomb?)`]);
  });

  it('reads YAML 1.1 scalars as kubectl does (yes is true), a BOM, CRLF, flow style, anchors and merge keys', async () => {
    const text = '\ufeffx: &spec\r\n  router: dev-jr\r\n  nexthop: "10.9.2.146"\r\n---\r\n' + `${seed}spec:\r\n  <<: *spec\r\n  cidrs: [10.9.52.144/28]\r\n  adopt: yes\r\n`.replace('*spec', '{router: dev-jr, nexthop: "10.9.2.146"}');
    const f = await write('crlf.yaml', text);
    const res = await loadPodCIDRRoutes([f]);
    expect(res.errors).toEqual([]);
    expect(res.routes[0]!.route.spec).toMatchObject({ router: 'dev-jr', nexthop: '10.9.2.146', adopt: true });
  });
});
