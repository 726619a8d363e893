import { Kind, type TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import { ApisError, ApisErrorCode, formatIssues, type ValidationIssue } from './errors';
import { type PathSegment, pointerToSegments, renderPath } from './paths';
import { findResource, type KnownObject, resources } from './registry';
import type { ResourceDefinition } from './resource';
import { checkRules } from './rules';
import { OPENAPI_FORMAT } from './schema-helpers';

export interface ValidateOptions {
  /**
   * Report fields the schema does not know, like `kubectl apply --validate=strict`.
   * Off by default: the API server silently drops (prunes) such fields, so they are not errors,
   * but a typo (`spec.nodeNmae`) then goes unnoticed. Strict mode also reports a namespace on a
   * cluster-scoped object, which the API server ignores.
   */
  strict?: boolean;
}

export type ValidationResult =
  | {
      ok: true;
      /** The object, typed; `null`s in optional fields are removed, as the API server does. */
      value: KnownObject;
      /** The definition of its kind. */
      resource: ResourceDefinition;
    }
  | {
      ok: false;
      /** `KE_APIS_UNKNOWN_KIND` when apiVersion/kind name nothing known, else `KE_APIS_INVALID`. */
      code: typeof ApisErrorCode.Invalid | typeof ApisErrorCode.UnknownKind;
      /** Every problem found, in document order where possible (never empty). */
      issues: ValidationIssue[];
    };

const compiled = new Map<ResourceDefinition, TypeCheck<TSchema>>();

function checkerFor(def: ResourceDefinition): TypeCheck<TSchema> {
  let check = compiled.get(def);
  if (check === undefined) {
    check = TypeCompiler.Compile(def.schema);
    compiled.set(def, check);
  }
  return check;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** RFC 3339 date-time, as `metav1.Time` marshals it. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Walks the value along the schema and returns a copy with `null` removed from optional fields
 * (Kubernetes prunes non-nullable nulls). On the way it reports unknown fields (strict) and
 * malformed date-times, which TypeBox cannot check without a global format registry.
 */
function normalize(
  schema: TSchema,
  value: unknown,
  path: PathSegment[],
  strict: boolean,
  report: (path: PathSegment[], message: string) => void,
): unknown {
  if (schema['x-kubernetes-preserve-unknown-fields'] === true) return value;
  switch (schema[Kind]) {
    case 'Object': {
      if (!isPlainObject(value)) return value;
      const properties = (schema.properties ?? {}) as Record<string, TSchema>;
      const required = (schema.required ?? []) as string[];
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) {
        const childSchema = properties[key];
        if (childSchema === undefined) {
          if (strict) report([...path, key], 'unknown field');
          out[key] = child;
        } else if (child === null && !required.includes(key)) {
          // pruned
        } else {
          out[key] = normalize(childSchema, child, [...path, key], strict, report);
        }
      }
      return out;
    }
    case 'Record': {
      if (!isPlainObject(value)) return value;
      const valueSchema = Object.values(
        schema.patternProperties as Record<string, TSchema>,
      )[0] as TSchema;
      return Object.fromEntries(
        Object.entries(value).map(([key, child]) => [
          key,
          normalize(valueSchema, child, [...path, key], strict, report),
        ]),
      );
    }
    case 'Array':
      if (!Array.isArray(value)) return value;
      return value.map((item, i) =>
        normalize(schema.items as TSchema, item, [...path, i], strict, report),
      );
    case 'String':
      if (
        schema[OPENAPI_FORMAT] === 'date-time' &&
        typeof value === 'string' &&
        !DATE_TIME.test(value)
      ) {
        report(path, `expected an RFC 3339 date-time, got ${JSON.stringify(value)}`);
      }
      return value;
    default:
      return value;
  }
}

function enumValues(schema: TSchema): unknown[] | undefined {
  const variants = schema.anyOf as TSchema[] | undefined;
  if (variants === undefined || !variants.every((variant) => variant[Kind] === 'Literal'))
    return undefined;
  return variants.map((variant) => variant.const);
}

/** Says what is wrong with one TypeBox error, in the terms an API user knows. */
function describeError(error: ValueError): string {
  const { schema, value } = error;
  const got = typeName(value);
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'required field is missing';
    case ValueErrorType.String:
      return `expected string, got ${got}`;
    case ValueErrorType.Integer:
      return `expected integer, got ${typeof value === 'number' ? String(value) : got}`;
    case ValueErrorType.Number:
      return `expected number, got ${got}`;
    case ValueErrorType.Boolean:
      return `expected boolean, got ${got}`;
    case ValueErrorType.Array:
      return `expected array, got ${got}`;
    case ValueErrorType.Object:
      return `expected object, got ${got}`;
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `must be >= ${schema.minimum}, got ${String(value)}`;
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return `must be <= ${schema.maximum}, got ${String(value)}`;
    case ValueErrorType.StringPattern:
      return `${JSON.stringify(value)} does not match ${schema.pattern}`;
    case ValueErrorType.Literal:
      return `expected ${JSON.stringify(schema.const)}, got ${JSON.stringify(value)}`;
    case ValueErrorType.Union: {
      if (schema['x-kubernetes-int-or-string'] === true) {
        if (typeof value === 'string') return `${JSON.stringify(value)} is not a valid quantity`;
        return `expected integer or string, got ${typeof value === 'number' ? String(value) : got}`;
      }
      const values = enumValues(schema);
      if (values !== undefined) {
        return `unsupported value ${JSON.stringify(value)}; expected one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
      }
      return error.message;
    }
    default:
      return error.message;
  }
}

function isWithin(path: string, parent: string): boolean {
  return path === parent || path.startsWith(`${parent}.`) || path.startsWith(`${parent}[`);
}

/** RFC 1123 subdomain: what Kubernetes accepts as the name of most objects. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** RFC 1123 label: what Kubernetes accepts as a namespace name. */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkMetadata(
  def: ResourceDefinition,
  object: Record<string, unknown>,
  strict: boolean,
  report: (path: PathSegment[], message: string) => void,
): void {
  const metadata = object.metadata;
  if (!isPlainObject(metadata)) return; // the schema reports it
  const { name, generateName, namespace } = metadata;
  if (name === undefined || name === '') {
    if (generateName === undefined || generateName === '')
      report(['metadata', 'name'], 'required field is missing');
  } else if (typeof name === 'string' && (name.length > 253 || !DNS1123_SUBDOMAIN.test(name))) {
    report(
      ['metadata', 'name'],
      `${JSON.stringify(name)} is not a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.', alphanumeric at both ends, at most 253 characters)`,
    );
  }
  if (typeof namespace === 'string' && namespace !== '') {
    if (def.scope === 'Cluster') {
      if (strict) {
        report(
          ['metadata', 'namespace'],
          `${def.kind} is cluster-scoped; the API server ignores a namespace`,
        );
      }
    } else if (namespace.length > 63 || !DNS1123_LABEL.test(namespace)) {
      report(
        ['metadata', 'namespace'],
        `${JSON.stringify(namespace)} is not a lowercase RFC 1123 label (a-z, 0-9 and '-', alphanumeric at both ends, at most 63 characters)`,
      );
    }
  }
}

function unknownKind(object: Record<string, unknown>): ValidationIssue[] | undefined {
  const { apiVersion, kind } = object;
  const issues: ValidationIssue[] = [];
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    issues.push({
      path: 'apiVersion',
      message:
        apiVersion === undefined
          ? 'required field is missing'
          : `expected string, got ${typeName(apiVersion)}`,
    });
  }
  if (typeof kind !== 'string' || kind === '') {
    issues.push({
      path: 'kind',
      message:
        kind === undefined ? 'required field is missing' : `expected string, got ${typeName(kind)}`,
    });
  }
  if (issues.length > 0) return issues;
  if (findResource(apiVersion as string, kind as string)) return undefined;

  const known = resources.map((def) => `${def.apiVersion} ${def.kind}`).join(', ');
  const sameKind = resources.filter((def) => def.kind === kind);
  if (sameKind.length > 0) {
    return [
      {
        path: 'apiVersion',
        message: `unknown apiVersion ${JSON.stringify(apiVersion)} for kind ${kind}; supported: ${sameKind.map((def) => def.apiVersion).join(', ')}`,
      },
    ];
  }
  const sameVersion = resources.filter((def) => def.apiVersion === apiVersion);
  if (sameVersion.length > 0) {
    return [
      {
        path: 'kind',
        message: `unknown kind ${JSON.stringify(kind)} in ${apiVersion}; known kinds: ${sameVersion.map((def) => def.kind).join(', ')}`,
      },
    ];
  }
  return [
    {
      path: 'kind',
      message: `unknown apiVersion/kind ${JSON.stringify(`${apiVersion} ${kind}`)}; this package validates: ${known}`,
    },
  ];
}

/**
 * Checks an object of any kind this package knows, chosen by its `apiVersion` and `kind`, as the
 * API server would with our CRDs installed, plus the rules upstream enforces in admission
 * webhooks (see the README). Never throws for bad input; see {@link assertValid} for that.
 */
export function validate(object: unknown, options: ValidateOptions = {}): ValidationResult {
  const strict = options.strict === true;
  if (!isPlainObject(object)) {
    return {
      ok: false,
      code: ApisErrorCode.Invalid,
      issues: [{ path: '', message: `expected object, got ${typeName(object)}` }],
    };
  }
  const kindIssues = unknownKind(object);
  if (kindIssues !== undefined)
    return { ok: false, code: ApisErrorCode.UnknownKind, issues: kindIssues };
  const def = findResource(
    object.apiVersion as string,
    object.kind as string,
  ) as ResourceDefinition;

  const issues: ValidationIssue[] = [];
  const report = (path: PathSegment[], message: string) =>
    issues.push({ path: renderPath(path), message });

  const value = normalize(def.schema, object, [], strict, report);
  const check = checkerFor(def);
  const schemaMatches = check.Check(value);
  if (!schemaMatches) {
    const errors = [...check.Errors(value)];
    const missing = errors
      .filter((error) => error.type === ValueErrorType.ObjectRequiredProperty)
      .map((error) => renderPath(pointerToSegments(error.path, value)));
    for (const error of errors) {
      const path = renderPath(pointerToSegments(error.path, value));
      // A missing field also fails its type check; say only that it is missing.
      if (
        error.type !== ValueErrorType.ObjectRequiredProperty &&
        missing.some((parent) => isWithin(path, parent))
      ) {
        continue;
      }
      issues.push({ path, message: describeError(error) });
    }
  }
  checkMetadata(def, value as Record<string, unknown>, strict, report);
  if (schemaMatches) checkRules(value as KnownObject, report);

  const unique = issues.filter(
    (issue, i) =>
      issues.findIndex((other) => other.path === issue.path && other.message === issue.message) ===
      i,
  );
  if (unique.length > 0) return { ok: false, code: ApisErrorCode.Invalid, issues: unique };
  return { ok: true, value: value as KnownObject, resource: def };
}

function describeObject(object: unknown): string {
  if (!isPlainObject(object)) return 'object';
  const metadata = isPlainObject(object.metadata) ? object.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : '(unnamed)';
  const namespace = typeof metadata.namespace === 'string' ? `${metadata.namespace}/` : '';
  const kind = typeof object.kind === 'string' ? object.kind : 'object';
  return `${kind} ${namespace}${name}`;
}

/**
 * Like {@link validate}, but returns the typed object or throws an {@link ApisError}
 * (`KE_APIS_INVALID` or `KE_APIS_UNKNOWN_KIND`) whose message lists every issue.
 */
export function assertValid(object: unknown, options: ValidateOptions = {}): KnownObject {
  const result = validate(object, options);
  if (result.ok) return result.value;
  const summary =
    result.code === ApisErrorCode.UnknownKind
      ? `${describeObject(object)} is not a kind @ke/apis knows`
      : `${describeObject(object)} is invalid`;
  throw new ApisError(result.code, `${summary}:\n${formatIssues(result.issues)}`, {
    issues: result.issues,
  });
}
