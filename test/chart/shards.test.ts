// The chart installing N operator shards (operator.sharding), render-free like chart.test.ts (no
// helm binary here): the values schema accepts N shard names and refuses bad ones, naming them;
// the templates range over one Deployment (and PDB) per shard, each with its own Lease and its
// --watch-label-selector; the leader-election Role names every Lease; and the selectors the
// helper's format strings produce for N shards (plus the default shard) pass the operator's own
// validation and split every label value between exactly one shard.
// NOT covered (needs helm): actual rendering of the range.
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parseLabelSelector, watchLabelSelector, type LabelRequirement } from '../../operator/controller/shard.js';
import { chartSchema, chartValues, templates } from './support.js';

const remotes = { nbRemote: 'tcp:10.0.0.1:6641', sbRemote: 'tcp:10.0.0.1:6642', tlsSecret: '' };

function withSharding(sharding: Record<string, unknown>): Record<string, unknown> {
  const v = structuredClone(chartValues()) as { ovn: object; operator: { sharding: object } };
  v.ovn = remotes;
  v.operator.sharding = { ...v.operator.sharding, ...sharding };
  return v;
}

const text = (name: string) => templates().find((t) => t.name === name)!.text;

/** Applies a Go-template printf format with %s arguments (what the helper does with key and shard). */
const printf = (format: string, ...args: string[]) => args.reduce((f, a) => f.replace('%s', a), format);

function matches(reqs: LabelRequirement[], labels: Record<string, string>): boolean {
  return reqs.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    if (r.operator === 'exists') return has;
    if (r.operator === '!exists') return !has;
    if (r.operator === 'in') return has && r.values.includes(labels[r.key]!);
    return !has || !r.values.includes(labels[r.key]!);
  });
}

describe('chart: N operator shards', () => {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  const validate = ajv.compile(chartSchema());

  it('values.yaml ships unsharded, and the schema accepts N shards with or without the default shard', () => {
    expect((chartValues() as any).operator.sharding).toEqual({ key: 'sharding.ovndrift.io/key', shards: [], defaultShard: true });
    for (const v of [withSharding({}), withSharding({ shards: ['shard1', 'shard2', 'shard3'] }), withSharding({ shards: ['eu-1'], defaultShard: false, key: 'example.com/shard' })]) {
      expect(validate(v), JSON.stringify(validate.errors)).toBe(true);
    }
  });

  it.each([
    ['a shard named "default" (the default shard has that name)', { shards: ['default'] }, '/operator/sharding/shards/0'],
    ['the same shard twice', { shards: ['a', 'a'] }, '/operator/sharding/shards'],
    ['a shard name that is not a DNS label', { shards: ['Shard_1'] }, '/operator/sharding/shards/0'],
    ['a label key that is not one', { key: 'not a key', shards: ['a'] }, '/operator/sharding/key'],
    ['a misspelt knob', { defaultshard: true }, 'defaultshard'],
  ])('refuses %s, naming it', (_what, sharding, where) => {
    expect(validate(withSharding(sharding))).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain(where);
  });

  it('one Deployment and one PDB per shard, each with its own Lease and --watch-label-selector', () => {
    const dep = text('deployment.yaml');
    expect(dep).toMatch(/\{\{- range \$s := include "ovn-drift\.operatorShards" \. \| fromJsonArray \}\}\n---\napiVersion: apps\/v1\nkind: Deployment/);
    expect(dep).toMatch(/name: \{\{ include "ovn-drift\.fullname" \$ \}\}-operator\{\{ \$s\.suffix \}\}/);
    expect(dep).toMatch(/- --lease-name=\{\{ \$s\.lease \}\}/);
    expect(dep).toMatch(/\{\{- if \$s\.selector \}\}\n\s+- --watch-label-selector=\{\{ \$s\.selector \}\}/);
    // each Deployment selects only its own pods (the shard label is in the selector)
    expect(dep).toMatch(/selector:\n\s+matchLabels: .*\n\s+app\.kubernetes\.io\/component: operator\n\s+\{\{- if \$s\.shard \}\}\n\s+ovndrift\.io\/shard: \{\{ \$s\.shard \}\}/);
    // inside the range every value is read from the root ($), never from the shard entry
    expect(dep.slice(dep.indexOf('range $s')).match(/[^$]\.Values\./g)).toBeNull();
    const pdb = text('pdb.yaml');
    expect(pdb).toMatch(/range \$s := include "ovn-drift\.operatorShards" \. \| fromJsonArray/);
    expect(pdb).toMatch(/name: \{\{ include "ovn-drift\.fullname" \$ \}\}-operator\{\{ \$s\.suffix \}\}/);
    expect(text('rbac.yaml')).toMatch(/resourceNames: \[\{\{ include "ovn-drift\.leaseNames" \. \}\}\]/);
  });

  it('the selectors the helper builds for N shards pass the operator validation and give every resource exactly one shard', () => {
    const helpers = text('_helpers.tpl');
    const shardFmt = helpers.match(/"lease" \(printf "([^"]+)" \$lease \.\) "selector" \(printf "([^"]+)" \$sh\.key \.\)/);
    const defaultFmt = helpers.match(/dict "shard" "default" "suffix" "-default" "lease" \$lease "selector" \(printf "([^"]+)" \$sh\.key\)/);
    expect(shardFmt).not.toBeNull();
    expect(defaultFmt).not.toBeNull();
    const key = 'sharding.ovndrift.io/key';
    const shards = ['shard1', 'shard2', 'shard3', 'shard4'];
    const lease = 'rel-ovn-drift-operator';
    const deployments = [
      ...shards.map((s) => ({ shard: s, lease: printf(shardFmt![1]!, lease, s), selector: printf(shardFmt![2]!, key, s) })),
      { shard: 'default', lease, selector: printf(defaultFmt![1]!, key) },
    ];
    expect(deployments.map((d) => d.selector)).toEqual([...shards.map((s) => `${key} in (${s})`), `!${key}`]);
    expect(new Set(deployments.map((d) => d.lease)).size).toBe(deployments.length);
    const parsed = deployments.map((d) => ({ ...d, reqs: parseLabelSelector(watchLabelSelector(d.selector)) }));
    const cases: Record<string, string>[] = [{}, { other: 'x' }, ...shards.map((s) => ({ [key]: s }))];
    for (const labels of cases) {
      const owners = parsed.filter((d) => matches(d.reqs, labels)).map((d) => d.shard);
      expect(owners, JSON.stringify(labels)).toHaveLength(1);
    }
    // a label value no shard has: nobody (the README says to label only with configured shards)
    expect(parsed.filter((d) => matches(d.reqs, { [key]: 'shard9' }))).toEqual([]);
  });
});
