import { describeReadmeExample } from '@ke/testing';
import { expect } from 'vitest';
import * as meshTunnel from '../src/index';

describeReadmeExample({
  packageDir: new URL('..', import.meta.url),
  exports: meshTunnel,
  check: (stdout) => {
    expect(stdout).toBe(
      'answer: hello from edge-2\n' +
        'path: p2p\n' +
        'relayed bytes: 0\n' +
        'refused: KE_TUNNEL_NOT_ALLOWED\n',
    );
  },
});
