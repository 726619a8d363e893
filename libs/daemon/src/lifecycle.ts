import type { Logger } from 'pino';
import { DaemonError } from './errors';

/** What a daemon runs: started once, stopped once. */
export interface Component {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The part of `process` the lifecycle uses; tests pass an EventEmitter with `exit`. */
export interface SignalTarget {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  once(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

export interface RunOptions {
  readonly logger: Logger;
  /** How long `stop()` may take before the process gives up and exits non-zero. */
  readonly stopTimeoutMs?: number;
  /**
   * A SIGINT this soon after the first counts as the same one: `npm run` forwards the terminal's
   * Ctrl-C to a child that has already received it from the terminal.
   */
  readonly duplicateSignalWindowMs?: number;
  /**
   * Remove the signal listeners when done (default). A daemon that owns its process passes
   * `false`, so a signal arriving between the clean stop and the process exit is ignored
   * instead of killing the process with the default action.
   */
  readonly releaseSignals?: boolean;
  /** The process to attach to; tests pass a stand-in. */
  readonly process?: SignalTarget;
}

/**
 * Starts `component` and stops it on the first SIGINT or SIGTERM. While stopping, another
 * SIGTERM is ignored (a supervisor escalates with SIGKILL on its own), and another SIGINT — a
 * second Ctrl-C — exits at once with 130. Resolves with the exit code: 0 after a clean stop, 1
 * when start or stop failed or stop took longer than `stopTimeoutMs`.
 */
export async function runUntilSignal(component: Component, options: RunOptions): Promise<number> {
  const proc = options.process ?? process;
  const { logger } = options;
  const stopTimeoutMs = options.stopTimeoutMs ?? 15_000;
  const duplicateWindowMs = options.duplicateSignalWindowMs ?? 1_000;

  // One listener for the whole run: removing and re-adding listeners would leave moments in
  // which the default action (termination) applies.
  let phase: 'running' | 'stopping' | 'done' = 'running';
  let firstSignalAt = 0;
  let requestStop: (signal: NodeJS.Signals) => void = () => {};
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
    requestStop = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (phase === 'running') {
      phase = 'stopping';
      firstSignalAt = Date.now();
      requestStop(signal);
    } else if (
      phase === 'stopping' &&
      signal === 'SIGINT' &&
      Date.now() - firstSignalAt >= duplicateWindowMs
    ) {
      logger.warn({ signal }, 'second Ctrl-C while stopping: exiting now');
      proc.exit(130);
    }
  };
  proc.on('SIGINT', onSignal);
  proc.on('SIGTERM', onSignal);
  const release = () => {
    phase = 'done';
    if (options.releaseSignals === false) return;
    proc.off('SIGINT', onSignal);
    proc.off('SIGTERM', onSignal);
  };

  try {
    await component.start();
  } catch (error) {
    logger.error({ err: error }, 'start failed');
    await component.stop().catch((stopError: unknown) => {
      logger.error({ err: stopError }, 'stop after failed start failed');
    });
    release();
    return 1;
  }

  // A daemon runs until it is told to stop, even when none of its components holds the event
  // loop open (Node would otherwise end the process with exit code 13, an unsettled await).
  const keepAlive = setInterval(() => {}, 2 ** 30);
  const signal = await stopRequested;
  clearInterval(keepAlive);
  logger.info({ signal }, 'stopping');

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new DaemonError('KE_DAEMON_STOP_TIMEOUT', `stop did not finish in ${stopTimeoutMs} ms`),
        ),
      stopTimeoutMs,
    );
    timer.unref();
  });
  try {
    await Promise.race([component.stop(), timeout]);
    logger.info('stopped cleanly');
    return 0;
  } catch (error) {
    logger.error({ err: error }, 'stop failed');
    return 1;
  } finally {
    clearTimeout(timer);
    release();
  }
}
