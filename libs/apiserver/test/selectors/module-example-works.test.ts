import { expect, it } from 'vitest';
import {
  fieldsOf,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  validateFieldSelector,
} from '../../src/selectors';

// The example at the top of src/selectors/index.ts.
it('works as the module documentation shows', () => {
  const pod = {
    metadata: { name: 'web-0', namespace: 'shop', labels: { app: 'web', tier: 'front' } },
    spec: { nodeName: 'edge-1' },
  };
  const labels = parseLabelSelector('app in (web, api), !canary');
  const fields = validateFieldSelector('core/pods', parseFieldSelector('spec.nodeName=edge-1'));
  expect(matchesLabels(labels, pod.metadata.labels)).toBe(true);
  expect(matchesFields(fields, fieldsOf('core/pods', pod))).toBe(true);
  expect(() => validateFieldSelector('core/pods', parseFieldSelector('spec.foo=x'))).toThrow(
    expect.objectContaining({
      name: 'SelectorError',
      code: 'KE_SELECTOR_UNSUPPORTED_FIELD',
      message: 'field label not supported: spec.foo',
    }),
  );
});
