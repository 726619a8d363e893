import { Kind, type TSchema } from '@sinclair/typebox';
import { OPENAPI_FORMAT } from './schema-helpers';

/**
 * One node of an OpenAPI v3 schema in the wire form a CRD's `openAPIV3Schema` takes
 * (`x-kubernetes-*` keys spelled as Kubernetes spells them).
 */
export interface OpenApiSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  description?: string;
  properties?: Record<string, OpenApiSchema>;
  required?: string[];
  additionalProperties?: OpenApiSchema;
  items?: OpenApiSchema;
  enum?: (string | number | boolean)[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  anyOf?: OpenApiSchema[];
  'x-kubernetes-preserve-unknown-fields'?: true;
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
}

const PASS_THROUGH = [
  'description',
  'x-kubernetes-map-type',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
] as const;

const NUMERIC_LIMITS = ['minimum', 'maximum'] as const;
const STRING_LIMITS = ['minLength', 'maxLength', 'pattern'] as const;
const ARRAY_LIMITS = ['minItems', 'maxItems'] as const;

function copyKeys(from: TSchema, to: OpenApiSchema, keys: readonly string[]): void {
  const target = to as Record<string, unknown>;
  for (const key of keys) {
    if (from[key] !== undefined) target[key] = structuredClone(from[key]);
  }
}

/** controller-gen writes keys in alphabetical order; so do we, so the YAML diffs against upstream. */
function sortKeys<T extends object>(value: T): T {
  return Object.fromEntries(
    Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ) as T;
}

/**
 * Converts a TypeBox schema into the structural OpenAPI schema Kubernetes requires of a CRD:
 * every node typed (or marked preserve-unknown-fields / int-or-string), `required` lists,
 * optional properties left out of them, literal unions as `enum`, `Record`s as
 * `additionalProperties`, and no `$id`, `$schema` or TypeBox-internal keys.
 * Throws for a construct a structural schema cannot express, naming where it is.
 */
export function toOpenApiSchema(schema: TSchema, where = '(root)'): OpenApiSchema {
  const out: OpenApiSchema = {};
  copyKeys(schema, out, PASS_THROUGH);

  if (schema['x-kubernetes-preserve-unknown-fields'] === true) {
    out.type = 'object';
    out['x-kubernetes-preserve-unknown-fields'] = true;
    return sortKeys(out);
  }

  switch (schema[Kind]) {
    case 'Object': {
      out.type = 'object';
      const properties = (schema.properties ?? {}) as Record<string, TSchema>;
      const names = Object.keys(properties).sort();
      if (names.length > 0) {
        out.properties = Object.fromEntries(
          names.map((name) => [
            name,
            toOpenApiSchema(properties[name] as TSchema, `${where}.${name}`),
          ]),
        );
      }
      const required = Array.isArray(schema.required)
        ? [...(schema.required as string[])].sort()
        : [];
      if (required.length > 0) out.required = required;
      if (typeof schema.additionalProperties === 'object') {
        throw new Error(
          `${where}: an object with both properties and additionalProperties is not structural`,
        );
      }
      break;
    }
    case 'Record': {
      out.type = 'object';
      const patterns = Object.values(schema.patternProperties as Record<string, TSchema>);
      const valueSchema = patterns[0];
      if (patterns.length !== 1 || valueSchema === undefined) {
        throw new Error(`${where}: only Type.Record(Type.String(), T) is supported`);
      }
      out.additionalProperties = toOpenApiSchema(valueSchema, `${where}[*]`);
      break;
    }
    case 'Array':
      out.type = 'array';
      out.items = toOpenApiSchema(schema.items as TSchema, `${where}[*]`);
      copyKeys(schema, out, ARRAY_LIMITS);
      break;
    case 'String':
      out.type = 'string';
      if (typeof schema[OPENAPI_FORMAT] === 'string') out.format = schema[OPENAPI_FORMAT];
      copyKeys(schema, out, STRING_LIMITS);
      break;
    case 'Integer':
    case 'Number':
      out.type = schema[Kind] === 'Integer' ? 'integer' : 'number';
      if (typeof schema.format === 'string') out.format = schema.format;
      copyKeys(schema, out, NUMERIC_LIMITS);
      break;
    case 'Boolean':
      out.type = 'boolean';
      break;
    case 'Literal':
      out.type = literalType(schema.const, where);
      out.enum = [schema.const];
      break;
    case 'Union':
      return sortKeys({ ...out, ...fromUnion(schema, where) });
    default:
      throw new Error(
        `${where}: TypeBox kind ${String(schema[Kind])} has no structural OpenAPI form`,
      );
  }
  return sortKeys(out);
}

function literalType(value: unknown, where: string): 'string' | 'integer' | 'number' | 'boolean' {
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number':
      return Number.isInteger(value) ? 'integer' : 'number';
    default:
      throw new Error(`${where}: literal ${String(value)} has no OpenAPI type`);
  }
}

function fromUnion(schema: TSchema, where: string): OpenApiSchema {
  const variants = schema.anyOf as TSchema[];
  if (schema['x-kubernetes-int-or-string'] === true) {
    // The one anyOf a structural schema allows: exactly this shape, value checks beside it.
    const out: OpenApiSchema = {
      anyOf: [{ type: 'integer' }, { type: 'string' }],
      'x-kubernetes-int-or-string': true,
    };
    const stringVariant = variants.find((variant) => variant[Kind] === 'String');
    if (typeof stringVariant?.pattern === 'string') out.pattern = stringVariant.pattern;
    return out;
  }
  if (variants.length > 0 && variants.every((variant) => variant[Kind] === 'Literal')) {
    const values = variants.map((variant) => variant.const as string | number | boolean);
    const types = new Set(values.map((value) => literalType(value, where)));
    const [type] = types;
    if (types.size !== 1 || type === undefined) {
      throw new Error(`${where}: an enum must hold values of one type`);
    }
    return { type, enum: values };
  }
  throw new Error(`${where}: only literal unions (enum) and int-or-string unions are structural`);
}
