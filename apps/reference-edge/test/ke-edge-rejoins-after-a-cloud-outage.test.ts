import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startSource, type TestProcess, waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cloudMain = new URL('../../reference-cloud/src/main.ts', import.meta.url);
const edgeMain = new URL('../src/main.ts', import.meta.url);
const env = { KE_LOG_FORMAT: 'json' };

let dir: string;
let ports: { websocket: number; https: number };
const started: TestProcess[] = [];

function start(entry: URL, args: string[]): TestProcess {
  const proc = startSource(entry, args, { env });
  started.push(proc);
  return proc;
}

/** ke-cloud on this test's data dir and ports; the same ports after a restart. */
function startCloud(): TestProcess {
  return start(cloudMain, [
    '--data-dir',
    join(dir, 'cloud'),
    '--embeddedAPIServer.port',
    '0',
    '--commonConfig.monitorServer.bindAddress',
    '127.0.0.1:0',
    '--modules.cloudHub.websocket.address',
    '127.0.0.1',
    '--modules.cloudHub.websocket.port',
    String(ports.websocket),
    '--modules.cloudHub.https.address',
    '127.0.0.1',
    '--modules.cloudHub.https.port',
    String(ports.https),
  ]);
}

function startEdge(token?: string): TestProcess {
  return start(edgeMain, [
    '--data-dir',
    join(dir, 'edge'),
    '--node-name',
    'edge-outage-1',
    '--modules.edgeHub.websocket.server',
    `127.0.0.1:${ports.websocket}`,
    '--modules.edgeHub.httpServer',
    `https://127.0.0.1:${ports.https}`,
    '--modules.eventBus.mqttServerInternal',
    'tcp://127.0.0.1:0',
    '--modules.metaManager.metaServer.server',
    '127.0.0.1:0',
    ...(token ? ['--token', token] : []),
  ]);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ke-outage-'));
  ports = { websocket: await freePort(), https: await freePort() };
});

afterAll(async () => {
  for (const proc of started) await proc.stop('SIGKILL', 5_000);
  await rm(dir, { recursive: true, force: true });
});

describe('ke-edge and ke-cloud', () => {
  it('join with a token, survive 30 s without the cloud, and rejoin without one', async () => {
    const tokenProc = start(cloudMain, ['token', 'create', '--data-dir', join(dir, 'cloud')]);
    expect(await tokenProc.exited()).toBe(0);
    const token = tokenProc.lines.join('').trim();

    let cloud = startCloud();
    await cloud.waitForLine(/ke-cloud running/, 60_000);
    const edge = startEdge(token);
    await edge.waitForLine(/node certificate obtained/, 60_000);
    await edge.waitForLine(/connected to the cloud/, 60_000);
    const connected = JSON.parse(await cloud.waitForLine(/"msg":"node connected"/, 30_000));
    expect(connected.node).toBe('edge-outage-1');

    // The cloud goes away for 30 s; the edge notices and keeps trying.
    expect(await cloud.stop('SIGTERM', 30_000)).toBe(0);
    await edge.waitForLine(/disconnected from the cloud/, 30_000);
    const outageEnds = Date.now() + 30_000;
    await new Promise((resolve) => setTimeout(resolve, outageEnds - Date.now()));
    const attempts = edge.lines.filter((line) => line.includes('cannot connect to the cloud'));
    expect(attempts.length).toBeGreaterThan(1);
    // Back-off: far fewer attempts than one a second.
    expect(attempts.length).toBeLessThan(15);

    const reconnectsBefore = edge.lines.filter((l) => /"msg":"connected to the cloud"/.test(l));
    cloud = startCloud();
    await cloud.waitForLine(/ke-cloud running/, 60_000);
    await cloud.waitForLine(/"msg":"node connected"/, 60_000);
    // The cloud may log the connection before the edge does: wait for the edge's line too.
    await waitFor(
      'the edge to report the new connection',
      () =>
        edge.lines.filter((l) => /"msg":"connected to the cloud"/.test(l)).length ===
        reconnectsBefore.length + 1,
      { timeoutMs: 10_000 },
    );

    // A restarted edge reuses its certificate: no token needed.
    expect(await edge.stop('SIGTERM', 30_000)).toBe(0);
    const restarted = startEdge();
    await restarted.waitForLine(/"msg":"connected to the cloud"/, 60_000);
    expect(restarted.lines.join('\n')).not.toContain('node certificate obtained');
    expect(await restarted.stop('SIGTERM', 30_000)).toBe(0);
    expect(await cloud.stop('SIGTERM', 30_000)).toBe(0);
  }, 240_000);
});
