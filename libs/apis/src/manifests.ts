import { parseAllDocuments } from 'yaml';
import { ApisError, ApisErrorCode } from './errors';

export interface ParseManifestsOptions {
  /** Where the text came from (a file name), for error messages. */
  source?: string;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Parses YAML (or JSON) holding one or more Kubernetes objects separated by `---`, the way
 * `kubectl apply -f` reads a file: YAML 1.1 scalars (`yes` is true), empty documents skipped,
 * a `v1` `List` replaced by its items, duplicate keys rejected. Throws an {@link ApisError} `KE_APIS_YAML` naming the line and column of a
 * syntax error, or the document that is not an object.
 */
export function parseManifests(
  text: string,
  options: ParseManifestsOptions = {},
): Record<string, unknown>[] {
  const where = options.source === undefined ? '' : ` in ${options.source}`;
  // YAML 1.1, as kubectl reads it (go-yaml): `yes`/`on` are booleans, `0755` is octal.
  const documents = parseAllDocuments(text, { prettyErrors: true, version: '1.1' });
  const objects: Record<string, unknown>[] = [];
  documents.forEach((document, index) => {
    const error = document.errors[0];
    if (error !== undefined) {
      const position = error.linePos?.[0];
      const at = position === undefined ? '' : ` at line ${position.line}, column ${position.col}`;
      const reason = error.message.split('\n')[0] ?? error.message;
      throw new ApisError(ApisErrorCode.Yaml, `YAML syntax error${where}${at}: ${reason}`, {
        cause: error,
      });
    }
    const value: unknown = document.toJS();
    if (value === null || value === undefined) return;
    if (!isPlainObject(value)) {
      throw new ApisError(
        ApisErrorCode.Yaml,
        `document ${index + 1}${where} is not an object (got ${Array.isArray(value) ? 'array' : typeof value})`,
      );
    }
    if (value.apiVersion === 'v1' && value.kind === 'List' && Array.isArray(value.items)) {
      value.items.forEach((item: unknown, itemIndex) => {
        if (!isPlainObject(item)) {
          throw new ApisError(
            ApisErrorCode.Yaml,
            `items[${itemIndex}] of the List in document ${index + 1}${where} is not an object`,
          );
        }
        objects.push(item);
      });
      return;
    }
    objects.push(value);
  });
  return objects;
}
