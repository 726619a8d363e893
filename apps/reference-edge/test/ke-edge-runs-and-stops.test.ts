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
  dir = await mkdtemp(join(tmpdir(), 'ke-edge-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ke-edge', () => {
  it('documents its flags in --help', async () => {
    const proc = node(['--help']);
    expect(await proc.exited()).toBe(0);
    const help = proc.lines.join('\n');
    for (const flag of ['--modules.edgeHub.heartbeat', '--node-name', '--cri-endpoint']) {
      expect(help).toContain(flag);
    }
  });

  it('prints an edgecore-style default config', async () => {
    const proc = node(['--defaultconfig']);
    expect(await proc.exited()).toBe(0);
    const config = parse(proc.lines.join('\n'));
    expect(config.apiVersion).toBe('edgecore.config.kubeedge.io/v1alpha2');
    expect(config.modules.edgeHub.heartbeat).toBe(15);
    expect(config.modules.metaManager.metaServer.server).toBe('127.0.0.1:10550');
  });

  it('rejects a node name that is not a DNS subdomain', async () => {
    const proc = node(['--node-name', 'Bad_Name']);
    expect(await proc.exited()).toBe(2);
    expect(proc.lines.join('\n')).toContain('modules.edged.hostnameOverride');
  });

  it('refuses EdgeMesh settings that cannot work together, naming the field', async () => {
    const tunnelWithoutProxy = node([
      '--modules.edgeMesh.enable',
      'true',
      '--modules.edgeMesh.proxy.enable',
      'false',
      '--modules.edgeMesh.tunnel.enable',
      'true',
      '--modules.edgeMesh.tunnel.servers',
      '127.0.0.1:10004',
    ]);
    expect(await tunnelWithoutProxy.exited()).toBe(2);
    expect(tunnelWithoutProxy.lines.join('\n')).toContain('modules.edgeMesh.tunnel.enable');
    const tunnelWithoutServers = node([
      '--modules.edgeMesh.enable',
      'true',
      '--modules.edgeMesh.tunnel.enable',
      'true',
    ]);
    expect(await tunnelWithoutServers.exited()).toBe(2);
    expect(tunnelWithoutServers.lines.join('\n')).toContain('modules.edgeMesh.tunnel.servers');
  });

  it('starts with file, flags and labels, logs what it runs, stops on SIGINT', async () => {
    const file = join(dir, 'edgecore.yaml');
    await writeFile(file, 'modules:\n  edged:\n    hostnameOverride: from-file\n');
    const dataDir = join(dir, 'data');
    const proc = node([
      '-c',
      file,
      '--data-dir',
      dataDir,
      '--node-name',
      'edge-node-7',
      '--modules.edged.nodeLabels',
      'region=hangzhou',
      '--modules.eventBus.mqttServerInternal',
      'tcp://127.0.0.1:0',
      '--modules.metaManager.metaServer.server',
      '127.0.0.1:0',
      // Nothing listens there: the edge keeps trying while the test looks at the rest.
      '--modules.edgeHub.websocket.server',
      '127.0.0.1:9',
      '--modules.edgeHub.httpServer',
      'https://127.0.0.1:9',
    ]);
    const running = JSON.parse(await proc.waitForLine(/ke-edge running/));
    expect(running.nodeName).toBe('edge-node-7');
    const starting = proc.lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'ke-edge starting');
    expect(starting.database).toBe(join(dataDir, 'edgecore.db'));
    expect(starting.runtime).toBe('simulated');
    expect((await stat(dataDir)).isDirectory()).toBe(true);
    const store = proc.lines
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'metadata store ready');
    expect(store.database).toBe(join(dataDir, 'edgecore.db'));
    expect((await stat(store.database)).isFile()).toBe(true);
    const pods = await fetch(`${store.metaServer}/api/v1/pods`);
    expect(pods.status).toBe(200);
    expect(((await pods.json()) as { items: unknown[] }).items).toEqual([]);

    expect(await proc.stop('SIGINT')).toBe(0);
    expect(proc.lines.at(-1)).toContain('stopped cleanly');
  });
});
