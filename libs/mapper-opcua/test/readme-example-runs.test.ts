import { describeReadmeExample } from '@ke/testing';
import { expect } from 'vitest';
import * as mapperOpcua from '../src/index';

/** node-opcua's own log lines (a timestamp and a module name, or their continuations). */
const NODE_OPCUA_LOG = /^(\d\d:\d\d:\d\d\.\d{3}Z :| \.\.\. )/;

describeReadmeExample({
  packageDir: new URL('..', import.meta.url),
  exports: mapperOpcua,
  check: (stdout) => {
    const lines = stdout.split('\n').filter((line) => line && !NODE_OPCUA_LOG.test(line));
    expect(lines).toEqual([
      'temperature 23.5',
      'counter on the device 7',
      'pushed 23.5',
      'pushed 24.25',
      'state ok',
    ]);
  },
});
