import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CertificateServer, createCertificateServer } from '@ke/cloudhub';
import type { CertifiedKey } from '@ke/pki';
import {
  createBootstrapToken,
  createCertificateAuthority,
  describeCertificate,
  isSignedBy,
  issueCertificate,
} from '@ke/pki';
import { freePort } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapNodeCertificate, CERT_FILES, EdgeHubError, needsRenewal } from '../src/index';

const tokenSecret = 'edgehub-test-secret-0123456789abcdef';
let ca: CertifiedKey;
let cloud: CertificateServer;
let token: string;
const dirs: string[] = [];

async function certDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ke-edgehub-'));
  dirs.push(dir);
  return dir;
}

async function failure(promise: Promise<unknown>): Promise<EdgeHubError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EdgeHubError);
  return error as EdgeHubError;
}

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'edgehub-test-ca' });
  cloud = createCertificateServer({ ca, tokenSecret, port: 0 });
  await cloud.start();
  token = await cloud.createToken(600);
});

afterAll(async () => {
  await cloud?.stop();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('an edge node joining with the right token', () => {
  it('gets a certificate for system:node:<name> and keeps it with safe modes', async () => {
    const parent = await certDir();
    const dir = join(parent, 'certs');
    const identity = await bootstrapNodeCertificate({
      httpServer: cloud.url,
      nodeName: 'edge-1',
      token,
      certDir: dir,
    });
    expect(identity.source).toBe('issued');
    expect(identity.caPem).toBe(ca.certificatePem);
    const info = await describeCertificate(identity.certificatePem);
    expect(info.commonName).toBe('system:node:edge-1');
    expect(info.organizations).toEqual(['system:nodes']);
    expect(await isSignedBy(identity.certificatePem, ca)).toBe(true);

    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, CERT_FILES.privateKey))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, CERT_FILES.ca), 'utf8')).toBe(identity.caPem);
    expect(await readFile(join(dir, CERT_FILES.certificate), 'utf8')).toBe(identity.certificatePem);
    expect(await readFile(join(dir, CERT_FILES.privateKey), 'utf8')).toBe(identity.privateKeyPem);
  });

  it('after a restart reuses the certificate on disk without a token', async () => {
    const dir = await certDir();
    const options = { httpServer: cloud.url, nodeName: 'edge-2', certDir: dir };
    const joined = await bootstrapNodeCertificate({ ...options, token });
    const restarted = await bootstrapNodeCertificate(options);
    expect(restarted.source).toBe('disk');
    expect(restarted.certificatePem).toBe(joined.certificatePem);
    expect(restarted.privateKeyPem).toBe(joined.privateKeyPem);
  });

  it('reuses the disk certificate even when the server is down', async () => {
    const dir = await certDir();
    const joined = await bootstrapNodeCertificate({
      httpServer: cloud.url,
      nodeName: 'edge-3',
      token,
      certDir: dir,
    });
    const again = await bootstrapNodeCertificate({
      httpServer: 'https://127.0.0.1:1',
      nodeName: 'edge-3',
      certDir: dir,
    });
    expect(again).toEqual({ ...joined, source: 'disk' });
  });
});

describe('an edge node does not reuse a certificate that is not its own', () => {
  it('re-joins when the certificate on disk is for another node name', async () => {
    const dir = await certDir();
    await bootstrapNodeCertificate({ httpServer: cloud.url, nodeName: 'old', token, certDir: dir });
    const identity = await bootstrapNodeCertificate({
      httpServer: cloud.url,
      nodeName: 'new',
      token,
      certDir: dir,
    });
    expect(identity.source).toBe('issued');
    expect((await describeCertificate(identity.certificatePem)).commonName).toBe('system:node:new');
  });

  it('re-joins when the certificate on disk was signed by another CA', async () => {
    const dir = await certDir();
    const otherCa = await createCertificateAuthority({ commonName: 'another-cluster' });
    const foreign = await issueCertificate(otherCa, {
      commonName: 'system:node:edge-4',
      usage: 'client',
    });
    await writeFile(join(dir, CERT_FILES.ca), otherCa.certificatePem);
    await writeFile(join(dir, CERT_FILES.certificate), foreign.certificatePem);
    await writeFile(join(dir, CERT_FILES.privateKey), foreign.privateKeyPem);
    // Without a token that CA is self-consistent; the token names this cluster's CA.
    const identity = await bootstrapNodeCertificate({
      httpServer: cloud.url,
      nodeName: 'edge-4',
      token,
      certDir: dir,
    });
    expect(identity.source).toBe('issued');
    expect(identity.caPem).toBe(ca.certificatePem);
    expect(await isSignedBy(identity.certificatePem, ca)).toBe(true);
  });

  it('re-joins when the node certificate is not signed by the CA beside it', async () => {
    const dir = await certDir();
    const otherCa = await createCertificateAuthority({ commonName: 'another-cluster' });
    const foreign = await issueCertificate(otherCa, {
      commonName: 'system:node:edge-5',
      usage: 'client',
    });
    await writeFile(join(dir, CERT_FILES.ca), ca.certificatePem);
    await writeFile(join(dir, CERT_FILES.certificate), foreign.certificatePem);
    await writeFile(join(dir, CERT_FILES.privateKey), foreign.privateKeyPem);
    const without = await failure(
      bootstrapNodeCertificate({ httpServer: cloud.url, nodeName: 'edge-5', certDir: dir }),
    );
    expect(without.code).toBe('KE_EDGEHUB_TOKEN_REQUIRED');
    expect(without.message).toMatch(/not signed by the CA/);
    const identity = await bootstrapNodeCertificate({
      httpServer: cloud.url,
      nodeName: 'edge-5',
      token,
      certDir: dir,
    });
    expect(identity.source).toBe('issued');
  });
});

describe('renewal', () => {
  it('asks for a new certificate when the one on disk is close to expiry', async () => {
    const dir = await certDir();
    const options = { httpServer: cloud.url, nodeName: 'edge-6', certDir: dir };
    const first = await bootstrapNodeCertificate({ ...options, token });
    // A node certificate lives 365 days: with 400 days' notice it is always due.
    expect(await needsRenewal(first.certificatePem, { renewBeforeDays: 400 })).toBe(true);
    expect(await needsRenewal(first.certificatePem, { renewBeforeDays: 30 })).toBe(false);
    const renewed = await bootstrapNodeCertificate({ ...options, token, renewBeforeDays: 400 });
    expect(renewed.source).toBe('renewed');
    expect(renewed.certificatePem).not.toBe(first.certificatePem);
    expect(await readFile(join(dir, CERT_FILES.certificate), 'utf8')).toBe(renewed.certificatePem);
  });

  it('renews with the old certificate alone: no token, a new key, the same name', async () => {
    const dir = await certDir();
    const options = { httpServer: cloud.url, nodeName: 'edge-7', certDir: dir };
    const first = await bootstrapNodeCertificate({ ...options, token });
    const renewed = await bootstrapNodeCertificate({ ...options, renewBeforeDays: 400 });
    expect(renewed.source).toBe('renewed');
    expect(renewed.renewalError).toBeUndefined();
    expect(renewed.privateKeyPem).not.toBe(first.privateKeyPem);
    expect((await describeCertificate(renewed.certificatePem)).commonName).toBe(
      'system:node:edge-7',
    );
    expect(await readFile(join(dir, CERT_FILES.privateKey), 'utf8')).toBe(renewed.privateKeyPem);
  });

  it('keeps the still-valid certificate when renewal fails, and says why', async () => {
    const dir = await certDir();
    const options = { httpServer: cloud.url, nodeName: 'edge-9', certDir: dir };
    const first = await bootstrapNodeCertificate({ ...options, token });
    const port = await freePort();
    const offline = await bootstrapNodeCertificate({
      ...options,
      httpServer: `https://127.0.0.1:${port}`,
      renewBeforeDays: 400,
    });
    expect(offline.source).toBe('disk');
    expect(offline.certificatePem).toBe(first.certificatePem);
    expect(offline.renewalError?.code).toBe('KE_EDGEHUB_CERT_SERVER_UNREACHABLE');
  });

  it('needsRenewal counts from the given time', async () => {
    const dir = await certDir();
    const { certificatePem } = await bootstrapNodeCertificate({
      httpServer: cloud.url,
      nodeName: 'edge-8',
      token,
      certDir: dir,
    });
    const inAYear = new Date(Date.now() + 364 * 24 * 3600_000);
    expect(await needsRenewal(certificatePem, { now: inAYear })).toBe(true);
  });
});

describe('an edge node refused', () => {
  it('with a token signed by another secret gets KE_EDGEHUB_TOKEN_REJECTED', async () => {
    const wrong = await createBootstrapToken({
      caCertificatePem: ca.certificatePem,
      secret: 'another-secret-0123456789abcdefghijkl',
    });
    const error = await failure(
      bootstrapNodeCertificate({
        httpServer: cloud.url,
        nodeName: 'edge-9',
        token: wrong,
        certDir: await certDir(),
      }),
    );
    expect(error.code).toBe('KE_EDGEHUB_TOKEN_REJECTED');
    expect(error.message).toMatch(/invalid token/);
  });

  it('with an expired token gets KE_EDGEHUB_TOKEN_EXPIRED naming the expiry', async () => {
    const expired = await createBootstrapToken({
      caCertificatePem: ca.certificatePem,
      secret: tokenSecret,
      ttlSeconds: 60,
      now: new Date(Date.now() - 3600_000),
    });
    const dir = await certDir();
    const error = await failure(
      bootstrapNodeCertificate({
        httpServer: cloud.url,
        nodeName: 'edge-10',
        token: expired,
        certDir: dir,
      }),
    );
    expect(error.code).toBe('KE_EDGEHUB_TOKEN_EXPIRED');
    expect(error.message).toMatch(/expired at/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('with a token for another CA gets KE_EDGEHUB_CA_MISMATCH', async () => {
    const otherCa = await createCertificateAuthority({ commonName: 'impostor' });
    const forOther = await createBootstrapToken({
      caCertificatePem: otherCa.certificatePem,
      secret: tokenSecret,
    });
    const error = await failure(
      bootstrapNodeCertificate({
        httpServer: cloud.url,
        nodeName: 'edge-11',
        token: forOther,
        certDir: await certDir(),
      }),
    );
    expect(error.code).toBe('KE_EDGEHUB_CA_MISMATCH');
  });

  it('with a token of the wrong shape gets KE_EDGEHUB_TOKEN_MALFORMED', async () => {
    const error = await failure(
      bootstrapNodeCertificate({
        httpServer: cloud.url,
        nodeName: 'edge-12',
        token: 'not-a-token',
        certDir: await certDir(),
      }),
    );
    expect(error.code).toBe('KE_EDGEHUB_TOKEN_MALFORMED');
  });

  it('without a token and with an empty directory gets KE_EDGEHUB_TOKEN_REQUIRED', async () => {
    const error = await failure(
      bootstrapNodeCertificate({
        httpServer: cloud.url,
        nodeName: 'edge-13',
        certDir: await certDir(),
      }),
    );
    expect(error.code).toBe('KE_EDGEHUB_TOKEN_REQUIRED');
  });

  it('when the server is down gets KE_EDGEHUB_CERT_SERVER_UNREACHABLE', async () => {
    const down = createCertificateServer({ ca, tokenSecret, port: 0 });
    await down.start();
    const url = down.url;
    await down.stop();
    const error = await failure(
      bootstrapNodeCertificate({
        httpServer: url,
        nodeName: 'edge-14',
        token,
        certDir: await certDir(),
      }),
    );
    expect(error.code).toBe('KE_EDGEHUB_CERT_SERVER_UNREACHABLE');
  });

  it('when aborted rejects with the signal reason', async () => {
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    await expect(
      bootstrapNodeCertificate({
        httpServer: cloud.url,
        nodeName: 'edge-15',
        token,
        certDir: await certDir(),
        signal: controller.signal,
      }),
    ).rejects.toThrow('shutting down');
  });
});
