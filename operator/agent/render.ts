// PURE rule rendering and drift planning for the NOTRACK agent: (policies, node labels) -> the
// raw-table ruleset this node must carry; (`iptables -t raw -S` text) -> what it carries; and the
// difference -> one `iptables-restore --noflush` input touching only our chain and our jump rules.
// No I/O, no clock: must not import node:child_process, fs, kube or ovsdb modules.
import { selectorMatches, type IpFamily, type Protocol, type ValidPolicy } from '../api/tunnelnotrackpolicy.js';

/** The chain the agent owns in the raw table of each family. */
export const CHAIN = 'OVN-DRIFT-NOTRACK';
/** Built-in raw chains that jump to ours: PREROUTING (arriving) and OUTPUT (locally sent). */
export const HOOKS = ['PREROUTING', 'OUTPUT'] as const;
export type Hook = (typeof HOOKS)[number];
const JUMP_COMMENT = 'ovn-drift: tunnel ports skip conntrack';
/** iptables' comment match accepts at most 256 bytes. */
const MAX_COMMENT = 255;

export type Family = 'ipv4' | 'ipv6';
export const FAMILIES: readonly Family[] = ['ipv4', 'ipv6'];
const FAMILY_OF: Record<IpFamily, Family> = { IPv4: 'ipv4', IPv6: 'ipv6' };

/** One exempted port in one family, with every policy that asks for it. */
export interface NoTrackPort {
  protocol: Protocol;
  port: number;
  /** sorted, unique */
  policies: string[];
  /** port names given by those policies, sorted, unique */
  names: string[];
}

export interface FamilyRuleset {
  family: Family;
  ports: NoTrackPort[];
  /** Rules of our chain, exactly as `iptables -S` prints them back. Empty = nothing of ours may exist. */
  chainRules: string[];
  /** The jump rule each hook must carry, as `-S` prints it (`-A PREROUTING ...`). */
  jumpRules: Record<Hook, string>;
}

export interface Ruleset {
  /** Policies whose nodeSelector matches this node, by name. */
  selected: ValidPolicy[];
  families: Record<Family, FamilyRuleset>;
}

export function portComment(p: Pick<NoTrackPort, 'policies' | 'names'>): string {
  const base = 'ovn-drift policy=';
  const suffix = p.names.length > 0 ? ` port=${p.names.join(',')}` : '';
  let names = p.policies.join(',');
  if (base.length + names.length + suffix.length > MAX_COMMENT) {
    // Keep as many policy names as fit and say how many were left out.
    const kept: string[] = [];
    for (const n of p.policies) {
      const more = `+${p.policies.length - kept.length - 1}`;
      if (base.length + [...kept, n].join(',').length + 1 + more.length > MAX_COMMENT - 10) break;
      kept.push(n);
    }
    names = `${kept.join(',')},+${p.policies.length - kept.length}`;
    return `${base}${names}`;
  }
  return `${base}${names}${suffix}`;
}

function quote(s: string): string {
  return /[\s"\\]/.test(s) ? `"${s.replace(/(["\\])/g, '\\$1')}"` : s;
}

function portRule(p: NoTrackPort): string {
  const proto = p.protocol.toLowerCase();
  // multiport --ports matches source OR destination port: one rule covers both directions.
  return `-A ${CHAIN} -p ${proto} -m multiport --ports ${p.port} -m comment --comment ${quote(portComment(p))} -j NOTRACK`;
}

export function jumpRule(hook: Hook): string {
  return `-A ${hook} -m comment --comment ${quote(JUMP_COMMENT)} -j ${CHAIN}`;
}

/** Policies + this node's labels -> the ruleset of both families. Pure. */
export function renderRuleset(policies: ValidPolicy[], nodeLabels: Record<string, string>): Ruleset {
  const selected = policies.filter((p) => selectorMatches(p.nodeSelector, nodeLabels)).sort((a, b) => a.name.localeCompare(b.name));
  const families = {} as Record<Family, FamilyRuleset>;
  for (const family of FAMILIES) {
    const byKey = new Map<string, { protocol: Protocol; port: number; policies: Set<string>; names: Set<string> }>();
    for (const pol of selected) {
      if (!pol.ipFamilies.some((f) => FAMILY_OF[f] === family)) continue;
      for (const port of pol.ports) {
        const key = `${port.protocol}/${port.port}`;
        let e = byKey.get(key);
        if (!e) byKey.set(key, (e = { protocol: port.protocol, port: port.port, policies: new Set(), names: new Set() }));
        e.policies.add(pol.name);
        if (port.name) e.names.add(port.name);
      }
    }
    const ports: NoTrackPort[] = [...byKey.values()]
      .map((e) => ({ protocol: e.protocol, port: e.port, policies: [...e.policies].sort(), names: [...e.names].sort() }))
      .sort((a, b) => (a.protocol === b.protocol ? a.port - b.port : a.protocol.localeCompare(b.protocol)));
    families[family] = {
      family,
      ports,
      chainRules: ports.map(portRule),
      jumpRules: { PREROUTING: jumpRule('PREROUTING'), OUTPUT: jumpRule('OUTPUT') },
    };
  }
  return { selected, families };
}

/** Splits one `iptables -S` line into words the way iptables' own parser does (double quotes, backslash). */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let inQuote = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length && (inQuote || line[i + 1] === '"')) {
      cur += line[++i];
      inWord = true;
    } else if (c === '"') {
      inQuote = !inQuote;
      inWord = true;
    } else if (!inQuote && /\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/** Normal form used to compare a rendered rule with one printed back by iptables. */
function normalizeRule(line: string): string {
  return tokenize(line.trim()).join('\u0000');
}

/** What the raw table of one family carries of ours, from `iptables -t raw -S` output. */
export interface ObservedRaw {
  chainExists: boolean;
  /** our chain's `-A OVN-DRIFT-NOTRACK ...` lines in order */
  chainRules: string[];
  /** every rule of each hook that jumps (or goes) to our chain */
  jumps: Record<Hook, string[]>;
}

export function parseRawTable(text: string): ObservedRaw {
  const observed: ObservedRaw = { chainExists: false, chainRules: [], jumps: { PREROUTING: [], OUTPUT: [] } };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const t = tokenize(line);
    if (t[0] === '-N' && t[1] === CHAIN) observed.chainExists = true;
    else if (t[0] === '-A' && t[1] === CHAIN) observed.chainRules.push(line);
    else if (t[0] === '-A' && (t[1] === 'PREROUTING' || t[1] === 'OUTPUT')) {
      const j = t.findIndex((w, i) => (w === '-j' || w === '-g') && t[i + 1] === CHAIN);
      if (j >= 0) observed.jumps[t[1]].push(line);
    }
  }
  return observed;
}

export type DriftKind = 'ChainMissing' | 'RulesChanged' | 'JumpMissing' | 'JumpDuplicated' | 'JumpChanged' | 'Stale';

export interface FamilyPlan {
  family: Family;
  /** Empty when the raw table already matches the ruleset. */
  drift: DriftKind[];
  /** `iptables-restore --noflush` input, or null when nothing must change. */
  restore: string | null;
  /** Ports whose NOTRACK rule was not in effect before this plan (their conntrack entries must go). */
  newlyEffective: NoTrackPort[];
  /** Number of rules of ours the table carries once the plan is applied. */
  rules: number;
}

function deleteLine(rule: string): string {
  return rule.replace(/^-A /, '-D ');
}

/** Difference between desired and observed for one family, as one atomic restore input. Pure. */
export function planFamily(desired: FamilyRuleset, observed: ObservedRaw): FamilyPlan {
  const drift = new Set<DriftKind>();
  const lines: string[] = [];
  const wanted = desired.chainRules.length > 0;

  if (!wanted) {
    for (const hook of HOOKS) for (const j of observed.jumps[hook]) lines.push(deleteLine(j));
    if (observed.chainExists) lines.push(`:${CHAIN} - [0:0]`, `-X ${CHAIN}`);
    if (lines.length > 0) drift.add('Stale');
    return {
      family: desired.family,
      drift: [...drift],
      restore: lines.length > 0 ? ['*raw', ...lines, 'COMMIT', ''].join('\n') : null,
      newlyEffective: [],
      rules: 0,
    };
  }

  const haveRules = new Set(observed.chainRules.map(normalizeRule));
  const chainSame =
    observed.chainExists &&
    observed.chainRules.length === desired.chainRules.length &&
    observed.chainRules.every((r, i) => normalizeRule(r) === normalizeRule(desired.chainRules[i]!));
  const jumpLines: string[] = [];
  let hooksEffective = true;
  for (const hook of HOOKS) {
    const canonical = normalizeRule(desired.jumpRules[hook]);
    const present = observed.jumps[hook];
    if (present.length === 0) hooksEffective = false;
    let keptCanonical = false;
    for (const j of present) {
      if (normalizeRule(j) === canonical && !keptCanonical) {
        keptCanonical = true;
        continue;
      }
      drift.add(normalizeRule(j) === canonical ? 'JumpDuplicated' : 'JumpChanged');
      jumpLines.push(deleteLine(j));
    }
    if (!keptCanonical) {
      if (present.length === 0) drift.add('JumpMissing');
      jumpLines.push(desired.jumpRules[hook].replace(/^-A (\S+) /, '-I $1 1 '));
    }
  }
  if (!chainSame) {
    drift.add(observed.chainExists ? 'RulesChanged' : 'ChainMissing');
    // Declaring the chain with --noflush creates it or flushes it; then write it whole.
    lines.push(`:${CHAIN} - [0:0]`, ...desired.chainRules);
  }
  lines.push(...jumpLines);
  const newlyEffective = desired.ports.filter((p, i) => !(hooksEffective && observed.chainExists && haveRules.has(normalizeRule(desired.chainRules[i]!))));
  return {
    family: desired.family,
    drift: [...drift],
    restore: lines.length > 0 ? ['*raw', ...lines, 'COMMIT', ''].join('\n') : null,
    newlyEffective,
    rules: desired.chainRules.length + HOOKS.length,
  };
}

/** Restore input removing everything of ours from one family (for --cleanup), or null. */
export function planCleanup(family: Family, observed: ObservedRaw): string | null {
  const empty: FamilyRuleset = { family, ports: [], chainRules: [], jumpRules: { PREROUTING: jumpRule('PREROUTING'), OUTPUT: jumpRule('OUTPUT') } };
  return planFamily(empty, observed).restore;
}
