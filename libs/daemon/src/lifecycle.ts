import type { Logger } from 'pino';
import { DaemonError } from './errors';

/** What a daemon runs: started once, stopped once. */
export interface Component {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface RunOptions {
  readonly logger: Logger;
  /** How long `stop()` may take before the process gives up and exits non-zero. */
  readonly stopTimeoutMs?: number;
  /**
   * A signal this soon after the first counts as the same one: `npm run` forwards the terminal's
   * Ctrl-C to a child that has already received it from the terminal.
   */
  readonly duplicateSignalWindowMs?: number;
  /** The process to attach to; tests pass a stand-in. */
  readonly process?: Pick<NodeJS.Process, 'once' | 'off' | 'exit'>;
}

/**
 * Starts `component` and stops it on the first SIGINT or SIGTERM. A second signal while stopping
 * exits at once. Resolves with the exit code: 0 after a clean stop, 1 when start or stop failed
 * or stop took longer than `stopTimeoutMs`.
 */
export async function runUntilSignal(component: Component, options: RunOptions): Promise<number> {
  const proc = options.process ?? process;
  const { logger } = options;
  const stopTimeoutMs = options.stopTimeoutMs ?? 15_000;
  const duplicateWindowMs = options.duplicateSignalWindowMs ?? 1_000;

  let onSignal: (signal: NodeJS.Signals) => void = () => {};
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = resolve;
  });
  proc.once('SIGINT', onSignal);
  proc.once('SIGTERM', onSignal);
  const detach = () => {
    proc.off('SIGINT', onSignal);
    proc.off('SIGTERM', onSignal);
  };

  try {
    await component.start();
  } catch (error) {
    detach();
    logger.error({ err: error }, 'start failed');
    await component.stop().catch((stopError: unknown) => {
      logger.error({ err: stopError }, 'stop after failed start failed');
    });
    return 1;
  }

  const signal = await signalled;
  detach();
  logger.info({ signal }, 'stopping');
  const firstSignalAt = Date.now();
  const forceExit = (second: NodeJS.Signals) => {
    if (Date.now() - firstSignalAt < duplicateWindowMs) return;
    logger.warn({ signal: second }, 'second signal while stopping: exiting now');
    proc.exit(130);
  };
  proc.on('SIGINT', forceExit);
  proc.on('SIGTERM', forceExit);

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
    proc.off('SIGINT', forceExit);
    proc.off('SIGTERM', forceExit);
  }
}
