// Structural validation of a custom resource against its CRD's openAPIV3Schema, the part of what
// kube-apiserver does on create that needs no CEL: strict field validation (an unknown field is
// an error, as `kubectl apply` asks with fieldValidation=Strict), ObjectMeta's known fields, types,
// required fields, enums, lengths, bounds, patterns and list types (`set` and `map` duplicates).
// The CEL rules of each CRD are implemented next to their types (podcidrroute.ts,
// tunnelnotrackpolicy.ts); test/kube/crd-validate.test.ts holds both against Kubernetes' own code.
// Pure; imports nothing but types.

export interface SchemaError {
  /** Field path, e.g. `spec.cidrs[1]`. */
  field: string;
  message: string;
  /** `unknown` for a field the schema does not declare (kube-apiserver: BadRequest), else `invalid`. */
  type: 'unknown' | 'invalid';
}

type Schema = Record<string, any>;

/** The fields of metav1.ObjectMeta (what strict decoding accepts under `metadata`). */
const OBJECT_META_FIELDS = new Set([
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** The identity of a list item under x-kubernetes-list-type (set: the value; map: its keys). */
function listKey(item: unknown, schema: Schema): string | undefined {
  const type = schema['x-kubernetes-list-type'];
  if (type === 'set') return JSON.stringify(item);
  if (type === 'map' && item !== null && typeof item === 'object' && !Array.isArray(item)) {
    const keys: string[] = schema['x-kubernetes-list-map-keys'] ?? [];
    return JSON.stringify(keys.map((k) => (item as Record<string, unknown>)[k] ?? null));
  }
  return undefined;
}

/**
 * Fields of `value` that `schema` does not declare, as kube-apiserver's strict decoding finds them
 * (also inside status, which a create then drops).
 */
export function unknownFields(value: unknown, schema: Schema | undefined, path = ''): SchemaError[] {
  const out: SchemaError[] = [];
  if (!schema || value === null || typeof value !== 'object') return out;
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((v, i) => out.push(...unknownFields(v, schema.items, `${path}[${i}]`)));
    return out;
  }
  if (schema['x-kubernetes-preserve-unknown-fields'] === true && !schema.properties) return out;
  for (const [k, v] of Object.entries(value)) {
    const p = join(path, k);
    if (schema.properties?.[k]) out.push(...unknownFields(v, schema.properties[k], p));
    else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') out.push(...unknownFields(v, schema.additionalProperties, p));
    else if (schema.additionalProperties !== true && schema['x-kubernetes-preserve-unknown-fields'] !== true) {
      out.push({ field: p, type: 'unknown', message: `unknown field "${p}"` });
    }
  }
  return out;
}

/** Unknown fields under `metadata` (ObjectMeta is a fixed Go struct). */
export function unknownMetadataFields(metadata: unknown): SchemaError[] {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) return [];
  return Object.keys(metadata)
    .filter((k) => !OBJECT_META_FIELDS.has(k))
    .map((k) => ({ field: `metadata.${k}`, type: 'unknown' as const, message: `unknown field "metadata.${k}"` }));
}

/**
 * Value validation of `value` against `schema` (the OpenAPI v3 subset CRDs use). Absent optional
 * fields are fine; defaults are the caller's business. Unknown fields are not reported here.
 */
export function validateValue(value: unknown, schema: Schema | undefined, path: string): SchemaError[] {
  const out: SchemaError[] = [];
  if (!schema) return out;
  const err = (message: string, field = path) => out.push({ field, message, type: 'invalid' });
  const got = typeOf(value);
  const want = schema.type as string | undefined;
  if (value === null && schema.nullable === true) return out;
  if (want && !(want === got || (want === 'number' && got === 'integer'))) {
    err(`must be of type ${want}, got ${got}`);
    return out;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e: unknown) => e === value)) {
    err(`Unsupported value: ${JSON.stringify(value)}: supported values: ${schema.enum.map((e: unknown) => JSON.stringify(e)).join(', ')}`);
  }
  if (typeof value === 'string') {
    // characters, not UTF-16 units (as Go counts runes); the spread only when surrogates are present
    const len = /[\uD800-\uDFFF]/.test(value) ? [...value].length : value.length;
    if (schema.minLength !== undefined && len < schema.minLength) err(`must be at least ${schema.minLength} characters long`);
    if (schema.maxLength !== undefined && len > schema.maxLength) err(`may not be more than ${schema.maxLength} characters long`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) err(`must match ${JSON.stringify(schema.pattern)}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) err(`must be greater than or equal to ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) err(`must be less than or equal to ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) err(`must have at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) err(`must have at most ${schema.maxItems} items`);
    const seen = new Set<string>();
    value.forEach((item, i) => {
      out.push(...validateValue(item, schema.items, `${path}[${i}]`));
      const key = listKey(item, schema);
      if (key === undefined) return;
      if (seen.has(key)) err(`Duplicate value: ${key}`, `${path}[${i}]`);
      seen.add(key);
    });
  }
  if (got === 'object') {
    const obj = value as Record<string, unknown>;
    for (const r of (schema.required ?? []) as string[]) if (obj[r] === undefined) err('Required value', join(path, r));
    for (const [k, v] of Object.entries(obj)) {
      if (schema.properties?.[k]) out.push(...validateValue(v, schema.properties[k], join(path, k)));
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') out.push(...validateValue(v, schema.additionalProperties, join(path, k)));
    }
  }
  return out;
}
