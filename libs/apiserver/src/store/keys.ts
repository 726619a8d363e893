import { StoreError } from './errors';
import type { KubeObject, ObjectKey } from './types';

/** The part of a key that orders a list: namespace, then name. */
export interface KeyPosition {
  readonly namespace: string;
  readonly name: string;
}

/** Throws `KE_STORE_INVALID` unless `resource` is a non-empty string without NUL. */
export function validateResource(resource: unknown): asserts resource is string {
  if (typeof resource !== 'string' || resource === '' || resource.includes('\0')) {
    throw new StoreError(
      'KE_STORE_INVALID',
      `resource must be a non-empty string without NUL, like 'core/pods'; got ${JSON.stringify(resource)}`,
    );
  }
}

/** Throws `KE_STORE_INVALID` unless `namespace` is a string without '/' or NUL ('' is cluster scope). */
export function validateNamespace(namespace: unknown): asserts namespace is string {
  if (typeof namespace !== 'string' || /[/\0]/.test(namespace)) {
    throw new StoreError(
      'KE_STORE_INVALID',
      `namespace must be a string without '/' or NUL ('' for cluster-scoped objects); got ${JSON.stringify(namespace)}`,
    );
  }
}

/** Throws `KE_STORE_INVALID` for an empty resource or name, or a '/' or NUL in namespace or name. */
export function validateKey(key: ObjectKey): void {
  if (typeof key !== 'object' || key === null) {
    throw new StoreError(
      'KE_STORE_INVALID',
      'an object key { resource, namespace, name } is required',
    );
  }
  validateResource(key.resource);
  validateNamespace(key.namespace);
  if (typeof key.name !== 'string' || key.name === '' || /[/\0]/.test(key.name)) {
    throw new StoreError(
      'KE_STORE_INVALID',
      `name must be a non-empty string without '/' or NUL; got ${JSON.stringify(key.name)}`,
      { key },
    );
  }
}

/** Throws `KE_STORE_INVALID` unless the object is a JSON object whose metadata agrees with `key`. */
export function validateObject(key: ObjectKey, object: KubeObject): void {
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    throw new StoreError(
      'KE_STORE_INVALID',
      `${describeKey(key)}: the object must be a JSON object`,
      {
        key,
      },
    );
  }
  const metadata: unknown = object.metadata;
  if (typeof metadata !== 'object' || metadata === null) {
    throw new StoreError('KE_STORE_INVALID', `${describeKey(key)}: the object has no metadata`, {
      key,
    });
  }
  const { name, namespace } = metadata as { name?: unknown; namespace?: unknown };
  if (name !== key.name) {
    throw new StoreError(
      'KE_STORE_INVALID',
      `${describeKey(key)}: metadata.name ${JSON.stringify(name)} does not match the key's name`,
      { key },
    );
  }
  // An absent namespace is accepted: the key says where the object lives.
  if (namespace !== undefined && namespace !== null && namespace !== key.namespace) {
    throw new StoreError(
      'KE_STORE_INVALID',
      `${describeKey(key)}: metadata.namespace ${JSON.stringify(namespace)} does not match the key's namespace`,
      { key },
    );
  }
}

/** `core/pods default/nginx`, or `core/nodes edge-1` for a cluster-scoped key. */
export function describeKey(key: ObjectKey): string {
  return key.namespace === ''
    ? `${key.resource} ${key.name}`
    : `${key.resource} ${key.namespace}/${key.name}`;
}

/**
 * Orders strings as SQLite's BINARY collation does (bytes of UTF-8, which is code point order).
 * JavaScript's `<` compares UTF-16 units, which differs for characters beyond U+FFFF.
 */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index += 1) {
    const x = a.charCodeAt(index);
    const y = b.charCodeAt(index);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    // A surrogate starts a code point above U+FFFF, so it sorts after any other BMP unit.
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** Key order of lists: namespace, then name, as `ORDER BY namespace, name` sorts them. */
export function compareKeys(a: KeyPosition, b: KeyPosition): number {
  return compareText(a.namespace, b.namespace) || compareText(a.name, b.name);
}

/** The opaque `continueAfter` token for a position: base64url of `[namespace, name]`. */
export function encodeContinue(position: KeyPosition): string {
  return Buffer.from(JSON.stringify([position.namespace, position.name]), 'utf8').toString(
    'base64url',
  );
}

/** Reads a token made by `encodeContinue`; `KE_STORE_INVALID` for anything else. */
export function decodeContinue(token: string): KeyPosition {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  if (
    !Array.isArray(decoded) ||
    decoded.length !== 2 ||
    typeof decoded[0] !== 'string' ||
    typeof decoded[1] !== 'string'
  ) {
    throw new StoreError(
      'KE_STORE_INVALID',
      `continueAfter ${JSON.stringify(token)} is not a token from a previous list; start the list again without it`,
    );
  }
  return { namespace: decoded[0], name: decoded[1] };
}

/** Throws `KE_STORE_INVALID` unless `value` is a non-negative safe integer. */
export function validateNonNegativeInteger(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new StoreError(
      'KE_STORE_INVALID',
      `${what} must be a non-negative integer; got ${JSON.stringify(value)}`,
    );
  }
}
