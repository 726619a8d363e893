import { describe, expect, it } from 'vitest';
import { compareResourceVersions, isNewerResourceVersion } from '../src/index';

describe('resourceVersion order', () => {
  it('compares integers numerically, beyond 2^53 too', () => {
    expect(compareResourceVersions('9', '10')).toBeLessThan(0);
    expect(compareResourceVersions('10', '9')).toBeGreaterThan(0);
    expect(compareResourceVersions('42', '42')).toBe(0);
    expect(compareResourceVersions('18446744073709551615', '18446744073709551614')).toBe(1);
  });

  it('cannot order opaque versions, only tell them apart', () => {
    expect(compareResourceVersions('abc', '10')).toBeUndefined();
    expect(compareResourceVersions('abc', 'abc')).toBe(0);
  });

  it('lets only a newer (or unorderable, different) version replace a recorded one', () => {
    expect(isNewerResourceVersion('11', '10')).toBe(true);
    expect(isNewerResourceVersion('10', '10')).toBe(false);
    expect(isNewerResourceVersion('9', '10')).toBe(false);
    expect(isNewerResourceVersion('x', 'y')).toBe(true);
    expect(isNewerResourceVersion(undefined, '10')).toBe(true);
    expect(isNewerResourceVersion('', '10')).toBe(true);
    expect(isNewerResourceVersion('3', undefined)).toBe(true);
  });
});
