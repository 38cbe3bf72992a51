// `ovn-drift operator` flag handling: bad input exits 1 with a message naming the flag and starts
// nothing; --help exits 0.
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../operator/commands/operator.js';

const NOT_PEM = join(tmpdir(), `ovn-drift-not-pem-${process.pid}.txt`);
writeFileSync(NOT_PEM, 'this is not a PEM file\n');
afterAll(() => rmSync(NOT_PEM, { force: true }));

describe('operator command flags', () => {
  const errors: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    errors.length = 0;
  });
  const capture = () => {
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errors.push(a.join(' ')));
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
  };

  it.each([
    [['--sb-remote', 'tcp:127.0.0.1:6642'], '--nb-remote REMOTE is required (or set OVN_NB_DB)'],
    [['--nb-remote', 'foo:1', '--sb-remote', 'tcp:127.0.0.1:6642'], '--nb-remote foo:1: bad OVSDB remote "foo:1"'],
    [['--nb-remote', 'tcp:127.0.0.1:6641', '--sb-remote', 'tcp:127.0.0.1:6642', '--resync', 'soon'], '--resync: "soon" is not a duration'],
    [['--nb-remote', 'tcp:127.0.0.1:6641', '--sb-remote', 'tcp:127.0.0.1:6642', '--agent-stale-after', 'never'], '--agent-stale-after: "never" is not a duration'],
    [['--nb-remote', 'ssl:127.0.0.1:6641', '--sb-remote', 'tcp:127.0.0.1:6642', '--private-key', '/nonexistent/key.pem'], '--private-key: file /nonexistent/key.pem does not exist'],
    [['--nb-remote', 'tcp:127.0.0.1:6641', '--sb-remote', 'tcp:127.0.0.1:6642', '--metrics-addr', 'nope'], '--metrics-addr'],
    [['--nb-remote', 'ssl:127.0.0.1:6641', '--sb-remote', 'ssl:127.0.0.1:6642', '--private-key', NOT_PEM, '--certificate', NOT_PEM, '--ca-cert', NOT_PEM], `cannot use the TLS private key file ${NOT_PEM}: not a PEM file`],
    [['--nb-remote', 'tcp:127.0.0.1:6641', '--sb-remote', 'tcp:127.0.0.1:6642', '--finalizer-timeout', 'later'], '--finalizer-timeout: "later" is not a duration'],
    [['--nb-remote', 'tcp:127.0.0.1:6641', '--sb-remote', 'tcp:127.0.0.1:6642', '--workers', '0'], '--workers: "0" is not a whole number from 1 to 64'],
    [['--frobnicate'], "Unknown option '--frobnicate'"],
  ])('%j exits 1 naming the problem', async (argv, message) => {
    capture();
    expect(await run(argv as string[])).toBe(1);
    expect(errors.join('\n')).toContain(message);
  });

  it('--help exits 0', async () => {
    capture();
    expect(await run(['--help'])).toBe(0);
  });
});
