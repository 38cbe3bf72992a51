// The Argo CD health checks (examples/argocd/resource_customizations/ovndrift.io/<Kind>/health.lua)
// run by a real Lua 5.1 interpreter (Debian lua5.1; Argo CD's gopher-lua is 5.1-compatible) over
// resources whose status comes from the operator's own renderers (operator/controller/status.ts): every
// kind of outcome maps Ready/Reconciling/Stalled to Healthy/Progressing/Degraded. Also: the
// argocd-cm snippet carries the same Lua, and the example manifests are valid for the CRDs and for
// the operator's and the agent's own validation.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { Ajv } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { renderPolicyStatus, renderStatus, type PolicyNode, type RouteEvaluation } from '../../operator/controller/status.js';
import type { NodeNoTrackState, TunnelNoTrackPolicy } from '../../operator/api/tunnelnotrackpolicy.js';
import { validateTunnelNoTrackPolicy } from '../../operator/api/tunnelnotrackpolicy.js';
import { loadPodCIDRRoutes } from '../../operator/manifests/files.js';
import type { Finding } from '../../operator/drift/kinds.js';
import { compileCrdSchema, newSchemaValidator } from '../support/test-api-server.js';
import { loadCrds } from '../../operator/api/crds.js';
import { CHART, ROOT, chartSchema } from './support.js';

const EXAMPLES = join(ROOT, 'examples');
const LUA_DIR = join(EXAMPLES, 'argocd/resource_customizations/ovndrift.io');
const tmp = mkdtempSync(join(tmpdir(), 'ovn-drift-lua-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A JSON value as a Lua table constructor (arrays 1-based, as Argo CD converts objects). */
function lua(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return JSON.stringify(v); // JSON string escapes are valid Lua 5.1 escapes for this text
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{${v.map(lua).join(', ')}}`;
  return `{${Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .map(([k, x]) => `[${JSON.stringify(k)}] = ${lua(x)}`)
    .join(', ')}}`;
}

/** Runs health.lua of `kind` with `obj` bound as Argo CD binds it; returns {status, message}. */
function health(kind: string, obj: unknown): { status: string; message: string } {
  const driver = join(tmp, `driver-${kind}.lua`);
  writeFileSync(driver, `obj = ${lua(obj)}\nlocal hs = assert(loadfile(${JSON.stringify(join(LUA_DIR, kind, 'health.lua'))}))()\nio.write(hs.status, "\\n", hs.message or "", "\\n")\n`);
  const out = execFileSync('lua5.1', [driver], { encoding: 'utf8' });
  const [status, message] = out.split('\n');
  return { status: status!, message: message! };
}

const NOW = new Date('2026-11-30T01:00:00Z');
const endpoint = { nexthop: '10.9.2.146' };
const finding = (kind: string, prefix: string): Finding => ({ kind: kind as Finding['kind'], route: 'r', router: 'dev-jr', prefix, expected: endpoint, actual: { nexthop: '10.215.91.233' }, message: `${kind} for ${prefix}` });
const base: RouteEvaluation = { prefixes: ['10.9.52.144/28', '10.9.52.160/28'], remediation: 'Report', findings: [] };
const pcr = (ev: RouteEvaluation | undefined, generation = 1, observed = generation) => ({
  apiVersion: 'ovndrift.io/v1alpha1',
  kind: 'PodCIDRRoute',
  metadata: { name: 'r', generation },
  spec: { router: 'dev-jr', nexthop: '10.9.2.146', cidrs: base.prefixes },
  ...(ev ? { status: renderStatus(undefined, ev, observed, NOW) } : {}),
});

describe('Argo CD health.lua with lua5.1 over statuses the operator renders', () => {
  it('the Lua interpreter is Lua 5.1', () => {
    expect(execFileSync('lua5.1', ['-e', 'io.write(_VERSION)'], { encoding: 'utf8' })).toBe('Lua 5.1');
  });

  it.each([
    ['no status yet', pcr(undefined), 'Progressing', /Waiting for the ovn-drift operator/],
    ['every route in sync', pcr(base), 'Healthy', /^InSync: all 2 routes in sync/],
    ['Report-mode drift', pcr({ ...base, findings: [finding('NexthopMismatch', '10.9.52.144/28')] }), 'Degraded', /^NexthopMismatch: .*10\.9\.52\.144\/28/],
    ['Repair mode, repair in progress', pcr({ ...base, remediation: 'Repair', findings: [finding('RouteMissing', '10.9.52.160/28')] }), 'Progressing', /^Repairing: /],
    ['a failed repair', pcr({ ...base, remediation: 'Repair', findings: [finding('RouteMissing', '10.9.52.160/28')], repair: { ok: false, changed: 0, message: 'transaction refused' } }), 'Degraded', /transaction refused/],
    ['OVN unreachable', pcr({ ...base, ovsdbUnavailable: 'NB: connection refused' }), 'Progressing', /^OvsdbUnavailable: /],
    ['northd lagging (flows stale while it catches up)', pcr({ ...base, northdLag: 2, findings: [finding('FlowStale', '10.9.52.144/28')] }), 'Progressing', /^NorthdLagging: /],
    ['an invalid spec', pcr({ ...base, prefixes: [], invalid: [{ field: 'spec.cidrs[1]', message: 'mixed families' }] }), 'Degraded', /^InvalidSpec: spec\.cidrs\[1\]: mixed families/],
    ['a status older than the spec', pcr(base, 3, 2), 'Progressing', /generation 2, the spec is at 3/],
  ])('PodCIDRRoute: %s', (_what, obj, status, message) => {
    const hs = health('PodCIDRRoute', obj);
    expect(hs.status).toBe(status);
    expect(hs.message).toMatch(message);
  });

  const policy: TunnelNoTrackPolicy = { apiVersion: 'ovndrift.io/v1alpha1', kind: 'TunnelNoTrackPolicy', metadata: { name: 'geneve', generation: 1, creationTimestamp: '2026-11-30T00:00:00Z' }, spec: { nodeSelector: { matchLabels: { tunnel: 'geneve' } }, ports: [{ name: 'geneve', protocol: 'UDP', port: 6081 }] } } as TunnelNoTrackPolicy;
  const nodes: PolicyNode[] = [{ name: 'n1', labels: { tunnel: 'geneve' } }];
  const state = (extra: Record<string, unknown>, checked = '2026-11-30T00:59:00Z'): NodeNoTrackState =>
    ({ apiVersion: 'ovndrift.io/v1alpha1', kind: 'NodeNoTrackState', metadata: { name: 'n1' }, status: { appliedPolicies: [{ name: 'geneve', generation: 1 }], ports: [], rules: 2, lastCheckTime: checked, conditions: [{ type: 'Ready', status: 'True', reason: 'RulesApplied', message: '', lastTransitionTime: checked }], ...extra } }) as NodeNoTrackState;
  const tnp = (states: Map<string, NodeNoTrackState>, n = nodes, invalid?: string) => ({ ...policy, status: renderPolicyStatus(undefined, policy, n, states, NOW, invalid) });
  it.each([
    ['applied on every selected node', tnp(new Map([['n1', state({})]])), 'Healthy', /^Applied: applied on all 1 selected node/],
    ['selector matches no node', tnp(new Map(), []), 'Healthy', /^NoNodes: /],
    ['an agent has not reported yet (within the grace)', tnp(new Map(), [{ name: 'n1', labels: { tunnel: 'geneve' }, creationTimestamp: '2026-11-30T00:58:00Z' }]), 'Progressing', /^Pending: /],
    ['an agent reports an iptables error', tnp(new Map([['n1', state({ lastError: 'iptables-nft-restore --noflush failed (exit 4)' })]])), 'Degraded', /^AgentFailed: .*iptables-nft-restore/],
    ['an agent went stale', tnp(new Map([['n1', state({}, '2026-11-29T20:00:00Z')]])), 'Degraded', /^AgentStale: /],
    ['an invalid policy', tnp(new Map(), nodes, 'spec.ports[0].port: must be 1-65535'), 'Degraded', /^InvalidSpec: /],
  ])('TunnelNoTrackPolicy: %s', (_what, obj, status, message) => {
    const hs = health('TunnelNoTrackPolicy', obj);
    expect(hs.status).toBe(status);
    expect(hs.message).toMatch(message);
  });

  it('the argocd-cm snippet installs exactly the Lua of the resource_customizations files', () => {
    const cm = parse(readFileSync(join(EXAMPLES, 'argocd/argocd-cm.yaml'), 'utf8')) as { data: Record<string, string> };
    for (const kind of ['PodCIDRRoute', 'TunnelNoTrackPolicy']) {
      expect(cm.data[`resource.customizations.health.ovndrift.io_${kind}`], kind).toBe(readFileSync(join(LUA_DIR, kind, 'health.lua'), 'utf8'));
    }
  });
});

describe('examples/', () => {
  const crdValidators = (() => {
    const ajv = newSchemaValidator();
    const byKind = new Map<string, ReturnType<typeof compileCrdSchema>>();
    for (const { crd } of loadCrds(join(ROOT, 'crds')) as any[]) {
      const v = crd.spec.versions.find((x: any) => x.storage);
      byKind.set(crd.spec.names.kind, compileCrdSchema(ajv, v.schema.openAPIV3Schema));
    }
    return byKind;
  })();

  it('every manifest the kustomization lists passes its CRD schema and the operator/agent validation', async () => {
    const k = parse(readFileSync(join(EXAMPLES, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    const kinds = new Set<string>();
    for (const file of k.resources) {
      for (const doc of parseAllDocuments(readFileSync(join(EXAMPLES, file), 'utf8'))) {
        const obj = doc.toJSON() as { kind: string; metadata: { name: string } };
        kinds.add(obj.kind);
        const validate = crdValidators.get(obj.kind)!;
        expect(validate(obj), `${file} ${obj.metadata.name}: ${JSON.stringify(validate.errors)}`).toBe(true);
        if (obj.kind === 'TunnelNoTrackPolicy') expect(validateTunnelNoTrackPolicy(obj).errors).toEqual([]);
      }
    }
    expect([...kinds].sort()).toEqual(['PodCIDRRoute', 'TunnelNoTrackPolicy']);
    const loaded = await loadPodCIDRRoutes([join(EXAMPLES, 'podcidrroutes.yaml')]);
    expect(loaded.errors).toEqual([]);
    expect(loaded.routes.map((r) => r.route.spec.remediation ?? 'Report')).toEqual(['Report', 'Repair']);
  });

  it('the values in the Argo CD Application, the Flux HelmRelease and values-ovn-kubernetes.yaml pass the chart schema', () => {
    const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
    const validate = ajv.compile(chartSchema());
    const defaults = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, any>;
    const withDefaults = (v: Record<string, any>) => {
      const out: Record<string, any> = structuredClone(defaults);
      for (const [k, x] of Object.entries(v)) out[k] = typeof x === 'object' && x && !Array.isArray(x) ? { ...out[k], ...x } : x;
      return out;
    };
    const argo = parseAllDocuments(readFileSync(join(EXAMPLES, 'argocd/application.yaml'), 'utf8')).map((d) => d.toJSON() as any);
    const flux = parseAllDocuments(readFileSync(join(EXAMPLES, 'flux/helmrelease.yaml'), 'utf8')).map((d) => d.toJSON() as any);
    const hr = flux.find((d) => d.kind === 'HelmRelease');
    expect(hr.spec.install.crds).toBe('CreateReplace');
    expect(hr.spec.upgrade.crds).toBe('CreateReplace');
    expect(argo[0].spec.syncPolicy.syncOptions).toContain('ServerSideApply=true');
    for (const [where, v] of [
      ['argocd/application.yaml', argo[0].spec.source.helm.valuesObject],
      ['flux/helmrelease.yaml', hr.spec.values],
      ['values-ovn-kubernetes.yaml', parse(readFileSync(join(EXAMPLES, 'values-ovn-kubernetes.yaml'), 'utf8'))],
    ] as const) {
      expect(validate(withDefaults(v)), `${where}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });
});
