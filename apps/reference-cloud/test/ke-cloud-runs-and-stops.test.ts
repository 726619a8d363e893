import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSource } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const main = new URL('../src/main.ts', import.meta.url);
const node = (args: string[]) => startSource(main, args, { env: { KE_LOG_FORMAT: 'json' } });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ke-cloud-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ke-cloud', () => {
  it('documents its flags in --help', async () => {
    const proc = node(['--help']);
    expect(await proc.exited()).toBe(0);
    const help = proc.lines.join('\n');
    for (const flag of ['--modules.cloudHub.websocket.port', '--kubeconfig', '--defaultconfig']) {
      expect(help).toContain(flag);
    }
  });

  it('prints a cloudcore-style default config', async () => {
    const proc = node(['--defaultconfig']);
    expect(await proc.exited()).toBe(0);
    const config = parse(proc.lines.join('\n'));
    expect(config.apiVersion).toBe('cloudcore.config.kubeedge.io/v1alpha2');
    expect(config.kind).toBe('CloudCore');
    expect(config.modules.cloudHub.websocket.port).toBe(10000);
    expect(config.modules.cloudHub.https.port).toBe(10002);
  });

  it('refuses an invalid config file, naming the field', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'modules:\n  cloudHub:\n    websocket:\n      port: -1\n');
    const proc = node(['-c', file]);
    expect(await proc.exited()).toBe(2);
    expect(proc.lines.join('\n')).toContain('modules.cloudHub.websocket.port');
  });

  it('starts on a config file with flag overrides, logs what it runs, stops on SIGTERM', async () => {
    const file = join(dir, 'cloudcore.yaml');
    await writeFile(file, 'modules:\n  deviceController:\n    enable: false\n');
    const dataDir = join(dir, 'data');
    const proc = node([
      '-c',
      file,
      '--data-dir',
      dataDir,
      '--modules.cloudHub.nodeLimit',
      '5',
      '--embeddedAPIServer.port',
      '0',
    ]);
    const running = JSON.parse(await proc.waitForLine(/ke-cloud running/));
    expect(running.name).toBe('ke-cloud');
    const logs = proc.lines.map((line) => JSON.parse(line));
    const starting = logs.find((l) => l.msg === 'ke-cloud starting');
    expect(starting.dataDir).toBe(dataDir);
    expect(starting.kubeAPI).toBe('embedded API server');
    const modules = logs.find((l) => l.msg === 'modules');
    expect(modules.disabled).toEqual(['deviceController']);
    const pending = logs.find((l) => l.msg === 'enabled in config but not in this build yet');
    expect(pending.pending).toContain('cloudHub (#4 cloud-edge channel)');
    expect((await stat(dataDir)).isDirectory()).toBe(true);

    expect(await proc.stop('SIGTERM')).toBe(0);
    expect(proc.lines.at(-1)).toContain('stopped cleanly');
  });
});
