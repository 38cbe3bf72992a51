import { mkdtemp, writeFile, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPodCIDRRoutes, formatManifestError } from '../../operator/api/manifests.js';
import { validatePodCIDRRoute, findConflicts } from '../../operator/api/podcidrroute.js';

const pcr = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name }, spec });

describe('validatePodCIDRRoute', () => {
  it('applies defaults and normalises prefixes', () => {
    const r = validatePodCIDRRoute(pcr('a', { router: 'dev-jr', nexthop: '10.9.2.146', cidrs: ['10.9.52.145/28', '10.9.143.0/28'] }));
    expect(r.errors).toEqual([]);
    expect(r.route!.spec).toEqual({
      router: 'dev-jr', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28', '10.9.143.0/28'],
      policy: 'dst-ip', routeTable: '', expectedChassis: '', remediation: 'Report', adopt: false,
    });
  });

  it('accepts IPv6 and normalises it', () => {
    const r = validatePodCIDRRoute(pcr('v6', { router: 'r', nexthop: 'fd00:9::146', cidrs: ['FD00:52:0:0::1/64'] }));
    expect(r.errors).toEqual([]);
    expect(r.route!.spec.cidrs).toEqual(['fd00:52::/64']);
  });

  it('names the field of every error', () => {
    const r = validatePodCIDRRoute(pcr('bad', { router: '', nexthop: '10.9.2.146', cidrs: ['10.9.52.300/28', 'fd00::/64', '10.0.0.0/33', '10.1.0.0/16', '10.1.0.5/16'], policy: 'any', remediation: 'Fix', adopt: 'yes' }));
    const fields = r.errors.map((e) => e.field);
    expect(fields).toEqual(['spec.router', 'spec.cidrs[0]', 'spec.cidrs[1]', 'spec.cidrs[2]', 'spec.cidrs[4]', 'spec.policy', 'spec.remediation', 'spec.adopt']);
    expect(r.errors[2]!.message).toMatch(/IPv6 but nexthop 10.9.2.146 is IPv4/);
    expect(r.errors[4]!.message).toMatch(/duplicate prefix 10.1.0.0\/16/);
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
    expect(lines[0]).toBe(`${bad} (document 1): PodCIDRRoute broken: spec.cidrs[1]: fd00::/64 is IPv6 but nexthop 10.9.2.146 is IPv4`);
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

describe('parseSimpleYaml (fast path) agrees with the yaml library', () => {
  const samples = [
    'a: 1\nb: [x, "y", \'z\']\nc: {d: e, f: [1, 2.5, -3, 1e3, 007]}\n',
    '---\napiVersion: ovndrift.io/v1alpha1\nkind: PodCIDRRoute\nmetadata:\n  name: a   # trailing comment\n  labels: {app: x}\nspec:\n  router: dev-jr\n  nexthop: fd00:9::146\n  cidrs:\n  - fd00:52::/64\n  - "fd00:53::/64"\n  adopt: true\n  remediation: Repair\n---\n',
    '# leading comment\n---\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  data:\n    k: v\n- - nested\n  - seq\n-\n  key: after-empty-dash\n',
    'list:\n  - a\n  - b: c\n    d: [e]\nnulls: [~, null, Null, ""]\nbools: [true, False, yes, no, on]\nempty:\nafter: x\n',
    'a: 1\n---\n---\nb: 2\n',
    'x: "has # hash"\ny: a#b\nz: \'q\'\nurl: http://example.com:8080/x\n',
  ];
  const unsupported = ['a: &x 1\nb: *x\n', 'a: |\n  text\n', 'a: !tag x\n', 'a: "esc\\n"\n', 'a:\n\tb: 1\n', 'a: 1\na: 2\n', 'a: multi\n  line\n', 'a: [1,\n  2]\n', 'a: 0x1F\n'];

  it('returns the same documents for the subset', async () => {
    const { parseAllDocuments } = await import('yaml');
    const { parseSimpleYaml } = await import('../../operator/api/manifests.js');
    for (const s of samples) {
      const fast = parseSimpleYaml(s);
      expect(fast, s).toBeDefined();
      expect(fast, s).toEqual(parseAllDocuments(s).map((d) => d.toJS()));
    }
  });

  it('falls back for everything outside it', async () => {
    const { parseSimpleYaml } = await import('../../operator/api/manifests.js');
    for (const s of unsupported) expect(parseSimpleYaml(s), s).toBeUndefined();
  });

  it('agrees on every YAML file of the repository it accepts', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const { parseAllDocuments } = await import('yaml');
    const { parseSimpleYaml } = await import('../../operator/api/manifests.js');
    const files: string[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        if (e.name === 'node_modules' || e.name.startsWith('.') || e.name === 'dist') continue;
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (/\.ya?ml$/.test(e.name)) files.push(p);
      }
    };
    await walk(join(import.meta.dirname, '../..'));
    let compared = 0;
    for (const f of files) {
      const text = await readFile(f, 'utf8');
      const lib = parseAllDocuments(text);
      if (lib.some((d) => d.errors.length > 0)) continue;
      const fast = parseSimpleYaml(text);
      if (fast === undefined) continue;
      expect(fast, f).toEqual(lib.map((d) => d.toJS()));
      compared++;
    }
    expect(compared).toBeGreaterThan(0);
  });
});
