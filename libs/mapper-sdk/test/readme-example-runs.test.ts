import { describeReadmeExample } from '@ke/testing';
import { expect } from 'vitest';
import * as sdk from '../src/index';

describeReadmeExample({
  packageDir: new URL('..', import.meta.url),
  exports: sdk,
  check: (stdout) => {
    expect(stdout.trim().split('\n')).toEqual([
      'edge: mapper modbus-mapper modbus ok',
      'driver: connect {"host":"10.0.0.7","port":502}',
      'edge: state thermometer ok',
      'driver: write setpoint 21',
      'edge: twin thermometer temperature 23.5',
    ]);
  },
});
