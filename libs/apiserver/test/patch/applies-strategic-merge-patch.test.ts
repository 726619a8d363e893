import { describe, expect, it } from 'vitest';
import { applyStrategicMergePatch, type PatchSchema } from '../../src/patch';

// The cases follow the behaviour pinned by apimachinery's strategicpatch tests, on a schema shaped
// like their test type: a merged list of maps keyed by `name` (nested in itself), a merged list of
// scalars, lists without strategy, a map with `replace`, a map and a list with `retainKeys`.
const schema: PatchSchema = {
  mergingList: { patchStrategy: 'merge', patchMergeKey: 'name' },
  'mergingList[].mergingList': { patchStrategy: 'merge', patchMergeKey: 'name' },
  'mergingList[].mergingIntList': { patchStrategy: 'merge' },
  mergingIntList: { patchStrategy: 'merge' },
  otherMergingList: { patchStrategy: 'merge', patchMergeKey: 'name' },
  replacingItem: { patchStrategy: 'replace' },
  retainKeysMap: { patchStrategy: 'retainKeys' },
  'retainKeysMap.mergingIntList': { patchStrategy: 'merge' },
  'retainKeysMap.mergingList': { patchStrategy: 'merge', patchMergeKey: 'name' },
  retainKeysMergingList: { patchStrategy: 'merge,retainKeys', patchMergeKey: 'name' },
};

interface Case {
  name: string;
  current: Record<string, unknown>;
  patch: Record<string, unknown>;
  result: Record<string, unknown>;
}

const cases: Case[] = [
  {
    name: 'adds a field to a map and keeps the others',
    current: { name: 1, other: 'a' },
    patch: { value: 1 },
    result: { name: 1, other: 'a', value: 1 },
  },
  {
    name: 'deletes a field with null and ignores null for an absent field',
    current: { name: 1, value: 1, other: 'a' },
    patch: { name: null, value: null, missing: null },
    result: { other: 'a' },
  },
  {
    name: 'deletes a field of a nested map',
    current: { simpleMap: { key1: 1, key2: 1, other: 'a' } },
    patch: { simpleMap: { key2: null } },
    result: { simpleMap: { key1: 1, other: 'a' } },
  },
  {
    name: '$patch: delete empties a nested map',
    current: { simpleMap: { key1: 1, key2: 1 } },
    patch: { simpleMap: { $patch: 'delete' } },
    result: { simpleMap: {} },
  },
  {
    name: '$patch: replace on the root replaces the whole map',
    current: { name: 1, value: 1 },
    patch: { other: 'a', $patch: 'replace' },
    result: { other: 'a' },
  },
  {
    name: 'a field with the replace strategy is replaced, not merged',
    current: { replacingItem: { a: 1, b: 2 } },
    patch: { replacingItem: { c: 3 } },
    result: { replacingItem: { c: 3 } },
  },
  {
    name: 'lists without strategy are replaced',
    current: { nonMergingIntList: [1, 2], nonMergingList: [{ name: 1, value: 1 }] },
    patch: { nonMergingIntList: [2, 3], nonMergingList: [{ name: 1 }] },
    result: { nonMergingIntList: [2, 3], nonMergingList: [{ name: 1 }] },
  },
  {
    name: 'merged scalar lists keep unique values',
    current: { mergingIntList: [1, 2] },
    patch: { mergingIntList: [2, 3] },
    result: { mergingIntList: [1, 2, 3] },
  },
  {
    name: 'merged lists of maps merge items with the same key',
    current: {
      mergingList: [
        { name: 1, other: 'a' },
        { name: 2, value: 2, other: 'b' },
      ],
    },
    patch: { mergingList: [{ name: 2, value: 3 }] },
    result: {
      mergingList: [
        { name: 1, other: 'a' },
        { name: 2, value: 3, other: 'b' },
      ],
    },
  },
  {
    name: 'a new item of a merged list goes first (as in Kubernetes)',
    current: { mergingList: [{ name: 1 }, { name: 2 }] },
    patch: { mergingList: [{ name: 3, value: 3 }] },
    result: { mergingList: [{ name: 3, value: 3 }, { name: 1 }, { name: 2 }] },
  },
  {
    name: 'items named by the patch take its order, the others keep their place',
    current: { mergingList: [{ name: 1 }, { name: 2, value: 'b' }, { name: 3 }] },
    patch: {
      mergingList: [
        { name: 3, value: 'c' },
        { name: 1, value: 'a' },
      ],
    },
    result: {
      mergingList: [
        { name: 2, value: 'b' },
        { name: 3, value: 'c' },
        { name: 1, value: 'a' },
      ],
    },
  },
  {
    name: '$patch: delete removes every item with the key',
    current: { mergingList: [{ name: 1 }, { name: 1 }, { name: 2, value: 'a' }, { name: 3 }] },
    patch: {
      mergingList: [
        { name: 1, $patch: 'delete' },
        { name: 3, $patch: 'delete' },
      ],
    },
    result: { mergingList: [{ name: 2, value: 'a' }] },
  },
  {
    name: 'a $patch: replace item replaces the list with the other items',
    current: { mergingList: [{ name: 1 }, { name: 2 }] },
    patch: { mergingList: [{ $patch: 'replace' }, { name: 3, value: 3 }] },
    result: { mergingList: [{ name: 3, value: 3 }] },
  },
  {
    name: 'a lone $patch: replace item empties the list',
    current: { mergingList: [{ name: 1 }, { name: 2 }] },
    patch: { mergingList: [{ $patch: 'replace' }] },
    result: { mergingList: [] },
  },
  {
    name: 'a new list is taken without its delete directives',
    current: { name: 'hi' },
    patch: { mergingList: [{ name: 'hello' }, { name: 'gone', $patch: 'delete' }] },
    result: { name: 'hi', mergingList: [{ name: 'hello' }] },
  },
  {
    name: 'deleting an absent item keeps the server items',
    current: { name: 'hi', mergingList: [{ name: 'hello2' }] },
    patch: {
      '$setElementOrder/mergingList': [{ name: 'hello' }, { name: 'doesntexist' }],
      mergingList: [{ name: 'hello' }, { name: 'doesntexist', $patch: 'delete' }],
    },
    result: { name: 'hi', mergingList: [{ name: 'hello' }, { name: 'hello2' }] },
  },
  {
    name: '$setElementOrder puts added items where the order says, server items after theirs',
    current: {
      mergingList: [
        { name: 1, other: 'a' },
        { name: 2, value: 2, other: 'b' },
      ],
    },
    patch: {
      '$setElementOrder/mergingList': [{ name: 4 }, { name: 1 }, { name: 2 }, { name: 3 }],
      mergingList: [
        { name: 4, value: 4 },
        { name: 3, value: 3 },
      ],
    },
    result: {
      mergingList: [
        { name: 4, value: 4 },
        { name: 1, other: 'a' },
        { name: 2, value: 2, other: 'b' },
        { name: 3, value: 3 },
      ],
    },
  },
  {
    name: '$setElementOrder with an added and a deleted item keeps server-only items in place',
    current: { mergingList: [{ name: 1 }, { name: 2, other: 'b' }, { name: 4, other: 'c' }] },
    patch: {
      '$setElementOrder/mergingList': [{ name: 2 }, { name: 3 }],
      mergingList: [{ name: 3 }, { name: 1, $patch: 'delete' }],
    },
    result: { mergingList: [{ name: 2, other: 'b' }, { name: 4, other: 'c' }, { name: 3 }] },
  },
  {
    name: '$setElementOrder with a conflicting live list',
    current: {
      mergingList: [
        { name: 1, other: 'a' },
        { name: 4, other: 'c' },
      ],
    },
    patch: {
      '$setElementOrder/mergingList': [{ name: 2 }, { name: 3 }],
      mergingList: [{ name: 2 }, { name: 3 }, { name: 1, $patch: 'delete' }],
    },
    result: { mergingList: [{ name: 4, other: 'c' }, { name: 2 }, { name: 3 }] },
  },
  {
    name: '$setElementOrder alone reorders without changing items',
    current: {
      mergingList: [
        { name: 'a', value: 'a' },
        { name: 'b', value: 'b' },
      ],
      otherMergingList: [
        { name: 'c', value: 'c' },
        { name: 'd', value: 'd' },
      ],
    },
    patch: {
      '$setElementOrder/mergingList': [{ name: 'b' }],
      '$setElementOrder/otherMergingList': [{ name: 'd' }, { name: 'c' }],
      mergingList: [{ $patch: 'delete', name: 'a' }],
    },
    result: {
      mergingList: [{ name: 'b', value: 'b' }],
      otherMergingList: [
        { name: 'd', value: 'd' },
        { name: 'c', value: 'c' },
      ],
    },
  },
  {
    name: '$setElementOrder may name items the list does not have',
    current: { mergingList: [{ name: 1 }, { name: 3 }] },
    patch: {
      '$setElementOrder/mergingList': [{ name: 3 }, { name: 2 }, { name: 1 }],
      mergingList: [
        { name: 3, value: 3 },
        { name: 1, value: 1 },
      ],
    },
    result: {
      mergingList: [
        { name: 3, value: 3 },
        { name: 1, value: 1 },
      ],
    },
  },
  {
    name: '$setElementOrder and $deleteFromPrimitiveList on a scalar list',
    current: { mergingIntList: [1, 2, 3, 3, 4] },
    patch: {
      '$setElementOrder/mergingIntList': [1, 2],
      '$deleteFromPrimitiveList/mergingIntList': [3],
    },
    result: { mergingIntList: [1, 2, 4] },
  },
  {
    name: '$deleteFromPrimitiveList also works on a list without merge strategy',
    current: { nonMergingIntList: [1, 2, 3] },
    patch: { '$deleteFromPrimitiveList/nonMergingIntList': [2] },
    result: { nonMergingIntList: [1, 3] },
  },
  {
    name: '$deleteFromPrimitiveList never adds a list or an item',
    current: { mergingIntList: [1, 2], foo: ['bar'] },
    patch: {
      '$deleteFromPrimitiveList/mergingIntList': [3],
      '$deleteFromPrimitiveList/absentList': [3],
    },
    result: { mergingIntList: [1, 2], foo: ['bar'] },
  },
  {
    name: 'a nested merged list with its own $setElementOrder',
    current: {
      mergingList: [
        {
          name: 1,
          other: 'a',
          mergingList: [{ name: 2, value: 2, other: 'd' }],
        },
        { name: 2, other: 'b' },
      ],
    },
    patch: {
      '$setElementOrder/mergingList': [{ name: 1 }, { name: 2 }],
      mergingList: [
        {
          '$setElementOrder/mergingList': [{ name: 2 }, { name: 1 }],
          name: 1,
          mergingList: [{ name: 1, value: 1 }],
        },
      ],
    },
    result: {
      mergingList: [
        {
          name: 1,
          other: 'a',
          mergingList: [
            { name: 2, value: 2, other: 'd' },
            { name: 1, value: 1 },
          ],
        },
        { name: 2, other: 'b' },
      ],
    },
  },
  {
    name: 'a list without strategy nested in a merged item is replaced',
    current: {
      mergingList: [
        { name: 1, other: 'a', nonMergingList: [{ name: 1 }, { name: 2, value: 2 }] },
        { name: 2, other: 'b' },
      ],
    },
    patch: { mergingList: [{ name: 1, nonMergingList: [{ name: 1, value: 1 }] }] },
    result: {
      mergingList: [
        { name: 1, other: 'a', nonMergingList: [{ name: 1, value: 1 }] },
        { name: 2, other: 'b' },
      ],
    },
  },
  {
    name: '$retainKeys on a map clears the keys it does not name',
    current: { retainKeysMap: { name: 'foo', value: 'a', other: 'x' } },
    patch: { retainKeysMap: { $retainKeys: ['name', 'value'], value: 'b' } },
    result: { retainKeysMap: { name: 'foo', value: 'b' } },
  },
  {
    name: 'a retainKeys map merges as usual without the directive',
    current: { retainKeysMap: { name: 'foo', value: 'a' } },
    patch: { retainKeysMap: { value: null, other: 'b' } },
    result: { retainKeysMap: { name: 'foo', other: 'b' } },
  },
  {
    name: '$retainKeys with a nested scalar list that adds and deletes',
    current: { retainKeysMap: { name: 'foo', mergingIntList: [1, 2, 3, 4] } },
    patch: {
      retainKeysMap: {
        $retainKeys: ['mergingIntList', 'name'],
        mergingIntList: [5],
        '$deleteFromPrimitiveList/mergingIntList': [2],
        '$setElementOrder/mergingIntList': [1, 3, 5],
      },
    },
    result: { retainKeysMap: { name: 'foo', mergingIntList: [1, 3, 5, 4] } },
  },
  {
    name: '$retainKeys in an item of a merge,retainKeys list',
    current: {
      retainKeysMergingList: [{ name: 'bar' }, { name: 'foo', value: 'old', other: 'x' }],
    },
    patch: {
      '$setElementOrder/retainKeysMergingList': [{ name: 'bar' }, { name: 'foo' }],
      retainKeysMergingList: [{ $retainKeys: ['name', 'value'], name: 'foo', value: 'new' }],
    },
    result: { retainKeysMergingList: [{ name: 'bar' }, { name: 'foo', value: 'new' }] },
  },
  {
    name: 'a value of another shape replaces the field',
    current: { mergingList: [{ name: 1 }], simpleMap: { a: 1 }, name: 'x' },
    patch: { mergingList: { name: 1 }, simpleMap: 'flat', name: { nested: true } },
    result: { mergingList: { name: 1 }, simpleMap: 'flat', name: { nested: true } },
  },
  {
    name: 'an unknown field that is a list is replaced, a map is merged',
    current: { unknownList: [{ name: 1, a: 1 }], unknownMap: { a: 1, b: 2 } },
    patch: { unknownList: [{ name: 1, b: 2 }], unknownMap: { b: 3 } },
    result: { unknownList: [{ name: 1, b: 2 }], unknownMap: { a: 1, b: 3 } },
  },
];

describe('applyStrategicMergePatch', () => {
  it.each(cases)('$name', ({ current, patch, result }) => {
    expect(applyStrategicMergePatch(current, patch, schema)).toEqual(result);
  });

  it.each([
    {
      name: 'an item without its merge key',
      current: { mergingList: [{ name: 1, value: 'a' }] },
      patch: { mergingList: [{ value: 'b' }] },
      code: 'KE_PATCH_INVALID',
      message: 'mergingList: map: {"value":"b"} does not contain declared merge key: name',
    },
    {
      name: 'an order list that contradicts the patch list',
      current: { mergingList: [{ name: 1 }, { name: 3 }, { name: 2 }] },
      patch: {
        '$setElementOrder/mergingList': [{ name: 1 }, { name: 2 }, { name: 3 }],
        mergingList: [
          { name: 3, value: 3 },
          { name: 1, value: 1 },
        ],
      },
      code: 'KE_PATCH_INVALID',
      message: "doesn't match $setElementOrder list",
    },
    {
      name: 'a scalar order list that contradicts the patch list',
      current: { mergingIntList: [1, 3, 2] },
      patch: { '$setElementOrder/mergingIntList': [1, 2, 3], mergingIntList: [3, 1] },
      code: 'KE_PATCH_INVALID',
      message: "doesn't match $setElementOrder list",
    },
    {
      name: 'a patch key missing from $retainKeys',
      current: { retainKeysMap: { name: 'foo' } },
      patch: { retainKeysMap: { $retainKeys: ['name'], value: 'x' } },
      code: 'KE_PATCH_MALFORMED',
      message: 'invalid patch format of retainKeys',
    },
    {
      name: 'an unknown $patch directive',
      current: { simpleMap: {} },
      patch: { simpleMap: { $patch: 'frobnicate' } },
      code: 'KE_PATCH_MALFORMED',
      message: 'unknown patch type: "frobnicate"',
    },
    {
      name: 'a $patch: merge list item',
      current: { mergingList: [{ name: 1 }] },
      patch: { mergingList: [{ $patch: 'merge' }] },
      code: 'KE_PATCH_MALFORMED',
      message: 'merging lists cannot yet be specified in the patch',
    },
    {
      name: 'mixed items in a merged list',
      current: { mergingList: [{ name: 1 }] },
      patch: { mergingList: ['a'] },
      code: 'KE_PATCH_INVALID',
      message: 'list element types are not identical',
    },
    {
      name: 'a directive key without a field',
      current: {},
      patch: { $setElementOrder: [] },
      code: 'KE_PATCH_MALFORMED',
      message: 'invalid patch format of setElementOrder list',
    },
  ])('refuses $name', ({ current, patch, code, message }) => {
    expect(() => applyStrategicMergePatch(current, patch, schema)).toThrow(
      expect.objectContaining({
        name: 'PatchError',
        code,
        message: expect.stringContaining(message),
      }),
    );
  });

  it('refuses a patch that is not an object', () => {
    expect(() => applyStrategicMergePatch({}, [{ op: 'add' }], schema)).toThrow(
      expect.objectContaining({ code: 'KE_PATCH_MALFORMED' }),
    );
  });

  it('leaves no directive in the result, also inside new values', () => {
    const result = applyStrategicMergePatch(
      {},
      {
        newMap: { $retainKeys: ['a'], a: 1, b: null, '$setElementOrder/mergingList': [] },
        mergingList: [{ name: 1, $retainKeys: ['name'] }, { $patch: 'replace' }],
        gone: { $patch: 'delete' },
      },
      schema,
    );
    expect(result).toEqual({ newMap: { a: 1 }, mergingList: [{ name: 1 }] });
  });

  it('does not modify its arguments', () => {
    const current = { mergingList: [{ name: 1, value: 1 }, { name: 2 }], simpleMap: { a: 1 } };
    const patch = {
      '$setElementOrder/mergingList': [{ name: 2 }, { name: 1 }],
      mergingList: [{ name: 1, value: null }],
      simpleMap: { $patch: 'replace', b: 2 },
    };
    const currentCopy = structuredClone(current);
    const patchCopy = structuredClone(patch);
    const result = applyStrategicMergePatch(current, patch, schema);
    expect(result).toEqual({ mergingList: [{ name: 2 }, { name: 1 }], simpleMap: { b: 2 } });
    expect(current).toEqual(currentCopy);
    expect(patch).toEqual(patchCopy);
  });
});
