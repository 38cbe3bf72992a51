// renderStatus / renderPolicyStatus: kstatus conditions, reasons from the drift vocabulary, stable
// lastTransitionTime, and rendered statuses that the CRD status schema accepts without pruning.
import { describe, expect, it } from 'vitest';
import { AGENT_STALE_AFTER_MS, type PodCIDRRouteStatus } from '../../operator/api/status.js';
import { nextPolicyRecheck, renderPolicyStatus, renderStatus, statusEqual, type RouteEvaluation } from '../../operator/controller/status.js';
import type { Finding } from '../../operator/drift/kinds.js';
import type { NodeNoTrackState } from '../../operator/api/tunnelnotrackpolicy.js';
import { loadCrds } from '../../operator/api/crds.js';
import { compileCrdSchema, findRepoDir, newSchemaValidator, pruneBySchema } from '../support/test-api-server.js';

const crds = loadCrds(findRepoDir('crds'));
const ajv = newSchemaValidator();
function schemaOf(kind: string) {
  return crds.find((c) => c.crd.spec.names.kind === kind)!.crd.spec.versions[0]!.schema.openAPIV3Schema;
}
function checkAgainstCrd(kind: string, status: unknown) {
  const obj = { apiVersion: 'ovndrift.io/v1alpha1', kind, metadata: { name: 'x' }, spec: kind === 'PodCIDRRoute' ? { router: 'r', nexthop: '10.0.0.1', cidrs: ['10.1.0.0/24'] } : { ports: [{ protocol: 'UDP', port: 6081 }] }, status };
  const copy = structuredClone(obj);
  const validate = compileCrdSchema(ajv, schemaOf(kind));
  expect(validate(copy), JSON.stringify(validate.errors)).toBe(true);
  expect(pruneBySchema(structuredClone(obj), schemaOf(kind))).toEqual(obj);
}

const t0 = new Date('2026-11-23T23:00:00Z');
const t1 = new Date('2026-11-23T23:05:00Z');
const t2 = new Date('2026-11-23T23:10:00Z');
const cond = (s: PodCIDRRouteStatus, type: string) => s.conditions!.find((c) => c.type === type)!;

const seedFinding: Finding = {
  kind: 'FlowStale',
  route: 'dev-jr-pods',
  router: 'dev-jr',
  prefix: '10.9.52.144/28',
  expected: { nexthop: '10.9.2.146', hypervisor: { chassis: 'hv-36', hostname: 'hv-36', encapType: 'geneve', encapIp: '10.184.163.36' } },
  actual: { nexthop: '10.215.91.233', hypervisor: { chassis: 'hv-20', hostname: 'hv-20', encapType: 'geneve', encapIp: '10.96.133.20' } },
  message: '10.9.52.144/28: SB flow routes to 10.215.91.233 on hypervisor 10.96.133.20; NB says 10.9.2.146 on 10.184.163.36',
};
const base = (over: Partial<RouteEvaluation> = {}): RouteEvaluation => ({ prefixes: ['10.9.52.144/28', '10.9.52.160/28'], remediation: 'Report', findings: [], ...over });

describe('renderStatus', () => {
  it('in sync: Ready True / InSync, counts, observedGeneration', () => {
    const s = renderStatus(undefined, base(), 3, t0);
    expect(s.observedGeneration).toBe(3);
    expect(s.counts).toEqual({ routes: 2, inSync: 2, drifted: 0 });
    expect(s.conditions!.map((c) => [c.type, c.status, c.reason, c.observedGeneration])).toEqual([
      ['Ready', 'True', 'InSync', 3],
      ['Reconciling', 'False', 'InSync', 3],
      ['Stalled', 'False', 'InSync', 3],
    ]);
    expect(s.routes!.map((r) => r.state)).toEqual(['InSync', 'InSync']);
    checkAgainstCrd('PodCIDRRoute', s);
  });

  it('drift: Ready False with the finding kind as reason and a human message naming hypervisors and northd lag', () => {
    const s = renderStatus(undefined, base({ findings: [seedFinding], northdLag: 3 }), 1, t0);
    const ready = cond(s, 'Ready');
    expect([ready.status, ready.reason]).toEqual(['False', 'FlowStale']);
    expect(ready.message).toBe('10.9.52.144/28: SB flow routes to 10.215.91.233 on hypervisor 10.96.133.20; NB says 10.9.2.146 on 10.184.163.36; northd is 3 nb_cfg generations behind');
    expect(s.counts).toEqual({ routes: 2, inSync: 1, drifted: 1 });
    expect(s.routes![0]).toMatchObject({ prefix: '10.9.52.144/28', state: 'Drifted', findings: ['FlowStale'], actual: { nexthop: '10.215.91.233', hypervisor: { encapIp: '10.96.133.20' } } });
    expect(cond(s, 'Reconciling').status).toBe('True'); // northd lag: expected to resolve by itself
    expect(s.northdLag).toBe(3);
    checkAgainstCrd('PodCIDRRoute', s);
  });

  it('report-only drift without lag is Stalled; repairable drift in Repair mode is Reconciling', () => {
    const mismatch: Finding = { ...seedFinding, kind: 'NexthopMismatch', message: 'm' };
    const report = renderStatus(undefined, base({ findings: [mismatch] }), 1, t0);
    expect([cond(report, 'Stalled').status, cond(report, 'Reconciling').reason]).toEqual(['True', 'ReportOnly']);
    const repair = renderStatus(undefined, base({ remediation: 'Repair', findings: [mismatch] }), 1, t0);
    expect([cond(repair, 'Stalled').status, cond(repair, 'Reconciling').status, cond(repair, 'Reconciling').reason]).toEqual(['False', 'True', 'Repairing']);
    const failed = renderStatus(undefined, base({ remediation: 'Repair', findings: [mismatch], repair: { ok: false, changed: 0, message: 'transaction aborted' } }), 1, t0);
    expect([cond(failed, 'Stalled').status, cond(failed, 'Stalled').reason]).toEqual(['True', 'RepairFailed']);
    expect(cond(failed, 'Ready').message).toContain('repair failed: transaction aborted');
  });

  it('Repairing only for what a repair can fix (drift/repair.ts isRepairable, as the controller decides)', () => {
    // A flow finding with no northd lag: the controller never repairs it, so the status must not
    // say a repair is in progress; it needs intervention.
    const flow = renderStatus(undefined, base({ remediation: 'Repair', findings: [seedFinding] }), 1, t0);
    expect([cond(flow, 'Reconciling').status, cond(flow, 'Reconciling').reason, cond(flow, 'Stalled').status]).toEqual(['False', 'NeedsIntervention', 'True']);
    // An unowned competing row: repairable only when adopting.
    const conflicting: Finding = { ...seedFinding, kind: 'ConflictingRoute', message: 'c' };
    const noAdopt = renderStatus(undefined, base({ remediation: 'Repair', findings: [conflicting] }), 1, t0);
    expect(cond(noAdopt, 'Reconciling').reason).toBe('NeedsIntervention');
    const adopt = renderStatus(undefined, base({ remediation: 'Repair', adopt: true, findings: [conflicting] }), 1, t0);
    expect([cond(adopt, 'Reconciling').status, cond(adopt, 'Reconciling').reason, cond(adopt, 'Stalled').status]).toEqual(['True', 'Repairing', 'False']);
  });

  it('keeps lastTransitionTime unless the condition status changes', () => {
    const a = renderStatus(undefined, base(), 1, t0);
    const b = renderStatus(a, base(), 1, t1);
    expect(cond(b, 'Ready').lastTransitionTime).toBe('2026-11-23T23:00:00Z');
    expect(statusEqual(a, b)).toBe(true); // only lastCheckTime moved: no write needed
    const c = renderStatus(b, base({ findings: [seedFinding] }), 1, t2);
    expect(cond(c, 'Ready').lastTransitionTime).toBe('2026-11-23T23:10:00Z');
    expect(statusEqual(b, c)).toBe(false);
    const d = renderStatus(c, base({ findings: [{ ...seedFinding, kind: 'NexthopMismatch', message: 'other' }] }), 1, new Date('2026-11-23T23:20:00Z'));
    expect(cond(d, 'Ready').lastTransitionTime).toBe('2026-11-23T23:10:00Z'); // reason changed, status did not
    expect(cond(d, 'Ready').reason).toBe('NexthopMismatch');
  });

  it('OVSDB unavailable: Ready False / OvsdbUnavailable, routes Unknown, not Stalled', () => {
    const prev = renderStatus(undefined, base(), 1, t0);
    const s = renderStatus(prev, base({ ovsdbUnavailable: 'NB tcp:127.0.0.1:6641: connection refused' }), 1, t1);
    expect([cond(s, 'Ready').status, cond(s, 'Ready').reason, cond(s, 'Stalled').status, cond(s, 'Reconciling').status]).toEqual(['False', 'OvsdbUnavailable', 'False', 'True']);
    expect(s.routes!.every((r) => r.state === 'Unknown')).toBe(true);
    expect(s.lastCheckTime).toBe(prev.lastCheckTime);
    checkAgainstCrd('PodCIDRRoute', s);
  });

  it('invalid spec: Stalled / InvalidSpec naming the field', () => {
    const s = renderStatus(undefined, base({ prefixes: [], invalid: [{ field: 'spec.cidrs[0]', message: 'fd00::/64 is IPv6 but nexthop 10.9.2.146 is IPv4' }] }), 2, t0);
    expect([cond(s, 'Ready').reason, cond(s, 'Stalled').status]).toEqual(['InvalidSpec', 'True']);
    expect(cond(s, 'Ready').message).toContain('spec.cidrs[0]');
    checkAgainstCrd('PodCIDRRoute', s);
  });
});

describe('renderPolicyStatus', () => {
  const policy = { apiVersion: 'ovndrift.io/v1alpha1' as const, kind: 'TunnelNoTrackPolicy' as const, metadata: { name: 'tunnels', generation: 2 }, spec: { nodeSelector: { matchLabels: { tunnel: 'stt' } }, ports: [{ protocol: 'TCP' as const, port: 7471 }] } };
  const nodes: { name: string; labels: Record<string, string> }[] = [
    { name: 'a', labels: { tunnel: 'stt' } },
    { name: 'b', labels: { tunnel: 'stt' } },
    { name: 'c', labels: {} },
  ];
  const state = (name: string, gen: number, error?: string): [string, NodeNoTrackState] => [
    name,
    { apiVersion: 'ovndrift.io/v1alpha1' as const, kind: 'NodeNoTrackState' as const, metadata: { name }, status: { appliedPolicies: [{ name: 'tunnels', generation: gen }], ports: [], rules: 2, lastCheckTime: '2026-11-23T23:00:00Z', conditions: [], ...(error ? { lastError: error } : {}) } },
  ];
  it('counts selected and applied nodes, names failures, and is Ready only when all applied', () => {
    const pending = renderPolicyStatus(undefined, policy, nodes, new Map([state('a', 2), state('b', 1)]), t0);
    expect([pending.desiredNodes, pending.appliedNodes, pending.conditions![0]!.status, pending.conditions![0]!.reason]).toEqual([2, 1, 'False', 'Pending']);
    const failed = renderPolicyStatus(pending, policy, nodes, new Map([state('a', 2), state('b', 2, 'iptables-restore: exit 4')]), t1);
    expect(failed.failures).toEqual([{ node: 'b', message: 'iptables-restore: exit 4' }]);
    expect(failed.conditions![0]!.reason).toBe('AgentFailed');
    const ok = renderPolicyStatus(failed, policy, nodes, new Map([state('a', 2), state('b', 2), state('c', 0)]), t2);
    expect([ok.desiredNodes, ok.appliedNodes, ok.conditions![0]!.status, ok.conditions![0]!.lastTransitionTime]).toEqual([2, 2, 'True', '2026-11-23T23:10:00Z']);
    checkAgainstCrd('TunnelNoTrackPolicy', failed);
    checkAgainstCrd('TunnelNoTrackPolicy', ok);
  });
});

describe('renderPolicyStatus: stale and missing agents', () => {
  const min = 60_000;
  const created = '2026-11-23T22:00:00Z';
  const policy = { apiVersion: 'ovndrift.io/v1alpha1' as const, kind: 'TunnelNoTrackPolicy' as const, metadata: { name: 'geneve', generation: 1, creationTimestamp: created }, spec: { ports: [{ protocol: 'UDP' as const, port: 6081 }] } };
  const nodes = [{ name: 'n1', labels: {} }, { name: 'n2', labels: {} }];
  const at = (iso: string) => new Date(iso);
  const report = (name: string, lastCheckTime: string, extra: Record<string, unknown> = {}): [string, NodeNoTrackState] => [
    name,
    { apiVersion: 'ovndrift.io/v1alpha1' as const, kind: 'NodeNoTrackState' as const, metadata: { name }, status: { appliedPolicies: [{ name: 'geneve', generation: 1 }], ports: [], rules: 2, lastCheckTime, conditions: [], ...extra } },
  ];
  const ready = (s: { conditions?: { type: string; status: string; reason: string; message: string; lastTransitionTime: string }[] }) => s.conditions!.find((c) => c.type === 'Ready')!;

  it('the default stale threshold is three 5-minute agent heartbeats', () => {
    expect(AGENT_STALE_AFTER_MS).toBe(15 * min);
  });

  it('fresh reports count as applied; a report older than the threshold counts as failing (AgentStale), not applied', () => {
    const states = new Map([report('n1', '2026-11-23T23:00:00.250Z'), report('n2', '2026-11-23T23:10:00Z')]);
    const fresh = renderPolicyStatus(undefined, policy, nodes, states, at('2026-11-23T23:15:00Z'));
    expect([fresh.appliedNodes, fresh.failures, ready(fresh).status, ready(fresh).reason]).toEqual([2, undefined, 'True', 'Applied']);
    // exactly at the threshold still fresh; a moment past it stale
    expect(ready(renderPolicyStatus(undefined, policy, nodes, states, at('2026-11-23T23:15:00.250Z'))).status).toBe('True');
    const stale = renderPolicyStatus(fresh, policy, nodes, states, at('2026-11-23T23:15:01Z'));
    expect([stale.desiredNodes, stale.appliedNodes]).toEqual([2, 1]);
    expect(stale.failures).toEqual([{ node: 'n1', message: 'agent on node n1 has not reported since 2026-11-23T23:00:00Z (stale)' }]);
    expect([ready(stale).status, ready(stale).reason]).toEqual(['False', 'AgentStale']);
    expect(ready(stale).message).toContain('agent on node n1 has not reported since 2026-11-23T23:00:00Z (stale)');
    expect(stale.conditions!.find((c) => c.type === 'Stalled')!.status).toBe('True');
    checkAgainstCrd('TunnelNoTrackPolicy', stale);
    // a stale report that still says Ready=True and lists the policy is not trusted either
    const staleOk = new Map([report('n1', '2026-11-23T23:00:00Z', { conditions: [{ type: 'Ready', status: 'True', reason: 'Applied', message: 'ok', lastTransitionTime: '2026-11-23T22:00:00Z' }] }), report('n2', '2026-11-23T23:30:00Z')]);
    expect(renderPolicyStatus(undefined, policy, nodes, staleOk, at('2026-11-23T23:31:00Z')).appliedNodes).toBe(1);
    // the threshold is a parameter
    expect(ready(renderPolicyStatus(undefined, policy, nodes, states, at('2026-11-23T23:15:00Z'), undefined, { staleAfterMs: 5 * min })).reason).toBe('AgentStale');
  });

  it('a node without any report is Pending within the grace period after creation, then failing (AgentMissing)', () => {
    const states = new Map([report('n1', '2026-11-23T22:03:00Z')]);
    const within = renderPolicyStatus(undefined, policy, nodes, states, at('2026-11-23T22:04:00Z'));
    expect([within.appliedNodes, within.failures, ready(within).status, ready(within).reason]).toEqual([1, undefined, 'False', 'Pending']);
    expect(ready(within).message).toContain('waiting for n2');
    const after = renderPolicyStatus(within, policy, nodes, states, at('2026-11-23T22:05:01Z'));
    expect(after.failures).toEqual([{ node: 'n2', message: 'no agent report from node n2' }]);
    expect([after.appliedNodes, ready(after).status, ready(after).reason]).toEqual([1, 'False', 'AgentMissing']);
    checkAgainstCrd('TunnelNoTrackPolicy', after);
    // a generation change (time supplied by the controller) and a new Node restart the grace
    expect(ready(renderPolicyStatus(undefined, policy, nodes, states, at('2026-11-23T22:05:01Z'), undefined, { generationSince: at('2026-11-23T22:04:30Z') })).reason).toBe('Pending');
    const newNode = [nodes[0]!, { name: 'n2', labels: {}, creationTimestamp: '2026-11-23T22:02:00Z' }];
    expect(ready(renderPolicyStatus(undefined, policy, newNode, states, at('2026-11-23T22:05:01Z'))).reason).toBe('Pending');
    expect(ready(renderPolicyStatus(undefined, policy, newNode, states, at('2026-11-23T22:07:01Z'))).reason).toBe('AgentMissing');
    // the grace is a parameter
    expect(ready(renderPolicyStatus(undefined, policy, nodes, states, at('2026-11-23T22:04:00Z'), undefined, { missingGraceMs: 1 * min })).reason).toBe('AgentMissing');
  });

  it('reported errors name the reason first; stale and missing nodes are listed with them', () => {
    const states = new Map([report('n1', '2026-11-23T23:00:00Z'), report('n2', '2026-11-23T23:20:00Z', { lastError: 'iptables-restore: exit status 4' })]);
    const s = renderPolicyStatus(undefined, policy, [...nodes, { name: 'n3', labels: {} }], states, at('2026-11-23T23:20:00Z'));
    expect(s.failures!.map((f) => f.node)).toEqual(['n1', 'n2', 'n3']);
    expect([ready(s).reason, s.appliedNodes]).toEqual(['AgentFailed', 0]);
    expect(ready(s).message).toBe('3 of 3 nodes failed: agent on node n1 has not reported since 2026-11-23T23:00:00Z (stale); n2: iptables-restore: exit status 4; no agent report from node n3');
  });

  it('lastTransitionTime moves only when Ready changes status, not when the failure changes reason or repeats', () => {
    const t = (m: number) => new Date(Date.parse('2026-11-23T23:00:00Z') + m * min);
    const iso = (m: number) => t(m).toISOString().replace(/\.\d+Z$/, 'Z');
    const live = (m: number) => new Map([report('n1', iso(m)), report('n2', iso(m))]);
    const a = renderPolicyStatus(undefined, policy, nodes, live(0), t(1));
    expect([ready(a).status, ready(a).lastTransitionTime]).toEqual(['True', iso(1)]);
    const b = renderPolicyStatus(a, policy, nodes, live(0), t(10)); // still fresh: nothing moves
    expect(ready(b).lastTransitionTime).toBe(iso(1));
    expect(statusEqual(a, b)).toBe(true);
    const c = renderPolicyStatus(b, policy, nodes, live(0), t(16)); // both stale now
    expect([ready(c).status, ready(c).reason, ready(c).lastTransitionTime]).toEqual(['False', 'AgentStale', iso(16)]);
    const d = renderPolicyStatus(c, policy, nodes, live(0), t(40)); // still stale: same status, no write
    expect(ready(d).lastTransitionTime).toBe(iso(16));
    expect(statusEqual(c, d)).toBe(true);
    const e = renderPolicyStatus(d, policy, nodes, new Map([report('n1', iso(0)), report('n2', iso(41), { lastError: 'boom' })]), t(41)); // reason changes, status does not
    expect([ready(e).reason, ready(e).lastTransitionTime]).toEqual(['AgentFailed', iso(16)]);
    const f = renderPolicyStatus(e, policy, nodes, live(42), t(42)); // agents back
    expect([ready(f).status, ready(f).lastTransitionTime, f.failures]).toEqual(['True', iso(42), undefined]);
  });

  it('nextPolicyRecheck names the moment the oldest live report goes stale or a grace ends', () => {
    const states = new Map([report('n1', '2026-11-23T23:00:00Z'), report('n2', '2026-11-23T23:05:00Z')]);
    expect(nextPolicyRecheck(policy, nodes, states, at('2026-11-23T23:06:00Z'))!.toISOString()).toBe('2026-11-23T23:15:00.001Z');
    // once n1 is stale, the next change is n2 going stale
    const next = nextPolicyRecheck(policy, nodes, states, at('2026-11-23T23:15:00.001Z'))!;
    expect(next.toISOString()).toBe('2026-11-23T23:20:00.001Z');
    expect(ready(renderPolicyStatus(undefined, policy, nodes, states, new Date(next.getTime() - 1))).reason).toBe('AgentStale');
    expect(renderPolicyStatus(undefined, policy, nodes, states, next).failures!.length).toBe(2);
    expect(nextPolicyRecheck(policy, nodes, new Map([report('n1', '2026-11-23T22:01:00Z')]), at('2026-11-23T22:02:00Z'))!.toISOString()).toBe('2026-11-23T22:05:00.001Z');
    expect(nextPolicyRecheck(policy, nodes, new Map(), at('2026-11-23T23:00:00Z'))).toBeUndefined(); // both missing for good
  });
});

describe('renderStatus and database-wide findings', () => {
  it('a database-wide NorthdLagging alone keeps in-sync routes Ready; a StaleView makes them Unknown', () => {
    const lag: Finding = { kind: 'NorthdLagging', route: '', router: '', prefix: '', expected: {}, actual: {}, message: 'northd is 1 nb_cfg generation behind' };
    const s = renderStatus(undefined, base({ findings: [lag], northdLag: 1 }), 1, t0);
    expect(cond(s, 'Ready').status).toBe('True');
    expect(s.northdLag).toBeUndefined();
    const stale: Finding = { ...lag, kind: 'StaleView', message: 'NB replica cannot be trusted: follower cut off' };
    const u = renderStatus(undefined, base({ findings: [stale] }), 1, t0);
    expect([cond(u, 'Ready').status, cond(u, 'Ready').reason, cond(u, 'Reconciling').status]).toEqual(['False', 'StaleView', 'True']);
    expect(u.routes!.map((r) => r.state)).toEqual(['Unknown', 'Unknown']);
  });
});

describe('messages', () => {
  it('drop a finding message that another one already contains', () => {
    const lagMsg = 'ovn-northd has not caught up: NB_Global.nb_cfg=4 but SB_Global.nb_cfg=3';
    const s = renderStatus(undefined, base({ findings: [{ ...seedFinding, message: `${seedFinding.message}; ${lagMsg}` }, { ...seedFinding, kind: 'NorthdLagging', message: lagMsg }] }), 1, t0);
    expect(cond(s, 'Ready').message).toBe(`${seedFinding.message}; ${lagMsg}`);
    expect(s.routes![0]!.message).toBe(`${seedFinding.message}; ${lagMsg}`);
  });
});

describe('plannedEvents', () => {
  it('emits DriftDetected on new drift, nothing on an identical re-render, DriftResolved and Repaired on recovery', async () => {
    const { plannedEvents } = await import('../../operator/controller/events.js');
    const inSync = renderStatus(undefined, base(), 1, t0);
    const drift = renderStatus(inSync, base({ findings: [seedFinding] }), 1, t1);
    expect(plannedEvents(inSync, drift).map((e) => [e.type, e.reason])).toEqual([['Warning', 'DriftDetected']]);
    expect(plannedEvents(drift, renderStatus(drift, base({ findings: [seedFinding] }), 1, t2))).toEqual([]);
    const fixed = renderStatus(drift, base({ remediation: 'Repair', repair: { ok: true, changed: 1, message: 'NB repaired: update 10.9.52.144/28' } }), 1, t2);
    expect(plannedEvents(drift, fixed, { ok: true, changed: 1, message: 'NB repaired: update 10.9.52.144/28' }).map((e) => e.reason)).toEqual(['Repaired', 'DriftResolved']);
    expect(plannedEvents(drift, drift, { ok: false, changed: 0, message: 'aborted' }).map((e) => [e.type, e.reason])).toEqual([['Warning', 'RepairFailed']]);
  });
});
