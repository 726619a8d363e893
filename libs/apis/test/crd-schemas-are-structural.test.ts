import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { crdFor, type OpenApiSchema, renderCrdYaml, resources } from '../src/index';

/**
 * The rules the API server applies to a CRD's schema (apiextensions `structuralschema`), and the
 * ones of ours that keep it honest (no empty objects, descriptions everywhere it matters).
 */

const ALLOWED_KEYS = new Set([
  'type',
  'format',
  'description',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'pattern',
  'anyOf',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-map-type',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
]);
const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);
const FORMATS: Record<string, string[]> = {
  integer: ['int32', 'int64'],
  number: ['float', 'double'],
  string: ['date-time', 'date', 'byte', 'uri', 'uuid'],
};

/** Every problem in a schema node and below, as `path: problem`. */
function problems(node: OpenApiSchema, path: string, depth = 0, isRootMetadata = false): string[] {
  const found: string[] = [];
  const fail = (problem: string) => found.push(`${path}: ${problem}`);
  const raw = node as Record<string, unknown>;

  for (const key of Object.keys(raw)) if (!ALLOWED_KEYS.has(key)) fail(`key ${key} is not allowed`);
  for (const symbol of Object.getOwnPropertySymbols(raw))
    fail(`carries the internal key ${String(symbol)}`);

  const intOrString = node['x-kubernetes-int-or-string'] === true;
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (intOrString) {
    if (node.type !== undefined) fail('an int-or-string node must not have a type');
    expect(node.anyOf, `${path}: int-or-string anyOf`).toEqual([
      { type: 'integer' },
      { type: 'string' },
    ]);
  } else {
    if (node.type === undefined || !TYPES.has(node.type))
      fail(`has no valid type (${String(node.type)})`);
    if (node.anyOf !== undefined) fail('anyOf is only allowed for int-or-string');
  }
  if (
    node.description !== undefined &&
    (typeof node.description !== 'string' || node.description === '')
  ) {
    fail('description must be a non-empty string');
  }
  if (node.format !== undefined && !(FORMATS[node.type ?? ''] ?? []).includes(node.format)) {
    fail(`format ${node.format} does not fit type ${String(node.type)}`);
  }
  if (node.enum !== undefined) {
    if (node.enum.length === 0) fail('enum is empty');
    for (const value of node.enum) {
      const type =
        typeof value === 'number' ? (Number.isInteger(value) ? 'integer' : 'number') : typeof value;
      if (type !== node.type)
        fail(`enum value ${JSON.stringify(value)} is not of type ${String(node.type)}`);
    }
  }
  if (
    (node.minimum !== undefined || node.maximum !== undefined) &&
    !['integer', 'number'].includes(node.type ?? '')
  ) {
    if (!intOrString) fail('minimum/maximum on a non-number');
  }
  if (node['x-kubernetes-map-type'] !== undefined && node.type !== 'object')
    fail('map-type on a non-object');
  if (node['x-kubernetes-list-type'] !== undefined && node.type !== 'array')
    fail('list-type on a non-array');

  switch (node.type) {
    case 'object': {
      if (preserve) {
        if (node.properties || node.additionalProperties)
          fail('preserve-unknown-fields object also declares fields');
        break;
      }
      if (node.properties && node.additionalProperties)
        fail('properties and additionalProperties are exclusive');
      // The root's metadata is the one bare object: the API server validates it itself.
      if (!node.properties && !node.additionalProperties && !isRootMetadata) {
        fail('object declares no fields (everything would be pruned)');
      }
      if (
        node.additionalProperties !== undefined &&
        typeof node.additionalProperties !== 'object'
      ) {
        fail('additionalProperties must be a schema');
      }
      for (const name of node.required ?? []) {
        if (!node.properties || !(name in node.properties))
          fail(`required ${name} is not a property`);
      }
      if (node.required !== undefined && node.required.length === 0)
        fail('required is an empty list');
      for (const [name, child] of Object.entries(node.properties ?? {})) {
        found.push(
          ...problems(child, `${path}.${name}`, depth + 1, depth === 0 && name === 'metadata'),
        );
      }
      if (node.additionalProperties)
        found.push(...problems(node.additionalProperties, `${path}[*]`, depth + 1));
      break;
    }
    case 'array': {
      if (!node.items) {
        fail('array has no items');
        break;
      }
      if (node['x-kubernetes-list-type'] === 'map') {
        const keys = node['x-kubernetes-list-map-keys'] ?? [];
        if (keys.length === 0) fail('list-type map without list-map-keys');
        for (const key of keys) {
          if (!node.items.required?.includes(key))
            fail(`list-map key ${key} is not required in the items`);
        }
      }
      found.push(...problems(node.items, `${path}[*]`, depth + 1));
      break;
    }
    default:
      if (node.properties || node.additionalProperties || node.items || node.required) {
        fail(`a ${String(node.type)} node declares object/array keys`);
      }
  }
  return found;
}

describe.each(resources.map((def) => ({ def, kind: def.kind })))('the $kind CRD', ({ def }) => {
  const crd = crdFor(def);
  const version = crd.spec.versions[0];
  const root = version?.schema.openAPIV3Schema as OpenApiSchema;

  it('names the resource as Kubernetes requires', () => {
    expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
    expect(crd.kind).toBe('CustomResourceDefinition');
    expect(crd.metadata.name).toBe(`${def.plural}.${def.group}`);
    expect(crd.spec.group).toBe(def.group);
    expect(crd.spec.scope).toBe(def.scope);
    expect(crd.spec.names).toMatchObject({
      kind: def.kind,
      listKind: `${def.kind}List`,
      plural: def.plural,
    });
    expect(def.plural).toMatch(/^[a-z0-9]+$/);
    expect(crd.spec.versions).toHaveLength(1);
    expect(version).toMatchObject({ name: def.version, served: true, storage: true });
    expect(version?.subresources?.status !== undefined).toBe(def.subresources.status);
  });

  it('has a structural schema: every node typed, no forbidden keys', () => {
    expect(problems(root, def.kind)).toEqual([]);
  });

  it('declares metadata as a bare object and apiVersion/kind as strings', () => {
    expect(root.type).toBe('object');
    expect(root.properties?.metadata).toEqual({ type: 'object' });
    expect(root.properties?.apiVersion?.type).toBe('string');
    expect(root.properties?.kind?.type).toBe('string');
    expect(root.properties?.apiVersion).not.toHaveProperty('enum');
    expect(root.required ?? []).not.toContain('metadata');
    expect(root.properties?.spec?.type).toBe('object');
  });

  it('survives YAML unchanged', () => {
    const yamlText = renderCrdYaml(def);
    expect(yamlText.startsWith('# ')).toBe(true);
    expect(parse(yamlText)).toEqual(JSON.parse(JSON.stringify(crd)));
  });
});

describe('the CRD set', () => {
  it('gives every kind its own resource name', () => {
    const names = resources.map((def) => crdFor(def).metadata.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('marks the upstream cluster-scoped kinds Cluster', () => {
    const scopes = Object.fromEntries(resources.map((def) => [def.kind, def.scope]));
    expect(scopes).toEqual({
      Device: 'Namespaced',
      DeviceModel: 'Namespaced',
      NodeGroup: 'Cluster',
      EdgeApplication: 'Namespaced',
      ImagePullJob: 'Namespaced',
      NodeImage: 'Cluster',
      ObjectSync: 'Namespaced',
      ClusterObjectSync: 'Cluster',
    });
  });

  it('keeps free-form fields free-form, as upstream does', () => {
    const device = crdFor(resources[0] as (typeof resources)[number]).spec.versions[0]?.schema
      .openAPIV3Schema;
    const spec = device?.properties?.spec;
    const visitors = spec?.properties?.properties?.items?.properties?.visitors;
    expect(spec?.properties?.protocol?.properties?.configData).toMatchObject({
      type: 'object',
      'x-kubernetes-preserve-unknown-fields': true,
    });
    expect(visitors?.properties?.configData?.['x-kubernetes-preserve-unknown-fields']).toBe(true);
  });
});
