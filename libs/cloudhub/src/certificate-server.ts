import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  type CertifiedKey,
  createBootstrapToken,
  derToPem,
  issueCertificate,
  PkiError,
  pemToDer,
  signCertificateRequest,
  verifyBootstrapJwt,
} from '@ke/pki';
import { CloudHubError } from './errors';
import type { CloudHubLogger } from './logger';

export interface CertificateServerOptions {
  /** The cluster CA: it signs the serving certificate and every node certificate. */
  readonly ca: CertifiedKey;
  /** HS256 secret of the bootstrap tokens' JWT (at least 32 bytes). */
  readonly tokenSecret: string | Uint8Array;
  /** Address to listen on; default `127.0.0.1`. */
  readonly host?: string;
  /** Port to listen on; default 10002 (KubeEdge's), 0 for any free port. */
  readonly port?: number;
  /** Extra DNS names or IPs of the serving certificate (host, localhost, loopback are in). */
  readonly serverAltNames?: readonly string[];
  /** Largest CSR body accepted; default 64 KiB, larger gets 413. */
  readonly maxBodyBytes?: number;
  /** Validity of the node certificates it signs; default 365 days (KubeEdge's). */
  readonly nodeCertificateValidityDays?: number;
  readonly logger?: CloudHubLogger;
}

export interface CertificateServer {
  /** `https://host:port`; the real port once started. */
  readonly url: string;
  /** Issues the serving certificate and listens. */
  start(): Promise<void>;
  /** Closes the listener and every open connection. */
  stop(): Promise<void>;
  /** A full bootstrap token `<sha256 of the CA>.<JWT>` for `ke edge join`; default 12 h. */
  createToken(ttlSeconds?: number): Promise<string>;
}

// Kubernetes' DNS-1123 subdomain: what a Node name must be.
const DNS_1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isValidNodeName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && DNS_1123_SUBDOMAIN.test(name);
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) {
    request.resume(); // let the client finish sending, so it reads our answer
    return Promise.reject(new HttpError(413, `request body over ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      else chunks.push(chunk);
    });
    request.on('end', () => {
      if (over) reject(new HttpError(413, `request body over ${limit} bytes`));
      else resolve(Buffer.concat(chunks));
    });
    request.on('error', reject);
  });
}

function bearerToken(request: IncomingMessage): string {
  const header = request.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) {
    throw new HttpError(401, 'missing token: send Authorization: Bearer <jwt of the token>');
  }
  return match[1];
}

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  response.end(text);
}

function sendDer(response: ServerResponse, der: Uint8Array): void {
  response.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': der.length,
  });
  response.end(der);
}

/**
 * KubeEdge's cloudhub certificate server (`:10002`): `GET /ca.crt` hands out the CA, `GET /edge.crt`
 * signs an edge node's CSR for a holder of a bootstrap token. The subject of a node certificate
 * is the server's choice (`system:node:<NodeName>`, `system:nodes`), never the CSR's.
 */
export function createCertificateServer(options: CertificateServerOptions): CertificateServer {
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? 65536;
  const secretBytes =
    typeof options.tokenSecret === 'string'
      ? Buffer.byteLength(options.tokenSecret)
      : options.tokenSecret.length;
  if (secretBytes < 32) {
    throw new CloudHubError('KE_CLOUDHUB_INVALID_OPTIONS', 'tokenSecret must be at least 32 bytes');
  }
  const caDer = pemToDer(options.ca.certificatePem);
  const logger = options.logger ?? {};
  const listenPort = options.port ?? 10002;
  let port = listenPort;
  let server: Server | undefined;

  /**
   * A node renewing its certificate presents the current one (KubeEdge's rotation): valid,
   * from this CA, for the node named in the request. Anyone else needs a bootstrap token.
   */
  async function authorize(
    request: IncomingMessage,
    nodeName: string,
  ): Promise<'token' | 'certificate'> {
    const socket = request.socket as TLSSocket;
    const peer = socket.getPeerCertificate();
    if (peer?.subject && socket.authorized) {
      if (peer.subject.CN === `system:node:${nodeName}`) return 'certificate';
      throw new HttpError(
        403,
        `the client certificate is for ${peer.subject.CN}; a node renews only its own certificate`,
      );
    }
    const jwt = bearerToken(request);
    try {
      await verifyBootstrapJwt(jwt, { secret: options.tokenSecret });
    } catch (error) {
      if (error instanceof PkiError && error.code === 'KE_PKI_TOKEN_EXPIRED') {
        throw new HttpError(401, 'token expired: create a new bootstrap token');
      }
      throw new HttpError(401, 'invalid token: its signature or claims do not verify');
    }
    return 'token';
  }

  async function signNodeCertificate(request: IncomingMessage): Promise<Uint8Array> {
    const nodeName = request.headers.nodename;
    if (typeof nodeName !== 'string' || nodeName === '') {
      throw new HttpError(400, 'missing NodeName header');
    }
    if (!isValidNodeName(nodeName)) {
      throw new HttpError(
        400,
        `invalid NodeName ${JSON.stringify(nodeName.slice(0, 64))}: ` +
          'it must be a DNS-1123 subdomain',
      );
    }
    const via = await authorize(request, nodeName);
    const body = await readBody(request, maxBodyBytes);
    if (body.length === 0) throw new HttpError(400, 'missing certificate request in the body');
    let certificatePem: string;
    try {
      certificatePem = await signCertificateRequest(
        options.ca,
        derToPem(body, 'CERTIFICATE REQUEST'),
        {
          commonName: `system:node:${nodeName}`,
          organizations: ['system:nodes'],
          usage: 'server+client',
          validityDays: options.nodeCertificateValidityDays ?? 365,
        },
      );
    } catch (error) {
      if (error instanceof PkiError)
        throw new HttpError(400, `bad certificate request: ${error.message}`);
      throw error;
    }
    logger.info?.({ nodeName, via }, 'signed a node certificate');
    return pemToDer(certificatePem);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    try {
      if (path === '/ca.crt') {
        if (request.method !== 'GET') throw new HttpError(405, 'use GET for /ca.crt');
        sendDer(response, caDer);
      } else if (path === '/edge.crt') {
        if (request.method !== 'GET' && request.method !== 'POST') {
          throw new HttpError(405, 'use GET or POST for /edge.crt');
        }
        sendDer(response, await signNodeCertificate(request));
      } else {
        throw new HttpError(404, `no such path ${path}; this server has /ca.crt and /edge.crt`);
      }
    } catch (error) {
      if (error instanceof HttpError) {
        logger.debug?.({ path, status: error.status, reason: error.message }, 'refused');
        sendText(response, error.status, error.message);
      } else {
        logger.warn?.({ path, err: error }, 'certificate request failed');
        sendText(response, 500, 'internal error');
      }
    }
  }

  return {
    get url() {
      const shown = host.includes(':') ? `[${host}]` : host;
      return `https://${shown}:${port}`;
    },

    async start() {
      if (server) return;
      const altNames = new Set([
        'localhost',
        '127.0.0.1',
        '::1',
        ...(options.serverAltNames ?? []),
      ]);
      if (host !== '0.0.0.0' && host !== '::') altNames.add(host);
      const serving = await issueCertificate(options.ca, {
        commonName: 'kubeedge-cloudhub',
        altNames: [...altNames],
        usage: 'server',
      });
      const https = createServer(
        {
          key: serving.privateKeyPem,
          cert: serving.certificatePem,
          // Asked for, not required: renewing nodes present theirs, joining nodes have none.
          ca: options.ca.certificatePem,
          requestCert: true,
          rejectUnauthorized: false,
        },
        (request, response) => void handle(request, response),
      );
      await new Promise<void>((resolve, reject) => {
        https.once('error', (cause) => {
          reject(
            new CloudHubError(
              'KE_CLOUDHUB_LISTEN_FAILED',
              `cannot listen on ${host}:${listenPort}`,
              {
                cause,
              },
            ),
          );
        });
        https.listen(listenPort, host, () => resolve());
      });
      port = (https.address() as AddressInfo).port;
      server = https;
      logger.info?.({ url: this.url }, 'certificate server listening');
    },

    async stop() {
      const closing = server;
      if (!closing) return;
      server = undefined;
      await new Promise<void>((resolve) => {
        closing.close(() => resolve());
        closing.closeAllConnections();
      });
    },

    createToken(ttlSeconds?: number) {
      return createBootstrapToken({
        caCertificatePem: options.ca.certificatePem,
        secret: options.tokenSecret,
        ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
      });
    },
  };
}
