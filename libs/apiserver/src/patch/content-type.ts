import { PatchError } from './errors';

/** The four patch types of the Kubernetes API. */
export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

/** The `Content-Type` of each patch type. */
export const patchContentTypes: Readonly<Record<PatchType, string>> = Object.freeze({
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
});

/** What custom resources accept: no strategic merge patch, as they have no patch metadata. */
export const customResourcePatchTypes: readonly PatchType[] = Object.freeze([
  'json',
  'merge',
  'apply',
]);

/** What built-in resources accept. */
export const builtinPatchTypes: readonly PatchType[] = Object.freeze([
  'json',
  'merge',
  'strategic',
  'apply',
]);

/**
 * The patch type of a PATCH request's `Content-Type` (parameters such as `charset` and letter case
 * are ignored), or undefined when it is not a patch type.
 */
export function patchTypeFromContentType(
  contentType: string | null | undefined,
): PatchType | undefined {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  for (const [type, known] of Object.entries(patchContentTypes) as [PatchType, string][]) {
    if (known === mediaType) return type;
  }
  return undefined;
}

/**
 * The error for a PATCH whose type the resource does not accept (a strategic merge patch to a
 * custom resource, an unknown `Content-Type`), with the API server's message. The HTTP layer
 * answers `415 UnsupportedMediaType`.
 */
export function unsupportedPatchTypeError(accepted: readonly PatchType[]): PatchError {
  return new PatchError(
    'KE_PATCH_UNSUPPORTED',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.map((type) => patchContentTypes[type]).join(', ')}`,
  );
}
