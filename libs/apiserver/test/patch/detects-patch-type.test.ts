import { describe, expect, it } from 'vitest';
import {
  customResourcePatchTypes,
  PatchError,
  patchTypeFromContentType,
  unsupportedPatchTypeError,
} from '../../src/patch';

describe('patchTypeFromContentType', () => {
  it.each([
    ['application/merge-patch+json', 'merge'],
    ['application/json-patch+json', 'json'],
    ['application/strategic-merge-patch+json', 'strategic'],
    ['application/apply-patch+yaml', 'apply'],
    ['Application/Merge-Patch+JSON; charset=utf-8', 'merge'],
    [' application/json-patch+json ', 'json'],
    ['application/json', undefined],
    ['text/plain', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%j is %j', (contentType, type) => {
    expect(patchTypeFromContentType(contentType)).toBe(type);
  });

  it('refuses a strategic merge patch for a custom resource with the API server message', () => {
    const error = unsupportedPatchTypeError(customResourcePatchTypes);
    expect(error).toBeInstanceOf(PatchError);
    expect(error.code).toBe('KE_PATCH_UNSUPPORTED');
    expect(error.message).toBe(
      'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
    );
  });
});
