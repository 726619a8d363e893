import { waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpcuaDriver, createOpcuaTestServer, type OpcuaTestServer } from '../src/index';
import { codeOf, tempPki } from './fixtures';

const server: OpcuaTestServer = createOpcuaTestServer();
let pki: Awaited<ReturnType<typeof tempPki>>;

beforeAll(async () => {
  pki = await tempPki();
  await server.start();
}, 30_000);

afterAll(async () => {
  await server.stop();
  await pki?.remove();
});

const temperature = { name: 'temperature', type: 'double' } as const;
const visitor = { nodeID: 'ns=1;s=Temperature' };

describe('stop() leaves nothing behind', () => {
  it('closes its session, channel and subscription; init() and stop() can repeat', async () => {
    const driver = createOpcuaDriver({ pkiDir: pki.dir });
    for (let i = 0; i < 10; i++) {
      await driver.init({ url: server.url, timeout: 2000 });
      const unsubscribe = await driver.subscribe(visitor, temperature, () => undefined);
      expect(server.stats()).toMatchObject({ sessions: 1, subscriptions: 1 });
      expect(await driver.readProperty(visitor, temperature)).toBe('23.5');
      if (i % 2 === 0) await unsubscribe();
      await driver.stop();
    }
    await waitFor('the server to see every session and channel closed', () => {
      const { channels, sessions, subscriptions } = server.stats();
      return channels + sessions + subscriptions === 0 ? true : undefined;
    });
    expect(await codeOf(driver.readProperty(visitor, temperature))).toBe('KE_OPCUA_STOPPED');
  }, 60_000);

  it('stop() during init() ends the attempt', async () => {
    const driver = createOpcuaDriver({ pkiDir: pki.dir });
    const pending = codeOf(driver.init({ url: server.url, timeout: 2000 }));
    await driver.stop();
    expect(await pending).toBe('KE_OPCUA_STOPPED');
    expect(await driver.deviceState()).toBe('unknown');
    await waitFor('no session left', () => (server.stats().sessions === 0 ? true : undefined));
  }, 20_000);
});
