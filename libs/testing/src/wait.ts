import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Lowest port `freePort` picks from; below it are well-known and project defaults (10000…). */
const FIRST_PICKED_PORT = 20_000;

/**
 * The kernel's ephemeral range (`net.ipv4.ip_local_port_range`): ports it hands to `listen(0)`
 * and to outgoing connections, i.e. ports any process may take at any moment.
 */
function ephemeralRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low !== undefined && high !== undefined && low > 0 && high >= low) return { low, high };
  } catch {
    // not Linux: Linux's default
  }
  return { low: 32_768, high: 60_999 };
}

/** Ports this process handed out, never handed out twice. */
const handedOut = new Set<number>();

function listenOnce(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(undefined);
      else reject(error);
    });
    server.listen(port, host, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port of a probe listener'));
      });
    });
  });
}

/**
 * A TCP port that was free on `host` a moment ago, for a process a test starts (and perhaps
 * restarts on the same port). It is picked at random below the kernel's ephemeral range, so no
 * `listen(0)` and no outgoing connection of another process takes it between the pick and the
 * bind, or while the test restarts the process that owns it. Falls back to `listen(0)`.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const { low } = ephemeralRange();
  const span = low - FIRST_PICKED_PORT;
  for (let attempt = 0; span > 1000 && attempt < 50; attempt++) {
    const port = FIRST_PICKED_PORT + Math.floor(Math.random() * span);
    if (handedOut.has(port)) continue;
    if ((await listenOnce(port, host)) === port) {
      handedOut.add(port);
      return port;
    }
  }
  const port = await listenOnce(0, host);
  if (port === undefined) throw new Error(`no free port on ${host}`);
  return port;
}

/**
 * Polls `probe` until it returns a value other than `undefined`/`false`, or fails after
 * `timeoutMs` with `what` in the message. For conditions that have no event to wait on.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 10_000, intervalMs = 25 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const suffix = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${suffix}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
