import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../src/index';

describe('freePort and waitFor', () => {
  it('returns a port that can be listened on', async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(port).toBeGreaterThan(0);
  });

  it('resolves with the first truthy value', async () => {
    let calls = 0;
    const value = await waitFor('third call', () => (++calls >= 3 ? calls : undefined), {
      intervalMs: 1,
    });
    expect(value).toBe(3);
  });

  it('names what it waited for when it times out', async () => {
    await expect(waitFor('the impossible', () => false, { timeoutMs: 30 })).rejects.toThrow(
      /timed out after 30 ms waiting for the impossible/,
    );
  });
});
