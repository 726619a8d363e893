import { expect, it } from 'vitest';
import {
  applyStrategicMergePatch,
  builtinPatchSchemas,
  patchTypeFromContentType,
} from '../../src/patch';

// The example at the top of src/patch/index.ts.
it('works as the module documentation shows', () => {
  const pod = {
    metadata: { name: 'web', finalizers: ['a'] },
    spec: {
      containers: [
        { name: 'app', image: 'app:1' },
        { name: 'log', image: 'log:1' },
      ],
    },
  };
  expect(patchTypeFromContentType('application/strategic-merge-patch+json')).toBe('strategic');
  const patched = applyStrategicMergePatch(
    pod,
    { spec: { containers: [{ name: 'app', image: 'app:2' }] } },
    builtinPatchSchemas.Pod ?? {},
  );
  expect(patched.spec).toEqual({
    containers: [
      { name: 'app', image: 'app:2' },
      { name: 'log', image: 'log:1' },
    ],
  });
});
