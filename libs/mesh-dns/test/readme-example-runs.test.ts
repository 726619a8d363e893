import { describeReadmeExample } from '@ke/testing';
import { expect } from 'vitest';
import * as meshDns from '../src/index';

describeReadmeExample({
  packageDir: new URL('..', import.meta.url),
  exports: meshDns,
  check: (stdout) => {
    expect(stdout).toBe(
      "web: [ '198.18.0.10' ]\n" +
        "postgres: [ '198.18.1.5' ]\n" +
        "srv: [ 'postgres-0.postgres.db.svc.cluster.local:5432' ]\n" +
        "ptr: [ 'postgres-0.postgres.db.svc.cluster.local' ]\n" +
        "web after the update: [ '198.18.0.11' ]\n" +
        'nothing: ENOTFOUND\n',
    );
  },
});
