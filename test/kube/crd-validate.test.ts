// What Kubernetes itself decides, checked with Kubernetes' own code: ../shared/tools/crd-validate
// (kube-apiserver v1.33 CRD and custom-resource validation, offline). Every CRD in crds/ and in
// the chart's copy is accepted (structural schema, CEL compilation and cost budget); every fixture
// CR under test/fixtures/crs/valid is accepted and every one under invalid/ is rejected with the
// message it names (`# expect:` lines, or FILE.expect for JSON); the CLI's validator (`ovn-drift
// check`, which validates before it connects) gives the same verdict as crd-validate on every
// fixture and on a generated corpus of edge cases. The CEL rules are also held to the libraries a
// Kubernetes 1.31 apiserver offers (that part needs no binary).
// Where the binary is absent (a laptop without ../shared), the tests that need it say so and skip.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findRepoDir } from '../support/test-api-server.js';

const ROOT = resolve(findRepoDir('crds'), '..');
const BIN = resolve(ROOT, '../shared/tools/crd-validate/crd-validate');
const HAVE_BIN = existsSync(BIN);
const FIXTURES = join(ROOT, 'test/fixtures/crs');
const crdFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(dir, f));
const tmp = mkdtempSync(join(tmpdir(), 'crd-validate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** All CRDs of crds/ in one multi-document file (crd-validate cr takes one CRD file). */
const bundle = join(tmp, 'crds.yaml');
writeFileSync(bundle, crdFiles(join(ROOT, 'crds')).map((f) => `---\n${readFileSync(f, 'utf8')}`).join(''));

interface Verdict {
  ok: boolean;
  /** cause lines (`* field: message`) and the `apiserver:` line */
  text: string;
}

/** Runs crd-validate; returns the verdict per `FILE[#N]` (N only for multi-document files). */
function crdValidate(args: string[]): { code: number; stdout: string; verdicts: Map<string, Verdict> } {
  const r = spawnSync(BIN, args, { encoding: 'utf8' });
  const verdicts = new Map<string, Verdict>();
  let cur: Verdict | undefined;
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+?): \S+ "[^"]*": (OK|REJECTED)/.exec(line);
    if (m) {
      cur = { ok: m[2] === 'OK', text: '' };
      verdicts.set(m[1]!, cur);
    } else if (cur) cur.text += `${line}\n`;
  }
  return { code: r.status ?? -1, stdout: r.stdout + r.stderr, verdicts };
}

const skipNote = HAVE_BIN ? BIN : `crd-validate not found at ${BIN}: skipped (CI has ../shared)`;

describe.skipIf(!HAVE_BIN)(`Kubernetes v1.33 validation (${skipNote})`, () => {
  it('accepts every CRD in crds/', () => {
    const r = crdValidate(crdFiles(join(ROOT, 'crds')));
    expect(r.code, r.stdout).toBe(0);
    expect([...r.verdicts.values()].every((v) => v.ok)).toBe(true);
    expect(r.verdicts.size).toBe(3);
  });

  it("accepts every CRD in the Helm chart's copy", () => {
    const r = crdValidate(crdFiles(join(ROOT, 'charts/ovn-drift/crds')));
    expect(r.code, r.stdout).toBe(0);
    expect(r.verdicts.size).toBe(3);
  });

  it('accepts every fixture CR under test/fixtures/crs/valid', () => {
    const files = readdirSync(join(FIXTURES, 'valid')).map((f) => join(FIXTURES, 'valid', f));
    const r = crdValidate(['cr', bundle, ...files]);
    expect(r.code, r.stdout).toBe(0);
    for (const f of files) expect(r.verdicts.get(f)?.ok, `${f}\n${r.stdout}`).toBe(true);
  });

  const invalid = readdirSync(join(FIXTURES, 'invalid')).filter((f) => !f.endsWith('.expect')).sort();
  it.each(invalid)('rejects invalid/%s with the message it names', (name) => {
    const file = join(FIXTURES, 'invalid', name);
    const expected = existsSync(`${file}.expect`)
      ? readFileSync(`${file}.expect`, 'utf8').split('\n').filter(Boolean)
      : [...readFileSync(file, 'utf8').matchAll(/^# expect: (.*)$/gm)].map((m) => m[1]!);
    expect(expected.length, `${name} names no expected message`).toBeGreaterThan(0);
    const r = crdValidate(['cr', bundle, file]);
    expect(r.code, r.stdout).toBe(1);
    const v = r.verdicts.get(file)!;
    expect(v.ok).toBe(false);
    for (const e of expected) expect(v.text, r.stdout).toContain(e);
  });

  it('a duplicate YAML key: the CLI refuses it, kubectl\'s YAML reader keeps the last one (documented divergence)', () => {
    const file = join(FIXTURES, 'cli-only', 'pcr-duplicate-key.yaml');
    expect(crdValidate(['cr', bundle, file]).verdicts.get(file)?.ok).toBe(true);
    const cli = spawnSync('node', [join(ROOT, 'bin/ovn-drift.js'), 'check', '--nb', 'unix:/nonexistent', '--sb', 'unix:/nonexistent', '--timeout', '1', '-f', file], { encoding: 'utf8' });
    expect(cli.status).toBe(1);
    expect(cli.stderr).toContain(`${file} (document 1): PodCIDRRoute dupkey: spec.router: duplicate key "router"`);
  });

  // ---- the CLI's validator and Kubernetes agree ------------------------------------------------

  /** Edge cases of the CRD's rules: [nexthop, cidrs, extra spec fields]. */
  const corpus: [string, unknown[], Record<string, unknown>?][] = [
    ['10.0.0.1', ['0.0.0.0/0']],
    ['10.0.0.1', ['10.0.0.0/8', '10.1.0.0/16', '192.168.1.128/25']],
    ['10.0.0.1', ['1.2.3.4/32']],
    ['10.0.0.1', ['10.0.0.1/8']],
    ['10.0.0.1', ['192.168.1.129/25']],
    ['10.0.0.1', ['10.0.0.0/33']],
    ['10.0.0.1', ['10.0.0.0/-1']],
    ['10.0.0.1', ['10.0.0.0/+8']],
    ['10.0.0.1', ['10.0.0.0/08']],
    ['10.0.0.1', ['1.2.3/24']],
    ['10.0.0.1', ['256.0.0.0/8']],
    ['10.0.0.1', ['01.2.3.0/24']],
    ['10.0.0.1', [' 10.0.0.0/8']],
    ['10.0.0.1', ['10.0.0.0/8 ']],
    ['10.0.0.1', ['10.0.0.0/8', '10.0.0.0/8']],
    ['10.0.0.1', ['10.0.0.0/8', '10.0.0.0/9']],
    ['10.0.0.1', [8]],
    ['10.0.0.1', ['fd00::/8']],
    ['fd00::1', ['::/0']],
    ['fd00::1', ['fd00::/8', '2001:db8::/32']],
    ['fd00::1', ['2001:DB8::/32']],
    ['fd00::1', ['2001:db8:0:0:1::/80']],
    ['fd00::1', ['2001:db8::1:0:0:0/80']],
    ['fd00::1', ['2001:db8::1/64']],
    ['fd00::1', ['2001:0db8::/32']],
    ['fd00::1', ['0:0:0:0:0:0:0:0/0']],
    ['fd00::1', ['::1.2.3.4/128']],
    ['fd00::1', ['::ffff:0:0/96']],
    ['fd00::1', ['::ffff:10.0.0.0/104']],
    ['fd00::1', ['fe80::%1/64']],
    ['fd00::1', ['1:2:3:4:5:6:7:8/128']],
    ['fd00::1', ['1:2:3:4:5:6:7:8:9/128']],
    ['fd00::1', ['1::2::3/128']],
    ['fd00::1', ['12345::/16']],
    ['fd00::1', ['fd00:0:0:1::/64', 'fd00:0:0:1:0::/64']],
    ['fd00::1', ['2001:db8:0:1:1:1:1:1/128']],
    ['fd00::1', ['2001:db8::1:1:1:1:1/128']],
    ['FD00::1', ['fd00::/64']],
    ['fd00:0::1', ['fd00::/64']],
    ['::', ['fd00::/64']],
    ['0.0.0.0', ['10.0.0.0/8']],
    ['10.0.0.01', ['10.0.0.0/8']],
    ['10.0.0.1 ', ['10.0.0.0/8']],
    ['', ['10.0.0.0/8']],
    ['1:2:3:4:5:6:1.2.3.4', ['fd00::/64']],
    ['::ffff:1.2.3.4', ['fd00::/64']],
    ['fe80::1%eth0', ['fd00::/64']],
    ['10.0.0.1', ['10.0.0.0/8'], { policy: 'src-ip', routeTable: 'rtb', remediation: 'Repair', adopt: true, deletionPolicy: 'Delete' }],
    ['10.0.0.1', ['10.0.0.0/8'], { policy: 'dst' }],
    ['10.0.0.1', ['10.0.0.0/8'], { adopt: 'yes' }],
    ['10.0.0.1', ['10.0.0.0/8'], { routeTable: 7 }],
    ['10.0.0.1', ['10.0.0.0/8'], { expectedChassis: 'x'.repeat(254) }],
    ['10.0.0.1', ['10.0.0.0/8'], { router: '' }],
    ['10.0.0.1', ['10.0.0.0/8'], { router: ' ' }],
    ['10.0.0.1', ['10.0.0.0/8'], { Router: 'r' }],
    ['10.0.0.1', ['10.0.0.0/8'], { deletionPolicy: 'delete' }],
    ['10.0.0.1', [], {}],
    ['10.0.0.1', Array.from({ length: 2000 }, (_, i) => `10.50.${i >> 8}.${i & 255}/32`)],
    ['10.0.0.1', Array.from({ length: 4097 }, (_, i) => `10.50.${i >> 8}.${i & 255}/32`)],
  ];

  it(`the CLI (ovn-drift check) and crd-validate give the same verdict on ${corpus.length} edge cases and on every fixture`, () => {
    const docs = corpus.map(([nexthop, cidrs, extra], i) =>
      JSON.stringify({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name: `case-${i}` }, spec: { router: `r${i}`, nexthop, cidrs, ...extra } }),
    );
    const corpusFile = join(tmp, 'corpus.yaml');
    writeFileSync(corpusFile, docs.map((d) => `---\n${d}\n`).join(''));
    const pcrFixtures = ['valid', 'invalid']
      .flatMap((d) => readdirSync(join(FIXTURES, d)).map((f) => join(FIXTURES, d, f)))
      .filter((f) => !f.endsWith('.expect') && /kind: PodCIDRRoute|"kind": "PodCIDRRoute"/.test(readFileSync(f, 'utf8')));

    const k8s = crdValidate(['cr', bundle, corpusFile, ...pcrFixtures]);
    const cli = spawnSync('node', [join(ROOT, 'bin/ovn-drift.js'), 'check', '--nb', 'unix:/nonexistent', '--sb', 'unix:/nonexistent', '--timeout', '1', '-f', corpusFile, ...pcrFixtures.flatMap((f) => ['-f', f])], { encoding: 'utf8' });
    expect(cli.status, cli.stderr).toBe(1); // some are invalid: exit 1 before connecting

    const rejectedByCli = (file: string, doc: number) => cli.stderr.includes(`${file} (document ${doc}):`);
    const disagreements: string[] = [];
    corpus.forEach((c, i) => {
      const v = k8s.verdicts.get(`${corpusFile}#${i + 1}`);
      if (!v) return disagreements.push(`case ${i}: no crd-validate verdict`);
      if (v.ok === rejectedByCli(corpusFile, i + 1)) disagreements.push(`case ${i} ${JSON.stringify(c).slice(0, 200)}: kubernetes ${v.ok ? 'accepts' : 'rejects'}, CLI ${v.ok ? 'rejects' : 'accepts'}`);
    });
    for (const f of pcrFixtures) {
      const v = k8s.verdicts.get(f);
      if (!v) disagreements.push(`${f}: no crd-validate verdict`);
      else if (v.ok === rejectedByCli(f, 1)) disagreements.push(`${f}: kubernetes ${v.ok ? 'accepts' : 'rejects'}, CLI ${v.ok ? 'rejects' : 'accepts'}`);
    }
    expect(disagreements, `${cli.stderr}\n${k8s.stdout}`).toEqual([]);
    // the corpus is not trivially one-sided
    const accepted = corpus.filter((_, i) => k8s.verdicts.get(`${corpusFile}#${i + 1}`)?.ok).length;
    expect(accepted).toBeGreaterThan(8);
    expect(corpus.length - accepted).toBeGreaterThan(20);
  });
});

// ---- CEL libraries a 1.31 apiserver offers -------------------------------------------------------

/**
 * Functions and macros a Kubernetes 1.31 apiserver compiles in stored CRD validation rules, by
 * library. A 1.31 server's CEL environment for stored expressions holds what was introduced up to
 * 1.30 (k8s.io/apiserver/pkg/cel/environment/base.go: "compatibility version" n-1): the CEL core
 * and macros, cel-go's strings extension, Kubernetes' lists, regex and URL libraries, quantity
 * (1.29), cel-go's sets extension (1.29), and the IP and CIDR libraries (1.30). The format library
 * (1.31), two-variable comprehensions and semver (1.33) are NOT usable on 1.31 and are not listed.
 */
const CEL_1_31: Record<string, string[]> = {
  'CEL core and macros': ['has', 'all', 'exists', 'exists_one', 'map', 'filter', 'size', 'matches', 'startsWith', 'endsWith', 'contains', 'int', 'uint', 'double', 'string', 'bytes', 'bool', 'type', 'dyn', 'duration', 'timestamp', 'getFullYear', 'getMonth', 'getDate', 'getDayOfMonth', 'getDayOfWeek', 'getDayOfYear', 'getHours', 'getMinutes', 'getSeconds', 'getMilliseconds'],
  'cel-go strings extension': ['charAt', 'indexOf', 'lastIndexOf', 'lowerAscii', 'upperAscii', 'replace', 'split', 'substring', 'trim', 'join', 'format', 'quote', 'reverse'],
  'Kubernetes lists library': ['isSorted', 'sum', 'min', 'max'],
  'Kubernetes regex library': ['find', 'findAll'],
  'Kubernetes URL library': ['url', 'isURL', 'getScheme', 'getHost', 'getHostname', 'getPort', 'getEscapedPath', 'getQuery'],
  'Kubernetes quantity library (1.29)': ['quantity', 'isQuantity', 'sign', 'isInteger', 'asInteger', 'asApproximateFloat', 'add', 'sub', 'isLessThan', 'isGreaterThan', 'compareTo'],
  'cel-go sets extension (1.29)': ['sets.contains', 'sets.equivalent', 'sets.intersects'],
  'Kubernetes IP library (1.30)': ['isIP', 'ip', 'ip.isCanonical', 'family', 'isUnspecified', 'isLoopback', 'isLinkLocalMulticast', 'isLinkLocalUnicast', 'isGlobalUnicast'],
  'Kubernetes CIDR library (1.30)': ['isCIDR', 'cidr', 'containsIP', 'containsCIDR', 'masked', 'prefixLength'],
};

/** Every function name called in a CEL expression (string literals removed). */
function calledFunctions(expr: string): string[] {
  const code = expr.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, "''");
  return [...code.matchAll(/((?:[A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*)\s*\(/g)].map((m) => {
    const name = m[1]!;
    // `x.f(` is method f on x, unless x.f is a namespaced function (ip.isCanonical, sets.contains)
    if (!name.includes('.')) return name;
    return Object.values(CEL_1_31).some((fns) => fns.includes(name)) ? name : name.slice(name.lastIndexOf('.') + 1);
  });
}

describe('CEL rules use only libraries a Kubernetes 1.31 apiserver has', () => {
  const expressions: { crd: string; where: string; expr: string }[] = [];
  for (const f of crdFiles(join(ROOT, 'crds'))) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/^\s*-?\s*(rule|messageExpression):\s*(.+)$/gm)) {
      let expr = m[2]!.trim();
      if ((expr.startsWith('"') && expr.endsWith('"')) || (expr.startsWith("'") && expr.endsWith("'"))) expr = JSON.parse(expr.startsWith('"') ? expr : `"${expr.slice(1, -1).replace(/"/g, '\\"')}"`);
      expressions.push({ crd: f.slice(f.lastIndexOf('/') + 1), where: m[1]!, expr });
    }
  }

  it('finds the rules (including the IP/CIDR ones)', () => {
    const all = expressions.map((e) => e.expr).join('\n');
    for (const fn of ['isIP(', 'isCIDR(', 'cidr(', '.masked()', '.family()']) expect(all).toContain(fn);
  });

  it.each(expressions.map((e) => [`${e.crd} ${e.where}: ${e.expr}`, e]))('%s', (_n, e) => {
    const known = new Set(Object.values(CEL_1_31).flat());
    const unknown = calledFunctions((e as { expr: string }).expr).filter((fn) => !known.has(fn));
    expect(unknown, `not available on a Kubernetes 1.31 apiserver: ${unknown.join(', ')}`).toEqual([]);
  });

  it('the check itself catches a newer library (format, semver, two-variable comprehensions)', () => {
    const known = new Set(Object.values(CEL_1_31).flat());
    for (const expr of ["format.dns1123Label().validate(self).hasValue()", "isSemver(self)", "self.all(i, v, v > 0)"]) {
      const fns = calledFunctions(expr);
      const flagged = fns.filter((fn) => !known.has(fn));
      // two-variable `all` looks like the macro by name: the arity check below catches it
      const twoVar = /\.all\(\s*\w+\s*,\s*\w+\s*,/.test(expr);
      expect(flagged.length > 0 || twoVar, expr).toBe(true);
    }
    for (const e of expressions) expect(/\.(all|exists|exists_one|map|filter)\(\s*\w+\s*,\s*\w+\s*,/.test(e.expr), e.expr).toBe(false);
  });
});
