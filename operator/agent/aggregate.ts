// PURE aggregation the operator runs for each TunnelNoTrackPolicy: (policy, Nodes, the agents'
// NodeNoTrackStates, now) -> the policy's status (desiredNodes, appliedNodes, failures naming
// nodes, Ready/Reconciling/Stalled conditions per kstatus). No I/O, no clock; must not import kube,
// iptables or ovsdb modules. The operator's controller gathers the inputs and writes the result.
import {
  formatFieldErrors,
  selectorMatches,
  validateTunnelNoTrackPolicy,
  type Condition,
  type NodeNoTrackState,
  type TunnelNoTrackPolicyStatus,
} from '../api/tunnelnotrackpolicy.js';

export const POLICY_REASONS = {
  AllNodesApplied: 'AllNodesApplied',
  NoNodesSelected: 'NoNodesSelected',
  NodesPending: 'NodesPending',
  NodesFailing: 'NodesFailing',
  PolicyInvalid: 'PolicyInvalid',
} as const;

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
}

export interface AggregateInput {
  /** The TunnelNoTrackPolicy object as read from the API (metadata.generation set). */
  policy: { metadata: { name: string; generation?: number }; [k: string]: unknown };
  nodes: NodeInfo[];
  states: NodeNoTrackState[];
  now: Date;
  /** An agent that has not reported for this long counts as failing (default 5 min + margin). */
  staleAfterMs?: number;
  /** The conditions currently on the policy (to keep lastTransitionTime when status is unchanged). */
  previous?: Condition[];
}

const MAX_FAILURES = 256;

function condition(type: string, status: Condition['status'], reason: string, message: string, generation: number | undefined, now: Date, previous?: Condition[]): Condition {
  const prev = previous?.find((c) => c.type === type);
  return {
    type,
    status,
    reason,
    message,
    lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now.toISOString(),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
}

export function aggregatePolicyStatus(input: AggregateInput): TunnelNoTrackPolicyStatus {
  const { policy, now, previous } = input;
  const generation = policy.metadata.generation;
  const staleAfter = input.staleAfterMs ?? 6 * 60_000;
  const v = validateTunnelNoTrackPolicy(policy);
  if (!v.policy) {
    const msg = formatFieldErrors(policy.metadata.name, v.errors);
    return {
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      desiredNodes: 0,
      appliedNodes: 0,
      failures: [],
      conditions: [
        condition('Ready', 'False', POLICY_REASONS.PolicyInvalid, msg, generation, now, previous),
        condition('Reconciling', 'False', POLICY_REASONS.PolicyInvalid, msg, generation, now, previous),
        condition('Stalled', 'True', POLICY_REASONS.PolicyInvalid, msg, generation, now, previous),
      ],
    };
  }
  const name = v.policy.name;
  const byNode = new Map(input.states.map((s) => [s.metadata.name, s]));
  const desired = input.nodes.filter((n) => selectorMatches(v.policy.nodeSelector, n.labels)).sort((a, b) => a.name.localeCompare(b.name));
  let applied = 0;
  let pending = 0;
  const failures: { node: string; message: string }[] = [];
  for (const node of desired) {
    const st = byNode.get(node.name)?.status;
    if (!st) {
      failures.push({ node: node.name, message: 'no NodeNoTrackState: the agent has not reported from this node' });
      continue;
    }
    const checked = Date.parse(st.lastCheckTime);
    if (!Number.isFinite(checked) || now.getTime() - checked > staleAfter) {
      failures.push({ node: node.name, message: `agent has not reported since ${st.lastCheckTime}` });
      continue;
    }
    const ready = st.conditions.find((c) => c.type === 'Ready');
    if (ready?.status !== 'True') {
      failures.push({ node: node.name, message: st.lastError ?? ready?.message ?? 'agent not ready' });
      continue;
    }
    const mine = st.appliedPolicies.find((p) => p.name === name);
    if (mine && (generation === undefined || mine.generation === undefined || mine.generation === generation)) applied++;
    else pending++;
  }
  const reason =
    failures.length > 0 ? POLICY_REASONS.NodesFailing : pending > 0 ? POLICY_REASONS.NodesPending : desired.length === 0 ? POLICY_REASONS.NoNodesSelected : POLICY_REASONS.AllNodesApplied;
  const message =
    reason === POLICY_REASONS.NodesFailing
      ? `${failures.length} of ${desired.length} nodes failing: ${failures
          .slice(0, 5)
          .map((f) => `${f.node} (${f.message})`)
          .join('; ')}${failures.length > 5 ? '; ...' : ''}`
      : reason === POLICY_REASONS.NodesPending
        ? `${applied} of ${desired.length} nodes applied generation ${generation ?? '?'}, ${pending} pending`
        : reason === POLICY_REASONS.NoNodesSelected
          ? 'nodeSelector matches no node'
          : `NOTRACK rules applied on all ${desired.length} selected nodes`;
  const ready = failures.length === 0 && pending === 0;
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    desiredNodes: desired.length,
    appliedNodes: applied,
    failures: failures.slice(0, MAX_FAILURES),
    conditions: [
      condition('Ready', ready ? 'True' : 'False', reason, message, generation, now, previous),
      condition('Reconciling', pending > 0 && failures.length === 0 ? 'True' : 'False', reason, message, generation, now, previous),
      condition('Stalled', 'False', reason, message, generation, now, previous),
    ],
  };
}
