import { describe, expect, it } from 'vitest';
import { applyMergePatch } from '../../src/patch';

// RFC 7386, Appendix A.
const rfcExamples: Array<[target: unknown, patch: unknown, result: unknown]> = [
  [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
  [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
  [{ a: 'b' }, { a: null }, {}],
  [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
  [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
  [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
  [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
  [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
  [
    ['a', 'b'],
    ['c', 'd'],
    ['c', 'd'],
  ],
  [{ a: 'b' }, ['c'], ['c']],
  [{ a: 'foo' }, null, null],
  [{ a: 'foo' }, 'bar', 'bar'],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: 'b', c: null }, { a: 'b' }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
];

describe('applyMergePatch', () => {
  it.each(rfcExamples)('RFC 7386 example: %j + %j', (target, patch, result) => {
    expect(applyMergePatch(target, patch)).toEqual(result);
  });

  it('applies what `kubectl label pods web tier=front old-` sends', () => {
    const pod = { metadata: { name: 'web', labels: { app: 'web', old: 'x' } }, spec: {} };
    const patch = { metadata: { labels: { tier: 'front', old: null } } };
    expect(applyMergePatch(pod, patch)).toEqual({
      metadata: { name: 'web', labels: { app: 'web', tier: 'front' } },
      spec: {},
    });
  });

  it('replaces lists as a whole, unlike a strategic merge patch', () => {
    const pod = { spec: { containers: [{ name: 'a', image: 'a:1' }, { name: 'b' }] } };
    expect(applyMergePatch(pod, { spec: { containers: [{ name: 'a', image: 'a:2' }] } })).toEqual({
      spec: { containers: [{ name: 'a', image: 'a:2' }] },
    });
  });

  it('does not modify its arguments', () => {
    const target = { a: { b: 1, c: [1] } };
    const patch = { a: { b: null, d: { e: 1 } } };
    const result = applyMergePatch(target, patch) as { a: { d: { e: number } } };
    result.a.d.e = 2;
    expect(target).toEqual({ a: { b: 1, c: [1] } });
    expect(patch).toEqual({ a: { b: null, d: { e: 1 } } });
  });

  it('keeps a member called __proto__ as data', () => {
    const result = applyMergePatch({}, JSON.parse('{"__proto__": {"polluted": true}}')) as object;
    expect(Object.keys(result)).toEqual(['__proto__']);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
  });
});
