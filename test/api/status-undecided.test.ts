// A route whose verdict cannot be decided (a Logical_Router_Policy match ovn-drift cannot read) is
// never reported in sync by the operator: route state Unknown with the reason, Ready=False
// (Undecidable), Stalled=True — and the status still fits the CRD schema.
import { describe, expect, it } from 'vitest';
import type { PodCIDRRouteStatus } from '../../operator/api/status.js';
import { renderStatus } from '../../operator/controller/status.js';
import { loadCrds } from '../../operator/api/crds.js';
import { compileCrdSchema, findRepoDir, newSchemaValidator, pruneBySchema } from '../support/test-api-server.js';

const t0 = new Date('2026-11-30T01:00:00Z');
const cond = (s: PodCIDRRouteStatus, type: string) => s.conditions!.find((c) => c.type === type)!;

describe('renderStatus with undecided routes', () => {
  it('Unknown route, Ready False Undecidable, Stalled True; the decided prefix stays InSync', () => {
    const why = 'policy priority 130 (drop) match "ip4.dst == $pgx_ip4" on pol cannot be decided for 10.74.7.0/24: address set $pgx_ip4 (not an NB Address_Set)';
    const s = renderStatus(undefined, { prefixes: ['10.74.5.0/24', '10.74.7.0/24'], remediation: 'Report', findings: [], undecided: new Map([['10.74.7.0/24', why]]) }, 1, t0);
    expect(s.routes!.map((r) => [r.prefix, r.state])).toEqual([['10.74.5.0/24', 'InSync'], ['10.74.7.0/24', 'Unknown']]);
    expect(s.routes![1]!.message).toBe(why);
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'Undecidable' });
    expect(cond(s, 'Stalled')).toMatchObject({ status: 'True', reason: 'Undecidable' });
    expect(s.counts).toMatchObject({ routes: 2, inSync: 1, drifted: 0 });
    const crd = loadCrds(findRepoDir('crds')).find((c) => c.crd.spec.names.kind === 'PodCIDRRoute')!.crd.spec.versions[0]!.schema.openAPIV3Schema;
    const obj = { apiVersion: 'ovndrift.io/v1alpha1', kind: 'PodCIDRRoute', metadata: { name: 'x' }, spec: { router: 'r', nexthop: '10.0.0.1', cidrs: ['10.1.0.0/24'] }, status: s };
    const validate = compileCrdSchema(newSchemaValidator(), crd);
    expect(validate(structuredClone(obj)), JSON.stringify(validate.errors)).toBe(true);
    expect(pruneBySchema(structuredClone(obj), crd)).toEqual(JSON.parse(JSON.stringify(obj)));
  });
});
