import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSource, type TestProcess } from './process';

/**
 * A driver script running inside a test's network namespace, and a way to call it: the script
 * serves HTTP on the Unix socket path it gets as its argument (a path crosses the namespace
 * boundary), prints `ready`, and answers `POST /<command>` with JSON — `{ error, code }` and a
 * non-200 status on failure. `exit` asks it to stop.
 */
export interface NetnsDriver {
  readonly process: TestProcess;
  /** Rejects with the driver's error message, and its `code` when it sent one. */
  call<T = unknown>(command: string, body?: unknown): Promise<T>;
  /** Asks it to exit (or kills it after the timeout) and removes its socket directory. */
  close(): Promise<void>;
}

export async function startNetnsDriver(
  script: URL,
  netns: string,
  options: { callTimeoutMs?: number } = {},
): Promise<NetnsDriver> {
  const dir = await mkdtemp(join(tmpdir(), 'ke-driver-'));
  const socketPath = join(dir, 'control.sock');
  const child = startSource(script, [socketPath], { netns });
  await child.waitForLine(/^ready$/, 30_000);
  const call = <T>(command: string, body: unknown = {}) =>
    new Promise<T>((resolve, reject) => {
      const req = request(
        {
          socketPath,
          path: `/${command}`,
          method: 'POST',
          timeout: options.callTimeoutMs ?? 60_000,
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            text += chunk;
          });
          response.on('end', () => {
            const parsed = JSON.parse(text);
            if (response.statusCode !== 200) {
              reject(
                Object.assign(new Error(`${command}: ${parsed.error}`), { code: parsed.code }),
              );
            } else resolve(parsed as T);
          });
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`${command}: timed out`)));
      req.end(JSON.stringify(body));
    });
  return {
    process: child,
    call,
    async close() {
      if (child.child.exitCode === null && child.child.signalCode === null) {
        await call('exit').catch(() => {});
        await child.exited(10_000).catch(() => child.stop('SIGKILL', 5000));
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
