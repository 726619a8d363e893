import { randomBytes, randomUUID } from 'node:crypto';
import type { FieldProblem, ResourceInfo } from './registry';
import type { KubeObject } from './store/types';

/** RFC 3339 at second precision, as Kubernetes writes timestamps. */
export function timestamp(date: Date = new Date()): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

export function newUid(): string {
  return randomUUID();
}

// Kubernetes' alphabet for generated names: no vowels (no words), no look-alikes.
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** `generateName` + five random characters, as the API server names objects. */
export function generateName(prefix: string): string {
  const bytes = randomBytes(5);
  let suffix = '';
  for (const byte of bytes) suffix += SUFFIX_ALPHABET[byte % SUFFIX_ALPHABET.length];
  // Kubernetes trims the prefix so the result stays within 63 characters.
  return `${prefix.slice(0, 58)}${suffix}`;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Resources whose names must be DNS-1123 labels rather than subdomains. */
const LABEL_NAMED = new Set(['core/namespaces', 'core/services']);

/** Checks `metadata.name` and `metadata.namespace` as Kubernetes' ValidateObjectMeta does. */
export function validateName(info: ResourceInfo, name: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (LABEL_NAMED.has(info.storageResource)) {
    if (name.length > 63 || !DNS1123_LABEL.test(name)) {
      problems.push({
        field: 'metadata.name',
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`,
      });
    }
  } else if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    problems.push({
      field: 'metadata.name',
      reason: 'FieldValueInvalid',
      message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    });
  }
  return problems;
}

/** Everything but `metadata` and `status`: a change here bumps `metadata.generation`. */
export function specOf(object: KubeObject): string {
  const { metadata: _m, status: _s, ...rest } = object;
  return JSON.stringify(rest);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}
