import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, reportModules } from '../src/index';

describe('reportModules', () => {
  it('says what runs, what is disabled and what is not built yet', () => {
    const destination = new PassThrough();
    const lines: Record<string, unknown>[] = [];
    destination.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    });
    const logger = createLogger({ name: 't', format: 'json', destination });
    reportModules(
      logger,
      { hub: { enable: true }, twin: { enable: true }, bus: { enable: false } },
      { running: ['hub'], arrivesWith: { twin: '#7' } },
    );
    expect(lines.map((l) => [l.msg, l.running ?? l.pending, l.disabled])).toEqual([
      ['modules', ['hub'], ['bus']],
      ['enabled in config but not in this build yet', ['twin (#7)'], undefined],
    ]);
  });
});
