// Sharding, the way Flux does it: `--watch-label-selector` (Kubernetes label selector syntax) limits
// the PodCIDRRoutes and TunnelNoTrackPolicies this operator reconciles, so several operator
// Deployments — each with its own Lease — split them. This module parses and validates the
// selector, and keeps the SB Logical_Flow monitor condition of a shard in step with the routers
// its PodCIDRRoutes name (ShardFlows: monitor_cond_change through Database.setCondition whenever
// that set, or the datapaths behind it, change). Which rows the condition selects is decided in
// operator/ovn/shard.ts. docs/sharding.md describes the whole design.
// Must not import operator/kube.
import type { Logger } from 'pino';
import type { Database } from '../ovsdb/database.js';
import { shardFlowCondition } from '../ovn/shard.js';

/** A bad --watch-label-selector: bad input (exit 1), nothing started. */
export class LabelSelectorError extends Error {
  readonly code = 'BadInput' as const;
  constructor(message: string) {
    super(message);
    this.name = 'LabelSelectorError';
  }
}

export interface LabelRequirement {
  key: string;
  operator: 'in' | 'notin' | 'exists' | '!exists';
  values: string[];
}

// apimachinery validation: a label key is [prefix/]name, prefix a DNS-1123 subdomain (<= 253),
// name <= 63 alphanumerics with - _ . inside; a value is empty or like a name.
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkKey(key: string, where: string): void {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !SUBDOMAIN.test(prefix))) {
    throw new LabelSelectorError(`${where}: label key prefix ${JSON.stringify(prefix)} is not a DNS subdomain (lower-case alphanumerics, '-' and '.')`);
  }
  if (name.length === 0 || name.length > 63 || !NAME.test(name)) {
    throw new LabelSelectorError(`${where}: label key name ${JSON.stringify(name)} must be 1-63 characters: alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`);
  }
}

function checkValue(value: string, where: string): void {
  if (value.length > 63 || (value.length > 0 && !NAME.test(value))) {
    throw new LabelSelectorError(`${where}: label value ${JSON.stringify(value)} must be at most 63 characters: alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`);
  }
}

/** Splits on the commas that are not inside parentheses. */
function requirementsText(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0 || depth > 1) throw new LabelSelectorError(`unbalanced parentheses in ${JSON.stringify(text)}`);
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (depth !== 0) throw new LabelSelectorError(`unbalanced parentheses in ${JSON.stringify(text)}`);
  parts.push(cur);
  return parts.map((p) => p.trim());
}

/**
 * Parses a Kubernetes label selector (`key`, `!key`, `key=value`, `key==value`, `key!=value`,
 * `key in (a,b)`, `key notin (a,b)`, comma-separated and ANDed). The set-based `<`/`>` forms are
 * refused (they say nothing useful about shards). Throws LabelSelectorError naming what is wrong.
 */
export function parseLabelSelector(text: string): LabelRequirement[] {
  if (text.trim() === '') throw new LabelSelectorError('the selector is empty (omit --watch-label-selector to watch every resource)');
  const out: LabelRequirement[] = [];
  for (const part of requirementsText(text)) {
    const where = `requirement ${JSON.stringify(part)}`;
    let m: RegExpMatchArray | null;
    if (part === '') throw new LabelSelectorError(`empty requirement in ${JSON.stringify(text)} (a stray comma?)`);
    if ((m = part.match(/^(\S+)\s+(in|notin)\s*\((.*)\)$/))) {
      const values = m[3]!.split(',').map((v) => v.trim());
      if (m[3]!.trim() === '') throw new LabelSelectorError(`${where}: '${m[2]}' needs at least one value`);
      checkKey(m[1]!, where);
      for (const v of values) checkValue(v, where);
      out.push({ key: m[1]!, operator: m[2] as 'in' | 'notin', values: [...new Set(values)].sort() });
    } else if ((m = part.match(/^([^\s!=<>()]+)\s*(!=|==|=)\s*([^\s!=<>(),]*)$/))) {
      checkKey(m[1]!, where);
      checkValue(m[3]!, where);
      out.push({ key: m[1]!, operator: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] });
    } else if ((m = part.match(/^!\s*([^\s!=<>(),]+)$/))) {
      checkKey(m[1]!, where);
      out.push({ key: m[1]!, operator: '!exists', values: [] });
    } else if ((m = part.match(/^([^\s!=<>(),]+)$/))) {
      checkKey(m[1]!, where);
      out.push({ key: m[1]!, operator: 'exists', values: [] });
    } else if (/[<>]/.test(part)) {
      throw new LabelSelectorError(`${where}: the '<' and '>' operators are not supported for shards; use 'in', 'notin', '=', '!=', 'key' or '!key'`);
    } else {
      throw new LabelSelectorError(`${where} is not label selector syntax (e.g. "sharding.ovndrift.io/key in (shard1)" or "!sharding.ovndrift.io/key")`);
    }
  }
  return out;
}

/** The selector as it is sent to the API server (canonical spacing, sorted values). */
function formatLabelSelector(reqs: readonly LabelRequirement[]): string {
  return reqs
    .map((r) => {
      switch (r.operator) {
        case 'exists':
          return r.key;
        case '!exists':
          return `!${r.key}`;
        case 'in':
          return r.values.length === 1 ? `${r.key}=${r.values[0]}` : `${r.key} in (${r.values.join(',')})`;
        case 'notin':
          return r.values.length === 1 ? `${r.key}!=${r.values[0]}` : `${r.key} notin (${r.values.join(',')})`;
      }
    })
    .join(',');
}

/** Validates --watch-label-selector and returns what to pass to list/watch as labelSelector. */
export function watchLabelSelector(text: string): string {
  return formatLabelSelector(parseLabelSelector(text));
}

interface ShardFlowsOptions {
  /** The replicas as they are now (either may be missing or disconnected). */
  databases(): { nb?: Database; sb?: Database };
  /** The routers the shard's PodCIDRRoutes name, now. */
  routers(): ReadonlySet<string>;
  /** Called after a condition was applied with the routers whose flows the replica now holds. */
  onCovered(routers: ReadonlySet<string>): void;
  logger: Logger;
}

/**
 * Keeps the SB replica's Logical_Flow condition equal to shardFlowCondition(routers): recomputed on
 * request (a resource added, deleted or moved to another router; a Datapath_Binding,
 * Logical_DP_Group or Logical_Router row changed; a reconnect), sent only when it differs, one
 * monitor_cond_change at a time. ovsdb-server sends the rows a new condition selects before it
 * answers monitor_cond_change, so once setCondition resolves the replica holds them: only then does
 * a router count as covered, and the reconciler evaluates its resources.
 */
export class ShardFlows {
  private appliedKey: string | undefined;
  private appliedSb: Database | undefined;
  private covered: ReadonlySet<string> = new Set();
  private running = false;
  private dirty = false;
  private closed = false;
  /** Conditions sent (tests, logs). */
  changes = 0;

  constructor(private readonly opts: ShardFlowsOptions) {}

  covers(router: string): boolean {
    return this.covered.has(router);
  }

  close(): void {
    this.closed = true;
  }

  /** Recompute (soon); coalesces requests made while a change is in flight. */
  request(): void {
    if (this.closed) return;
    this.dirty = true;
    if (!this.running) void this.loop();
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.dirty && !this.closed) {
        this.dirty = false;
        await this.step();
      }
    } finally {
      this.running = false;
    }
  }

  private async step(): Promise<void> {
    const { nb, sb } = this.opts.databases();
    if (!nb || !sb || !nb.status().connected || !sb.status().connected) return; // a reconnect asks again
    const routers = new Set(this.opts.routers());
    const c = shardFlowCondition(nb, sb, routers);
    const key = JSON.stringify(c.where);
    if (key !== this.appliedKey || sb !== this.appliedSb) {
      try {
        await sb.setCondition('Logical_Flow', c.where);
      } catch (err) {
        this.opts.logger.warn({ err: (err as Error).message, code: (err as { code?: string }).code }, 'cannot change the Logical_Flow condition of this shard; retrying on the next change');
        this.dirty = true;
        await new Promise((r) => setTimeout(r, 500).unref?.());
        return;
      }
      this.appliedKey = key;
      this.appliedSb = sb;
      this.changes++;
      this.opts.logger.info({ routers: routers.size, datapaths: c.datapaths, dpGroups: c.groups }, 'shard follows the Logical_Flow rows of its routers');
    }
    const before = this.covered;
    this.covered = routers;
    const gained = new Set([...routers].filter((r) => !before.has(r)));
    if (gained.size > 0) this.opts.onCovered(gained);
  }
}
