// Names of the ovndrift.io custom resources as the API server serves them (group, version,
// plural), shared by the operator's informers and status writers, and a loader for the canonical
// CRD YAML in crds/ (used by the CLI's validators, tests, the test API server and the chart check).
// Reading crds/ is the only I/O in operator/api; imports only operator/api (api/ is the leaf).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { GROUP, VERSION } from './meta.js';

export interface ResourceName {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

export const PODCIDRROUTES: ResourceName = { group: GROUP, version: VERSION, plural: 'podcidrroutes', kind: 'PodCIDRRoute' };
export const TUNNELNOTRACKPOLICIES: ResourceName = { group: GROUP, version: VERSION, plural: 'tunnelnotrackpolicies', kind: 'TunnelNoTrackPolicy' };
export const NODENOTRACKSTATES: ResourceName = { group: GROUP, version: VERSION, plural: 'nodenotrackstates', kind: 'NodeNoTrackState' };

/** URL path of a cluster-scoped collection, e.g. /apis/ovndrift.io/v1alpha1/podcidrroutes. */
export function collectionPath(r: ResourceName): string {
  return `/apis/${r.group}/${r.version}/${r.plural}`;
}

export interface CrdDocument {
  file: string;
  crd: {
    apiVersion: string;
    kind: string;
    metadata: { name: string };
    spec: {
      group: string;
      scope: string;
      names: { kind: string; plural: string; singular?: string; shortNames?: string[]; categories?: string[]; listKind?: string };
      versions: {
        name: string;
        served: boolean;
        storage: boolean;
        subresources?: { status?: object };
        additionalPrinterColumns?: { name: string; type: string; jsonPath: string; priority?: number }[];
        schema: { openAPIV3Schema: Record<string, any> };
      }[];
    };
  };
}

/** Read every CustomResourceDefinition in a directory of YAML files (sorted by file name). */
export function loadCrds(dir: string): CrdDocument[] {
  const out: CrdDocument[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!/\.ya?ml$/.test(file)) continue;
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      const crd = doc.toJS() as CrdDocument['crd'] | null;
      if (crd?.kind === 'CustomResourceDefinition') out.push({ file, crd });
    }
  }
  return out;
}

/**
 * The repository's (or installed package's) crds/ directory: the nearest ancestor of this module
 * holding both crds/ and package.json (operator/api/ in tests, dist/operator/api/ when built, /app in
 * the image).
 */
function crdDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'crds');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no crds/ directory above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

const schemas = new Map<string, Record<string, any>>();

/**
 * The openAPIV3Schema of the storage version of the CRD for `kind`, read once from crds/ (the
 * single source of truth: the CLI validates manifests against the same schema the API server does).
 */
export function crdSchema(kind: string): Record<string, any> {
  if (schemas.size === 0) {
    for (const { crd } of loadCrds(crdDir())) {
      const v = crd.spec.versions.find((x) => x.storage) ?? crd.spec.versions[0]!;
      schemas.set(crd.spec.names.kind, v.schema.openAPIV3Schema);
    }
  }
  const s = schemas.get(kind);
  if (!s) throw new Error(`no CustomResourceDefinition for kind ${kind} in ${crdDir()}`);
  return s;
}
