// Cluster mode against the strict in-repo test API server (a test API server, not a cluster: real
// @kubernetes/client-node over HTTP) and real iptables in a namespace: the agent watches
// TunnelNoTrackPolicy and its Node, applies, writes NodeNoTrackState, follows label changes and
// reports iptables failures; the operator's aggregation (operator/controller/status.ts) turns the states
// into policy status.
import { chmodSync, mkdtempSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NodeNoTrackState } from '../../operator/api/tunnelnotrackpolicy.js';
import type { PassResult } from '../../operator/agent/agent.js';
import { renderPolicyStatus } from '../../operator/controller/status.js';
import { CHAIN } from '../../operator/agent/render.js';
import { runAgent } from '../../operator/commands/agent.js';
import { TestApiServer } from '../support/test-api-server.js';
import { Netns, ourRules } from './netns.js';
import { policyDoc, silent } from './support.js';

const G = { group: 'ovndrift.io', version: 'v1alpha1' };
const gw = policyDoc('ic-gateway', {
  nodeSelector: { matchLabels: { 'node-role.kubernetes.io/ic-gateway': '' } },
  ports: [{ name: 'stt', protocol: 'TCP', port: 7471 }, { name: 'geneve', protocol: 'UDP', port: 6081 }],
});

async function until<T>(get: () => Promise<T | undefined> | T | undefined, what: string, limit = 300): Promise<T> {
  for (let i = 0; i < limit; i++) {
    const v = await get();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 30));
  }
  throw new Error(`never happened: ${what}`);
}

describe('agent in cluster mode (test API server)', () => {
  let server: TestApiServer;
  let ns: Netns;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let shim: string;
  beforeEach(async () => {
    server = await TestApiServer.start();
    ns = Netns.create();
    const kc = server.kubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
    shim = mkdtempSync(join(tmpdir(), 'ovn-drift-shim-'));
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    await core.createNode({ body: { metadata: { name: 'gw-1', labels: { 'node-role.kubernetes.io/ic-gateway': '' } } } });
    await core.createNode({ body: { metadata: { name: 'worker-1', labels: {} } } });
    await custom.createClusterCustomObject({ ...G, plural: 'tunnelnotrackpolicies', body: gw });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await server.close();
    ns.delete();
    rmSync(shim, { recursive: true, force: true });
  });

  const state = async (node: string): Promise<NodeNoTrackState | undefined> => {
    try {
      return (await custom.getClusterCustomObject({ ...G, plural: 'nodenotrackstates', name: node })) as NodeNoTrackState;
    } catch {
      return undefined;
    }
  };

  it('--once applies what selects the node and writes its NodeNoTrackState', async () => {
    const code = await runAgent(['--node-name', 'gw-1', '--once', '--netns', ns.name, '--backend', 'nft'], { logger: silent, kubeConfig: server.kubeConfig() });
    expect(code).toBe(0);
    expect(ourRules(ns, 'nft', 'ipv4').filter((l) => l.startsWith(`-A ${CHAIN}`))).toHaveLength(2);
    const st = (await state('gw-1'))!.status!;
    expect(st.backend).toBe('nft');
    expect(st.appliedPolicies).toEqual([{ name: 'ic-gateway', generation: 1 }]);
    expect(st.rules).toBe(8);
    expect(st.ports).toEqual([
      { protocol: 'TCP', port: 7471, ipFamilies: ['IPv4', 'IPv6'], policies: ['ic-gateway'] },
      { protocol: 'UDP', port: 6081, ipFamilies: ['IPv4', 'IPv6'], policies: ['ic-gateway'] },
    ]);
    expect(st.conditions[0]).toMatchObject({ type: 'Ready', status: 'True', reason: 'RulesApplied' });
    expect(st.lastError).toBeUndefined();
    // It asked only for its own Node (list and watch), never for every Node in the cluster.
    const nodeGets = server.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/api/v1/nodes'));
    expect(nodeGets.length).toBeGreaterThanOrEqual(1);
    for (const r of nodeGets) expect(new URLSearchParams(r.query).get('fieldSelector')).toBe('metadata.name=gw-1');
  });

  it('--once exits 2 when listing its Node fails, and touches nothing', async () => {
    server.failNext({ method: 'GET', pathIncludes: '/api/v1/nodes', status: 503, times: 1 });
    const code = await runAgent(['--node-name', 'gw-1', '--once', '--netns', ns.name, '--backend', 'nft'], { logger: silent, kubeConfig: server.kubeConfig() });
    expect(code).toBe(2);
    expect(vi.mocked(console.error).mock.calls.flat().join('\n')).toContain('Kubernetes API unreachable');
    expect(ourRules(ns, 'nft', 'ipv4')).toEqual([]);
    expect(await state('gw-1')).toBeUndefined();
  });

  it('without iptables the state object says so, and the agent retries until iptables is there', async () => {
    symlinkSync('/usr/sbin/ip', join(shim, 'ip'));
    const results: PassResult[] = [];
    const ctl = new AbortController();
    const done = runAgent(['--node-name', 'gw-1', '--netns', ns.name, '--interval', '5s'], {
      logger: silent,
      kubeConfig: server.kubeConfig(),
      signal: ctl.signal,
      backoffBaseMs: 50,
      env: { ...process.env, PATH: shim },
      onResult: (r) => void results.push(r),
    });
    try {
      const failing = await until(async () => {
        const s = await state('gw-1');
        return s?.status?.conditions[0]?.reason === 'IptablesMissing' ? s : undefined;
      }, 'state saying iptables is missing');
      expect(failing.status!.conditions[0]!.status).toBe('False');
      expect(failing.status!.lastError).toContain('neither iptables-nft-save nor iptables-legacy-save is installed');
      expect(failing.status!.backend).toBeUndefined();
      await until(() => results.filter((r) => r.outcome === 'IptablesFailed').length >= 2, 'a retry');

      for (const bin of readdirSync('/usr/sbin').filter((b) => /^(ip6?tables|xtables|conntrack$)/.test(b))) symlinkSync(join('/usr/sbin', bin), join(shim, bin));
      const ok = await until(async () => {
        const s = await state('gw-1');
        return s?.status?.conditions[0]?.status === 'True' ? s : undefined;
      }, 'Ready once iptables is installed');
      expect(ok.status!.backend).toBe('nft');
      expect(ok.status!.lastError).toBeUndefined();
      expect(ourRules(ns, 'nft', 'ipv4').filter((l) => l.startsWith(`-A ${CHAIN}`))).toHaveLength(2);
    } finally {
      ctl.abort();
      expect(await done).toBe(0);
    }
  });

  it('follows policy and label changes, reports iptables failures, and feeds the policy status', async () => {
    const flag = join(shim, 'fail');
    for (const bin of ['iptables-nft-restore', 'ip6tables-nft-restore']) {
      writeFileSync(join(shim, bin), `#!/bin/sh\nif [ -e ${flag} ]; then echo "${bin}: simulated failure" >&2; exit 4; fi\nexec /usr/sbin/${bin} "$@"\n`);
      chmodSync(join(shim, bin), 0o755);
    }
    const results: PassResult[] = [];
    const ctl = new AbortController();
    const done = runAgent(['--node-name', 'gw-1', '--netns', ns.name, '--backend', 'nft', '--interval', '5s'], {
      logger: silent,
      kubeConfig: server.kubeConfig(),
      signal: ctl.signal,
      backoffBaseMs: 50,
      env: { ...process.env, PATH: `${shim}:${process.env.PATH}` },
      onResult: (r) => void results.push(r),
    });
    try {
      await until(async () => (await state('gw-1'))?.status?.conditions[0]?.status === 'True', 'Ready state');
      expect(ourRules(ns, 'nft', 'ipv6').filter((l) => l.startsWith(`-A ${CHAIN}`))).toHaveLength(2);

      // The operator's aggregation over what the API holds: gw-1 applied, worker-1 not selected.
      const policyObj = (await custom.getClusterCustomObject({ ...G, plural: 'tunnelnotrackpolicies', name: 'ic-gateway' })) as never;
      const nodes = (await core.listNode()).items.map((n) => ({ name: n.metadata!.name!, labels: n.metadata!.labels ?? {} }));
      const states = ((await custom.listClusterCustomObject({ ...G, plural: 'nodenotrackstates' })) as { items: NodeNoTrackState[] }).items;
      const byName = (items: NodeNoTrackState[]): Map<string, NodeNoTrackState> => new Map(items.map((s) => [s.metadata.name, s]));
      const status = renderPolicyStatus(undefined, policyObj, nodes, byName(states), new Date());
      expect(status).toMatchObject({ desiredNodes: 1, appliedNodes: 1 });
      expect(status.failures ?? []).toEqual([]);
      expect(status.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Applied' });
      // The CRD's status schema accepts it.
      await custom.replaceClusterCustomObjectStatus({ ...G, plural: 'tunnelnotrackpolicies', name: 'ic-gateway', body: { ...(policyObj as object), status } });

      // A policy edit is picked up through the watch (the interval is 5 s; the watch wakes the loop).
      await custom.patchClusterCustomObject(
        { ...G, plural: 'tunnelnotrackpolicies', name: 'ic-gateway', body: { spec: { ports: [{ name: 'vxlan', protocol: 'UDP', port: 4789 }] } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      await until(async () => (await state('gw-1'))?.status?.appliedPolicies[0]?.generation === 2, 'generation 2 applied');
      expect(ourRules(ns, 'nft', 'ipv4').filter((l) => l.startsWith(`-A ${CHAIN}`)).map((l) => /--ports (\d+)/.exec(l)![1])).toEqual(['4789']);

      // iptables fails: Ready False with the error, previous rules stay, retried.
      writeFileSync(flag, '');
      await custom.patchClusterCustomObject(
        { ...G, plural: 'tunnelnotrackpolicies', name: 'ic-gateway', body: { spec: { ports: [{ name: 'geneve', protocol: 'UDP', port: 6081 }] } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      const failed = await until(async () => {
        const s = await state('gw-1');
        return s?.status?.conditions[0]?.status === 'False' ? s : undefined;
      }, 'Ready False after iptables failure');
      expect(failed.status!.lastError).toMatch(/iptables-nft-restore --noflush failed \(exit 4/);
      expect(failed.status!.conditions[0]!.reason).toBe('IptablesFailed');
      expect(ourRules(ns, 'nft', 'ipv4').filter((l) => l.startsWith(`-A ${CHAIN}`)).map((l) => /--ports (\d+)/.exec(l)![1])).toEqual(['4789']);
      const states2 = ((await custom.listClusterCustomObject({ ...G, plural: 'nodenotrackstates' })) as { items: NodeNoTrackState[] }).items;
      const policy3 = (await custom.getClusterCustomObject({ ...G, plural: 'tunnelnotrackpolicies', name: 'ic-gateway' })) as never;
      const failing = renderPolicyStatus(status, policy3, nodes, byName(states2), new Date());
      expect(failing.failures).toEqual([{ node: 'gw-1', message: expect.stringContaining('simulated failure') }]);
      expect(failing.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'AgentFailed' });
      await until(() => results.filter((r) => r.outcome === 'IptablesFailed').length >= 2, 'a retry');

      unlinkSync(flag);
      await until(async () => (await state('gw-1'))?.status?.conditions[0]?.status === 'True', 'recovered');
      expect(ourRules(ns, 'nft', 'ipv4').filter((l) => l.startsWith(`-A ${CHAIN}`)).map((l) => /--ports (\d+)/.exec(l)![1])).toEqual(['6081']);

      // The node loses the label: rules removed, state says so.
      await core.patchNode({ name: 'gw-1', body: { metadata: { labels: { 'node-role.kubernetes.io/ic-gateway': null } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      await until(async () => (await state('gw-1'))?.status?.conditions[0]?.reason === 'NoPolicySelectsNode', 'no policy selects the node');
      expect(ourRules(ns, 'nft', 'ipv4')).toEqual([]);
      expect(ourRules(ns, 'nft', 'ipv6')).toEqual([]);
      expect((await state('gw-1'))!.status!.appliedPolicies).toEqual([]);
    } finally {
      ctl.abort();
      expect(await done).toBe(0);
    }
  });
});
