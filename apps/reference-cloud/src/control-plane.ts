import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ApiServer, createApiServer, createSqliteStore } from '@ke/apiserver';
import type { Logger } from '@ke/daemon';
import { type CertifiedKey, createCertificateAuthority, issueCertificate } from '@ke/pki';
import { stringify } from 'yaml';

/** The certificates of the embedded control plane, kept under `<dataDir>/pki`. */
interface ControlPlanePki {
  readonly ca: CertifiedKey;
  readonly apiServer: CertifiedKey;
  readonly admin: CertifiedKey;
}

async function readPair(dir: string, name: string): Promise<CertifiedKey | undefined> {
  try {
    return {
      certificatePem: await readFile(join(dir, `${name}.crt`), 'utf8'),
      privateKeyPem: await readFile(join(dir, `${name}.key`), 'utf8'),
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function writePair(dir: string, name: string, pair: CertifiedKey): Promise<void> {
  await writeFile(join(dir, `${name}.crt`), pair.certificatePem, { mode: 0o644 });
  await writeFile(join(dir, `${name}.key`), pair.privateKeyPem, { mode: 0o600 });
}

/** Loads the CA and certificates from `dir`, creating whatever is missing. */
async function loadOrCreatePki(dir: string, altNames: readonly string[]): Promise<ControlPlanePki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca =
    (await readPair(dir, 'ca')) ??
    (await createCertificateAuthority({ commonName: 'kubeedge-ts-ca' }));
  await writePair(dir, 'ca', ca);
  const apiServer =
    (await readPair(dir, 'apiserver')) ??
    (await issueCertificate(ca, {
      commonName: 'kube-apiserver',
      altNames: ['localhost', '127.0.0.1', ...altNames],
      usage: 'server',
    }));
  await writePair(dir, 'apiserver', apiServer);
  const admin =
    (await readPair(dir, 'admin')) ??
    (await issueCertificate(ca, {
      commonName: 'kubernetes-admin',
      organizations: ['system:masters'],
      usage: 'client',
    }));
  await writePair(dir, 'admin', admin);
  return { ca, apiServer, admin };
}

const base64 = (text: string) => Buffer.from(text).toString('base64');

/** A kubeconfig for the admin user, with the certificates embedded. */
export function adminKubeconfig(server: string, pki: ControlPlanePki): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'kubeedge-ts',
        cluster: { server, 'certificate-authority-data': base64(pki.ca.certificatePem) },
      },
    ],
    users: [
      {
        name: 'kubernetes-admin',
        user: {
          'client-certificate-data': base64(pki.admin.certificatePem),
          'client-key-data': base64(pki.admin.privateKeyPem),
        },
      },
    ],
    contexts: [
      { name: 'kubeedge-ts', context: { cluster: 'kubeedge-ts', user: 'kubernetes-admin' } },
    ],
    'current-context': 'kubeedge-ts',
  });
}

export interface EmbeddedControlPlane {
  readonly url: string;
  readonly kubeconfigPath: string;
  stop(): Promise<void>;
}

/**
 * The API server ke-cloud runs when no kubeconfig is given: SQLite under `dataDir`, HTTPS with
 * client certificates from its own CA, and `admin.kubeconfig` written for the user.
 */
export async function startEmbeddedControlPlane(options: {
  dataDir: string;
  address: string;
  port: number;
  /** CIDR Services get their cluster IP from (kube's `--service-cluster-ip-range`). */
  serviceClusterIPRange: string;
  advertiseAddresses: readonly string[];
  logger: Logger;
}): Promise<EmbeddedControlPlane> {
  const pki = await loadOrCreatePki(join(options.dataDir, 'pki'), options.advertiseAddresses);
  const store = createSqliteStore({
    path: join(options.dataDir, 'apiserver.db'),
    logger: options.logger,
  });
  let server: ApiServer;
  try {
    server = createApiServer({
      store,
      host: options.address,
      port: options.port,
      serviceClusterIPRange: options.serviceClusterIPRange,
      tls: {
        key: pki.apiServer.privateKeyPem,
        cert: pki.apiServer.certificatePem,
        ca: pki.ca.certificatePem,
      },
      logger: options.logger,
    });
    await server.start();
  } catch (error) {
    // A bad serviceClusterIPRange throws from createApiServer; either way the store is ours.
    store.close();
    throw error;
  }
  // Clients reach a wildcard listener on loopback.
  const url = server.url
    .replace('://0.0.0.0:', '://127.0.0.1:')
    .replace('://[::]:', '://127.0.0.1:');
  const kubeconfigPath = join(options.dataDir, 'admin.kubeconfig');
  await writeFile(kubeconfigPath, adminKubeconfig(url, pki), { mode: 0o600 });
  return {
    url,
    kubeconfigPath,
    async stop() {
      await server.stop();
      store.close();
    },
  };
}
