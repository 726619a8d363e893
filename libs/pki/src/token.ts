import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { PkiError } from './errors';
import { describeCertificate } from './pki';

/**
 * KubeEdge's bootstrap token: `<sha256 hex of the CA certificate's DER>.<JWT HS256>`. The hash
 * lets a new edge node check the CA it downloads before trusting it; the JWT, signed with a
 * secret only the cloud holds, proves the node may ask for a certificate until it expires.
 */

const HASH = /^[0-9a-f]{64}$/;

function key(secret: string | Uint8Array): Uint8Array {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (bytes.length < 32) {
    throw new PkiError('KE_PKI_INVALID_ARGUMENT', 'the token secret must be at least 32 bytes');
  }
  return bytes;
}

/** Splits a token into the CA hash and the JWT; `KE_PKI_TOKEN_INVALID` when it has not that shape. */
export function parseBootstrapToken(token: string): { caHash: string; jwt: string } {
  const dot = token.indexOf('.');
  const caHash = token.slice(0, dot);
  const jwt = token.slice(dot + 1);
  if (dot <= 0 || !HASH.test(caHash) || jwt.split('.').length !== 3) {
    throw new PkiError(
      'KE_PKI_TOKEN_INVALID',
      'a bootstrap token is <sha256 of the CA, 64 hex digits>.<JWT>; get one with `ke-cloud token create`',
    );
  }
  return { caHash, jwt };
}

/** Makes a token for `ca`, valid for `ttlSeconds` (KubeEdge's default: 12 hours). */
export async function createBootstrapToken(options: {
  caCertificatePem: string;
  secret: string | Uint8Array;
  ttlSeconds?: number;
  now?: Date;
}): Promise<string> {
  const { sha256 } = await describeCertificate(options.caCertificatePem);
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const jwt = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + (options.ttlSeconds ?? 12 * 3600))
    .sign(key(options.secret));
  return `${sha256}.${jwt}`;
}

/** Whether the token names this CA: what an edge node checks on the CA it downloaded. */
export async function tokenMatchesCa(token: string, caCertificatePem: string): Promise<boolean> {
  const { caHash } = parseBootstrapToken(token);
  return caHash === (await describeCertificate(caCertificatePem)).sha256;
}

/**
 * Checks a token on the cloud side: its CA hash must be this CA's, its JWT signed with `secret`
 * and not expired. Throws `KE_PKI_TOKEN_INVALID`, `KE_PKI_TOKEN_CA_MISMATCH` or
 * `KE_PKI_TOKEN_EXPIRED`, each a different answer for the node.
 */
export async function verifyBootstrapToken(
  token: string,
  options: { caCertificatePem: string; secret: string | Uint8Array; now?: Date },
): Promise<{ expiresAt: Date }> {
  const { jwt } = parseBootstrapToken(token);
  if (!(await tokenMatchesCa(token, options.caCertificatePem))) {
    throw new PkiError('KE_PKI_TOKEN_CA_MISMATCH', 'the token was made for another CA');
  }
  return verifyBootstrapJwt(jwt, options);
}

/**
 * Checks the JWT part of a token alone: what a KubeEdge edge node sends to the cloud's
 * `/edge.crt` as `Authorization: Bearer <jwt>`. Throws `KE_PKI_TOKEN_INVALID` or
 * `KE_PKI_TOKEN_EXPIRED`.
 */
export async function verifyBootstrapJwt(
  jwt: string,
  options: { secret: string | Uint8Array; now?: Date },
): Promise<{ expiresAt: Date }> {
  try {
    const { payload } = await jwtVerify(jwt, key(options.secret), {
      algorithms: ['HS256'],
      ...(options.now ? { currentDate: options.now } : {}),
    });
    if (typeof payload.exp !== 'number') {
      throw new PkiError('KE_PKI_TOKEN_INVALID', 'the token has no expiry');
    }
    return { expiresAt: new Date(payload.exp * 1000) };
  } catch (error) {
    if (error instanceof PkiError) throw error;
    if (error instanceof joseErrors.JWTExpired) {
      throw new PkiError('KE_PKI_TOKEN_EXPIRED', 'the token has expired; create a new one', {
        cause: error,
      });
    }
    throw new PkiError('KE_PKI_TOKEN_INVALID', 'the token signature or claims are not valid', {
      cause: error,
    });
  }
}
