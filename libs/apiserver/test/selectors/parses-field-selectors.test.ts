import { describe, expect, it } from 'vitest';
import {
  escapeFieldSelectorValue,
  formatFieldSelector,
  matchesFields,
  parseFieldSelector,
  SelectorError,
} from '../../src/selectors';

describe('parseFieldSelector', () => {
  it.each([
    ['', []],
    ['metadata.name=web', [{ field: 'metadata.name', operator: '=', value: 'web' }]],
    ['metadata.name==web', [{ field: 'metadata.name', operator: '==', value: 'web' }]],
    ['status.phase!=Running', [{ field: 'status.phase', operator: '!=', value: 'Running' }]],
    ['spec.nodeName=', [{ field: 'spec.nodeName', operator: '=', value: '' }]],
    [
      'spec.nodeName=a,status.phase!=Failed',
      [
        { field: 'spec.nodeName', operator: '=', value: 'a' },
        { field: 'status.phase', operator: '!=', value: 'Failed' },
      ],
    ],
    [',,metadata.name=web,', [{ field: 'metadata.name', operator: '=', value: 'web' }]],
    ['reason=a\\,b', [{ field: 'reason', operator: '=', value: 'a,b' }]],
    ['reason=a\\=b', [{ field: 'reason', operator: '=', value: 'a=b' }]],
    ['reason=a\\\\b', [{ field: 'reason', operator: '=', value: 'a\\b' }]],
    ['reason==\\=\\,\\\\', [{ field: 'reason', operator: '==', value: '=,\\' }]],
  ])('parses %j', (text, requirements) => {
    expect(parseFieldSelector(text).requirements).toEqual(requirements);
  });

  it.each([
    ['metadata.name', "invalid selector: 'metadata.name'; can't understand 'metadata.name'"],
    ['a=b,c', "invalid selector: 'a=b,c'; can't understand 'c'"],
    ['a=b=c', 'invalid field selector: unescaped character in value: ='],
    ['a=b\\x', 'invalid field selector: invalid escape sequence: \\x'],
    ['a=b\\', 'invalid field selector: invalid escape sequence: \\'],
  ])('refuses %j', (text, message) => {
    let thrown: unknown;
    try {
      parseFieldSelector(text);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SelectorError);
    expect((thrown as SelectorError).code).toBe('KE_SELECTOR_INVALID');
    expect((thrown as SelectorError).message).toContain(message);
  });

  it('round-trips escaped values through formatFieldSelector', () => {
    const value = 'a,b=c\\d';
    const text = `reason=${escapeFieldSelectorValue(value)}`;
    expect(text).toBe('reason=a\\,b\\=c\\\\d');
    const selector = parseFieldSelector(text);
    expect(selector.requirements[0]?.value).toBe(value);
    expect(formatFieldSelector(selector)).toBe(text);
  });
});

describe('matchesFields', () => {
  const fields = { 'metadata.name': 'web', 'spec.nodeName': '' };
  it.each([
    ['', true],
    ['metadata.name=web', true],
    ['metadata.name==web', true],
    ['metadata.name=api', false],
    ['metadata.name!=api', true],
    ['metadata.name!=web', false],
    ['spec.nodeName=', true],
    ['spec.nodeName!=', false],
    ['status.phase=', true],
    ['status.phase!=Running', true],
    ['metadata.name=web,spec.nodeName=a', false],
  ])('%j is %s', (text, expected) => {
    expect(matchesFields(parseFieldSelector(text), fields)).toBe(expected);
  });
});
