import type { V1LabelSelector } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  everythingLabelSelector,
  formatLabelSelector,
  labelSelectorFromObject,
  matchesLabels,
  parseLabelSelector,
  SelectorError,
} from '../../src/selectors';

const web = { app: 'web', tier: 'front', replicas: '5' };

describe('matchesLabels', () => {
  it.each([
    ['', web, true],
    ['', undefined, true],
    ['app=web', web, true],
    ['app==web', web, true],
    ['app=api', web, false],
    ['app=web', undefined, false],
    ['app!=api', web, true],
    ['app!=web', web, false],
    ['missing!=x', web, true],
    ['app in (api, web)', web, true],
    ['app in (api)', web, false],
    ['missing in (api)', web, false],
    ['app notin (api)', web, true],
    ['app notin (web)', web, false],
    ['missing notin (web)', web, true],
    ['tier', web, true],
    ['missing', web, false],
    ['!missing', web, true],
    ['!tier', web, false],
    ['replicas>4', web, true],
    ['replicas>5', web, false],
    ['replicas<6', web, true],
    ['app>1', web, false],
    ['missing<1', web, false],
    ['empty=', { empty: '' }, true],
    ['empty=', {}, false],
    ['app=web,tier=front', web, true],
    ['app=web,tier=back', web, false],
  ])('%j on %j is %s', (selector, labels, expected) => {
    expect(matchesLabels(parseLabelSelector(selector), labels)).toBe(expected);
  });
});

describe('labelSelectorFromObject', () => {
  it('turns matchLabels and matchExpressions into one selector', () => {
    const object: V1LabelSelector = {
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['front', 'edge'] },
        { key: 'env', operator: 'NotIn', values: ['dev'] },
        { key: 'team', operator: 'Exists' },
        { key: 'canary', operator: 'DoesNotExist' },
      ],
    };
    const selector = labelSelectorFromObject(object);
    expect(formatLabelSelector(selector)).toBe(
      'app=web,!canary,env notin (dev),team,tier in (edge,front)',
    );
    expect(matchesLabels(selector, { app: 'web', tier: 'edge', team: 'a' })).toBe(true);
    expect(matchesLabels(selector, { app: 'web', tier: 'edge', team: 'a', canary: '1' })).toBe(
      false,
    );
    expect(matchesLabels(selector, { app: 'web', tier: 'edge', team: 'a', env: 'dev' })).toBe(
      false,
    );
    expect(matchesLabels(selector, { app: 'web', tier: 'back', team: 'a' })).toBe(false);
    expect(matchesLabels(selector, { app: 'web', tier: 'edge' })).toBe(false);
  });

  it('selects everything when empty and nothing when absent', () => {
    expect(matchesLabels(labelSelectorFromObject({}), { any: 'thing' })).toBe(true);
    expect(matchesLabels(labelSelectorFromObject({ matchLabels: {} }), undefined)).toBe(true);
    expect(matchesLabels(labelSelectorFromObject(undefined), { any: 'thing' })).toBe(false);
    expect(matchesLabels(labelSelectorFromObject(null), {})).toBe(false);
    expect(matchesLabels(everythingLabelSelector, undefined)).toBe(true);
  });

  it.each([
    [
      { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] },
      '"Gt" is not a valid label selector operator',
    ],
    [
      { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] },
      "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty",
    ],
    [
      { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] },
      'values: Invalid value: ["x"]: values set must be empty for exists and does not exist',
    ],
    [{ matchLabels: { 'a b': 'c' } }, 'key: Invalid value: "a b": name part must consist of'],
    [{ matchLabels: { a: 'b c' } }, 'values[0][a]: Invalid value: "b c": a valid label must be'],
  ])('refuses %j', (object, message) => {
    let thrown: unknown;
    try {
      labelSelectorFromObject(object);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SelectorError);
    expect((thrown as SelectorError).code).toBe('KE_SELECTOR_INVALID');
    expect((thrown as SelectorError).message).toContain(message);
  });
});
