import { describeReadmeExample } from '@ke/testing';
import { expect } from 'vitest';
import * as mapperModbus from '../src/index';

describeReadmeExample({
  packageDir: new URL('..', import.meta.url),
  exports: mapperModbus,
  check: (stdout) => {
    expect(stdout).toBe('setpoint 215\nsetpoint 230\ntemperature 23.5\nstate ok\n');
  },
});
