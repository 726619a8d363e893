import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, runUntilSignal } from '../src/index';

function fakeProcess() {
  const emitter = new EventEmitter();
  const exits: number[] = [];
  return Object.assign(emitter, {
    exits,
    exit: (code: number) => {
      exits.push(code);
    },
  });
}

function logCapture() {
  const destination = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  destination.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
  });
  return { logger: createLogger({ name: 't', format: 'json', destination }), lines };
}

describe('runUntilSignal', () => {
  it('starts, waits for SIGTERM, stops and returns 0', async () => {
    const proc = fakeProcess();
    const { logger, lines } = logCapture();
    const calls: string[] = [];
    const done = runUntilSignal(
      {
        start: async () => {
          calls.push('start');
          queueMicrotask(() => proc.emit('SIGTERM', 'SIGTERM'));
        },
        stop: async () => {
          calls.push('stop');
        },
      },
      { logger, process: proc },
    );
    expect(await done).toBe(0);
    expect(calls).toEqual(['start', 'stop']);
    expect(lines.map((l) => l.msg)).toEqual(['stopping', 'stopped cleanly']);
    expect(proc.listenerCount('SIGINT') + proc.listenerCount('SIGTERM')).toBe(0);
  });

  it('returns 1 and still stops when start fails', async () => {
    const proc = fakeProcess();
    const { logger } = logCapture();
    let stopped = false;
    const code = await runUntilSignal(
      {
        start: async () => {
          throw new Error('port in use');
        },
        stop: async () => {
          stopped = true;
        },
      },
      { logger, process: proc },
    );
    expect(code).toBe(1);
    expect(stopped).toBe(true);
    expect(proc.listenerCount('SIGINT')).toBe(0);
  });

  it('returns 1 when stop outlives its timeout', async () => {
    const proc = fakeProcess();
    const { logger, lines } = logCapture();
    const code = runUntilSignal(
      {
        start: async () => {
          queueMicrotask(() => proc.emit('SIGINT', 'SIGINT'));
        },
        stop: () => new Promise<void>(() => {}),
      },
      { logger, process: proc, stopTimeoutMs: 20 },
    );
    expect(await code).toBe(1);
    expect(lines.at(-1)?.msg).toBe('stop failed');
  });

  it('ignores SIGTERM while stopping', async () => {
    const proc = fakeProcess();
    const { logger } = logCapture();
    const code = await runUntilSignal(
      {
        start: async () => {
          queueMicrotask(() => proc.emit('SIGINT', 'SIGINT'));
        },
        stop: async () => {
          proc.emit('SIGTERM', 'SIGTERM');
        },
      },
      { logger, process: proc, duplicateSignalWindowMs: 0 },
    );
    expect(code).toBe(0);
    expect(proc.exits).toEqual([]);
  });

  it('keeps ignoring signals after a clean stop when it owns the process', async () => {
    const proc = fakeProcess();
    const { logger } = logCapture();
    const code = await runUntilSignal(
      {
        start: async () => {
          queueMicrotask(() => proc.emit('SIGTERM', 'SIGTERM'));
        },
        stop: async () => {},
      },
      { logger, process: proc, releaseSignals: false },
    );
    expect(code).toBe(0);
    expect(proc.listenerCount('SIGTERM')).toBe(1);
    proc.emit('SIGTERM', 'SIGTERM');
    proc.emit('SIGINT', 'SIGINT');
    expect(proc.exits).toEqual([]);
  });

  it('treats a signal right after the first as a duplicate (npm run forwards Ctrl-C)', async () => {
    const proc = fakeProcess();
    const { logger } = logCapture();
    const code = await runUntilSignal(
      {
        start: async () => {
          queueMicrotask(() => proc.emit('SIGINT', 'SIGINT'));
        },
        stop: async () => {
          proc.emit('SIGINT', 'SIGINT');
        },
      },
      { logger, process: proc },
    );
    expect(code).toBe(0);
    expect(proc.exits).toEqual([]);
  });

  it('exits at once on a second Ctrl-C while stopping', async () => {
    const proc = fakeProcess();
    const { logger } = logCapture();
    let release = () => {};
    const code = runUntilSignal(
      {
        start: async () => {
          queueMicrotask(() => proc.emit('SIGINT', 'SIGINT'));
        },
        stop: () =>
          new Promise<void>((resolve) => {
            release = resolve;
            queueMicrotask(() => proc.emit('SIGINT', 'SIGINT'));
          }),
      },
      { logger, process: proc, stopTimeoutMs: 5_000, duplicateSignalWindowMs: 0 },
    );
    await new Promise<void>((resolve) => {
      const check = () => (proc.exits.length > 0 ? resolve() : setImmediate(check));
      check();
    });
    expect(proc.exits).toEqual([130]);
    release();
    expect(await code).toBe(0);
  });
});
