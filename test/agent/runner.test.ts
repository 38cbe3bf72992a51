// One contract for both CommandRunner implementations (a process per command; long-lived helper
// shells), on the host and inside a network namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessRunner, ShellRunner, type CommandRunner } from '../../operator/agent/iptables.js';
import { Netns } from './netns.js';

let ns: Netns;
beforeAll(() => {
  ns = Netns.create();
});
afterAll(() => ns.delete());

const kinds: [string, (netns?: string, timeoutMs?: number) => CommandRunner][] = [
  ['ProcessRunner', (netns, timeoutMs) => new ProcessRunner({ netns, timeoutMs })],
  ['ShellRunner', (netns, timeoutMs) => new ShellRunner({ netns, timeoutMs })],
];

describe.each(kinds)('%s', (_name, make) => {
  describe.each([false, true])('in a namespace: %s', (inNs) => {
    let r: CommandRunner;
    beforeAll(() => {
      r = make(inNs ? ns.name : undefined);
    });
    afterAll(() => r.close());

    it('returns exit code, stdout and stderr apart', async () => {
      expect(await r.run(['sh', '-c', 'echo hi; echo err >&2; exit 3'])).toEqual({ code: 3, stdout: 'hi\n', stderr: 'err\n' });
      expect(await r.run(['printf', 'abc'])).toEqual({ code: 0, stdout: 'abc', stderr: '' });
    });
    it('passes arguments verbatim (spaces, quotes, $)', async () => {
      const out = await r.run(['printf', '%s|', 'a b', "it's", '$HOME', '"q"', '', '*']);
      expect(out.stdout).toBe(`a b|it's|$HOME|"q"||*|`);
    });
    it('feeds newline-terminated input on stdin; no input means an empty stdin', async () => {
      const text = "*raw\n-A X -m comment --comment \"a 'b' $c\" -j Y\nEOF\nCOMMIT\n";
      expect((await r.run(['cat'], text)).stdout).toBe(text);
      expect((await r.run(['cat'])).stdout).toBe('');
    });
    it('says 127 for a missing binary and has() agrees', async () => {
      expect((await r.run(['ovn-drift-no-such-binary'])).code).toBe(127);
      expect(await r.has('ovn-drift-no-such-binary')).toBe(false);
      expect(await r.has('iptables-nft')).toBe(true);
    });
    it('runs in the namespace when asked', async () => {
      const links = (await r.run(['ip', '-o', 'link'])).stdout.trim().split('\n');
      if (inNs) expect(links.map((l) => l.split(':')[1]!.trim())).toEqual(['lo']);
      else expect(links.length).toBeGreaterThanOrEqual(1);
      expect(r.where).toBe(inNs ? `netns ${ns.name}` : 'host');
    });
    it('keeps concurrent commands apart, with large outputs', async () => {
      const res = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => r.run(['sh', '-c', `sleep 0.0${n}; seq 1 ${n * 20000}`])));
      res.forEach((x, i) => {
        const lines = x.stdout.trim().split('\n');
        expect(lines.length).toBe((i + 1) * 20000);
        expect(lines.at(-1)).toBe(String((i + 1) * 20000));
      });
    });
  });

  it('a command that hangs is stopped at the timeout and the runner keeps working', async () => {
    const r = make(undefined, 300);
    try {
      const hung = await r.run(['sleep', '5']);
      expect(hung.code).not.toBe(0);
      expect(await r.run(['echo', 'after'])).toEqual({ code: 0, stdout: 'after\n', stderr: '' });
    } finally {
      await r.close();
    }
  });
});
