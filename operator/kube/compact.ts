// What an informer keeps of each object it caches (its `transform`). At field scale the operator's
// PodCIDRRoute cache holds 10,000 objects whose statuses list 200,000 routes; every watch event is
// a fresh JSON.parse, so each status repeats the same few values (route states, nexthops, chassis,
// hostnames, encap IPs, condition reasons) as separate strings. Here:
//   - compactObject: drops what the apiserver adds and no reader of ours uses (metadata.managedFields,
//     the kubectl last-applied-configuration annotation: a second copy of the spec) and shares equal
//     strings through a bounded intern table (started over when full, so unique values cannot make it
//     grow), in place: the object is fresh from the wire and not yet seen by anyone;
//   - nodeMetadata: of a Node, only what the policy reconciler reads (name, labels, creation time)
//     plus what the informer itself needs (resourceVersion, uid, deletionTimestamp), not the
//     status (images, conditions, addresses: tens of KB per node in a real cluster).
// Pure; imports only the shared string interner (runtime/intern.ts).
import type { KubeObject } from './informer.js';
import { Interner } from '../runtime/intern.js';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Strings up to 256 characters are interned (condition messages included; longer texts are rare), 65,536 at most before the table starts over. */
const strings = new Interner(256, 65_536);
const intern = (s: string): string => strings.intern(s);

function internAll(v: unknown, depth: number): unknown {
  if (typeof v === 'string') return intern(v);
  if (typeof v !== 'object' || v === null || depth > 32) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = internAll(v[i], depth + 1);
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (typeof x === 'string') o[k] = intern(x);
    else if (typeof x === 'object' && x !== null) internAll(x, depth + 1);
  }
  return v;
}

/** The object without apiserver bookkeeping nobody here reads, its strings shared; changed in place. */
export function compactObject<T extends KubeObject>(obj: T): T {
  const md = obj.metadata as (KubeObject['metadata'] & { managedFields?: unknown; annotations?: Record<string, string> }) | undefined;
  if (md) {
    delete md.managedFields;
    if (md.annotations && LAST_APPLIED in md.annotations) {
      delete md.annotations[LAST_APPLIED];
      if (Object.keys(md.annotations).length === 0) delete md.annotations;
    }
  }
  return internAll(obj, 0) as T;
}

/** A Node reduced to its identity, labels and creation time (all the operator reads of one). */
export function nodeMetadata<T extends KubeObject>(obj: T): T {
  const md = obj.metadata ?? {};
  const keep: Record<string, unknown> = {};
  for (const k of ['name', 'uid', 'resourceVersion', 'generation', 'labels', 'creationTimestamp', 'deletionTimestamp']) if (md[k] !== undefined) keep[k] = md[k];
  return compactObject({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: keep } as T);
}
