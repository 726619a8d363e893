import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createOpcuaDriver,
  createOpcuaTestServer,
  type OpcuaDriver,
  type OpcuaTestServer,
  type PropertyType,
} from '../src/index';
import { tempPki } from './fixtures';

const server: OpcuaTestServer = createOpcuaTestServer({
  variables: {
    Temperature: { dataType: 'Double', value: 23.5 },
    Ratio: { dataType: 'Float', value: 1.1 },
    Counter: { dataType: 'Int32', value: 42 },
    Small: { dataType: 'Int16', value: -7 },
    Big: { dataType: 'Int64', value: -9007199254740993n },
    Word: { dataType: 'UInt16', value: 65535 },
    Dword: { dataType: 'UInt32', value: 4294967295 },
    Huge: { dataType: 'UInt64', value: 18446744073709551615n },
    Level: { dataType: 'Byte', value: 200 },
    Running: { dataType: 'Boolean', value: true },
    Label: { dataType: 'String', value: 'boiler' },
  },
});
let driver: OpcuaDriver;
let pki: Awaited<ReturnType<typeof tempPki>>;

beforeAll(async () => {
  pki = await tempPki();
  await server.start();
  driver = createOpcuaDriver({ pkiDir: pki.dir });
  await driver.init({ url: server.url, timeout: 3000 });
}, 30_000);

afterAll(async () => {
  await driver?.stop();
  await server.stop();
  await pki?.remove();
});

const property = (name: string, type: PropertyType) => ({ name, type });

describe('reads and writes each OPC UA type as a twin string', () => {
  const cases: [string, PropertyType, string, string, unknown][] = [
    ['Temperature', 'double', '23.5', '-1234.5678', -1234.5678],
    ['Ratio', 'float', '1.1', '0.3', 0.3],
    ['Counter', 'int', '42', '-2147483648', -2147483648],
    ['Small', 'int', '-7', '32767', 32767],
    ['Big', 'int', '-9007199254740993', '9223372036854775807', 9223372036854775807n],
    ['Word', 'int', '65535', '0', 0],
    ['Dword', 'int', '4294967295', '123456789', 123456789],
    ['Huge', 'int', '18446744073709551615', '18446744073709551614', 18446744073709551614n],
    ['Level', 'int', '200', '7', 7],
    ['Running', 'boolean', 'true', 'false', false],
    ['Label', 'string', 'boiler', 'chiller 2', 'chiller 2'],
  ];
  for (const [name, type, initial, written, onServer] of cases) {
    it(`${name}: reads ${initial}, writes ${written}`, async () => {
      const visitor = { nodeID: server.nodeId(name) };
      expect(await driver.readProperty(visitor, property(name, type))).toBe(initial);
      await driver.writeProperty(visitor, property(name, type), written);
      expect(server.get(name)).toEqual(onServer);
      expect(await driver.readProperty(visitor, property(name, type))).toBe(written);
    });
  }

  it('sees a value the server changed on the next read', async () => {
    server.set('Counter', 7);
    expect(await driver.readProperty({ nodeID: 'ns=1;s=Counter' }, property('c', 'int'))).toBe('7');
  });

  it('reads a standard node by numeric id', async () => {
    // Server_ServerStatus_State: 0 is Running.
    expect(await driver.readProperty({ nodeID: 'i=2259' }, property('state', 'int'))).toBe('0');
    expect(await driver.deviceState()).toBe('ok');
  });
});
