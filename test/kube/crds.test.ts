// crds/ is the single source of truth: its schemas are structural, examples validate with a real
// JSON-schema validator (ajv), bad examples are rejected, and what the CEL rules say is also what
// the operator's pure validators say. The Helm chart's copy must be identical.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCrds, type CrdDocument } from '../../operator/api/crds.js';
import { validatePodCIDRRoute } from '../../operator/api/podcidrroute.js';
import { validateTunnelNoTrackPolicy } from '../../operator/api/tunnelnotrackpolicy.js';
import { compileCrdSchema, findRepoDir, newSchemaValidator, pruneBySchema } from '../support/test-api-server.js';

const crdDir = findRepoDir('crds');
const crds = loadCrds(crdDir);
const byKind = (kind: string): CrdDocument['crd'] => {
  const c = crds.find((d) => d.crd.spec.names.kind === kind);
  if (!c) throw new Error(`no CRD for ${kind}`);
  return c.crd;
};
const ajv = newSchemaValidator();
const validators = new Map(crds.map((d) => [d.crd.spec.names.kind, compileCrdSchema(ajv, d.crd.spec.versions[0]!.schema.openAPIV3Schema)]));
function schemaErrors(obj: object): string[] {
  const v = validators.get((obj as { kind: string }).kind)!;
  const copy = structuredClone(obj);
  return v(copy) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
const rules = (kind: string): { rule: string; message?: string; messageExpression?: string }[] => {
  const out: { rule: string; message?: string; messageExpression?: string }[] = [];
  const walk = (s: any) => {
    if (!s || typeof s !== 'object') return;
    if (Array.isArray(s['x-kubernetes-validations'])) out.push(...s['x-kubernetes-validations']);
    for (const v of Object.values(s)) walk(v);
  };
  walk(byKind(kind).spec.versions[0]!.schema.openAPIV3Schema);
  return out;
};

const pcr = (spec: Record<string, unknown>, name = 'dev-jr-pods') => ({
  apiVersion: 'ovndrift.io/v1alpha1',
  kind: 'PodCIDRRoute',
  metadata: { name },
  spec: { router: 'dev-jr', nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28'], ...spec },
});
const tntp = (spec: Record<string, unknown>) => ({
  apiVersion: 'ovndrift.io/v1alpha1',
  kind: 'TunnelNoTrackPolicy',
  metadata: { name: 'tunnels' },
  spec: { ports: [{ name: 'geneve', protocol: 'UDP', port: 6081 }], ...spec },
});

describe('CRDs in crds/', () => {
  it('declare the three kinds, cluster-scoped, v1alpha1 served+storage, status subresource, names', () => {
    expect(crds.map((d) => d.crd.spec.names.kind).sort()).toEqual(['NodeNoTrackState', 'PodCIDRRoute', 'TunnelNoTrackPolicy']);
    for (const { crd } of crds) {
      expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
      expect(crd.spec.group).toBe('ovndrift.io');
      expect(crd.spec.scope).toBe('Cluster');
      expect(crd.metadata.name).toBe(`${crd.spec.names.plural}.ovndrift.io`);
      expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([['v1alpha1', true, true]]);
      expect(crd.spec.versions[0]!.subresources?.status).toEqual({});
      expect(crd.spec.names.categories).toEqual(['ovndrift']);
    }
    expect(byKind('PodCIDRRoute').spec.names.shortNames).toEqual(['pcr']);
    expect(byKind('TunnelNoTrackPolicy').spec.names.shortNames).toEqual(['tntp']);
    expect(byKind('NodeNoTrackState').spec.names.plural).toBe('nodenotrackstates');
  });

  it('have structural schemas (a type on every node, no $ref, value-only anyOf)', () => {
    const problems: string[] = [];
    const walk = (s: any, path: string, inAnyOf: boolean) => {
      if ('$ref' in s) problems.push(`${path}: $ref`);
      if (!inAnyOf && !s.type && !s['x-kubernetes-int-or-string'] && !s['x-kubernetes-preserve-unknown-fields']) problems.push(`${path}: no type`);
      if (inAnyOf && s.type) problems.push(`${path}: type inside anyOf`);
      for (const [k, v] of Object.entries<any>(s.properties ?? {})) walk(v, `${path}.${k}`, false);
      if (s.items) walk(s.items, `${path}[]`, false);
      if (s.additionalProperties && typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${path}{}`, false);
      for (const b of s.anyOf ?? []) walk(b, `${path}|anyOf`, true);
    };
    for (const { crd } of crds) walk(crd.spec.versions[0]!.schema.openAPIV3Schema, crd.spec.names.kind, false);
    expect(problems).toEqual([]);
  });

  it('print router, nexthop, routes, in-sync, ready and age for kubectl get pcr, all on declared fields', () => {
    const v = byKind('PodCIDRRoute').spec.versions[0]!;
    const cols = v.additionalPrinterColumns!.filter((c) => !c.priority).map((c) => c.name);
    expect(cols).toEqual(['Router', 'Nexthop', 'Routes', 'In-Sync', 'Ready', 'Age']);
    for (const { crd } of crds) {
      const schema = crd.spec.versions[0]!.schema.openAPIV3Schema;
      for (const c of crd.spec.versions[0]!.additionalPrinterColumns ?? []) {
        const path = c.jsonPath.replace(/\[\?\(.*\)\]/, '').split('.').filter(Boolean);
        let node: any = schema;
        for (const p of path) node = p === 'metadata' ? { properties: { creationTimestamp: {} } } : (node.properties?.[p] ?? node.items?.properties?.[p]);
        expect(node, `${crd.spec.names.kind} column ${c.name} (${c.jsonPath})`).toBeDefined();
      }
    }
  });

  describe('PodCIDRRoute', () => {
    const good = [
      pcr({}),
      pcr({ nexthop: 'fd00:9::2', cidrs: ['fd00:52::/64', 'fd00:53::/64'] }),
      pcr({ policy: 'src-ip', routeTable: 'rtb-1', expectedChassis: 'hv-36', remediation: 'Repair', adopt: true }),
    ];
    it.each(good.map((g, i) => [i, g]))('accepts example %i and applies defaults', (_i, obj) => {
      expect(schemaErrors(obj)).toEqual([]);
      expect(validatePodCIDRRoute(obj).errors).toEqual([]);
      const copy: any = structuredClone(obj);
      validators.get('PodCIDRRoute')!(copy);
      expect(copy.spec.policy).toBe((obj.spec as any).policy ?? 'dst-ip');
      expect(copy.spec.remediation).toBe((obj.spec as any).remediation ?? 'Report');
      expect(copy.spec.adopt).toBe((obj.spec as any).adopt ?? false);
    });

    const schemaBad: [string, object][] = [
      ['missing router', { ...pcr({}), spec: { nexthop: '10.9.2.146', cidrs: ['10.9.52.144/28'] } }],
      ['empty router', pcr({ router: '' })],
      ['no prefixes', pcr({ cidrs: [] })],
      ['unknown policy', pcr({ policy: 'dst' })],
      ['unknown remediation', pcr({ remediation: 'Fix' })],
      ['adopt not a boolean', pcr({ adopt: 'yes' })],
      ['unknown deletionPolicy', pcr({ deletionPolicy: 'Keep' })],
    ];
    it.each(schemaBad)('the schema rejects: %s (and so does validatePodCIDRRoute)', (_name, obj) => {
      expect(schemaErrors(obj)).not.toEqual([]);
      expect(validatePodCIDRRoute(obj).errors).not.toEqual([]);
    });

    // messages of CEL rules are messageExpressions: the test names a fragment of the expression
    const celBad: [string, object, string][] = [
      ['IPv6 prefix with an IPv4 nexthop', pcr({ cidrs: ['10.9.52.144/28', 'fd00:52::/64'] }), 'same IP family'],
      ['IPv4 prefix with an IPv6 nexthop', pcr({ nexthop: 'fd00:9::2', cidrs: ['10.9.52.144/28'] }), 'same IP family'],
      ['nexthop not an IP', pcr({ nexthop: 'vm-1' }), 'must be an IPv4 or IPv6 address'],
      ['prefix without length', pcr({ cidrs: ['10.9.52.144'] }), 'must be a CIDR prefix'],
      ['prefix length 33', pcr({ cidrs: ['10.9.52.144/33'] }), 'must be a CIDR prefix'],
      ['host bits set', pcr({ cidrs: ['10.9.52.145/28'] }), 'host bits set'],
      ['IPv6 not in canonical form', pcr({ nexthop: 'fd00:9::2', cidrs: ['FD00:52::/64'] }), 'canonical form'],
    ];
    it.each(celBad)('a CEL rule rejects what the schema cannot: %s', (_name, obj, message) => {
      expect(schemaErrors(obj)).toEqual([]);
      expect(rules('PodCIDRRoute').some((r) => `${r.message ?? ''}${(r as { messageExpression?: string }).messageExpression ?? ''}`.includes(message))).toBe(true);
      expect(validatePodCIDRRoute(obj).errors.length).toBeGreaterThan(0);
    });

    it('lists prefixes as a set (duplicates are refused by list type, not by a quadratic rule)', () => {
      expect(byKind('PodCIDRRoute').spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties.cidrs['x-kubernetes-list-type']).toBe('set');
      expect(validatePodCIDRRoute(pcr({ cidrs: ['10.9.52.144/28', '10.9.52.144/28'] })).errors.map((e) => e.field)).toEqual(['spec.cidrs[1]']);
    });
  });

  describe('TunnelNoTrackPolicy', () => {
    const good = [
      tntp({}),
      tntp({ nodeSelector: { matchLabels: { 'ovn.org/tunnel': 'stt' } }, ports: [{ name: 'stt', protocol: 'TCP', port: 7471 }, { name: 'geneve', protocol: 'UDP', port: 6081 }], ipFamilies: ['IPv4'] }),
      tntp({ nodeSelector: { matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['linux'] }] } }),
    ];
    it.each(good.map((g, i) => [i, g]))('accepts example %i and defaults ipFamilies to both', (_i, obj) => {
      expect(schemaErrors(obj)).toEqual([]);
      expect(validateTunnelNoTrackPolicy(obj).errors).toEqual([]);
      const copy: any = structuredClone(obj);
      validators.get('TunnelNoTrackPolicy')!(copy);
      expect(copy.spec.ipFamilies).toEqual((obj.spec as any).ipFamilies ?? ['IPv4', 'IPv6']);
    });
    const schemaBad: [string, object][] = [
      ['no ports', tntp({ ports: [] })],
      ['unknown protocol', tntp({ ports: [{ protocol: 'ICMP', port: 1 }] })],
      ['port 0', tntp({ ports: [{ protocol: 'UDP', port: 0 }] })],
      ['port 70000', tntp({ ports: [{ protocol: 'UDP', port: 70000 }] })],
      ['unknown family', tntp({ ipFamilies: ['IPv5'] })],
      ['bad selector operator', tntp({ nodeSelector: { matchExpressions: [{ key: 'a', operator: 'Has' }] } })],
    ];
    it.each(schemaBad)('the schema rejects: %s (and so does validateTunnelNoTrackPolicy)', (_name, obj) => {
      expect(schemaErrors(obj)).not.toEqual([]);
      expect(validateTunnelNoTrackPolicy(obj).errors).not.toEqual([]);
    });
    const celBad: [string, object, string][] = [
      ['In without values', tntp({ nodeSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }), 'values must be non-empty'],
    ];
    it.each(celBad)('a CEL rule rejects what the schema cannot: %s', (_name, obj, message) => {
      expect(schemaErrors(obj)).toEqual([]);
      expect(rules('TunnelNoTrackPolicy').some((r) => (r.message ?? '').includes(message))).toBe(true);
      expect(validateTunnelNoTrackPolicy(obj).errors.length).toBeGreaterThan(0);
    });
    it('lists ports as a map keyed by protocol and port (duplicates refused by list type)', () => {
      const ports = byKind('TunnelNoTrackPolicy').spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties.ports;
      expect([ports['x-kubernetes-list-type'], ports['x-kubernetes-list-map-keys']]).toEqual(['map', ['protocol', 'port']]);
      expect(validateTunnelNoTrackPolicy(tntp({ ports: [{ protocol: 'UDP', port: 6081 }, { name: 'again', protocol: 'UDP', port: 6081 }] })).errors.length).toBeGreaterThan(0);
    });
  });

  describe('NodeNoTrackState', () => {
    const state = {
      apiVersion: 'ovndrift.io/v1alpha1',
      kind: 'NodeNoTrackState',
      metadata: { name: 'worker-1' },
      status: {
        backend: 'nft',
        appliedPolicies: [{ name: 'tunnels', generation: 3 }],
        ports: [{ protocol: 'UDP', port: 6081, ipFamilies: ['IPv4', 'IPv6'], policies: ['tunnels'] }],
        rules: 4,
        lastCheckTime: '2026-11-23T23:59:00Z',
        conditions: [{ type: 'Ready', status: 'True', reason: 'Applied', message: '4 NOTRACK rules in place', lastTransitionTime: '2026-11-23T23:58:00Z' }],
      },
    };
    it('accepts the state the agent writes and keeps every field (nothing pruned)', () => {
      expect(schemaErrors(state)).toEqual([]);
      const schema = byKind('NodeNoTrackState').spec.versions[0]!.schema.openAPIV3Schema;
      expect(pruneBySchema(structuredClone(state), schema)).toEqual(state);
    });
    it('rejects an unknown backend and a condition without reason', () => {
      expect(schemaErrors({ ...state, status: { ...state.status, backend: 'ebpf' } })).not.toEqual([]);
      expect(schemaErrors({ ...state, status: { ...state.status, conditions: [{ type: 'Ready', status: 'True', message: '', lastTransitionTime: '2026-11-23T23:58:00Z' }] } })).not.toEqual([]);
    });
  });

  it('the Helm chart ships exactly these CRDs (charts/ovn-drift/crds is a copy made by charts/sync-crds.sh)', () => {
    const chartCrds = join(crdDir, '..', 'charts', 'ovn-drift', 'crds');
    expect(existsSync(chartCrds)).toBe(true);
    const files = readdirSync(crdDir).filter((f) => f.endsWith('.yaml')).sort();
    expect(readdirSync(chartCrds).filter((f) => f.endsWith('.yaml')).sort()).toEqual(files);
    for (const f of files) {
      expect(readFileSync(join(chartCrds, f), 'utf8'), `charts/ovn-drift/crds/${f} differs from crds/${f}: run charts/sync-crds.sh`).toBe(readFileSync(join(crdDir, f), 'utf8'));
    }
  });
});
