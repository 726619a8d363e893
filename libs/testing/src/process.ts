import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A child process under test, with its output kept line by line. */
export interface TestProcess {
  readonly child: ChildProcess;
  /** Every stdout and stderr line so far, in arrival order. */
  readonly lines: readonly string[];
  /** Resolves with the first line (past or future) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited(timeoutMs?: number): Promise<number | NodeJS.Signals>;
  /**
   * Sends `signal` (SIGTERM by default) to the process group, as a terminal's Ctrl-C does, and
   * waits for the process to exit.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | NodeJS.Signals>;
}

/**
 * Starts `command` in a process group of its own and records its output. The whole group is
 * killed with SIGKILL if the test process exits first, so a failed test leaves nothing running.
 */
export function startProcess(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): TestProcess {
  const child = spawn(command, [...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is gone already
    }
  };
  const lines: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const onLine = (line: string) => {
    lines.push(line);
    for (const waiter of waiters) {
      if (waiter.pattern.test(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);

  const exit = new Promise<number | NodeJS.Signals>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'SIGKILL'));
  });
  const killOnExit = () => signalGroup('SIGKILL');
  process.once('exit', killOnExit);
  void exit.then(() => process.off('exit', killOnExit));

  const bounded = <T>(promise: Promise<T>, timeoutMs: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; output:\n${lines.join('\n')}`,
          ),
        );
      }, timeoutMs);
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });

  const api: TestProcess = {
    child,
    lines,
    waitForLine(pattern, timeoutMs = 15_000) {
      const seen = lines.find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      let waiter!: { pattern: RegExp; resolve: (line: string) => void };
      const found = new Promise<string>((resolve) => {
        waiter = { pattern, resolve };
        waiters.add(waiter);
      });
      const orExit = Promise.race([
        found,
        exit.then((code) => {
          throw new Error(
            `process exited (${code}) before printing ${pattern}:\n${lines.join('\n')}`,
          );
        }),
      ]);
      return bounded(orExit, timeoutMs, `a line matching ${pattern}`).finally(() =>
        waiters.delete(waiter),
      );
    },
    exited(timeoutMs = 15_000) {
      return bounded(exit, timeoutMs, 'the process to exit');
    },
    stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) signalGroup(signal);
      return api.exited(timeoutMs);
    },
  };
  return api;
}

/**
 * Runs a TypeScript entry point of this repository from source: `@ke/*` imports resolve to
 * their `src/` through the `@ke/source` condition and tsx compiles on the fly, so no build is
 * needed. `env` is added to the test's environment; `netns` runs it inside that network
 * namespace (`/run/netns/<netns>`).
 */
export function startSource(
  entry: string | URL,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; netns?: string } = {},
): TestProcess {
  const file = entry instanceof URL ? entry.pathname : entry;
  const node = [process.execPath, '--conditions=@ke/source', '--import', 'tsx', file, ...args];
  // In a network namespace the test made: nsenter, not `ip netns exec` (that remounts /sys).
  const [command, ...rest] = options.netns
    ? ['nsenter', `--net=/run/netns/${options.netns}`, ...node]
    : node;
  return startProcess(command!, rest, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
  });
}
