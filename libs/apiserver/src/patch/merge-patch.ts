import { cloneJson, isJsonObject, type JsonObject, setMember } from './json';

function mergeInto(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return patch;
  const result: JsonObject = isJsonObject(target) ? target : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else
      setMember(
        result,
        key,
        mergeInto(Object.hasOwn(result, key) ? result[key] : undefined, value),
      );
  }
  return result;
}

/**
 * Applies a JSON merge patch (RFC 7386, `application/merge-patch+json`): object members of the
 * patch are merged recursively, `null` deletes a member, and anything that is not an object
 * (arrays included) replaces the target value. Neither argument is modified.
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  return mergeInto(cloneJson(target), cloneJson(patch));
}
