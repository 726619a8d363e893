import { describeReadmeExample } from '@ke/testing';
import { expect } from 'vitest';
import * as edgedCri from '../src/index';

describeReadmeExample({
  packageDir: new URL('..', import.meta.url),
  exports: edgedCri,
  check: (stdout) => {
    expect(stdout).toMatch(/^web Running 10\.88\.0\.\d+$/m);
  },
});
