import { PatchError } from './errors';
import { cloneJson, describeJson, isJsonObject, type JsonObject, setMember } from './json';
import type { PatchFieldMeta, PatchSchema } from './patch-schemas';

// Strategic merge patch as the Kubernetes API server applies it (apimachinery
// `util/strategicpatch`, the apply half), over plain JSON values and a field-path schema.

const patchDirective = '$patch';
const retainKeysDirective = '$retainKeys';
const setElementOrderPrefix = '$setElementOrder';
const deleteFromPrimitiveListPrefix = '$deleteFromPrimitiveList';

/** What a field's value becomes: a value, or nothing (the field is dropped). */
const drop = Symbol('drop');

const child = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);
const itemsOf = (path: string) => `${path}[]`;
const where = (path: string) => (path === '' ? 'the object' : path);

function malformed(message: string): PatchError {
  return new PatchError('KE_PATCH_MALFORMED', message);
}

function invalid(message: string): PatchError {
  return new PatchError('KE_PATCH_INVALID', message);
}

function noMergeKey(path: string, item: unknown, mergeKey: string): PatchError {
  return invalid(
    `${where(path)}: map: ${describeJson(item)} does not contain declared merge key: ${mergeKey}`,
  );
}

/** The field name after `<prefix>/`, as in `$setElementOrder/containers`. */
function directiveTarget(key: string, prefix: string): string {
  const slash = key.indexOf('/');
  if (slash < 0 || key.slice(0, slash) !== prefix || slash === key.length - 1) {
    throw malformed(
      prefix === setElementOrderPrefix
        ? `invalid patch format of setElementOrder list: ${key}`
        : `invalid patch format of primitive list: ${key}`,
    );
  }
  return key.slice(slash + 1);
}

type ElementKind = 'map' | 'scalar';

/** Whether the items of the given lists are maps or scalars; mixing them is refused, as are lists of lists. */
function elementKind(path: string, ...lists: unknown[][]): ElementKind | undefined {
  let kind: ElementKind | undefined;
  for (const list of lists) {
    for (const item of list) {
      if (Array.isArray(item)) throw invalid(`${where(path)}: lists of lists are not supported`);
      const itemKind: ElementKind = isJsonObject(item) ? 'map' : 'scalar';
      if (kind !== undefined && kind !== itemKind) {
        throw invalid(
          `${where(path)}: list element types are not identical: ${describeJson(lists)}`,
        );
      }
      kind = itemKind;
    }
  }
  return kind;
}

class StrategicMerge {
  constructor(private readonly schema: PatchSchema) {}

  private meta(path: string): PatchFieldMeta | undefined {
    return Object.hasOwn(this.schema, path) ? this.schema[path] : undefined;
  }

  /** `merge` or `replace` (or undefined for "the default"), without the `retainKeys` part. */
  private strategy(path: string): 'merge' | 'replace' | undefined {
    const strategy = this.meta(path)?.patchStrategy;
    if (strategy === 'merge' || strategy === 'merge,retainKeys') return 'merge';
    if (strategy === 'replace') return 'replace';
    return undefined;
  }

  /**
   * A map made from a patch value alone (a new field or list item, a replaced map): directives
   * carried out against nothing, nulls dropped. Like Kubernetes, a `$retainKeys` list is not
   * checked against such a value, there being nothing to retain.
   */
  private freshMap(patch: JsonObject, path: string): JsonObject {
    return this.mergeMap({}, patch, path, true);
  }

  /** Merges `patch` into `original` (both owned, so mutated), returning the result. */
  mergeMap(original: JsonObject, patch: JsonObject, path: string, fresh = false): JsonObject {
    if (Object.hasOwn(patch, patchDirective)) {
      const directive = patch[patchDirective];
      const rest = withoutDirective(patch);
      switch (directive) {
        case 'replace':
          return this.freshMap(rest, path);
        case 'delete':
          return {};
        case 'merge':
          return this.mergeMap(original, rest, path, fresh);
        default:
          throw malformed(
            `${where(path)}: unknown patch type: ${describeJson(directive)} in map: ${describeJson(patch)}`,
          );
      }
    }

    if (!fresh) this.applyRetainKeys(original, patch, path);
    const handled = this.applySetElementOrders(original, patch, path);

    for (const [patchKey, patchValue] of Object.entries(patch)) {
      if (patchKey === retainKeysDirective || patchKey.startsWith(setElementOrderPrefix)) continue;
      const isDeleteList = patchKey.startsWith(deleteFromPrimitiveListPrefix);
      const key = isDeleteList
        ? directiveTarget(patchKey, deleteFromPrimitiveListPrefix)
        : patchKey;
      if (!isDeleteList && handled.has(key)) continue;
      const fieldPath = child(path, key);

      if (patchValue === null) {
        if (!isDeleteList) delete original[key];
        continue;
      }
      const present = Object.hasOwn(original, key);
      const originalValue = present ? original[key] : undefined;
      const sameShape =
        present &&
        ((isJsonObject(originalValue) && isJsonObject(patchValue)) ||
          (Array.isArray(originalValue) && Array.isArray(patchValue)));

      if (!sameShape) {
        // A deletion list only ever removes; with no list to remove from, it does nothing.
        if (isDeleteList) continue;
        this.setNewValue(original, key, patchValue, fieldPath);
      } else if (Array.isArray(originalValue) && Array.isArray(patchValue)) {
        setMember(
          original,
          key,
          this.strategy(fieldPath) === 'merge' || isDeleteList
            ? this.mergeList(originalValue, patchValue, fieldPath, isDeleteList)
            : this.newList(patchValue, fieldPath),
        );
      } else if (isJsonObject(originalValue) && isJsonObject(patchValue)) {
        setMember(
          original,
          key,
          this.strategy(fieldPath) === 'replace'
            ? this.freshMap(patchValue, fieldPath)
            : this.mergeMap(originalValue, patchValue, fieldPath),
        );
      }
    }
    return original;
  }

  private setNewValue(target: JsonObject, key: string, value: unknown, path: string): void {
    const created = this.newValue(value, path);
    if (created === drop) delete target[key];
    else setMember(target, key, created);
  }

  /**
   * A patch value for a field the original does not have (or has with another shape): the value
   * with its directives carried out against nothing and its nulls dropped.
   */
  private newValue(value: unknown, path: string): unknown {
    if (isJsonObject(value)) {
      return value[patchDirective] === 'delete' ? drop : this.freshMap(value, path);
    }
    if (Array.isArray(value)) {
      return this.strategy(path) === 'merge'
        ? this.mergeList([], value, path, false)
        : this.newList(value, path);
    }
    return value;
  }

  /**
   * A list that replaces the original one: kept as sent, minus directives and nulls in its items;
   * items that are directives (`{$patch: ...}`) are dropped.
   */
  private newList(list: unknown[], path: string): unknown[] {
    const items: unknown[] = [];
    for (const item of list) {
      if (isDirectiveItem(item)) continue;
      const created = this.newValue(item, itemsOf(path));
      if (created !== drop) items.push(created);
    }
    return items;
  }

  /**
   * `$retainKeys: [a, b]` clears every other key of the original; the patch may only set keys the
   * list names.
   */
  private applyRetainKeys(original: JsonObject, patch: JsonObject, path: string): void {
    if (!Object.hasOwn(patch, retainKeysDirective)) return;
    const retained = patch[retainKeysDirective];
    if (!Array.isArray(retained)) {
      throw malformed(
        `${where(path)}: invalid patch format of retainKeys: ${describeJson(retained)}`,
      );
    }
    for (const [key, value] of Object.entries(patch)) {
      if (
        key === retainKeysDirective ||
        value === null ||
        key.startsWith(deleteFromPrimitiveListPrefix) ||
        key.startsWith(setElementOrderPrefix)
      ) {
        continue;
      }
      if (!retained.includes(key)) {
        throw malformed(
          `${where(path)}: invalid patch format of retainKeys: "${key}" is set but not listed in $retainKeys ${describeJson(retained)}`,
        );
      }
    }
    for (const key of Object.keys(original)) {
      if (!retained.includes(key)) delete original[key];
    }
  }

  /**
   * Carries out the `$setElementOrder/<list>` directives: merges the list's patch (if any) and then
   * orders the items as the directive says, keeping items only the server knows where they were.
   * Returns the lists it handled, which the main loop must skip.
   */
  private applySetElementOrders(
    original: JsonObject,
    patch: JsonObject,
    path: string,
  ): Set<string> {
    const handled = new Set<string>();
    for (const [patchKey, order] of Object.entries(patch)) {
      if (!patchKey.startsWith(setElementOrderPrefix)) continue;
      const key = directiveTarget(patchKey, setElementOrderPrefix);
      const fieldPath = child(path, key);
      if (!Array.isArray(order)) {
        throw malformed(
          `${where(fieldPath)}: invalid patch format of setElementOrder list: ${describeJson(order)}`,
        );
      }
      const originalValue = Object.hasOwn(original, key) ? original[key] : undefined;
      const patchValue = Object.hasOwn(patch, key) ? patch[key] : undefined;
      const originalList = Array.isArray(originalValue) ? originalValue : undefined;
      const patchList = Array.isArray(patchValue) ? patchValue : undefined;
      if (originalValue !== undefined && originalValue !== null && originalList === undefined) {
        throw invalid(
          `${where(fieldPath)}: expected a list, but the object has ${describeJson(originalValue)}`,
        );
      }
      if (patchValue !== undefined && patchList === undefined) {
        // `null` (delete the list) or another shape: let the main loop treat the field as usual.
        continue;
      }
      handled.add(key);
      const mergeKey = this.meta(fieldPath)?.patchMergeKey ?? '';
      this.checkOrderAgainstPatch(patchList ?? [], order, mergeKey, fieldPath);

      let merged: unknown[];
      let serverOrder = originalList ?? [];
      if (originalList !== undefined && patchList !== undefined) {
        if (this.strategy(fieldPath) === 'merge') {
          ({ merged, serverOrder } = this.mergeListKeepingServerOrder(
            originalList,
            patchList,
            fieldPath,
            false,
          ));
        } else {
          merged = this.newList(patchList, fieldPath);
        }
      } else if (patchList !== undefined) {
        merged = this.newValue(patchList, fieldPath) as unknown[];
      } else if (originalList !== undefined) {
        merged = originalList;
      } else {
        continue;
      }
      const kind = elementKind(fieldPath, originalList ?? [], patchList ?? []);
      if (kind === undefined) {
        setMember(original, key, merged);
        continue;
      }
      const keyOf = this.identity(kind, mergeKey, fieldPath);
      const ordered = new Set(order.map(keyOf));
      const patchItems = merged.filter((item) => ordered.has(keyOf(item)));
      const serverOnly = merged.filter((item) => !ordered.has(keyOf(item)));
      setMember(original, key, orderItems(patchItems, serverOnly, order, serverOrder, keyOf));
    }
    return handled;
  }

  /** The patch list must name its items in the order `$setElementOrder` gives (deletions aside). */
  private checkOrderAgainstPatch(
    patchList: unknown[],
    order: unknown[],
    mergeKey: string,
    path: string,
  ): void {
    if (patchList.length === 0 || order.length === 0) return;
    const items = mergeKey === '' ? patchList : patchList.filter((item) => !isDirectiveItem(item));
    const keyOf = (item: unknown) => {
      if (mergeKey === '') return item;
      if (!isJsonObject(item) || !Object.hasOwn(item, mergeKey))
        throw noMergeKey(path, item, mergeKey);
      return item[mergeKey];
    };
    let patchIndex = 0;
    let orderIndex = 0;
    while (patchIndex < items.length && orderIndex < order.length) {
      if (keyOf(items[patchIndex]) === keyOf(order[orderIndex])) patchIndex++;
      orderIndex++;
    }
    if (patchIndex < items.length) {
      throw invalid(
        `${where(path)}: the order in patch list ${describeJson(patchList)} doesn't match $setElementOrder list ${describeJson(order)}`,
      );
    }
  }

  /** How items of a list are told apart: by merge key for maps, by value for scalars. */
  private identity(kind: ElementKind, mergeKey: string, path: string): (item: unknown) => unknown {
    if (kind === 'scalar' || mergeKey === '') return (item) => item;
    return (item) => {
      if (!isJsonObject(item) || !Object.hasOwn(item, mergeKey))
        throw noMergeKey(path, item, mergeKey);
      return item[mergeKey];
    };
  }

  /**
   * Merges a patch list into a list with the `merge` strategy: scalars are added (or removed, for
   * a `$deleteFromPrimitiveList`), maps are merged with the original item of the same merge key,
   * removed with `$patch: delete`, or all replaced with a `$patch: replace` item. Items of the
   * patch come in the patch's order; the server's other items keep their place among them.
   */
  mergeList(original: unknown[], patch: unknown[], path: string, isDeleteList: boolean): unknown[] {
    return this.mergeListKeepingServerOrder(original, patch, path, isDeleteList).merged;
  }

  /**
   * {@link mergeList}, also returning the server order a following `$setElementOrder` must
   * interleave with. Kubernetes computes that order from the original list as the merge left it
   * in memory: in Go, removing items shifts the original array and the first new items are then
   * appended into the freed slots, so they count as server items placed after the remaining
   * ones. Reproducing that keeps the item order of `kubectl apply` results identical.
   */
  private mergeListKeepingServerOrder(
    original: unknown[],
    patch: unknown[],
    path: string,
    isDeleteList: boolean,
  ): { merged: unknown[]; serverOrder: unknown[] } {
    if (original.length === 0 && patch.length === 0) {
      return { merged: original, serverOrder: original };
    }
    const kind = elementKind(path, original, patch);
    const itemPath = itemsOf(path);

    if (kind === 'scalar') {
      if (isDeleteList) {
        return { merged: original.filter((item) => !patch.includes(item)), serverOrder: original };
      }
      const merged = dedupe([...original, ...patch]);
      const inPatch = new Set(patch);
      const ordered = orderItems(
        merged.filter((item) => inPatch.has(item)),
        merged.filter((item) => !inPatch.has(item)),
        patch,
        original,
        (item) => item,
      );
      return { merged: ordered, serverOrder: original };
    }

    const mergeKey = this.meta(path)?.patchMergeKey;
    if (mergeKey === undefined || mergeKey === '') {
      throw invalid(`${where(path)}: cannot merge lists without merge key`);
    }
    const keyOf = this.identity('map', mergeKey, path);

    let base = original;
    let additions: JsonObject[] = [];
    let replaceAll = false;
    for (const item of patch) {
      const entry = item as JsonObject;
      if (!Object.hasOwn(entry, patchDirective)) {
        additions.push(entry);
        continue;
      }
      const directive = entry[patchDirective];
      if (directive === 'delete') {
        const doomed = keyOf(entry);
        base = base.filter((existing) => keyOf(existing) !== doomed);
      } else if (directive === 'replace') {
        replaceAll = true;
      } else if (directive === 'merge') {
        throw malformed(`${where(path)}: merging lists cannot yet be specified in the patch`);
      } else {
        throw malformed(
          `${where(path)}: unknown patch type: ${describeJson(directive)} in map: ${describeJson(entry)}`,
        );
      }
    }
    if (replaceAll) {
      base = additions.map((item) => this.freshMap(item, itemPath));
      additions = [];
    }

    const merged = [...base];
    const appended: unknown[] = [];
    for (const addition of additions) {
      const wanted = keyOf(addition);
      const index = merged.findIndex((existing) => keyOf(existing) === wanted);
      const existing = merged[index];
      if (index >= 0 && isJsonObject(existing)) {
        merged[index] = this.mergeMap(existing, addition, itemPath);
      } else {
        const created = this.freshMap(addition, itemPath);
        merged.push(created);
        appended.push(created);
      }
    }
    const inPatch = new Set(additions.map(keyOf));
    const ordered = orderItems(
      merged.filter((item) => inPatch.has(keyOf(item))),
      merged.filter((item) => !inPatch.has(keyOf(item))),
      additions,
      base,
      keyOf,
    );
    const freedSlots = replaceAll ? 0 : original.length - base.length;
    return { merged: ordered, serverOrder: [...base, ...appended.slice(0, freedSlots)] };
  }
}

function withoutDirective(map: JsonObject): JsonObject {
  const copy: JsonObject = {};
  for (const [key, value] of Object.entries(map)) {
    if (key !== patchDirective) setMember(copy, key, value);
  }
  return copy;
}

const isDirectiveItem = (item: unknown) =>
  isJsonObject(item) && Object.hasOwn(item, patchDirective);

function dedupe(items: unknown[]): unknown[] {
  return [...new Set(items)];
}

/** Sorts items by where their identity first appears in `order`; items not in it go last, in their order. */
function sortBy(items: unknown[], order: unknown[], keyOf: (item: unknown) => unknown): unknown[] {
  const positions = new Map<unknown, number>();
  order.forEach((item, index) => {
    const key = keyOf(item);
    if (!positions.has(key)) positions.set(key, index);
  });
  const position = (item: unknown) => positions.get(keyOf(item)) ?? Number.POSITIVE_INFINITY;
  return [...items].sort((left, right) => {
    const difference = position(left) - position(right);
    return Number.isNaN(difference) ? 0 : difference;
  });
}

/**
 * Interleaves the items the patch speaks about (in `patchOrder`) with the items only the server has
 * (in `serverOrder`), so that both keep their relative order: a server item goes before a patch
 * item when it was before it in the server's list; a new item goes before the server items it
 * cannot be compared with (this is why Kubernetes puts a new container first).
 */
function orderItems(
  patchItems: unknown[],
  serverOnly: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  keyOf: (item: unknown) => unknown,
): unknown[] {
  const fromPatch = sortBy(patchItems, patchOrder, keyOf);
  const fromServer = sortBy(serverOnly, serverOrder, keyOf);
  const serverPositions = new Map<unknown, number>();
  serverOrder.forEach((item, index) => {
    const key = keyOf(item);
    if (!serverPositions.has(key)) serverPositions.set(key, index);
  });
  const result: unknown[] = [];
  let left = 0;
  let right = 0;
  while (left < fromServer.length || right < fromPatch.length) {
    if (right >= fromPatch.length) {
      result.push(fromServer[left++]);
    } else if (left >= fromServer.length) {
      result.push(fromPatch[right++]);
    } else {
      const serverPosition = serverPositions.get(keyOf(fromServer[left]));
      const patchPosition = serverPositions.get(keyOf(fromPatch[right]));
      const serverFirst =
        serverPosition !== undefined &&
        patchPosition !== undefined &&
        serverPosition < patchPosition;
      result.push(serverFirst ? fromServer[left++] : fromPatch[right++]);
    }
  }
  return result;
}

/**
 * Applies a Kubernetes strategic merge patch (`application/strategic-merge-patch+json`) to an
 * object, with the list strategies and merge keys of `schema` (see `builtinPatchSchemas`).
 *
 * Maps merge as in a JSON merge patch (`null` deletes). Lists with the `merge` strategy merge item
 * by item; other lists are replaced. Directives: `$patch: replace | delete` in a map or a list item
 * (`merge` also in a map), `$retainKeys`, `$setElementOrder/<list>`,
 * `$deleteFromPrimitiveList/<list>`. No directive is left in the result. Neither argument is
 * modified.
 *
 * @throws {PatchError} `KE_PATCH_MALFORMED` for a patch that is not an object or a malformed
 *   directive, `KE_PATCH_INVALID` for a patch that does not fit the object (a list item without its
 *   merge key, an order list that contradicts the patch, mixed list items).
 */
export function applyStrategicMergePatch(
  target: unknown,
  patch: unknown,
  schema: PatchSchema,
): JsonObject {
  if (!isJsonObject(patch)) {
    throw malformed(`a strategic merge patch must be a JSON object, got ${describeJson(patch)}`);
  }
  if (!isJsonObject(target)) {
    throw invalid(`a strategic merge patch applies to a JSON object, not ${describeJson(target)}`);
  }
  return new StrategicMerge(schema).mergeMap(cloneJson(target), cloneJson(patch), '');
}
