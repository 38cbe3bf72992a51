// The alert rules (charts/ovn-drift/files/prometheus-rules.yaml) checked and unit-tested with the
// real promtool (Debian package `prometheus`): `promtool check rules` and `promtool test rules
// test/alerts/rules.test.yaml`. A deliberately wrong expectation must make promtool fail, so the
// harness can fail.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const RULES = join(ROOT, 'charts/ovn-drift/files/prometheus-rules.yaml');
const TESTS = join(ROOT, 'test/alerts/rules.test.yaml');

function promtool(args: string[]): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync('promtool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string; code?: string };
    if (e.code === 'ENOENT') throw new Error('promtool is not installed (apt-get install -y prometheus)');
    return { code: e.status ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('alert rules with promtool', () => {
  it('promtool check rules: valid, 11 rules', () => {
    const r = promtool(['check', 'rules', RULES]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('SUCCESS: 11 rules found');
  });

  it('promtool test rules: every alert fires and stays quiet when it should', () => {
    const r = promtool(['test', 'rules', TESTS]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('SUCCESS');
  });

  it('a wrong expectation fails (the harness can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ovn-drift-promtool-'));
    try {
      const broken = readFileSync(TESTS, 'utf8')
        .replace('../../charts/ovn-drift/files/prometheus-rules.yaml', RULES)
        .replace('summary: "2 pod CIDR route(s) have drifted from OVN for 15 minutes"', 'summary: "3 pod CIDR route(s) have drifted from OVN for 15 minutes"');
      writeFileSync(join(dir, 'broken.test.yaml'), broken);
      const r = promtool(['test', 'rules', join(dir, 'broken.test.yaml')]);
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/FAILED/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
