// The Helm chart without a helm binary (none can be installed here): render-free checks that fail
// on real mistakes. values.yaml validates against values.schema.json (ajv, draft-07 as Helm reads
// it) and bad values are rejected with a message naming the value; every `.Values` path a
// template uses exists in values.yaml and every value is used; the CRD copies equal crds/; the
// fail-fast guards, probes and security settings the chart promises are in the templates.
// NOT covered (needs helm): actual rendering, `helm lint`, `helm install --wait` on a cluster.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { CHART, ROOT, chartSchema, chartValues, hasPath, leafPaths, templates, valuesReferences } from './support.js';

function validator() {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  return ajv.compile(chartSchema());
}

/** values.yaml with `patch` deep-merged in, as `helm install -f` would. */
function withValues(patch: Record<string, unknown>): Record<string, unknown> {
  const merge = (a: unknown, b: unknown): unknown => {
    if (b === null || typeof b !== 'object' || Array.isArray(b) || a === null || typeof a !== 'object' || Array.isArray(a)) return b;
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = merge(out[k], v);
    return out;
  };
  return merge(chartValues(), patch) as Record<string, unknown>;
}

const remotes = { ovn: { nbRemote: 'ssl:ovnkube-db.ovn-kubernetes.svc:6641', sbRemote: 'ssl:ovnkube-db.ovn-kubernetes.svc:6642', tlsSecret: 'ovn-drift-ovn-tls' } };

describe('values.schema.json', () => {
  const validate = validator();
  const errorsOf = (v: unknown): string => (validate(v) ? '' : JSON.stringify(validate.errors));

  it('rejects values.yaml as shipped (the remotes are required while the operator is enabled), naming both', () => {
    expect(validate(chartValues())).toBe(false);
    const errs = JSON.stringify(validate.errors);
    expect(errs).toContain('/ovn/nbRemote');
    expect(errs).toContain('/ovn/sbRemote');
    // An agent-only install needs no remotes.
    expect(errorsOf(withValues({ operator: { enabled: false } }))).toBe('');
  });

  it('accepts values with remotes and TLS set as the README says', () => {
    expect(errorsOf(withValues(remotes))).toBe('');
    expect(errorsOf(withValues({ ovn: { nbRemote: 'tcp:10.0.0.1:6641,tcp:10.0.0.2:6641,tcp:[fd00::3]:6641', sbRemote: 'unix:/var/run/ovn/ovnsb_db.sock' } }))).toBe('');
  });

  it.each([
    ['an ssl: NB remote without tlsSecret', { ovn: { nbRemote: 'ssl:db:6641', sbRemote: 'tcp:db:6642' } }, '/ovn/tlsSecret'],
    ['an ssl: SB remote (in a cluster list) without tlsSecret', { ovn: { nbRemote: 'tcp:db:6641', sbRemote: 'tcp:a:6642,ssl:b:6642' } }, '/ovn/tlsSecret'],
    ['a remote that is not one', { ovn: { nbRemote: 'https://db:6641', sbRemote: 'tcp:db:6642' } }, '/ovn/nbRemote'],
    ['a remote without port', { ovn: { nbRemote: 'tcp:db', sbRemote: 'tcp:db:6642' } }, '/ovn/nbRemote'],
    ['an unknown log level', { agent: { logLevel: 'verbose' } }, '/agent/logLevel'],
    ['replicas as a string', { operator: { replicas: '2' } }, '/operator/replicas'],
    ['replicas 0', { operator: { replicas: 0 } }, '/operator/replicas'],
    ['a resync that is not a duration', { operator: { resync: 'often' } }, '/operator/resync'],
    ['a pull policy Helm does not know', { image: { pullPolicy: 'Sometimes' } }, '/image/pullPolicy'],
    ['an agent metrics port out of range', { agent: { metricsPort: 70000 } }, '/agent/metricsPort'],
    ['a misspelt key', { agent: { priorityClass: 'system-node-critical' } }, 'priorityClass'],
    ['a Lease name that is not a DNS name', { operator: { leaseName: 'My_Lease' } }, '/operator/leaseName'],
  ])('rejects %s, naming it', (_what, patch, where) => {
    const v = withValues({ ...remotes, ...patch, ovn: { ...remotes.ovn, tlsSecret: '', ...(patch as { ovn?: object }).ovn } });
    if (!(patch as { ovn?: object }).ovn) (v.ovn as Record<string, unknown>).tlsSecret = 'ovn-drift-ovn-tls';
    expect(validate(v)).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain(where);
  });
});

describe('templates and values.yaml', () => {
  it('every .Values path used by a template exists in values.yaml', () => {
    const values = chartValues();
    const refs = valuesReferences();
    expect(refs.length).toBeGreaterThan(40);
    const missing = refs.filter((r) => !hasPath(values, r.path)).map((r) => `${r.file}: .Values.${r.path}`);
    expect(missing).toEqual([]);
  });

  it('every value in values.yaml is used by a template (no dead knobs)', () => {
    const used = new Set(valuesReferences().map((r) => r.path));
    const isUsed = (leaf: string): boolean => [...used].some((u) => u === leaf || leaf.startsWith(`${u}.`));
    expect(leafPaths(chartValues()).filter((l) => !isUsed(l))).toEqual([]);
  });

  it('the CRD copies in the chart equal crds/', () => {
    const a = readdirSync(join(ROOT, 'crds')).filter((f) => f.endsWith('.yaml')).sort();
    const b = readdirSync(join(CHART, 'crds')).filter((f) => f.endsWith('.yaml')).sort();
    expect(b).toEqual(a);
    for (const f of a) expect(readFileSync(join(CHART, 'crds', f), 'utf8'), f).toBe(readFileSync(join(ROOT, 'crds', f), 'utf8'));
  });

  it('fail-fast guards: remotes required, ssl: without tlsSecret fails, wired into the Deployment', () => {
    const helpers = templates().find((t) => t.name === '_helpers.tpl')!.text;
    expect(helpers).toMatch(/required "ovn\.nbRemote is required/);
    expect(helpers).toMatch(/required "ovn\.sbRemote is required/);
    expect(helpers).toMatch(/regexMatch "\(\^\|,\)ssl:" \$r\) \(not \$\.Values\.ovn\.tlsSecret\)/);
    expect(helpers).toMatch(/fail \(printf "%s is an ssl: remote/);
    expect(templates().find((t) => t.name === 'deployment.yaml')!.text.split('\n')[0]).toBe('{{- include "ovn-drift.validate" . }}');
  });

  it('names: fullname is not doubled and the Lease comes from the release', () => {
    const helpers = templates().find((t) => t.name === '_helpers.tpl')!.text;
    expect(helpers).toMatch(/if contains \$name \.Release\.Name/);
    expect(helpers).toMatch(/define "ovn-drift\.leaseName" -\}\}\{\{ \.Values\.operator\.leaseName \| default \(printf "%s-operator" \(include "ovn-drift\.fullname" \.\)\)/);
    const all = templates().map((t) => t.text).join('\n');
    expect(all).not.toMatch(/-ovn-drift-operator|leaseName: ovn-drift-operator/);
  });

  it('agent pod: probes, seccomp RuntimeDefault, read-only root, no /lib/modules, priority and log level from values, metrics port declared', () => {
    const ds = templates().find((t) => t.name === 'daemonset.yaml')!.text;
    expect(ds).toMatch(/readinessProbe:\n\s+httpGet: \{path: \/healthz, port: metrics\}/);
    expect(ds).toMatch(/livenessProbe:/);
    expect(ds).toMatch(/seccompProfile: \{type: RuntimeDefault\}/);
    expect(ds).toMatch(/readOnlyRootFilesystem: true/);
    expect(ds).not.toMatch(/lib-modules|\/lib\/modules/);
    expect(ds).not.toMatch(/system-node-critical/);
    expect(ds).toMatch(/priorityClassName: \{\{ \. \}\}/);
    expect(ds).toMatch(/--log-level=\{\{ \.Values\.agent\.logLevel \}\}/);
    expect(ds).toMatch(/--metrics-addr=:\{\{ \.Values\.agent\.metricsPort \}\}/);
    expect(ds).toMatch(/containerPort: \{\{ \.Values\.agent\.metricsPort \}\}/);
  });

  it('operator: PDB minAvailable 1, optional NetworkPolicy, PodMonitor and PrometheusRule templates exist', () => {
    const byName = new Map(templates().map((t) => [t.name, t.text]));
    expect(byName.get('pdb.yaml')).toMatch(/minAvailable: 1/);
    expect(byName.get('networkpolicy.yaml')).toMatch(/kind: NetworkPolicy/);
    expect(byName.get('service.yaml')).toMatch(/kind: PodMonitor/);
    expect(byName.get('prometheusrule.yaml')).toMatch(/\.Files\.Get "files\/prometheus-rules\.yaml"/);
    expect(byName.get('NOTES.txt')).toMatch(/kubectl get pcr/);
  });
});
