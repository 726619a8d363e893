import { describeReadmeExample } from '@ke/testing';
import { expect } from 'vitest';
import * as meshProxy from '../src/index';

describeReadmeExample({
  packageDir: new URL('..', import.meta.url),
  exports: meshProxy,
  check: (stdout) => {
    expect(stdout).toBe(
      'round robin: {"hello from a":2,"hello from b":2}\n' +
        'with a dead endpoint: {"hello from a":3}\n' +
        'failed dials: 1\n',
    );
  },
});
