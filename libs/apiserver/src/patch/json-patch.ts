import type { Operation } from 'fast-json-patch';
import jsonPatch from 'fast-json-patch';
import { PatchError } from './errors';
import { cloneJson, describeJson, isJsonObject } from './json';

/** One RFC 6902 operation (`application/json-patch+json` bodies are arrays of these). */
export type JsonPatchOperation =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: unknown }
  | { op: 'move'; from: string; path: string }
  | { op: 'copy'; from: string; path: string }
  | { op: 'test'; path: string; value: unknown };

const operationNames = ['add', 'remove', 'replace', 'move', 'copy', 'test'] as const;

/** A JSON Pointer (RFC 6901): empty, or `/`-separated tokens where `~` only starts `~0` or `~1`. */
const isPointer = (value: unknown): value is string =>
  typeof value === 'string' && (value === '' || /^(\/([^~]|~[01])*)+$/.test(value));

function malformed(index: number, message: string): PatchError {
  return new PatchError('KE_PATCH_MALFORMED', `json patch operation ${index}: ${message}`, {
    operationIndex: index,
  });
}

/** Checks the shape of every operation before any is applied, so that a bad patch changes nothing. */
function validateOperations(operations: unknown): JsonPatchOperation[] {
  if (!Array.isArray(operations)) {
    throw new PatchError(
      'KE_PATCH_MALFORMED',
      `a json patch must be an array of operations, got ${describeJson(operations)}`,
    );
  }
  operations.forEach((operation: unknown, index) => {
    if (!isJsonObject(operation))
      throw malformed(index, `not an object: ${describeJson(operation)}`);
    const { op, path, from } = operation;
    if (typeof op !== 'string' || !(operationNames as readonly string[]).includes(op)) {
      throw malformed(
        index,
        `unknown op ${describeJson(op)}; expected one of ${operationNames.join(', ')}`,
      );
    }
    if (typeof path !== 'string') throw malformed(index, `"${op}" needs a "path"`);
    if (!isPointer(path)) {
      throw malformed(
        index,
        `"path" ${describeJson(path)} is not a JSON pointer (e.g. "/spec/replicas")`,
      );
    }
    if ((op === 'add' || op === 'replace' || op === 'test') && !Object.hasOwn(operation, 'value')) {
      throw malformed(index, `"${op}" at "${path}" needs a "value"`);
    }
    if (op === 'move' || op === 'copy') {
      if (typeof from !== 'string') throw malformed(index, `"${op}" needs a "from"`);
      if (!isPointer(from)) {
        throw malformed(index, `"from" ${describeJson(from)} is not a JSON pointer`);
      }
      if (op === 'move' && path.startsWith(`${from}/`)) {
        throw new PatchError(
          'KE_PATCH_INVALID',
          `json patch operation ${index}: cannot move "${from}" into its own child "${path}"`,
          { operationIndex: index },
        );
      }
    }
  });
  return operations as JsonPatchOperation[];
}

/** The value a pointer designates in a document, or undefined. */
function valueAt(document: unknown, pointer: string): unknown {
  try {
    return jsonPatch.getValueByPointer(document, pointer);
  } catch {
    return undefined;
  }
}

/**
 * Turns a fast-json-patch failure into a {@link PatchError} that names the operation; `document` is
 * the document as it was before the failed operation.
 */
function applyFailure(
  error: unknown,
  index: number,
  operation: JsonPatchOperation,
  document: unknown,
): PatchError {
  const where = `json patch operation ${index} (${operation.op} at "${operation.path}")`;
  const options = { operationIndex: index, cause: error };
  const invalid = (reason: string) =>
    new PatchError('KE_PATCH_INVALID', `${where}: ${reason}`, options);
  if (!(error instanceof jsonPatch.JsonPatchError)) {
    const message = error instanceof Error ? error.message : String(error);
    // fast-json-patch refuses prototype paths with a TypeError and a long explanation.
    return invalid(
      message.includes('__proto__')
        ? 'modifying __proto__ or constructor/prototype is not allowed'
        : message,
    );
  }
  switch (error.name) {
    case 'TEST_OPERATION_FAILED':
      return new PatchError(
        'KE_PATCH_TEST_FAILED',
        `${where} failed: the value is ${describeJson(valueAt(document, operation.path))}, expected ${describeJson((operation as { value?: unknown }).value)}`,
        options,
      );
    case 'OPERATION_PATH_UNRESOLVABLE':
      return invalid('the path does not exist');
    case 'OPERATION_FROM_UNRESOLVABLE':
      return invalid(`"from" path "${(operation as { from?: string }).from}" does not exist`);
    case 'OPERATION_PATH_CANNOT_ADD':
      return invalid('the parent of the path does not exist');
    case 'OPERATION_PATH_ILLEGAL_ARRAY_INDEX':
      return invalid('not a valid array index');
    case 'OPERATION_VALUE_OUT_OF_BOUNDS':
      return invalid('array index out of bounds');
    default:
      return invalid(error.message.split('\n')[0] ?? error.name);
  }
}

/**
 * Applies a JSON Patch (RFC 6902, `application/json-patch+json`). All operations are checked for
 * shape first, then applied in order to a copy of `target`; if any fails, the error names it and
 * nothing is changed. Neither argument is modified.
 *
 * @throws {PatchError} `KE_PATCH_MALFORMED` for a malformed operation, `KE_PATCH_TEST_FAILED` when
 *   a `test` does not hold, `KE_PATCH_INVALID` when a path does not exist or an index is wrong.
 */
export function applyJsonPatch(target: unknown, operations: unknown): unknown {
  const checked = cloneJson(validateOperations(operations));
  let document: unknown = cloneJson(target);
  for (const [index, operation] of checked.entries()) {
    if (
      (operation.op === 'move' || operation.op === 'copy') &&
      valueAt(document, operation.from) === undefined
    ) {
      throw applyFailure(
        new jsonPatch.JsonPatchError(
          'from',
          'OPERATION_FROM_UNRESOLVABLE',
          index,
          operation,
          document,
        ),
        index,
        operation,
        document,
      );
    }
    try {
      // Validation happens before any change, so on failure `document` is still the state before it.
      document = jsonPatch.applyOperation(
        document,
        operation as Operation,
        true,
        true,
        true,
        index,
      ).newDocument;
    } catch (error) {
      throw applyFailure(error, index, operation, document);
    }
  }
  return document;
}
