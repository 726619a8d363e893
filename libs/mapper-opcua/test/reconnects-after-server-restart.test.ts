import { waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createOpcuaDriver,
  createOpcuaTestServer,
  type OpcuaDriver,
  type OpcuaTestServer,
} from '../src/index';
import { codeOf, tempPki } from './fixtures';

const server: OpcuaTestServer = createOpcuaTestServer();
let pki: Awaited<ReturnType<typeof tempPki>>;
let driver: OpcuaDriver;
const temperature = { name: 'temperature', type: 'double' } as const;
const visitor = { nodeID: 'ns=1;s=Temperature' };

beforeAll(async () => {
  pki = await tempPki();
  await server.start();
  driver = createOpcuaDriver({
    pkiDir: pki.dir,
    reconnectBackoff: { initialMs: 100, maxMs: 400 },
    samplingIntervalMs: 0,
  });
  await driver.init({ url: server.url, timeout: 2000 });
}, 30_000);

afterAll(async () => {
  await driver?.stop();
  await server.stop();
  await pki?.remove();
});

describe('a server that stops and comes back', () => {
  it('is disconnected while it is down, ok again once it is back, and reads work again', async () => {
    const pushed: string[] = [];
    const unsubscribe = await driver.subscribe(visitor, temperature, (v) => pushed.push(v));
    await waitFor('the first value pushed', () => pushed.includes('23.5'));
    expect(await driver.deviceState()).toBe('ok');

    await server.stop();
    await waitFor('the driver to see the server gone', async () =>
      (await driver.deviceState()) === 'disconnected' ? true : undefined,
    );
    expect(await codeOf(driver.readProperty(visitor, temperature))).toBe('KE_OPCUA_DISCONNECTED');

    server.set('Temperature', 19.25);
    await server.start();
    await waitFor(
      'the driver to reconnect',
      async () => ((await driver.deviceState()) === 'ok' ? true : undefined),
      { timeoutMs: 20_000 },
    );
    expect(await driver.readProperty(visitor, temperature)).toBe('19.25');

    // node-opcua made a new session on the new server and moved the subscription to it.
    server.set('Temperature', 20.5);
    await waitFor('a change pushed after the restart', () => pushed.includes('20.5'), {
      timeoutMs: 10_000,
    });
    await unsubscribe();
  }, 40_000);

  it('restart() keeps the port and the values written by clients', async () => {
    const counter = { name: 'counter', type: 'int' } as const;
    await driver.writeProperty({ nodeID: 'ns=1;s=Counter' }, counter, '77');
    const port = server.port;
    await server.restart();
    expect(server.port).toBe(port);
    expect(server.get('Counter')).toBe(77);
    const value = await waitFor(
      'a read after the restart',
      () => driver.readProperty({ nodeID: 'ns=1;s=Counter' }, counter),
      { timeoutMs: 20_000 },
    );
    expect(value).toBe('77');
  }, 40_000);
});
