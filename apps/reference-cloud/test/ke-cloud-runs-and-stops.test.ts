import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tokenMatchesCa, verifyBootstrapToken } from '@ke/pki';
import { startSource } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FREE_PORT_FLAGS } from './free-ports';

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
      ...FREE_PORT_FLAGS,
    ]);
    const running = JSON.parse(await proc.waitForLine(/ke-cloud running/));
    expect(running.name).toBe('ke-cloud');
    const logs = proc.lines.map((line) => JSON.parse(line));
    const starting = logs.find((l) => l.msg === 'ke-cloud starting');
    expect(starting.dataDir).toBe(dataDir);
    expect(starting.kubeAPI).toBe('embedded API server');
    const modules = logs.find((l) => l.msg === 'modules');
    expect(modules.disabled).toEqual(['deviceController', 'tunnelServer']);
    expect(modules.running).toEqual(['cloudHub', 'edgeController']);
    const pending = logs.find((l) => l.msg === 'enabled in config but not in this build yet');
    expect(pending.pending.join(' ')).not.toMatch(/cloudHub|edgeController/);
    const hub = logs.find((l) => l.msg === 'cloudhub ready for edge nodes');
    expect(hub.websocket).toMatch(/^wss:\/\/0\.0\.0\.0:\d+$/);
    expect(hub.certificates).toMatch(/^https:\/\/0\.0\.0\.0:\d+$/);
    for (const name of ['ca.crt', 'ca.key', 'token.secret']) {
      expect((await stat(join(dataDir, 'cloudhub', name))).isFile()).toBe(true);
    }
    expect((await stat(join(dataDir, 'cloudhub', 'ca.key'))).mode & 0o777).toBe(0o600);

    const monitor = logs.find((l) => l.msg === 'monitor server listening');
    const health = await fetch(monitor.health);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok\n');
    const metrics = await (await fetch(monitor.metrics)).text();
    for (const name of [
      'cloudhub_connected_nodes 0',
      'cloudhub_queue_depth 0',
      'cloudhub_messages_sent_total',
      'cloudhub_messages_acked_total',
      'cloudhub_messages_retried_total',
      'cloudhub_messages_dropped_total',
      'cloudhub_bytes_sent_total',
      'process_resident_memory_bytes',
    ]) {
      expect(metrics).toContain(name);
    }
    expect((await fetch(`${monitor.metrics.replace('/metrics', '/nope')}`)).status).toBe(404);

    expect(await proc.stop('SIGTERM')).toBe(0);
    expect(proc.lines.at(-1)).toContain('stopped cleanly');
  });

  it('token create prints a token for the data dir, valid for --ttl', async () => {
    const dataDir = join(dir, 'token-data');
    const proc = node(['token', 'create', '--ttl', '2h', '--data-dir', dataDir]);
    expect(await proc.exited()).toBe(0);
    const token = proc.lines.join('').trim();
    const ca = await readFile(join(dataDir, 'cloudhub', 'ca.crt'), 'utf8');
    const secret = (await readFile(join(dataDir, 'cloudhub', 'token.secret'), 'utf8')).trim();
    expect(await tokenMatchesCa(token, ca)).toBe(true);
    const { expiresAt } = await verifyBootstrapToken(token, { caCertificatePem: ca, secret });
    const hours = (expiresAt.getTime() - Date.now()) / 3600_000;
    expect(hours).toBeGreaterThan(1.9);
    expect(hours).toBeLessThanOrEqual(2);

    // Again: the same CA and secret, a new token.
    const again = node(['token', 'create', '--data-dir', dataDir]);
    expect(await again.exited()).toBe(0);
    expect(await tokenMatchesCa(again.lines.join('').trim(), ca)).toBe(true);
  });

  it('token create refuses a bad --ttl and an unknown subcommand', async () => {
    const bad = node(['token', 'create', '--ttl', 'soon', '--data-dir', join(dir, 'x')]);
    expect(await bad.exited()).toBe(1);
    expect(bad.lines.join('\n')).toContain('--ttl "soon"');
    const unknown = node(['token', 'list']);
    expect(await unknown.exited()).toBe(2);
  });
});
