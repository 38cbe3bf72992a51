// The dependency rule of STYLE.md, enforced: only operator/ovn/ interprets NB/SB rows. A module
// outside operator/ovn/ (and the wire layer operator/ovsdb/) that reads a table's rows, or parses
// addresses / dynamic_addresses / port_security / options, fails this test, naming file and line.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'operator');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Things only operator/ovn/ may do with OVN rows. */
const FORBIDDEN: [RegExp, string][] = [
  [/\.rows\(\s*['"`]/, 'reads an OVSDB table (RowSource.rows)'],
  [/\b(port_security|dynamic_addresses)\b/, 'parses a Logical_Switch_Port address column'],
  [/\.addresses\b/, 'parses Logical_Switch_Port addresses'],
  [/['"](virtual-ip|virtual-parents|router-port|l3gateway-chassis)['"]/, 'reads an options: key of a row'],
  [/\b(strMap|strSet|sortedRows|optStr)\(/, 'uses the row accessors of ovn/rows.ts'],
  // (assigning a column of a planned write, `row.nexthop = ...`, is not reading one)
  [/\brow\.(name|options|networks|match|actions|ip_prefix|logical_port|external_ids|type|chassis)\b(?!\s*=[^=])/, 'reads a column of a row'],
];

describe('only operator/ovn/ interprets NB/SB rows', () => {
  it('no module outside operator/ovn/ and operator/ovsdb/ reads rows or parses address/option columns', () => {
    const offences: string[] = [];
    for (const f of files(SRC)) {
      const rel = relative(ROOT, f);
      if (rel.startsWith('operator/ovn/') || rel.startsWith('operator/ovsdb/')) continue;
      readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
        if (/^\s*(\/\/|\*)/.test(line)) return; // comments may name the columns
        for (const [re, what] of FORBIDDEN) if (re.test(line)) offences.push(`${rel}:${i + 1} ${what}: ${line.trim()}`);
      });
    }
    expect(offences).toEqual([]);
  });

  it('the rule can fail: it flags a line that parses port_security', () => {
    const line = "for (const a of strSet(row.port_security)) ips.push(a);";
    expect(FORBIDDEN.filter(([re]) => re.test(line)).map(([, w]) => w)).toEqual(['parses a Logical_Switch_Port address column', 'uses the row accessors of ovn/rows.ts']);
  });
});
