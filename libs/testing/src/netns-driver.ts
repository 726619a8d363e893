import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
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

/**
 * One call to a driver listening on `socketPath` (see {@link NetnsDriver}): `POST /<command>`
 * with `body` as JSON; rejects with the driver's error message and `code`, or on `timeoutMs`.
 */
export function callNetnsDriver<T = unknown>(
  socketPath: string,
  command: string,
  body: unknown = {},
  timeoutMs = 60_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const req = request(
      { socketPath, path: `/${command}`, method: 'POST', timeout: timeoutMs },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => {
          const parsed = JSON.parse(text);
          if (response.statusCode !== 200) {
            reject(Object.assign(new Error(`${command}: ${parsed.error}`), { code: parsed.code }));
          } else resolve(parsed as T);
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${command}: timed out`)));
    req.end(JSON.stringify(body));
  });
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
    callNetnsDriver<T>(socketPath, command, body, options.callTimeoutMs ?? 60_000);
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

/** A driver's commands: each gets the JSON body of its call and resolves with the answer. */
export type NetnsDriverCommands = Record<
  string,
  (body: Record<string, unknown>) => Promise<unknown>
>;

/**
 * The driver's side of {@link startNetnsDriver}: serves `commands` on `socketPath` (`POST
 * /<command>` with a JSON body, JSON answers; a failure answers 500 with `{ error, code }`), and
 * prints `ready` once it listens. The script's `exit` command is its own to write.
 */
export function serveNetnsDriver(socketPath: string, commands: NetnsDriverCommands): Server {
  const control = createServer(async (request, response) => {
    let raw = '';
    for await (const chunk of request) raw += chunk;
    const command = commands[(request.url ?? '/').slice(1)];
    try {
      if (!command) throw new Error(`unknown command ${request.url}`);
      const result = await command(raw ? JSON.parse(raw) : {});
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(result ?? null));
    } catch (error) {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          error: (error as Error).message,
          code: (error as { code?: string }).code,
        }),
      );
    }
  });
  control.listen(socketPath, () => console.log('ready'));
  return control;
}
