// Renders an Evaluation and a TraceResult for people (a table per route, then the findings) and
// for machines (the JSON object of DESIGN.md). Pure string building; no I/O.
import type { Evaluation, RouteState, Summary } from './evaluate.js';
import { hypervisorText, type Endpoint, type Finding } from './kinds.js';
import type { RepairPlan } from './repair.js';
import type { TraceHop, TraceResult } from './trace.js';

export interface RepairReport {
  plan: RepairPlan;
  applied: boolean;
  /** Whether the SB caught up (SB_Global.nb_cfg reached the bumped NB_Global.nb_cfg) in time. */
  sbSynced: boolean;
  nbCfg?: number;
  waitedMs: number;
  /** Set when the transaction was refused (e.g. a guard saw a concurrent change). */
  error?: string;
}

function endpointText(e: Endpoint): string {
  if (e.dropped) return 'dropped';
  const local = e.lastHop === 'localnet' ? ' (localnet, no tunnel)' : '';
  if (e.ecmp) return e.ecmp.map((m) => `${m.nexthop} @ ${hypervisorText(m.hypervisor, 'cell')}`).join(' + ') + local;
  if (!e.nexthop) return '-';
  return `${e.nexthop} @ ${hypervisorText(e.hypervisor, 'cell')}${local}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function summaryLine(s: Summary): string {
  const kinds = Object.entries(s.kinds).map(([k, n]) => `${k} ${n}`).join(', ');
  return `${s.routes} route${s.routes === 1 ? '' : 's'} in ${s.resources} PodCIDRRoute${s.resources === 1 ? '' : 's'}: ${s.inSync} in sync, ${s.outOfSync} out of sync; ${s.findings} finding${s.findings === 1 ? '' : 's'}${kinds ? ` (${kinds})` : ''}; NB nb_cfg ${s.nbCfg}, SB nb_cfg ${s.sbNbCfg}`;
}

function findingLine(f: Finding): string {
  const where = f.route ? `${f.router} ${f.prefix} (${f.route})` : '(database)';
  return `  ${f.kind.padEnd(19)} ${where}: ${f.message}`;
}

function renderRepairText(r: RepairReport): string {
  const lines: string[] = [];
  if (r.error) lines.push(`repair refused, nothing written: ${r.error}`);
  else if (!r.applied) lines.push('repair: nothing to change in the NB');
  else {
    lines.push(`repair: ${r.plan.touched.length} change${r.plan.touched.length === 1 ? '' : 's'} committed in one NB transaction (nb_cfg ${r.nbCfg})${r.sbSynced ? `, SB caught up in ${r.waitedMs} ms` : `, SB did NOT catch up within ${r.waitedMs} ms (is ovn-northd running?)`}`);
  }
  for (const t of r.plan.touched) {
    const what = t.action === 'insert' ? `insert via ${t.to}` : t.action === 'remove' ? `remove duplicate via ${t.from}` : t.from === t.to ? `${t.action} (stamp ownership)` : `${t.action} ${t.from} -> ${t.to}`;
    lines.push(`  ${r.error ? 'planned' : 'done   '} ${t.router} ${t.prefix} (${t.route}): ${what}`);
  }
  for (const s of r.plan.skipped) lines.push(`  left    ${s.router} ${s.prefix} (${s.route}): ${s.reason}`);
  return lines.join('\n');
}

export function renderCheckText(ev: Evaluation, repair?: RepairReport): string {
  const stale = ev.findings.filter((f) => f.kind === 'StaleView');
  if (stale.length > 0) {
    // no verdicts from a copy that may be stale: say which server and why, nothing else
    return [...stale.map(findingLine), '', `no route verdicts given: ${ev.routes.length} route${ev.routes.length === 1 ? '' : 's'} Unknown until the view is fresh`].join('\n');
  }
  const rows: string[][] = [['ROUTER', 'PREFIX', 'EXPECTED (nexthop @ hypervisor)', '', 'ACTUAL (SB flow)', 'STATUS']];
  for (const r of ev.routes) {
    const status = r.inSync ? 'in sync' : r.state === 'Unknown' && r.kinds.length === 0 ? 'unknown' : r.kinds.join(', ');
    rows.push([r.router, r.prefix, endpointText(r.expected), r.inSync ? '=' : '->', endpointText(r.actual), `${r.inSync ? '✓' : r.state === 'Unknown' ? '?' : '✗'} ${status}`]);
  }
  const out = [table(rows)];
  const unknown = ev.routes.filter((r) => r.state === 'Unknown' && r.reason && !/cannot be trusted|stale|cut off/i.test(r.reason));
  if (unknown.length > 0) out.push('', 'unknown (not in sync, not decided):', ...unknown.map((r) => `  ${r.router} ${r.prefix} (${r.route}): ${r.reason}`));
  if (ev.findings.length > 0) out.push('', 'findings:', ...ev.findings.map(findingLine));
  if (repair) out.push('', renderRepairText(repair));
  out.push('', summaryLine(ev.summary));
  return out.join('\n');
}

/** One entry of the JSON `routes` array. */
export interface RouteJson {
  route: string;
  router: string;
  prefix: string;
  state: RouteState['state'];
  expected: Endpoint;
  actual: Endpoint;
  kinds: string[];
  reason?: string;
}

/** The DESIGN.md JSON object: {"summary": {...}, "findings": [...], "routes": [...]}. */
export function checkJson(ev: Evaluation, repair?: RepairReport): { summary: Record<string, unknown>; findings: Finding[]; routes: RouteJson[] } {
  const summary: Record<string, unknown> = { ...ev.summary };
  if (repair) {
    summary.repair = {
      applied: repair.applied,
      sbSynced: repair.sbSynced,
      ...(repair.nbCfg !== undefined ? { nbCfg: repair.nbCfg } : {}),
      ...(repair.error ? { error: repair.error } : {}),
      touched: repair.plan.touched,
      skipped: repair.plan.skipped,
    };
  }
  const routes = ev.routes.map((r): RouteJson => ({
    route: r.route,
    router: r.router,
    prefix: r.prefix,
    state: r.state,
    expected: r.expected,
    actual: r.actual,
    kinds: r.kinds,
    ...(r.reason ? { reason: r.reason } : {}),
  }));
  return { summary, findings: ev.findings, routes };
}

function hopLines(h: TraceHop, indent: string): string[] {
  const port = h.port
    ? `on ${h.port.kind === 'Logical_Switch_Port' ? 'port' : 'router port'} ${h.port.name} (${h.port.kind === 'Logical_Switch_Port' ? 'switch' : 'router'} ${h.port.parent}${h.port.source !== 'addresses' && h.port.source !== 'networks' ? `, found in ${h.port.source}` : ''})`
    : 'on no known port';
  const lines = [`${indent}nexthop   ${h.nexthop} ${port}${h.routerPort ? `, out of router port ${h.routerPort}` : ''}`];
  if (h.problem) lines.push(`${indent}problem   ${h.problem}`);
  lines.push(`${indent}reaches   ${hypervisorText(h.endpoint.hypervisor, 'sentence', 'no chassis (port not bound)')}${h.endpoint.lastHop === 'localnet' ? '; last hop: localnet, no tunnel' : ''}`);
  for (const n of h.notes ?? []) lines.push(`${indent}note      ${n}`);
  return lines;
}

export function renderTraceText(t: TraceResult): string {
  const lines = [`trace ${t.src ? `${t.src} -> ` : ''}${t.ip} on router ${t.router}${t.inport ? ` entering on ${t.inport}` : ''}${t.routeTable ? ` (route table ${t.routeTable})` : ''}`];
  if (t.error) return [...lines, `  error: ${t.error}`].join('\n');
  if (t.nb) {
    const what = t.nb.kind === 'connected'
      ? `connected network of router port ${t.nb.routerPort}`
      : `${t.nb.policy} static route${t.nb.routeTable ? ` in route table ${t.nb.routeTable}` : ''}, row ${t.nb.uuids.map((u) => u.slice(0, 8)).join(', ')}${t.nb.owner ? `, owned by ${t.nb.owner}` : ''}`;
    lines.push(`NB  route     ${t.nb.prefix} ${t.nb.dropped ? 'discard' : `via ${t.nb.hops.map((h) => h.nexthop).join(', ')}`} (${what})`);
    for (const h of t.nb.hops) lines.push(...hopLines(h, '    '));
  } else lines.push('NB  route     none matches');
  if (t.policy) {
    lines.push(`NB  policy    priority ${t.policy.priority} "${t.policy.match}" ${t.policy.action}${t.policy.nexthops.length ? ` ${t.policy.nexthops.join(', ')}` : ''} (acts after routing: ${t.policy.action === 'allow' ? 'the route applies' : t.policy.action === 'drop' ? 'the packet is dropped' : 'it decides where the packet goes'})`);
    for (const h of t.policy.hops) lines.push(...hopLines(h, '    '));
  }
  for (const u of t.undecided) lines.push(`NB  policy?   ${u}`);
  if (t.sb) {
    lines.push(`SB  flow      lr_in_ip_routing priority ${t.sb.priority}, match (${t.sb.match})`);
    lines.push(`    actions   ${t.sb.actions}`);
    for (const h of t.sb.hops) lines.push(...hopLines(h, '    '));
  } else lines.push('SB  flow      none matches');
  for (const n of t.notes) lines.push(`note: ${n}`);
  if (t.differences.length === 0) lines.push('', '✓ NB and SB agree');
  else lines.push('', 'differences:', ...t.differences.map((d) => `  ✗ ${d}`));
  return lines.join('\n');
}
