import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createOpcuaDriver,
  createOpcuaTestServer,
  type OpcuaDriver,
  type OpcuaTestServer,
} from '../src/index';
import { tempPki } from './fixtures';

const user = { userName: 'operator', password: 's3cret' };
const server: OpcuaTestServer = createOpcuaTestServer({ user });
let pki: Awaited<ReturnType<typeof tempPki>>;
const drivers: OpcuaDriver[] = [];

function newDriver(pkiDir = pki.dir): OpcuaDriver {
  const created = createOpcuaDriver({ pkiDir });
  drivers.push(created);
  return created;
}

beforeAll(async () => {
  pki = await tempPki();
  await server.start();
}, 30_000);

afterAll(async () => {
  for (const created of drivers) await created.stop();
  await server.stop();
  await pki?.remove();
});

const temperature = { name: 'temperature', type: 'double' } as const;
const label = { name: 'label', type: 'string' } as const;

describe('secure channels', () => {
  it('SignAndEncrypt with Basic256Sha256 and a user name: reads, writes and subscribes', async () => {
    const driver = newDriver();
    await driver.init({
      url: server.url,
      securityMode: 'SignAndEncrypt',
      securityPolicy: 'Basic256Sha256',
      timeout: 3000,
      ...user,
    });
    expect(await driver.readProperty({ nodeID: 'ns=1;s=Temperature' }, temperature)).toBe('23.5');
    await driver.writeProperty({ nodeID: 'ns=1;s=Label' }, label, 'encrypted');
    expect(server.get('Label')).toBe('encrypted');
    const pushed: string[] = [];
    const unsubscribe = await driver.subscribe({ nodeID: 'ns=1;s=Label' }, label, (v) =>
      pushed.push(v),
    );
    server.set('Label', 'pushed over an encrypted channel');
    await expect
      .poll(() => pushed.includes('pushed over an encrypted channel'), { timeout: 5000 })
      .toBe(true);
    await unsubscribe();
    expect(await driver.deviceState()).toBe('ok');
  }, 20_000);

  it('Sign with the policy given as a URI (Aes128_Sha256_RsaOaep)', async () => {
    const driver = newDriver();
    await driver.init({
      url: server.url,
      securityMode: 'Sign',
      securityPolicy: 'http://opcfoundation.org/UA/SecurityPolicy#Aes128_Sha256_RsaOaep',
      timeout: 3000,
      ...user,
    });
    expect(await driver.readProperty({ nodeID: 'ns=1;s=Temperature' }, temperature)).toBe('23.5');
  }, 20_000);

  it('uses the certificate and private key files the protocol config names', async () => {
    // The key pair the first drivers made in their PKI folder, given as files.
    const certificate = join(pki.dir, 'own', 'certs', 'client_certificate.pem');
    const privateKey = join(pki.dir, 'own', 'private', 'private_key.pem');
    expect(existsSync(certificate) && existsSync(privateKey)).toBe(true);
    const other = await tempPki();
    try {
      const driver = newDriver(other.dir);
      await driver.init({
        url: server.url,
        securityMode: 'SignAndEncrypt',
        securityPolicy: 'Basic256Sha256',
        certificate,
        privateKey,
        timeout: 3000,
        ...user,
      });
      expect(await driver.readProperty({ nodeID: 'ns=1;s=Temperature' }, temperature)).toBe('23.5');
      await driver.stop();
    } finally {
      await other.remove();
    }
  }, 20_000);
});
