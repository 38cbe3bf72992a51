// Builders shared by the agent tests: policies as YAML manifests on disk, a silent logger, an
// agent bound to a namespace.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { validateTunnelNoTrackPolicy, type ValidPolicy } from '../../operator/api/tunnelnotrackpolicy.js';
import { NoTrackAgent } from '../../operator/agent/agent.js';
import { ShellRunner, type Backend, type CommandRunner } from '../../operator/agent/iptables.js';
import { createAgentMetrics, type AgentMetrics } from '../../operator/agent/metrics.js';
import type { Family } from '../../operator/agent/render.js';

export const silent = pino({ level: 'silent' });

export function policyDoc(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'ovndrift.io/v1alpha1', kind: 'TunnelNoTrackPolicy', metadata: { name }, spec };
}
export function validPolicy(name: string, spec: Record<string, unknown>): ValidPolicy {
  const v = validateTunnelNoTrackPolicy(policyDoc(name, spec));
  if (!v.policy) throw new Error(JSON.stringify(v.errors));
  return v.policy;
}

export class ManifestDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'ovn-drift-agent-'));
  write(file: string, docs: unknown[]): string {
    const path = join(this.dir, file);
    writeFileSync(path, docs.map((d) => (typeof d === 'string' ? d : stringify(d))).join('---\n'));
    return path;
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const runners: CommandRunner[] = [];

/** An agent on the production runner (helper shells inside the namespace); closeRunners() ends them. */
export function agentIn(netns: string, backend: Backend, opts: { families?: Family[]; env?: NodeJS.ProcessEnv } = {}): { agent: NoTrackAgent; metrics: AgentMetrics } {
  const metrics = createAgentMetrics();
  const runner = new ShellRunner({ netns, env: opts.env });
  runners.push(runner);
  const agent = new NoTrackAgent({ runner, backend, logger: silent, metrics, families: opts.families });
  return { agent, metrics };
}

export async function closeRunners(): Promise<void> {
  await Promise.all(runners.splice(0).map((r) => r.close()));
}

export async function metricValue(metrics: AgentMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  let sum = 0;
  for (const v of (m?.values ?? []) as { value: number; labels: Record<string, string | number> }[]) {
    if (Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val)) sum += v.value;
  }
  return sum;
}
