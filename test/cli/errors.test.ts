// The one error model (operator/errors.ts): every layer's error is an OvnDriftError with a stable
// code, a cause and the exit class the CLI contract gives it; exitCodeOf maps them for every
// command. Built from the real classes the layers throw (no stand-ins).
import { describe, expect, it } from 'vitest';
import { EXIT, InputError, OvnDriftError, UsageError, codeOf, exitCodeOf } from '../../operator/errors.js';
import { AgentError, asAgentError } from '../../operator/agent/errors.js';
import { KubeConfigError, loadKubeConfig } from '../../operator/kube/config.js';
import { OvnConnectError } from '../../operator/ovn/errors.js';
import { BadRemoteError, OvsdbError, TimeoutError, TransactionFailedError, UnreachableError, checkTransactResult } from '../../operator/ovsdb/errors.js';
import { parseRemotes } from '../../operator/ovsdb/remote.js';
import { SandboxError } from '../../operator/sandbox/sandbox.js';

describe('one error base', () => {
  it('every layer error is an OvnDriftError with a code, a name and a cause', () => {
    const cause = new Error('ECONNREFUSED');
    const errors: OvnDriftError[] = [
      new UnreachableError('no remote answered', [], { cause }),
      new OvnConnectError('NB', 'tcp:127.0.0.1:1', 'cannot connect to the OVN NB database at tcp:127.0.0.1:1', { cause }),
      new AgentError('IptablesFailed', 'iptables-nft-restore failed', { cause }),
      new KubeConfigError('cannot load kubeconfig /nope', { cause }),
      new SandboxError('StartFailed', 'ovsdb-server did not start', { cause }),
      new UsageError('--nb REMOTE is required', { cause }),
      new InputError('ManifestInvalid', 'p.yaml: spec.cidrs[0] is not a prefix', { cause }),
    ];
    for (const e of errors) {
      expect(e).toBeInstanceOf(OvnDriftError);
      expect(e).toBeInstanceOf(Error);
      expect(e.cause).toBe(cause);
      expect(e.name).toBe(e.constructor.name);
      expect(typeof e.code).toBe('string');
      expect(codeOf(e)).toBe(e.code);
    }
    expect(codeOf(new Error('foreign'))).toBeUndefined();
  });

  it('codes do not collide between layers: the OVN connect code is not the OVSDB one it wraps', () => {
    const inner = new UnreachableError('no remote answered');
    const outer = new OvnConnectError('SB', 'unix:/nope', 'cannot connect to the OVN SB database at unix:/nope', { cause: inner });
    expect(inner.code).toBe('Unreachable');
    expect(outer.code).toBe('OvnDatabaseUnreachable');
    expect((outer.cause as OvsdbError).code).toBe('Unreachable');
  });

  it('the agent names what failed: a missing Node and a status conflict are not iptables failures', () => {
    expect(new AgentError('NodeNotFound', 'Node n1 not found').code).toBe('NodeNotFound');
    expect(new AgentError('NodeStateConflict', 'kept conflicting').code).toBe('NodeStateConflict');
    const wrapped = asAgentError(new Error('boom'));
    expect(wrapped.code).toBe('IptablesFailed');
    expect(wrapped.message).toBe('boom');
    const own = new AgentError('ConntrackFailed', 'x');
    expect(asAgentError(own)).toBe(own);
  });
});

describe('exitCodeOf: the CLI contract (0 ok, 1 bad input or usage, 2 unreachable or runtime, 3 drift)', () => {
  it('the vocabulary is the contract', () => {
    expect(EXIT).toEqual({ ok: 0, badInput: 1, runtime: 2, drift: 3 });
  });

  it.each([
    ['usage', new UsageError('--output must be text or json'), 1],
    ['manifest', new InputError('ManifestUnreadable', 'cannot read p.yaml'), 1],
    ['agent manifest', new AgentError('ManifestUnreadable', 'p.yaml: document 1 is not valid YAML'), 1],
    ['agent policy', new AgentError('PolicyInvalid', 'TunnelNoTrackPolicy x is invalid'), 1],
    ['kubeconfig', new KubeConfigError('kubeconfig has no current cluster'), 1],
    ['bad remote', new BadRemoteError('bad OVSDB remote "http://x"'), 1],
    ['missing OVN binary', new SandboxError('BinaryMissing', 'ovsdb-server is not installed'), 1],
    ['unreachable OVSDB', new UnreachableError('no remote answered'), 2],
    ['OVSDB timeout', new TimeoutError('no answer within 1000 ms'), 2],
    ['OVN connect', new OvnConnectError('NB', 'tcp:127.0.0.1:1', 'cannot connect'), 2],
    ['iptables', new AgentError('IptablesFailed', 'iptables-restore failed'), 2],
    ['iptables missing', new AgentError('IptablesMissing', 'iptables is not installed'), 2],
    ['node not found', new AgentError('NodeNotFound', 'Node n1 not found'), 2],
    ['sandbox start', new SandboxError('StartFailed', 'did not start'), 2],
    ['foreign error', new TypeError('undefined is not a function'), 2],
    ['thrown string', 'boom', 2],
  ])('%s -> %i', (_what, err, code) => {
    expect(exitCodeOf(err)).toBe(code);
  });

  it('errors the layers really throw carry their class: a bad remote string, a failed transaction', () => {
    let thrown: unknown;
    try {
      parseRemotes('http://127.0.0.1:1');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(BadRemoteError);
    expect(exitCodeOf(thrown)).toBe(EXIT.badInput);
    let failed: unknown;
    try {
      checkTransactResult([{ op: 'wait' }], [{ error: 'timed out', details: 'wait' }]);
    } catch (err) {
      failed = err;
    }
    expect(failed).toBeInstanceOf(TransactionFailedError);
    expect((failed as TransactionFailedError).has('WaitTimedOut')).toBe(true);
    expect(exitCodeOf(failed)).toBe(EXIT.runtime);
  });

  it('a kubeconfig file that cannot be loaded is bad input naming the file', () => {
    let thrown: unknown;
    try {
      loadKubeConfig('/nonexistent/kubeconfig');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(KubeConfigError);
    expect((thrown as Error).message).toContain('/nonexistent/kubeconfig');
    expect(exitCodeOf(thrown)).toBe(EXIT.badInput);
  });
});
