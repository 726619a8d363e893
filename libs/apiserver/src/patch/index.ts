/**
 * The three patch formats of the Kubernetes API as pure functions over JSON values: JSON merge
 * patch (RFC 7386), JSON Patch (RFC 6902) and strategic merge patch, driven by a table of patch
 * metadata for the built-in kinds. Inputs are never modified; failures are {@link PatchError}s
 * whose {@link patchErrorStatus} is the HTTP status to answer with.
 *
 * @example
 * ```ts
 * import { applyStrategicMergePatch, builtinPatchSchemas, patchTypeFromContentType } from './patch';
 *
 * const pod = {
 *   metadata: { name: 'web', finalizers: ['a'] },
 *   spec: { containers: [{ name: 'app', image: 'app:1' }, { name: 'log', image: 'log:1' }] },
 * };
 * patchTypeFromContentType('application/strategic-merge-patch+json'); // 'strategic'
 * const patched = applyStrategicMergePatch(
 *   pod,
 *   { spec: { containers: [{ name: 'app', image: 'app:2' }] } },
 *   builtinPatchSchemas.Pod ?? {},
 * );
 * // patched.spec.containers: [{ name: 'app', image: 'app:2' }, { name: 'log', image: 'log:1' }]
 * ```
 */

export {
  builtinPatchTypes,
  customResourcePatchTypes,
  type PatchType,
  patchContentTypes,
  patchTypeFromContentType,
  unsupportedPatchTypeError,
} from './content-type';
export { PatchError, PatchErrorCode, patchErrorStatus } from './errors';
export { applyJsonPatch, type JsonPatchOperation } from './json-patch';
export { applyMergePatch } from './merge-patch';
export {
  builtinPatchSchemas,
  objectMetaPatchSchema,
  type PatchFieldMeta,
  type PatchSchema,
  type PatchStrategy,
  patchSchemaForKind,
} from './patch-schemas';
export { applyStrategicMergePatch } from './strategic-merge-patch';
