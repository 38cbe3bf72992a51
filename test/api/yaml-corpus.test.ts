// One YAML semantics (docs/architecture.md, "One parser per format"): the CLI decodes manifests with
// the `yaml` library only, as kubectl does (YAML 1.1 scalars and merge keys, duplicate keys
// refused). This differential test holds the CLI's decoding against the library's own parse over
// a corpus of spellings of the same PodCIDRRoute — CRLF, BOM, flow style, anchors and merge keys,
// comments, quoting, block scalars, tabs, `kind: List`, several documents — and over invalid ones
// (duplicate keys, tab indentation, unknown aliases, syntax errors, an alias bomb), which both
// refuse and for which the real CLI exits 1 naming the file and the reason before touching OVN.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { readManifestDocuments, loadPodCIDRRoutes } from '../../operator/manifests/files.js';

const execFileP = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

const SPEC = { router: 'dev-jr', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28', '10.9.52.160/28'] };

const BASE = `apiVersion: ovndrift.io/v1alpha1
kind: PodCIDRRoute
metadata:
  name: corpus
spec:
  router: dev-jr
  nexthop: 10.9.2.146
  cidrs:
    - 10.9.52.144/28
    - 10.9.52.160/28
`;

/** Valid spellings: each must decode to what the library decodes, and to SPEC. */
const VALID: Record<string, string> = {
  'block style': BASE,
  'CRLF line endings': BASE.replace(/\n/g, '\r\n'),
  'byte order mark': `\uFEFF${BASE}`,
  'BOM and CRLF': `\uFEFF${BASE.replace(/\n/g, '\r\n')}`,
  'flow style': '{apiVersion: ovndrift.io/v1alpha1, kind: PodCIDRRoute, metadata: {name: corpus}, spec: {router: dev-jr, nexthop: 10.9.2.146, cidrs: [10.9.52.144/28, 10.9.52.160/28]}}\n',
  'JSON': JSON.stringify({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name: 'corpus' }, spec: SPEC }),
  'anchors and aliases': `apiVersion: ovndrift.io/v1alpha1
kind: PodCIDRRoute
metadata:
  name: corpus
  annotations:
    router: &r dev-jr
spec:
  router: *r
  nexthop: 10.9.2.146
  cidrs: &c
    - 10.9.52.144/28
    - 10.9.52.160/28
`,
  'merge key (YAML 1.1, as kubectl)': `apiVersion: ovndrift.io/v1alpha1
kind: PodCIDRRoute
metadata:
  name: corpus
  annotations: &d
    router: dev-jr
    nexthop: 10.9.2.146
spec:
  <<: *d
  cidrs: [10.9.52.144/28, 10.9.52.160/28]
`,
  'comments everywhere': `# leading comment
--- # after the marker
apiVersion: ovndrift.io/v1alpha1 # end of line
kind: PodCIDRRoute
metadata:
  # inside a mapping
  name: corpus
spec:
  router: dev-jr   #  spaces before
  nexthop: 10.9.2.146
  cidrs:
    # inside a sequence
    - 10.9.52.144/28
    - 10.9.52.160/28 # last
# trailing comment
`,
  'quoting': `"apiVersion": 'ovndrift.io/v1alpha1'
kind: "PodCIDRRoute"
metadata:
  name: 'corpus'
spec:
  router: 'dev-jr'
  nexthop: "10.9.2.146"
  cidrs:
    - "10.9.52.144\\x2F28"
    - '10.9.52.160/28'
`,
  'block scalars': `apiVersion: ovndrift.io/v1alpha1
kind: PodCIDRRoute
metadata:
  name: corpus
  annotations:
    literal: |
      line one
        indented
    folded: >-
      folded
      into one line
    kept: |+
      keep

spec:
  router: >-
    dev-jr
  nexthop: |-
    10.9.2.146
  cidrs:
    - 10.9.52.144/28
    - 10.9.52.160/28
`,
  'tabs as separation': 'apiVersion:\tovndrift.io/v1alpha1\nkind: PodCIDRRoute\t# tab before a comment\nmetadata: {name:\tcorpus}\nspec:\n  router:\tdev-jr\n  nexthop: 10.9.2.146\n  cidrs: [10.9.52.144/28,\t10.9.52.160/28]\n',
  'kind: List': `apiVersion: v1
kind: List
items:
  - apiVersion: ovndrift.io/v1alpha1
    kind: PodCIDRRoute
    metadata: {name: corpus}
    spec: {router: dev-jr, nexthop: 10.9.2.146, cidrs: [10.9.52.144/28, 10.9.52.160/28]}
`,
  'several documents, an empty one and an end marker': `---
---
${BASE}...
---
# only a comment
`,
  'YAML 1.1 booleans (as kubectl: yes is true)': `${BASE}  adopt: yes
`,
};

/** Invalid spellings: the library refuses them too; the CLI names the file and the reason. */
const INVALID: Record<string, { text: string; reason: RegExp }> = {
  'duplicate key': { text: `${BASE}  router: other\n`, reason: /duplicate key "router"/ },
  'duplicate key in flow style': { text: '{apiVersion: ovndrift.io/v1alpha1, kind: PodCIDRRoute, metadata: {name: corpus, name: again}, spec: {router: dev-jr, nexthop: 10.9.2.146, cidrs: [10.9.52.144/28]}}\n', reason: /duplicate key "name"/ },
  'tab indentation': { text: BASE.replace('  router: dev-jr', '\trouter: dev-jr'), reason: /YAML syntax error/ },
  'unknown alias': { text: BASE.replace('router: dev-jr', 'router: *nowhere'), reason: /YAML alias without an anchor: \*nowhere/ },
  'unterminated flow mapping': { text: '{apiVersion: ovndrift.io/v1alpha1, kind: PodCIDRRoute\n', reason: /YAML syntax error/ },
  'alias bomb': {
    text: `a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
`,
    reason: /expands without bound/,
  },
};

/** The library's own decoding, with kubectl's schema (YAML 1.1) and a `kind: List` flattened. */
function libraryDecode(text: string): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1' })) {
    if (doc.errors.length > 0) throw doc.errors[0];
    const v = doc.toJS({ maxAliasCount: 100 }) as unknown;
    if (v === null || v === undefined) continue;
    const o = v as { kind?: unknown; items?: unknown };
    if (o.kind === 'List' && Array.isArray(o.items)) out.push(...o.items);
    else out.push(v);
  }
  return out;
}

let dir: string;
const file = (name: string) => join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.yaml`);

interface Ran { code: number; stdout: string; stderr: string }
async function cli(...args: string[]): Promise<Ran> {
  try {
    const { stdout, stderr } = await execFileP('node', [join(ROOT, 'bin/ovn-drift.js'), ...args], { cwd: ROOT, timeout: 60_000, env: { ...process.env, OVN_NB_DB: '', OVN_SB_DB: '' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
// Nothing listens on port 1: a manifest the CLI accepts gets as far as connecting (exit 2).
const check = (path: string) => cli('check', '--nb', 'tcp:127.0.0.1:1', '--sb', 'tcp:127.0.0.1:1', '--timeout', '1', '-f', path);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ovn-drift-yaml-corpus-'));
  for (const [name, text] of Object.entries(VALID)) await writeFile(file(name), text);
  for (const [name, { text }] of Object.entries(INVALID)) await writeFile(file(name), text);
  // The CLI runs from dist/: `npm test` builds it first (pretest); build here only when it is missing.
  if (!existsSync(join(ROOT, 'dist/operator/cli.js'))) await execFileP('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, timeout: 170_000 });
}, 180_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('manifest decoding is the yaml library\'s, over a corpus of spellings', () => {
  for (const name of Object.keys(VALID)) {
    it(`${name}: the CLI decodes what the library decodes, the same PodCIDRRoute`, async () => {
      const { documents, errors } = await readManifestDocuments([file(name)]);
      expect(errors).toEqual([]);
      expect(documents.map((d) => d.object)).toEqual(libraryDecode(VALID[name]!));
      const loaded = await loadPodCIDRRoutes([file(name)]);
      expect(loaded.errors).toEqual([]);
      expect(loaded.routes).toHaveLength(1);
      expect(loaded.routes[0]!.route.metadata.name).toBe('corpus');
      expect(loaded.routes[0]!.route.spec).toMatchObject(SPEC);
    });
  }

  it('the block scalars keep their YAML meaning (literal, folded, chomping)', async () => {
    const { documents } = await readManifestDocuments([file('block scalars')]);
    expect((documents[0]!.object as { metadata: { annotations: Record<string, string> } }).metadata.annotations).toEqual({
      literal: 'line one\n  indented\n',
      folded: 'folded into one line',
      kept: 'keep\n\n',
    });
  });

  it('YAML 1.1 as kubectl reads it: `adopt: yes` is true (YAML 1.2 would say the string "yes")', async () => {
    const loaded = await loadPodCIDRRoutes([file('YAML 1.1 booleans (as kubectl: yes is true)')]);
    expect(loaded.routes[0]!.route.spec.adopt).toBe(true);
  });

  for (const [name, { text, reason }] of Object.entries(INVALID)) {
    it(`${name}: refused by the library and by the CLI, naming the file`, async () => {
      const library = (() => {
        try {
          return parseAllDocuments(text, { version: '1.1' }).some((d) => d.errors.length > 0 || (d.toJS({ maxAliasCount: 100 }), false));
        } catch {
          return true;
        }
      })();
      expect(library).toBe(true);
      const { errors } = await readManifestDocuments([file(name)]);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors[0]!.file).toBe(file(name));
      expect(errors[0]!.message).toMatch(reason);
    });
  }

  it('the real CLI: every valid spelling passes validation (exit 2: OVN unreachable), every invalid one exits 1 naming file and reason', async () => {
    const valid = await Promise.all(Object.keys(VALID).map(async (name) => [name, await check(file(name))] as const));
    for (const [name, r] of valid) expect({ name, code: r.code, stderr: r.code === 2 ? '' : r.stderr }).toEqual({ name, code: 2, stderr: '' });
    const invalid = await Promise.all(Object.entries(INVALID).map(async ([name, { reason }]) => [name, reason, await check(file(name))] as const));
    for (const [name, reason, r] of invalid) {
      expect(r.code, name).toBe(1);
      expect(r.stderr, name).toContain(file(name));
      expect(r.stderr, name).toMatch(reason);
    }
  }, 120_000);
});
