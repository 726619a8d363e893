import { describeReadmeExample } from '@ke/testing';
import { expect } from 'vitest';
import * as devicetwin from '../src/index';

describeReadmeExample({
  packageDir: new URL('..', import.meta.url),
  exports: devicetwin,
  check: (stdout) => {
    expect(stdout).toBe(
      'cloud message: OK\ndelta: {"setpoint":"21"}\n' +
        'to the cloud: device/default/thermostat/twin/edge_updated\nreported: 21\n',
    );
  },
});
