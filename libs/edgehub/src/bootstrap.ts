import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createCertificateRequest,
  derToPem,
  describeCertificate,
  isSignedBy,
  PkiError,
  parseBootstrapToken,
  pemToDer,
} from '@ke/pki';
import { EdgeHubError } from './errors';
import { httpsRequest } from './https-request';

const DAY_MS = 24 * 60 * 60 * 1000;

/** File names in `certDir`, as KubeEdge's edgecore keeps them in /etc/kubeedge/certs. */
export const CERT_FILES = {
  ca: 'ca.crt',
  certificate: 'node.crt',
  privateKey: 'node.key',
} as const;

export interface BootstrapOptions {
  /** cloudhub's certificate server, e.g. `https://cloudcore.example:10002`. */
  readonly httpServer: string;
  /** This node's name; the certificate will be for `system:node:<nodeName>`. */
  readonly nodeName: string;
  /** Bootstrap token `<sha256 of the CA>.<JWT>`; only needed when there is no usable cert. */
  readonly token?: string | undefined;
  /** Where `ca.crt`, `node.crt` and `node.key` live (created 0700 if missing). */
  readonly certDir: string;
  /** A certificate expiring within this many days is renewed; default 30. */
  readonly renewBeforeDays?: number;
  /** Timeout of each HTTPS request; default 10 s. */
  readonly requestTimeoutMs?: number;
  readonly signal?: AbortSignal | undefined;
}

/** The node's identity: trust anchor, client certificate and its key, all PEM. */
export interface NodeIdentity {
  readonly caPem: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  /**
   * `disk`: reused from `certDir`; `issued`: just obtained with the token; `renewed`: just
   * obtained by presenting the previous certificate.
   */
  readonly source: 'disk' | 'issued' | 'renewed';
  /** Renewal was due but failed; the still-valid certificate on disk is returned meanwhile. */
  readonly renewalError?: EdgeHubError;
}

/** Whether `certificatePem` expires within `renewBeforeDays` of `now` (or has expired). */
export async function needsRenewal(
  certificatePem: string,
  options: { now?: Date; renewBeforeDays?: number } = {},
): Promise<boolean> {
  const { notAfter } = await describeCertificate(certificatePem);
  const now = (options.now ?? new Date()).getTime();
  return notAfter.getTime() - now <= (options.renewBeforeDays ?? 30) * DAY_MS;
}

function keyMatches(certificatePem: string, privateKeyPem: string): boolean {
  try {
    return new X509Certificate(certificatePem).checkPrivateKey(createPrivateKey(privateKeyPem));
  } catch {
    return false;
  }
}

/** Why a certificate is not this node's, or `undefined` when it is (dates aside). */
async function problemWith(
  identity: Omit<NodeIdentity, 'source'>,
  nodeName: string,
  now: Date,
): Promise<string | undefined> {
  const ca = await describeCertificate(identity.caPem);
  if (!ca.isCA) return 'the CA certificate is not a CA';
  if (!(await isSignedBy(identity.certificatePem, { certificatePem: identity.caPem }))) {
    return 'the certificate is not signed by the CA';
  }
  const info = await describeCertificate(identity.certificatePem);
  if (info.commonName !== `system:node:${nodeName}`) {
    return `the certificate is for ${info.commonName}, not system:node:${nodeName}`;
  }
  if (info.notBefore > now || info.notAfter <= now) return 'the certificate is not valid now';
  if (!keyMatches(identity.certificatePem, identity.privateKeyPem)) {
    return 'the private key does not belong to the certificate';
  }
  return undefined;
}

type DiskState =
  | { state: 'valid'; identity: Omit<NodeIdentity, 'source'> }
  | { state: 'renew'; identity: Omit<NodeIdentity, 'source'> }
  | { state: 'unusable'; reason: string };

async function inspectDisk(
  options: BootstrapOptions,
  tokenCaHash: string | undefined,
  now: Date,
): Promise<DiskState> {
  let identity: Omit<NodeIdentity, 'source'>;
  try {
    const [caPem, certificatePem, privateKeyPem] = await Promise.all(
      [CERT_FILES.ca, CERT_FILES.certificate, CERT_FILES.privateKey].map((name) =>
        readFile(join(options.certDir, name), 'utf8'),
      ),
    );
    identity = { caPem: caPem!, certificatePem: certificatePem!, privateKeyPem: privateKeyPem! };
  } catch {
    return { state: 'unusable', reason: `no certificate in ${options.certDir}` };
  }
  try {
    const problem = await problemWith(identity, options.nodeName, now);
    if (problem) return { state: 'unusable', reason: `${options.certDir}: ${problem}` };
    // A token names the cluster's CA: a certificate from another CA belongs to another cluster.
    if (tokenCaHash && (await describeCertificate(identity.caPem)).sha256 !== tokenCaHash) {
      return { state: 'unusable', reason: `${options.certDir}: the token names another CA` };
    }
    const renew = await needsRenewal(identity.certificatePem, {
      now,
      renewBeforeDays: options.renewBeforeDays ?? 30,
    });
    return renew ? { state: 'renew', identity } : { state: 'valid', identity };
  } catch (error) {
    if (error instanceof PkiError) {
      return { state: 'unusable', reason: `${options.certDir}: ${error.message}` };
    }
    throw error;
  }
}

async function writeAtomically(dir: string, name: string, text: string, mode: number) {
  const temporary = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, text, { mode, flag: 'wx' });
    await chmod(temporary, mode); // whatever the umask was
    await rename(temporary, join(dir, name));
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function saveIdentity(certDir: string, identity: Omit<NodeIdentity, 'source'>) {
  await mkdir(certDir, { recursive: true, mode: 0o700 });
  // The key goes before the certificate: a crash in between leaves a pair that does not match,
  // which the next start detects and replaces, never a certificate with a stale key.
  await writeAtomically(certDir, CERT_FILES.ca, identity.caPem, 0o644);
  await writeAtomically(certDir, CERT_FILES.privateKey, identity.privateKeyPem, 0o600);
  await writeAtomically(certDir, CERT_FILES.certificate, identity.certificatePem, 0o644);
}

/** The token's JWT expiry (seconds since the epoch), read without verifying it. */
function tokenExpiry(jwt: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return typeof payload?.exp === 'number' ? payload.exp : undefined;
  } catch {
    return undefined;
  }
}

async function requestIdentity(
  options: BootstrapOptions,
  token: string,
  jwt: string,
): Promise<Omit<NodeIdentity, 'source'>> {
  const base = options.httpServer.replace(/\/+$/, '');
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const signal = options.signal;
  const expiry = tokenExpiry(jwt);
  if (expiry !== undefined && expiry * 1000 <= Date.now()) {
    throw new EdgeHubError(
      'KE_EDGEHUB_TOKEN_EXPIRED',
      `the bootstrap token expired at ${new Date(expiry * 1000).toISOString()}; ` +
        'create a new one in the cloud (ke-cloud token create)',
    );
  }

  // 1. The CA, without verifying the server: nothing is trusted yet. The token's hash decides.
  const caAnswer = await httpsRequest(`${base}/ca.crt`, {
    method: 'GET',
    trust: 'insecure',
    timeoutMs,
    signal,
  });
  if (caAnswer.status !== 200) {
    throw new EdgeHubError(
      'KE_EDGEHUB_CERT_REQUEST_FAILED',
      `${base}/ca.crt answered ${caAnswer.status}: ${caAnswer.body.toString().slice(0, 200)}`,
    );
  }
  const caPem = derToPem(caAnswer.body, 'CERTIFICATE');
  let ca: Awaited<ReturnType<typeof describeCertificate>>;
  try {
    ca = await describeCertificate(caPem);
  } catch (cause) {
    throw new EdgeHubError('KE_EDGEHUB_BAD_CERTIFICATE', `${base}/ca.crt is not a certificate`, {
      cause,
    });
  }
  if (ca.sha256 !== parseBootstrapToken(token).caHash) {
    throw new EdgeHubError(
      'KE_EDGEHUB_CA_MISMATCH',
      `the CA served by ${base} (sha256 ${ca.sha256}) is not the one the token names; ` +
        'the server may be another cluster or an impostor, so it is not trusted',
    );
  }
  if (!ca.isCA) {
    throw new EdgeHubError('KE_EDGEHUB_BAD_CERTIFICATE', `${base}/ca.crt is not a CA certificate`);
  }
  signal?.throwIfAborted();

  // 2. The node certificate, now verifying the server with that CA.
  return requestCertificate(options, caPem, { Authorization: `Bearer ${jwt}` });
}

/**
 * Has a new key's CSR signed at `/edge.crt`, authenticated by the token's JWT (joining) or by
 * the current certificate (renewing, as KubeEdge's certificate rotation does).
 */
async function requestCertificate(
  options: BootstrapOptions,
  caPem: string,
  auth: { Authorization: string } | { current: Omit<NodeIdentity, 'source'> },
): Promise<Omit<NodeIdentity, 'source'>> {
  const base = options.httpServer.replace(/\/+$/, '');
  const commonName = `system:node:${options.nodeName}`;
  const csr = await createCertificateRequest({ commonName, organizations: ['system:nodes'] });
  const answer = await httpsRequest(`${base}/edge.crt`, {
    method: 'GET',
    trust: { ca: caPem },
    headers: {
      ...('Authorization' in auth ? { Authorization: auth.Authorization } : {}),
      NodeName: options.nodeName,
    },
    ...('current' in auth ? { clientCertificate: auth.current } : {}),
    body: pemToDer(csr.certificateRequestPem),
    timeoutMs: options.requestTimeoutMs ?? 10_000,
    signal: options.signal,
  });
  const reason = answer.body.toString('utf8').slice(0, 300);
  if (answer.status === 401 && /expired/i.test(reason)) {
    throw new EdgeHubError('KE_EDGEHUB_TOKEN_EXPIRED', `the certificate server says: ${reason}`);
  }
  if (answer.status === 401) {
    throw new EdgeHubError(
      'KE_EDGEHUB_TOKEN_REJECTED',
      `the certificate server refused the token: ${reason}`,
    );
  }
  if (answer.status !== 200) {
    throw new EdgeHubError(
      'KE_EDGEHUB_CERT_REQUEST_FAILED',
      `${base}/edge.crt answered ${answer.status}: ${reason}`,
    );
  }
  let certificatePem: string;
  let problem: string | undefined;
  try {
    certificatePem = derToPem(answer.body, 'CERTIFICATE');
    problem = await problemWith(
      { caPem, certificatePem, privateKeyPem: csr.privateKeyPem },
      options.nodeName,
      new Date(),
    );
  } catch (cause) {
    throw new EdgeHubError('KE_EDGEHUB_BAD_CERTIFICATE', `${base}/edge.crt sent no certificate`, {
      cause,
    });
  }
  if (problem) {
    throw new EdgeHubError('KE_EDGEHUB_BAD_CERTIFICATE', `${base}/edge.crt: ${problem}`);
  }
  return { caPem, certificatePem, privateKeyPem: csr.privateKeyPem };
}

/**
 * Gives this edge node its identity, as KubeEdge's edgehub certificate manager does: reuses the
 * certificate in `certDir` while it is valid; renews it when it nears expiry by presenting it
 * to `/edge.crt` (no token needed); otherwise, with a bootstrap token, fetches the CA from
 * `/ca.crt`, checks it against the token, and has a CSR signed at `/edge.crt`.
 */
export async function bootstrapNodeCertificate(options: BootstrapOptions): Promise<NodeIdentity> {
  if (!options.nodeName) {
    throw new EdgeHubError('KE_EDGEHUB_INVALID_ARGUMENT', 'nodeName must not be empty');
  }
  options.signal?.throwIfAborted();
  let parsed: { caHash: string; jwt: string } | undefined;
  if (options.token !== undefined) {
    try {
      parsed = parseBootstrapToken(options.token);
    } catch (cause) {
      throw new EdgeHubError(
        'KE_EDGEHUB_TOKEN_MALFORMED',
        'the token is not <sha256 of the CA, 64 hex digits>.<JWT>; ' +
          'copy it whole from `keadm gettoken` or the cloud',
        { cause },
      );
    }
  }
  const disk = await inspectDisk(options, parsed?.caHash, new Date());
  if (disk.state === 'valid') return { ...disk.identity, source: 'disk' };
  if (disk.state === 'renew') {
    // The current certificate vouches for the node: no token needed (KubeEdge's rotation).
    try {
      const renewed = await requestCertificate(options, disk.identity.caPem, {
        current: disk.identity,
      });
      options.signal?.throwIfAborted();
      await saveIdentity(options.certDir, renewed);
      return { ...renewed, source: 'renewed' };
    } catch (error) {
      if (!(error instanceof EdgeHubError)) throw error;
      // Still valid: keep working with it and try again next time.
      return { ...disk.identity, source: 'disk', renewalError: error };
    }
  }
  if (!parsed || options.token === undefined) {
    throw new EdgeHubError(
      'KE_EDGEHUB_TOKEN_REQUIRED',
      `${disk.reason}; pass a bootstrap token to obtain a node certificate`,
    );
  }
  const identity = await requestIdentity(options, options.token, parsed.jwt);
  options.signal?.throwIfAborted();
  await saveIdentity(options.certDir, identity);
  return { ...identity, source: 'issued' };
}
