import { freePort } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createOpcuaDriver,
  createOpcuaTestServer,
  type OpcuaDriver,
  OpcuaError,
  type OpcuaTestServer,
} from '../src/index';
import { codeOf, tempPki } from './fixtures';

const user = { userName: 'operator', password: 's3cret' };
const server: OpcuaTestServer = createOpcuaTestServer({ user });
let pki: Awaited<ReturnType<typeof tempPki>>;
let driver: OpcuaDriver;
const drivers: OpcuaDriver[] = [];

function newDriver(): OpcuaDriver {
  const created = createOpcuaDriver({ pkiDir: pki.dir, reconnectBackoff: { initialMs: 50 } });
  drivers.push(created);
  return created;
}

beforeAll(async () => {
  pki = await tempPki();
  await server.start();
  driver = newDriver();
  await driver.init({ url: server.url, timeout: 2000, ...user });
}, 30_000);

afterAll(async () => {
  for (const created of drivers) await created.stop();
  await server.stop();
  await pki?.remove();
});

const counter = { name: 'counter', type: 'int' } as const;

describe('errors carry distinct codes', () => {
  it('a node the server does not have: KE_OPCUA_NODE_NOT_FOUND', async () => {
    const error = await driver
      .readProperty({ nodeID: 'ns=1;s=NoSuchNode' }, counter)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpcuaError);
    expect((error as OpcuaError).code).toBe('KE_OPCUA_NODE_NOT_FOUND');
    expect((error as OpcuaError).statusCode).toBe('BadNodeIdUnknown');
    expect((error as OpcuaError).message).toMatch('ns=1;s=NoSuchNode');
    expect(await codeOf(driver.writeProperty({ nodeID: 'ns=1;s=NoSuchNode' }, counter, '1'))).toBe(
      'KE_OPCUA_NODE_NOT_FOUND',
    );
  });

  it('a nodeID that is not a node ID, or none: KE_OPCUA_CONFIG_INVALID', async () => {
    expect(await codeOf(driver.readProperty({ nodeID: 'ns=x;q=?' }, counter))).toBe(
      'KE_OPCUA_CONFIG_INVALID',
    );
    expect(await codeOf(driver.readProperty({} as { nodeID: string }, counter))).toBe(
      'KE_OPCUA_CONFIG_INVALID',
    );
  });

  it('a value that does not fit the node type: KE_OPCUA_VALUE_INVALID, nothing written', async () => {
    const visitor = { nodeID: 'ns=1;s=Counter' };
    for (const value of ['abc', '1.5', '2147483648']) {
      expect(await codeOf(driver.writeProperty(visitor, counter, value))).toBe(
        'KE_OPCUA_VALUE_INVALID',
      );
    }
    expect(await codeOf(driver.writeProperty({ nodeID: 'ns=1;s=Running' }, counter, 'maybe'))).toBe(
      'KE_OPCUA_VALUE_INVALID',
    );
    expect(server.get('Counter')).toBe(42);
    expect(await driver.deviceState()).toBe('ok');
  });

  it('a write the server refuses: KE_OPCUA_BAD_STATUS with the status name', async () => {
    // Server_ServerStatus_State is read-only.
    const error = await driver
      .writeProperty({ nodeID: 'i=2259' }, counter, '1')
      .catch((e: unknown) => e);
    expect((error as OpcuaError).code).toBe('KE_OPCUA_BAD_STATUS');
    expect((error as OpcuaError).statusCode).toMatch(/^Bad(NotWritable|UserAccessDenied)$/);
    expect(await driver.deviceState()).toBe('unhealthy');
    await driver.readProperty({ nodeID: 'ns=1;s=Counter' }, counter);
    expect(await driver.deviceState()).toBe('ok');
  });

  it('a wrong password, or none: KE_OPCUA_AUTH_FAILED', async () => {
    const wrong = newDriver();
    const error = await wrong
      .init({ url: server.url, timeout: 2000, userName: 'operator', password: 'nope' })
      .catch((e: unknown) => e);
    expect((error as OpcuaError).code).toBe('KE_OPCUA_AUTH_FAILED');
    expect((error as OpcuaError).message).toMatch('operator');
    expect(await codeOf(newDriver().init({ url: server.url, timeout: 2000 }))).toBe(
      'KE_OPCUA_AUTH_FAILED',
    );
  });

  it('nothing listening: KE_OPCUA_DISCONNECTED', async () => {
    const port = await freePort();
    const error = await newDriver()
      .init({ url: `opc.tcp://127.0.0.1:${port}`, timeout: 1000 })
      .catch((e: unknown) => e);
    expect((error as OpcuaError).code).toBe('KE_OPCUA_DISCONNECTED');
    expect((error as OpcuaError).message).toMatch(`127.0.0.1:${port}`);
  });

  it('a protocol config that cannot work: KE_OPCUA_CONFIG_INVALID before any I/O', async () => {
    const unused = newDriver();
    const bad = [
      {},
      { url: 'http://127.0.0.1:4840' },
      { url: server.url, securityMode: 'Encrypt' },
      { url: server.url, securityMode: 'SignAndEncrypt', securityPolicy: 'Basic999' },
      { url: server.url, securityMode: 'SignAndEncrypt' },
      { url: server.url, timeout: -1 },
      { url: server.url, password: 'x' },
      { url: server.url, certificate: '/tmp/cert.pem' },
    ];
    for (const config of bad) {
      expect(await codeOf(unused.init(config as { url: string })), JSON.stringify(config)).toBe(
        'KE_OPCUA_CONFIG_INVALID',
      );
    }
  });

  it('calls before init() or after stop(): KE_OPCUA_STOPPED', async () => {
    const idle = newDriver();
    expect(await codeOf(idle.readProperty({ nodeID: 'ns=1;s=Counter' }, counter))).toBe(
      'KE_OPCUA_STOPPED',
    );
    expect(await idle.deviceState()).toBe('unknown');
    await idle.init({ url: server.url, timeout: 2000, ...user });
    expect(await idle.readProperty({ nodeID: 'ns=1;s=Counter' }, counter)).toBe('42');
    await idle.stop();
    expect(await codeOf(idle.writeProperty({ nodeID: 'ns=1;s=Counter' }, counter, '1'))).toBe(
      'KE_OPCUA_STOPPED',
    );
    expect(await idle.deviceState()).toBe('unknown');
  });
});
