// Black-box acceptance support: runs the built CLI (`node bin/ovn-drift.js`) as a child process,
// writes PodCIDRRoute manifests to temp dirs, builds OVN topologies with the real ovn-nbctl /
// ovn-sbctl through the sandbox, and reads NB rows / SB flows back with those tools.
// It must not import product code other than the sandbox (the harness the tests drive OVN with).
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { Sandbox as OvnSandbox } from '../support/releases.js'; // OvnSandbox or the container backend

const execFileP = promisify(execFile);
export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/ovn-drift.js');

/** Builds dist/ once if it is missing (the contract is run after `npm run build`). */
export async function ensureBuilt(): Promise<void> {
  if (existsSync(join(ROOT, 'dist/operator/cli.js'))) return;
  await execFileP('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, timeout: 300_000 }).catch(() => undefined);
}

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  killed: boolean;
}

/** Runs the CLI; a run still going after `killAfterMs` is killed (reported as killed, code null). */
export function cli(args: string[], opts: { killAfterMs?: number; env?: Record<string, string> } = {}): Promise<Ran> {
  return run(process.execPath, [BIN, ...args], { ...opts, env: { OVN_NB_DB: '', OVN_SB_DB: '', ...opts.env } });
}

export interface Hypervisor {
  chassis?: string;
  hostname?: string;
  encapType?: string;
  encapIp?: string;
}
export interface Finding {
  kind: string;
  route: string;
  router: string;
  prefix: string;
  expected: { nexthop?: string; hypervisor?: Hypervisor; [k: string]: unknown };
  actual: { nexthop?: string; hypervisor?: Hypervisor; [k: string]: unknown };
  message: string;
}
export interface Report {
  summary: Record<string, unknown>;
  findings: Finding[];
}

/** Parses `--output json` stdout: exactly one JSON object. */
export function parseReport(r: Ran): Report {
  let out: Report;
  try {
    out = JSON.parse(r.stdout) as Report;
  } catch (err) {
    throw new Error(`stdout is not one JSON object (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`, { cause: err });
  }
  return out;
}

export const kinds = (rep: Report): string[] => rep.findings.map((f) => f.kind);

export function describeRun(r: Ran): string {
  return `exit ${r.code}${r.killed ? ' (killed)' : ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

export interface RouteSpec {
  router?: string;
  nexthop?: string;
  cidrs?: string[];
  policy?: string;
  routeTable?: string;
  expectedChassis?: string;
  remediation?: string;
  adopt?: boolean;
  [k: string]: unknown;
}

export function pcr(name: string, spec: RouteSpec): Record<string, unknown> {
  return { apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name }, spec };
}

export function yamlDocs(...docs: unknown[]): string {
  return docs.map((d) => (typeof d === 'string' ? d : stringify(d))).join('---\n');
}

/** A temp dir for manifests; `write(name, ...docs)` returns the file path. */
export class ManifestDir {
  private constructor(readonly dir: string) {}
  static async create(): Promise<ManifestDir> {
    return new ManifestDir(await mkdtemp(join(tmpdir(), 'ovn-drift-acc-')));
  }
  async write(name: string, ...docs: unknown[]): Promise<string> {
    const p = join(this.dir, name);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, yamlDocs(...docs));
    return p;
  }
  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

// ---- OVN topology through the real tools -------------------------------------------------------

let macSeq = 0x10;
export function mac(): string {
  macSeq++;
  return `0a:00:00:00:${((macSeq >> 8) & 0xff).toString(16).padStart(2, '0')}:${(macSeq & 0xff).toString(16).padStart(2, '0')}`;
}

/** Router R with a port on a new switch S whose router port has `lrpNetworks` (e.g. 10.9.2.1/24). */
export async function routerWithSwitch(sb: OvnSandbox, router: string, sw: string, lrpNetworks: string[], lrpOptions: string[] = []): Promise<string> {
  const lrp = `${router}-${sw}`;
  const exists = (await sb.nbctl('--bare', '--columns=name', 'find', 'Logical_Router', `name=${router}`)).trim();
  const args: string[] = [];
  if (!exists) args.push('lr-add', router, '--');
  args.push('lrp-add', router, lrp, mac(), ...lrpNetworks, '--');
  args.push('ls-add', sw, '--', 'lsp-add', sw, `${sw}-${router}`, '--', 'lsp-set-type', `${sw}-${router}`, 'router', '--');
  args.push('lsp-set-addresses', `${sw}-${router}`, 'router', '--', 'lsp-set-options', `${sw}-${router}`, `router-port=${lrp}`);
  await sb.nbctl(...args);
  if (lrpOptions.length > 0) await sb.nbctl('set', 'Logical_Router_Port', lrp, ...lrpOptions.map((o) => `options:${o}`));
  return lrp;
}

/** A VM port on switch `sw` carrying `ips` (static "MAC IP..." address). */
export async function vmPort(sb: OvnSandbox, sw: string, port: string, ips: string[]): Promise<void> {
  await sb.nbctl('lsp-add', sw, port, '--', 'lsp-set-addresses', port, `${mac()} ${ips.join(' ')}`);
}

export async function chassis(sb: OvnSandbox, name: string, encapIp: string, hostname?: string, encap = 'geneve'): Promise<void> {
  await sb.sbctl('chassis-add', name, encap, encapIp);
  if (hostname) await sb.sbctl('set', 'Chassis', name, `hostname=${hostname}`);
}

export async function waitSb(sb: OvnSandbox): Promise<void> {
  await sb.nbctl('--wait=sb', '--timeout=30', 'sync');
}

/** Binds a port once northd has created its Port_Binding. */
export async function bind(sb: OvnSandbox, port: string, chassisName: string): Promise<void> {
  await waitSb(sb);
  await sb.sbctl('lsp-bind', port, chassisName);
}

// ---- reading OVN back ------------------------------------------------------------------------

type OvsJson = { headings: string[]; data: unknown[][] };

function decode(v: unknown): unknown {
  if (Array.isArray(v)) {
    const [tag, val] = v as [string, unknown];
    if (tag === 'uuid' || tag === 'named-uuid') return val;
    if (tag === 'set') return (val as unknown[]).map(decode);
    if (tag === 'map') return Object.fromEntries((val as [unknown, unknown][]).map(([k, x]) => [String(decode(k)), decode(x)]));
  }
  return v;
}

export function rowsOf(out: string): Record<string, unknown>[] {
  const j = JSON.parse(out) as OvsJson;
  return j.data.map((row) => Object.fromEntries(j.headings.map((h, i) => [h, decode(row[i])])));
}

export interface NbRoute {
  uuid: string;
  prefix: string;
  nexthop: string;
  policy: string;
  routeTable: string;
  externalIds: Record<string, string>;
}

/** The router's Logical_Router_Static_Route rows, as ovn-nbctl shows them. */
export async function nbRoutes(sb: OvnSandbox, router: string): Promise<NbRoute[]> {
  const refs = (await sb.nbctl('--bare', '--columns=static_routes', 'list', 'Logical_Router', router)).trim().split(/\s+/).filter(Boolean);
  const out: NbRoute[] = [];
  for (const uuid of refs) {
    const [r] = rowsOf(
      await sb.nbctl('--format=json', '--columns=_uuid,ip_prefix,nexthop,policy,route_table,external_ids', 'list', 'Logical_Router_Static_Route', uuid),
    );
    const pol = r!.policy;
    out.push({
      uuid: r!._uuid as string,
      prefix: r!.ip_prefix as string,
      nexthop: r!.nexthop as string,
      policy: Array.isArray(pol) ? ((pol[0] as string | undefined) ?? 'dst-ip') : ((pol as string) || 'dst-ip'),
      routeTable: (r!.route_table as string) ?? '',
      externalIds: (r!.external_ids as Record<string, string>) ?? {},
    });
  }
  return out;
}

export interface SbFlow {
  datapath: string;
  match: string;
  actions: string;
  stage: string;
}

/** SB lr_in_ip_routing(+_ecmp) flows whose match mentions `prefix`. */
export async function sbRoutingFlows(sb: OvnSandbox, prefix: string): Promise<SbFlow[]> {
  const out: SbFlow[] = [];
  for (const stage of ['lr_in_ip_routing', 'lr_in_ip_routing_ecmp']) {
    const rows = rowsOf(
      await sb.sbctl('--format=json', '--columns=logical_datapath,match,actions', 'find', 'Logical_Flow', `external_ids:stage-name=${stage}`),
    );
    for (const r of rows) {
      const m = r.match as string;
      if (stage === 'lr_in_ip_routing' && !new RegExp(`(^|[ =])${prefix.replace(/[.]/g, '\\.')}( |$)`).test(m)) continue;
      out.push({ datapath: String(r.logical_datapath ?? ''), match: m, actions: r.actions as string, stage });
    }
  }
  return out.filter((f) => f.stage === 'lr_in_ip_routing');
}

export async function nbCfg(sb: OvnSandbox): Promise<number> {
  return Number((await sb.nbctl('--bare', '--columns=nb_cfg', 'list', 'NB_Global')).trim());
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- second round: network namespaces, iptables snapshots, the agent in a netns, PKI ---------

/** Runs any command; never throws (exit code, stdout, stderr). */
export function run(cmd: string, args: string[], opts: { killAfterMs?: number; env?: Record<string, string> } = {}): Promise<Ran> {
  return new Promise((res) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, opts.killAfterMs ?? 90_000);
    child.on('error', (err) => {
      clearTimeout(t);
      res({ code: 127, signal: null, stdout, stderr: stderr + String(err), killed });
    });
    child.on('close', (code, signal) => {
      clearTimeout(t);
      res({ code, signal, stdout, stderr, killed });
    });
  });
}

/** A fresh network namespace `odacc-<random>` with lo up. */
export async function createNetns(): Promise<string> {
  const ns = `odacc-${Math.floor(Math.random() * 1e9)}`;
  const a = await run('ip', ['netns', 'add', ns]);
  if (a.code !== 0) throw new Error(`ip netns add ${ns}: ${a.stderr}`);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return ns;
}

export async function deleteNetns(ns: string | undefined): Promise<void> {
  if (ns) await run('ip', ['netns', 'del', ns]);
}

/** A command inside the namespace; throws on a non-zero exit. */
export async function inNs(ns: string, cmd: string, ...args: string[]): Promise<string> {
  const r = await run('ip', ['netns', 'exec', ns, cmd, ...args]);
  if (r.code !== 0) throw new Error(`ip netns exec ${ns} ${cmd} ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
  return r.stdout;
}

/** The built CLI inside the namespace (`ip netns exec NS node bin/ovn-drift.js ...`). */
export function cliInNs(ns: string, args: string[], killAfterMs = 60_000): Promise<Ran> {
  return run('ip', ['netns', 'exec', ns, process.execPath, BIN, ...args], { killAfterMs, env: { OVN_NB_DB: '', OVN_SB_DB: '' } });
}

export type RawTables = Record<'v4legacy' | 'v4nft' | 'v6legacy' | 'v6nft', string>;

/** `-t raw -S` of both families in both backends (whichever the agent uses, both are seen). */
export async function rawTables(ns: string): Promise<RawTables> {
  const s = async (bin: string) => {
    const r = await run('ip', ['netns', 'exec', ns, bin, '-w', '-t', 'raw', '-S']);
    return r.code === 0 ? r.stdout : `<${bin} failed: ${r.stderr.trim()}>`;
  };
  return { v4legacy: await s('iptables-legacy'), v4nft: await s('iptables-nft'), v6legacy: await s('ip6tables-legacy'), v6nft: await s('ip6tables-nft') };
}

/** `iptables-save -t raw` of every family/backend without comment lines (timestamps) and counters. */
export async function rawSaves(ns: string): Promise<string> {
  const out: string[] = [];
  for (const bin of ['iptables-legacy-save', 'iptables-nft-save', 'ip6tables-legacy-save', 'ip6tables-nft-save']) {
    const r = await run('ip', ['netns', 'exec', ns, bin, '-t', 'raw']);
    out.push(`## ${bin}\n${r.stdout.split('\n').filter((l) => !l.startsWith('#')).join('\n').replace(/\[\d+:\d+\]/g, '[*]')}`);
  }
  return out.join('\n');
}

/** Lines of a `-S` listing that mention NOTRACK (or CT --notrack) for `proto`/`port`. */
export function notrackFor(listing: string, proto: 'tcp' | 'udp', port: number): string[] {
  return listing.split('\n').filter((l) => /-j (NOTRACK|CT --notrack)/.test(l) && l.includes(`-p ${proto}`) && new RegExp(`(--dport|--ports|--dports) ([0-9,:]*,)?${port}(,|\\s|$)`).test(l));
}

export interface Pki {
  dir: string;
  path(name: string): string;
}

/**
 * Test-time PKI with openssl: CA `ca` and `otherca`, `server` (CN/SAN 127.0.0.1) and `client`
 * signed by `ca`, `rogue` (a client signed by `otherca`), and `stray.key` (a key that belongs to
 * no certificate).
 */
export async function makePki(dir: string): Promise<Pki> {
  await mkdir(dir, { recursive: true });
  const openssl = async (...a: string[]) => {
    const r = await run('openssl', a, { killAfterMs: 60_000 }).then((x) => x);
    if (r.code !== 0) throw new Error(`openssl ${a.join(' ')}: ${r.stderr}`);
  };
  const p = (n: string) => join(dir, n);
  for (const ca of ['ca', 'otherca']) {
    await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p(`${ca}.key`), '-out', p(`${ca}.crt`), '-days', '2', '-subj', `/CN=${ca}`);
  }
  const ext = p('san.ext');
  await writeFile(ext, 'subjectAltName=IP:127.0.0.1\n');
  for (const name of ['server', 'client']) {
    await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${name === 'server' ? '127.0.0.1' : name}`);
    await openssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p(`${name}.crt`), '-days', '2', '-extfile', ext);
  }
  // a client the server does not trust: signed by otherca
  await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('rogue.key'), '-out', p('rogue.csr'), '-subj', '/CN=rogue');
  await openssl('x509', '-req', '-in', p('rogue.csr'), '-CA', p('otherca.crt'), '-CAkey', p('otherca.key'), '-CAcreateserial', '-out', p('rogue.crt'), '-days', '2');
  await openssl('genrsa', '-out', p('stray.key'), '2048');
  return { dir, path: p };
}
