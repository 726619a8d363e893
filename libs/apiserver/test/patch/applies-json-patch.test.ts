import { describe, expect, it } from 'vitest';
import { applyJsonPatch, PatchError, patchErrorStatus } from '../../src/patch';

// RFC 6902, Appendix A.
describe('applyJsonPatch', () => {
  it.each([
    {
      name: 'A.1 adding an object member',
      target: { foo: 'bar' },
      patch: [{ op: 'add', path: '/baz', value: 'qux' }],
      result: { baz: 'qux', foo: 'bar' },
    },
    {
      name: 'A.2 adding an array element',
      target: { foo: ['bar', 'baz'] },
      patch: [{ op: 'add', path: '/foo/1', value: 'qux' }],
      result: { foo: ['bar', 'qux', 'baz'] },
    },
    {
      name: 'A.3 removing an object member',
      target: { baz: 'qux', foo: 'bar' },
      patch: [{ op: 'remove', path: '/baz' }],
      result: { foo: 'bar' },
    },
    {
      name: 'A.4 removing an array element',
      target: { foo: ['bar', 'qux', 'baz'] },
      patch: [{ op: 'remove', path: '/foo/1' }],
      result: { foo: ['bar', 'baz'] },
    },
    {
      name: 'A.5 replacing a value',
      target: { baz: 'qux', foo: 'bar' },
      patch: [{ op: 'replace', path: '/baz', value: 'boo' }],
      result: { baz: 'boo', foo: 'bar' },
    },
    {
      name: 'A.6 moving a value',
      target: { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } },
      patch: [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
      result: { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
    },
    {
      name: 'A.7 moving an array element',
      target: { foo: ['all', 'grass', 'cows', 'eat'] },
      patch: [{ op: 'move', from: '/foo/1', path: '/foo/3' }],
      result: { foo: ['all', 'cows', 'eat', 'grass'] },
    },
    {
      name: 'A.8 testing a value: success',
      target: { baz: 'qux', foo: ['a', 2, 'c'] },
      patch: [
        { op: 'test', path: '/baz', value: 'qux' },
        { op: 'test', path: '/foo/1', value: 2 },
      ],
      result: { baz: 'qux', foo: ['a', 2, 'c'] },
    },
    {
      name: 'A.10 adding a nested member object',
      target: { foo: 'bar' },
      patch: [{ op: 'add', path: '/child', value: { grandchild: {} } }],
      result: { foo: 'bar', child: { grandchild: {} } },
    },
    {
      name: 'A.11 ignoring unrecognized elements',
      target: { foo: 'bar' },
      patch: [{ op: 'add', path: '/baz', value: 'qux', xyz: 123 }],
      result: { foo: 'bar', baz: 'qux' },
    },
    {
      name: 'A.14 ~ escape ordering',
      target: { '/': 9, '~1': 10 },
      patch: [{ op: 'test', path: '/~01', value: 10 }],
      result: { '/': 9, '~1': 10 },
    },
    {
      name: 'A.16 adding an array value',
      target: { foo: ['bar'] },
      patch: [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }],
      result: { foo: ['bar', ['abc', 'def']] },
    },
    {
      name: 'copy, and replace of the whole document',
      target: { a: { b: 1 } },
      patch: [
        { op: 'copy', from: '/a', path: '/c' },
        { op: 'replace', path: '', value: { replaced: true } },
      ],
      result: { replaced: true },
    },
  ])('$name', ({ target, patch, result }) => {
    expect(applyJsonPatch(target, patch)).toEqual(result);
  });

  it.each([
    {
      name: 'A.9 a failed test',
      target: { baz: 'qux' },
      patch: [{ op: 'test', path: '/baz', value: 'bar' }],
      code: 'KE_PATCH_TEST_FAILED',
      index: 0,
      message: 'json patch operation 0 (test at "/baz") failed: the value is "qux", expected "bar"',
    },
    {
      name: 'A.15 a test comparing a string with a number',
      target: { '/': 9, '~1': 10 },
      patch: [
        { op: 'add', path: '/x', value: 1 },
        { op: 'test', path: '/~01', value: '10' },
      ],
      code: 'KE_PATCH_TEST_FAILED',
      index: 1,
      message: 'the value is 10, expected "10"',
    },
    {
      name: 'A.12 adding to a nonexistent target',
      target: { foo: 'bar' },
      patch: [{ op: 'add', path: '/baz/bat', value: 'qux' }],
      code: 'KE_PATCH_INVALID',
      index: 0,
      message: 'json patch operation 0 (add at "/baz/bat"): the parent of the path does not exist',
    },
    {
      name: 'replacing a missing member',
      target: { spec: {} },
      patch: [
        { op: 'test', path: '/spec', value: {} },
        { op: 'replace', path: '/spec/replicas', value: 3 },
      ],
      code: 'KE_PATCH_INVALID',
      index: 1,
      message: 'json patch operation 1 (replace at "/spec/replicas"): the path does not exist',
    },
    {
      name: 'removing a missing array element',
      target: { list: [1] },
      patch: [{ op: 'remove', path: '/list/3' }],
      code: 'KE_PATCH_INVALID',
      index: 0,
      message: 'the path does not exist',
    },
    {
      name: 'an array index that is not a number',
      target: { list: [1] },
      patch: [{ op: 'add', path: '/list/first', value: 0 }],
      code: 'KE_PATCH_INVALID',
      index: 0,
      message: 'not a valid array index',
    },
    {
      name: 'moving from a missing path',
      target: {},
      patch: [{ op: 'move', from: '/nope', path: '/x' }],
      code: 'KE_PATCH_INVALID',
      index: 0,
      message: '"from" path "/nope" does not exist',
    },
    {
      name: 'an unknown op',
      target: {},
      patch: [{ op: 'merge', path: '/x', value: 1 }],
      code: 'KE_PATCH_MALFORMED',
      index: 0,
      message: 'unknown op "merge"',
    },
    {
      name: 'an add without value',
      target: {},
      patch: [
        { op: 'remove', path: '/x' },
        { op: 'add', path: '/x' },
      ],
      code: 'KE_PATCH_MALFORMED',
      index: 1,
      message: 'json patch operation 1: "add" at "/x" needs a "value"',
    },
    {
      name: 'a path that is not a JSON pointer',
      target: {},
      patch: [{ op: 'add', path: 'spec/replicas', value: 1 }],
      code: 'KE_PATCH_MALFORMED',
      index: 0,
      message: 'is not a JSON pointer',
    },
  ])('refuses $name', ({ target, patch, code, index, message }) => {
    let thrown: unknown;
    try {
      applyJsonPatch(target, patch);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PatchError);
    expect(thrown).toMatchObject({ code, operationIndex: index });
    expect((thrown as PatchError).message).toContain(message);
  });

  it('refuses a body that is not an array', () => {
    expect(() => applyJsonPatch({}, { op: 'add', path: '/a', value: 1 })).toThrow(
      expect.objectContaining({ code: 'KE_PATCH_MALFORMED' }),
    );
  });

  it('maps its errors to the statuses Kubernetes answers with', () => {
    expect(patchErrorStatus('KE_PATCH_MALFORMED')).toEqual({ code: 400, reason: 'BadRequest' });
    expect(patchErrorStatus('KE_PATCH_INVALID')).toEqual({ code: 422, reason: 'Invalid' });
    expect(patchErrorStatus('KE_PATCH_TEST_FAILED')).toEqual({ code: 422, reason: 'Invalid' });
    expect(patchErrorStatus('KE_PATCH_UNSUPPORTED')).toEqual({
      code: 415,
      reason: 'UnsupportedMediaType',
    });
  });

  it('changes nothing when a later operation fails, and never touches its arguments', () => {
    const target = { spec: { replicas: 1, template: { labels: { app: 'a' } } } };
    const operations = [
      { op: 'replace', path: '/spec/replicas', value: 2 },
      { op: 'test', path: '/spec/replicas', value: 3 },
    ];
    expect(() => applyJsonPatch(target, operations)).toThrow(PatchError);
    expect(target.spec.replicas).toBe(1);

    const added = { deep: { value: 1 } };
    const result = applyJsonPatch(target, [{ op: 'add', path: '/extra', value: added }]) as {
      extra: { deep: { value: number } };
      spec: { template: { labels: Record<string, string> } };
    };
    result.extra.deep.value = 2;
    result.spec.template.labels.app = 'changed';
    expect(added.deep.value).toBe(1);
    expect(target.spec.template.labels.app).toBe('a');
  });

  it('refuses to modify __proto__', () => {
    expect(() =>
      applyJsonPatch({}, [{ op: 'add', path: '/__proto__/polluted', value: true }]),
    ).toThrow(expect.objectContaining({ code: 'KE_PATCH_INVALID' }));
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });
});
