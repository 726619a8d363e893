import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { WriteHook } from './core';
import { isPlainObject } from './objects';
import {
  ALL_VERBS,
  type FieldProblem,
  type PrinterColumn,
  type ResourceInfo,
  type ResourceRegistry,
  storageResourceOf,
} from './registry';
import type { KubeObject } from './store/types';

/** The parts of an `apiextensions.k8s.io/v1` CustomResourceDefinition this server reads. */
interface CrdVersion {
  name: string;
  served?: boolean;
  storage?: boolean;
  schema?: { openAPIV3Schema?: OpenApiSchema };
  subresources?: { status?: unknown; scale?: unknown };
  additionalPrinterColumns?: PrinterColumn[];
}

interface CrdObject extends KubeObject {
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: {
      plural: string;
      singular?: string;
      kind: string;
      listKind?: string;
      shortNames?: string[];
      categories?: string[];
    };
    versions: CrdVersion[];
  };
}

type OpenApiSchema = {
  type?: string;
  properties?: Record<string, OpenApiSchema>;
  items?: OpenApiSchema;
  additionalProperties?: OpenApiSchema | boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  [key: string]: unknown;
};

/** `/spec/properties/0/name` → `spec.properties[0].name`. */
function fieldPath(pointer: string, extra?: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra) parts.push(extra);
  return parts.reduce((path, part) => {
    if (/^\d+$/.test(part)) return `${path}[${part}]`;
    return path ? `${path}.${part}` : part;
  }, '');
}

function problemOf(error: ErrorObject, object: unknown): FieldProblem {
  const at = (pointer: string) =>
    pointer
      .split('/')
      .slice(1)
      .reduce<unknown>(
        (node, key) =>
          isPlainObject(node) || Array.isArray(node)
            ? (node as Record<string, unknown>)[key]
            : undefined,
        object,
      );
  const value = JSON.stringify(at(error.instancePath));
  switch (error.keyword) {
    case 'required': {
      const missing = String((error.params as { missingProperty: string }).missingProperty);
      return {
        field: fieldPath(error.instancePath, missing),
        reason: 'FieldValueRequired',
        message: 'Required value',
      };
    }
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
      return {
        field: fieldPath(error.instancePath),
        reason: 'FieldValueNotSupported',
        message: `Unsupported value: ${value}: supported values: ${allowed.map((v) => JSON.stringify(v)).join(', ')}`,
      };
    }
    case 'type':
      return {
        field: fieldPath(error.instancePath),
        reason: 'FieldValueTypeInvalid',
        message: `Invalid value: ${value}: ${fieldPath(error.instancePath)} in body must be of type ${String((error.params as { type: string }).type)}`,
      };
    default:
      return {
        field: fieldPath(error.instancePath),
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${value}: ${fieldPath(error.instancePath) || 'body'} in body ${error.message ?? 'is invalid'}`,
      };
  }
}

/** Keeps only the fields a structural schema knows, as the API server prunes custom resources. */
function pruneWith(schema: OpenApiSchema | undefined, value: unknown): unknown {
  if (!schema || schema['x-kubernetes-preserve-unknown-fields']) return value;
  if (Array.isArray(value)) return value.map((item) => pruneWith(schema.items, item));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const property = schema.properties?.[key];
    if (property) out[key] = pruneWith(property, child);
    else if (isPlainObject(schema.additionalProperties)) {
      out[key] = pruneWith(schema.additionalProperties, child);
    } else if (schema.additionalProperties === true) out[key] = child;
  }
  return out;
}

/** Paths of the fields `pruneWith` would drop: what `fieldValidation=Strict` refuses. */
function unknownPaths(schema: OpenApiSchema | undefined, value: unknown, path: string): string[] {
  if (!schema || schema['x-kubernetes-preserve-unknown-fields']) return [];
  if (Array.isArray(value)) {
    return value.flatMap((item, i) => unknownPaths(schema.items, item, `${path}[${i}]`));
  }
  if (!isPlainObject(value)) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const at = path ? `${path}.${key}` : key;
    const property = schema.properties?.[key];
    if (property) return unknownPaths(property, child, at);
    if (isPlainObject(schema.additionalProperties)) {
      return unknownPaths(schema.additionalProperties, child, at);
    }
    return schema.additionalProperties === true ? [] : [at];
  });
}

const ajv = new Ajv({
  allErrors: true,
  strict: false,
  validateFormats: false,
  // CRD schemas use OpenAPI's `nullable`.
});

function compile(schema: OpenApiSchema | undefined): ValidateFunction | undefined {
  if (!schema) return undefined;
  // `metadata` is validated by the server itself; the CRD schema may only say `type: object`.
  const { properties = {}, ...rest } = schema;
  const { metadata: _metadata, ...others } = properties;
  return ajv.compile({ ...rest, properties: others });
}

/** Checks a CRD object enough to serve it safely; returns field problems. */
export function validateCrd(object: KubeObject): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const spec = (object as Partial<CrdObject>).spec;
  if (!isPlainObject(spec)) return [{ field: 'spec', message: 'Required value' }];
  const { group, names, scope, versions } = spec as CrdObject['spec'];
  if (typeof group !== 'string' || !group.includes('.')) {
    problems.push({
      field: 'spec.group',
      message: `Invalid value: ${JSON.stringify(group)}: should be a domain with at least one dot`,
    });
  }
  if (!isPlainObject(names) || typeof names.plural !== 'string' || typeof names.kind !== 'string') {
    problems.push({ field: 'spec.names', message: 'Required value: plural and kind are required' });
  } else if (object.metadata.name !== `${names.plural}.${group}`) {
    problems.push({
      field: 'metadata.name',
      message: `Invalid value: "${object.metadata.name}": must be spec.names.plural+"."+spec.group`,
    });
  }
  if (scope !== 'Namespaced' && scope !== 'Cluster') {
    problems.push({
      field: 'spec.scope',
      message: `Unsupported value: ${JSON.stringify(scope)}: supported values: "Cluster", "Namespaced"`,
    });
  }
  if (!Array.isArray(versions) || versions.length === 0) {
    problems.push({
      field: 'spec.versions',
      message: 'Invalid value: must have exactly one version marked as storage version',
    });
  } else {
    const storage = versions.filter((v) => v.storage).length;
    if (storage !== 1) {
      problems.push({
        field: 'spec.versions',
        message: 'Invalid value: must have exactly one version marked as storage version',
      });
    }
    versions.forEach((version, i) => {
      try {
        compile(version.schema?.openAPIV3Schema);
      } catch (error) {
        problems.push({
          field: `spec.versions[${i}].schema.openAPIV3Schema`,
          message: `Invalid value: ${(error as Error).message}`,
        });
      }
    });
  }
  return problems;
}

/** Status of a new CRD: its names accepted and established at once (nothing to wait for here). */
export function prepareCrd(object: KubeObject): void {
  const crd = object as CrdObject;
  const now = `${new Date().toISOString().slice(0, 19)}Z`;
  const condition = (type: string, reason: string, message: string) => ({
    type,
    status: 'True',
    lastTransitionTime: now,
    reason,
    message,
  });
  const storage = crd.spec?.versions?.find((v) => v.storage)?.name;
  crd.status = {
    conditions: [
      condition('NamesAccepted', 'NoConflicts', 'no conflicts found'),
      condition('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
    ],
    acceptedNames: crd.spec?.names,
    storedVersions: storage ? [storage] : [],
  };
}

/** The resources a CRD serves, one per served version. */
export function resourcesOfCrd(object: KubeObject): ResourceInfo[] {
  const crd = object as CrdObject;
  const { group, names, scope, versions } = crd.spec;
  return versions
    .filter((version) => version.served !== false)
    .map((version) => {
      const schema = version.schema?.openAPIV3Schema;
      const check = compile(schema);
      const info: ResourceInfo = {
        group,
        version: version.name,
        resource: names.plural,
        kind: names.kind,
        listKind: names.listKind ?? `${names.kind}List`,
        singular: names.singular ?? names.kind.toLowerCase(),
        namespaced: scope === 'Namespaced',
        shortNames: names.shortNames ?? [],
        categories: names.categories ?? [],
        verbs: ALL_VERBS,
        statusSubresource: version.subresources?.status !== undefined,
        storageResource: storageResourceOf(group, names.plural),
        custom: true,
        printerColumns: version.additionalPrinterColumns ?? [],
        // Published in /openapi/v3 tagged with the kind, which `kubectl explain` needs. kubectl
        // apply still sends JSON merge patches for custom kinds (they are not in its scheme).
        ...(schema ? { openAPISchema: schema as Record<string, unknown> } : {}),
        validate: (candidate) => {
          if (!check || check(candidate)) return [];
          return (check.errors ?? []).map((error) => problemOf(error, candidate));
        },
        unknownFields: (candidate) => {
          // metadata is the server's to check; apiVersion and kind are always known.
          const { metadata: _metadata, apiVersion: _apiVersion, kind: _kind, ...rest } = candidate;
          return unknownPaths(schema, rest, '');
        },
        prune: (candidate) => {
          const { metadata, ...rest } = candidate;
          const pruned = pruneWith(schema, rest) as Record<string, unknown>;
          return {
            ...pruned,
            apiVersion: candidate.apiVersion,
            kind: candidate.kind,
            metadata,
          } as KubeObject;
        },
      };
      return info;
    });
}

/** Keeps the registry in step with stored CRDs: created or updated → served; deleted → gone. */
export function crdRegistrar(registry: ResourceRegistry): WriteHook {
  return (info, event) => {
    if (info.storageResource !== 'apiextensions.k8s.io/customresourcedefinitions') return;
    const crd = event.object as CrdObject;
    if (event.previous) {
      const old = event.previous as CrdObject;
      registry.remove(old.spec.group, old.spec.names.plural);
    }
    if (event.type === 'DELETED') {
      registry.remove(crd.spec.group, crd.spec.names.plural);
      return;
    }
    for (const resource of resourcesOfCrd(crd)) registry.add(resource);
  };
}
