// What the operator's informers keep of an object (kube/compact.ts): no apiserver bookkeeping,
// equal strings shared, Nodes as their labels — and nothing a reader of ours needs goes missing.
import { describe, expect, it } from 'vitest';
import { compactObject, nodeMetadata } from '../../operator/kube/compact.js';

const fresh = (name: string) =>
  JSON.parse(
    JSON.stringify({
      apiVersion: 'ovndrift.io/v1alpha1',
      kind: 'PodCIDRRoute',
      metadata: {
        name,
        resourceVersion: '17',
        generation: 2,
        labels: { 'sharding.ovndrift.io/key': 'shard1' },
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"spec":{}}', team: 'net' },
        managedFields: [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': {} } }],
      },
      spec: { router: 'lr0', nexthop: '10.0.0.10', cidrs: ['10.1.0.0/24'] },
      status: { routes: [{ prefix: '10.1.0.0/24', state: 'InSync', expected: { nexthop: '10.0.0.10', hypervisor: { chassis: 'hv-1' } } }] },
    }),
  );

describe('compactObject', () => {
  it('drops managedFields and the last-applied annotation, keeps everything else', () => {
    const o = compactObject(fresh('a'));
    expect(o.metadata.managedFields).toBeUndefined();
    expect(o.metadata.annotations).toEqual({ team: 'net' });
    expect(o.metadata).toMatchObject({ name: 'a', resourceVersion: '17', generation: 2, labels: { 'sharding.ovndrift.io/key': 'shard1' } });
    expect(o.spec).toEqual({ router: 'lr0', nexthop: '10.0.0.10', cidrs: ['10.1.0.0/24'] });
    expect(o.status.routes[0]).toEqual({ prefix: '10.1.0.0/24', state: 'InSync', expected: { nexthop: '10.0.0.10', hypervisor: { chassis: 'hv-1' } } });
  });

  it('an annotations map left empty goes too', () => {
    const o = fresh('b');
    delete o.metadata.annotations.team;
    expect(compactObject(o).metadata.annotations).toBeUndefined();
  });
});

describe('nodeMetadata', () => {
  it('keeps name, uid, resourceVersion, labels and creation time of a Node, not its status', () => {
    const n = nodeMetadata({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1', uid: 'u', resourceVersion: '5', labels: { zone: 'a' }, creationTimestamp: '2026-01-01T00:00:00Z', annotations: { big: 'x'.repeat(1000) } },
      status: { images: [{ names: ['img'], sizeBytes: 1 }] },
    } as never) as Record<string, any>;
    expect(n).toEqual({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'u', resourceVersion: '5', labels: { zone: 'a' }, creationTimestamp: '2026-01-01T00:00:00Z' } });
  });
});
