import { describeReadmeExample } from '@ke/testing';
import { expect } from 'vitest';
import * as dmi from '../src/index';

describeReadmeExample({
  packageDir: new URL('..', import.meta.url),
  exports: dmi,
  check: (stdout) => {
    expect(stdout.trim().split('\n')).toEqual([
      'edge: mapper modbus-mapper modbus Ready',
      'mapper: device thermometer {"serialPort":"/dev/ttyS0","baudRate":9600,"parity":"even"}',
      'edge: twin thermometer temperature 23.5',
      'edge: state thermometer online',
    ]);
  },
});
