import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CertifiedKey, createCertificateAuthority } from '@ke/pki';

/** What cloudhub needs to give edge nodes their identity, kept in `<dataDir>/cloudhub`. */
export interface CloudHubSecrets {
  /** The CA of edge node certificates (and of cloudhub's serving certificates). */
  readonly ca: CertifiedKey;
  /** The HS256 secret of bootstrap tokens. */
  readonly tokenSecret: string;
  readonly dir: string;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Loads the edge CA and the token secret from `<dataDir>/cloudhub`, creating them on first use
 * (KubeEdge keeps them in the `casecret` and `tokensecret` Secrets; see
 * docs/decisions/0006-cloudhub-secrets-in-the-data-dir.md). `wx` writes make two processes
 * starting at once agree on one CA: the loser reads the winner's files.
 */
export async function loadOrCreateCloudHubSecrets(dataDir: string): Promise<CloudHubSecrets> {
  const dir = join(dataDir, 'cloudhub');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const paths = {
    cert: join(dir, 'ca.crt'),
    key: join(dir, 'ca.key'),
    secret: join(dir, 'token.secret'),
  };
  let certificatePem = await readIfExists(paths.cert);
  let privateKeyPem = await readIfExists(paths.key);
  if (!certificatePem || !privateKeyPem) {
    const ca = await createCertificateAuthority({ commonName: 'kubeedge-ts-edge-ca' });
    await writeFile(paths.key, ca.privateKeyPem, { mode: 0o600 });
    await writeFile(paths.cert, ca.certificatePem, { mode: 0o644 });
    ({ certificatePem, privateKeyPem } = ca);
  }
  let tokenSecret = (await readIfExists(paths.secret))?.trim();
  if (!tokenSecret) {
    tokenSecret = randomBytes(32).toString('hex');
    await writeFile(paths.secret, `${tokenSecret}\n`, { mode: 0o600 });
  }
  return { ca: { certificatePem, privateKeyPem }, tokenSecret, dir };
}
