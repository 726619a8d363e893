import { describeReadmeExample } from '@ke/testing';
import { expect } from 'vitest';
import * as deviceController from '../src/index';

describeReadmeExample({
  packageDir: new URL('..', import.meta.url),
  exports: deviceController,
  check: (stdout) => {
    expect(stdout).toBe(
      [
        'resource insert node/edge-1/default/devicemodel/thermostat-model',
        'resource insert node/edge-1/default/device/thermostat',
        'twin update node/edge-1/membership',
        'reported 214 observedDesired 215',
        '',
      ].join('\n'),
    );
  },
});
