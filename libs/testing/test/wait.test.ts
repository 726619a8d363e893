import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { freePort, waitFor } from '../src/index';

describe('freePort and waitFor', () => {
  it('returns a port that can be listened on', async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(port).toBeGreaterThan(0);
  });

  it('picks ports below the ephemeral range, never the same one twice', async () => {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    expect(new Set(ports).size).toBe(20);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(low!);
    }
  });

  it('skips a port that is taken', async () => {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    const span = low! - 20_000;
    const at = (port: number) => (port - 20_000 + 0.5) / span;
    // A port in the range that another server holds (not one freePort handed out before).
    const base = await freePort();
    const held = createServer();
    await new Promise<void>((resolve) => held.listen(base + 1, '127.0.0.1', resolve));
    // The first random pick is the held port, the second one that is free.
    const random = vi.spyOn(Math, 'random');
    random.mockReturnValueOnce(at(base + 1)).mockReturnValueOnce(at(base + 2));
    try {
      expect(await freePort()).toBe(base + 2);
    } finally {
      random.mockRestore();
      await new Promise<void>((resolve) => held.close(() => resolve()));
    }
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
