import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeviceManagerClient, createDeviceManagerServer } from '../src/index';

describe('servers start and stop cleanly', () => {
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dmi-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const handles = () =>
    process.getActiveResourcesInfo().filter((type) => type !== 'TTYWrap' && type !== 'Timeout');

  it('starts and stops 20 times, answering each time, without leaking handles or the socket', async () => {
    const socketPath = join(dir, 'dmi.sock');
    let registrations = 0;
    const server = createDeviceManagerServer({
      socketPath,
      handlers: {
        mapperRegister: () => {
          registrations++;
          return {};
        },
      },
    });
    const before = handles().length;
    for (let round = 0; round < 20; round++) {
      await server.start();
      expect(existsSync(socketPath)).toBe(true);
      const client = createDeviceManagerClient({ endpoint: server.endpoint });
      await client.mapperRegister({ mapper: { name: `mapper-${round}` } });
      client.close();
      await server.stop();
      expect(existsSync(socketPath)).toBe(false);
    }
    expect(registrations).toBe(20);
    // Sockets close asynchronously after stop(); what is left must not grow with the rounds.
    expect(handles().length).toBeLessThanOrEqual(before + 2);
  });

  it('start() and stop() are idempotent', async () => {
    const server = createDeviceManagerServer({ socketPath: join(dir, 'twice.sock'), handlers: {} });
    await Promise.all([server.start(), server.start()]);
    await server.stop();
    await server.stop();
    expect(existsSync(server.socketPath)).toBe(false);
  });

  it('replaces a stale socket left by a server that died', async () => {
    const socketPath = join(dir, 'stale.sock');
    // A process that listens there and is killed: its socket file stays, as a crash leaves it.
    const listener = spawn(
      process.execPath,
      [
        '-e',
        `require('node:net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('ready'))`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await once(listener.stdout, 'data');
    listener.kill('SIGKILL');
    await once(listener, 'exit');
    expect(existsSync(socketPath)).toBe(true);

    const server = createDeviceManagerServer({
      socketPath,
      handlers: { reportDeviceStates: () => {} },
    });
    await server.start();
    const client = createDeviceManagerClient({ endpoint: socketPath });
    await client.reportDeviceStates({ deviceName: 'd', state: 'online' });
    client.close();
    await server.stop();
  });

  it('creates the socket directory, and refuses to replace a file that is not a socket', async () => {
    const nested = createDeviceManagerServer({
      socketPath: join(dir, 'run', 'kubeedge', 'dmi.sock'),
      handlers: {},
    });
    await nested.start();
    await nested.stop();

    const file = join(dir, 'not-a-socket');
    await writeFile(file, 'keep me');
    const server = createDeviceManagerServer({ socketPath: file, handlers: {} });
    await expect(server.start()).rejects.toMatchObject({ code: 'KE_DMI_INVALID_ARGUMENT' });
    expect(existsSync(file)).toBe(true);
  });
});
