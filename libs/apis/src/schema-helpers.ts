import type { IntOrString } from '@kubernetes/client-node';
import {
  type SchemaOptions,
  type StringOptions,
  type TSchema,
  type TUnsafe,
  Type,
} from '@sinclair/typebox';

/**
 * Building blocks for the API schemas. Each returns an ordinary TypeBox schema (so TypeBox can
 * check values against it) carrying the extra OpenAPI keys that the CRD renderer
 * (`openapi.ts`) turns into what Kubernetes expects.
 */

/** Custom key for an OpenAPI string format that TypeBox must not check (it has no registry entry). */
export const OPENAPI_FORMAT = 'x-ke-openapi-format';

/** Like `Type.Unsafe<T>(schema)`, but keeps `schema`'s TypeBox kind, so TypeBox still checks it. */
export function typed<T>(schema: TSchema): TUnsafe<T> {
  return Type.Unsafe<T>(schema);
}

/** A string limited to `values`; rendered as `type: string` + `enum`. */
export function StringEnum<const T extends readonly [string, ...string[]]>(
  values: T,
  options: SchemaOptions = {},
): TUnsafe<T[number]> {
  return typed<T[number]>(
    Type.Union(
      values.map((value) => Type.Literal(value)),
      options,
    ),
  );
}

/** A number-or-string field (Go `intstr.IntOrString`); rendered with `x-kubernetes-int-or-string`. */
export function IntOrStringSchema(
  options: SchemaOptions = {},
  stringOptions: StringOptions = {},
): TUnsafe<IntOrString> {
  return typed<IntOrString>(
    Type.Union([Type.Integer(), Type.String(stringOptions)], {
      ...options,
      'x-kubernetes-int-or-string': true,
    }),
  );
}

/** Go `int32`. */
export function Int32(options: SchemaOptions = {}) {
  return Type.Integer({ ...options, format: 'int32' });
}

/** Go `int64`. */
export function Int64(options: SchemaOptions = {}) {
  return Type.Integer({ ...options, format: 'int64' });
}

/** Go `metav1.Time`: an RFC 3339 string on the wire. */
export function DateTime(options: SchemaOptions = {}) {
  return Type.String({ ...options, [OPENAPI_FORMAT]: 'date-time' });
}

/** Go `map[string]string`. */
export function StringMap(options: SchemaOptions = {}) {
  return Type.Record(Type.String(), Type.String(), options);
}

/**
 * A free-form object whose fields Kubernetes keeps as they are
 * (`x-kubernetes-preserve-unknown-fields: true`), e.g. a device's `configData`.
 */
export function FreeFormObject<T = Record<string, unknown>>(options: SchemaOptions = {}) {
  return typed<T>(
    Type.Record(Type.String(), Type.Unknown(), {
      ...options,
      'x-kubernetes-preserve-unknown-fields': true,
    }),
  );
}

/** The same schema with another description (for a shared type used under several fields). */
export function describe<T extends TSchema>(schema: T, description: string): T {
  return { ...schema, description };
}
