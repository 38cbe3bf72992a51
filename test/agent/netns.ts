// Test helpers: network namespaces (and veth pairs) the agent tests create and always delete,
// plus shell-outs to iptables/conntrack inside them. Used by test/agent/* and test/bench/agent.ts.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

function sh(argv: string[], input?: string): string {
  return execFileSync(argv[0]!, argv.slice(1), { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
}

export class Netns {
  private constructor(readonly name: string) {}
  static create(prefix = 'odt'): Netns {
    const name = `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
    sh(['ip', 'netns', 'add', name]);
    const ns = new Netns(name);
    ns.exec(['ip', 'link', 'set', 'lo', 'up']);
    return ns;
  }
  exec(argv: string[], input?: string): string {
    return sh(['ip', 'netns', 'exec', this.name, ...argv], input);
  }
  /** Like exec, but returns exit code and output instead of throwing. */
  try(argv: string[], input?: string): { code: number; out: string } {
    try {
      return { code: 0, out: this.exec(argv, input) };
    } catch (err) {
      const e = err as { status?: number; stdout?: string; stderr?: string };
      return { code: e.status ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  }
  spawn(argv: string[]): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  }
  delete(): void {
    try {
      sh(['ip', 'netns', 'del', this.name]);
    } catch {
      // already gone
    }
  }
}

/** Two namespaces joined by a veth pair: a = 10.77.0.1/fd77::1, b = 10.77.0.2/fd77::2. */
export function vethPair(a: Netns, b: Netns): void {
  const suffix = randomBytes(3).toString('hex');
  const va = `va${suffix}`;
  const vb = `vb${suffix}`;
  // Created inside a, so deleting either namespace removes the pair.
  a.exec(['ip', 'link', 'add', va, 'type', 'veth', 'peer', 'name', vb]);
  a.exec(['ip', 'link', 'set', vb, 'netns', b.name]);
  a.exec(['ip', 'addr', 'add', '10.77.0.1/24', 'dev', va]);
  b.exec(['ip', 'addr', 'add', '10.77.0.2/24', 'dev', vb]);
  a.exec(['ip', '-6', 'addr', 'add', 'fd77::1/64', 'dev', va, 'nodad']);
  b.exec(['ip', '-6', 'addr', 'add', 'fd77::2/64', 'dev', vb, 'nodad']);
  a.exec(['ip', 'link', 'set', va, 'up']);
  b.exec(['ip', 'link', 'set', vb, 'up']);
}

export type BackendName = 'nft' | 'legacy';
export function ipt(ns: Netns, backend: BackendName, family: 'ipv4' | 'ipv6', args: string[]): string {
  return ns.exec([`${family === 'ipv4' ? 'iptables' : 'ip6tables'}-${backend}`, ...args]);
}
/** `iptables -t raw -S` lines of our chain and our jumps only. */
export function ourRules(ns: Netns, backend: BackendName, family: 'ipv4' | 'ipv6'): string[] {
  return ipt(ns, backend, family, ['-w', '-t', 'raw', '-S'])
    .split('\n')
    .filter((l) => l.includes('OVN-DRIFT-NOTRACK'));
}
