import type { PeerCertificate, TLSSocket } from 'node:tls';

const NODE_PREFIX = 'system:node:';

export function nodeCommonName(nodeName: string): string {
  return `${NODE_PREFIX}${nodeName}`;
}

/** The node a certificate belongs to (`system:node:<name>`), or `undefined`. */
export function nodeOfCertificate(certificate: PeerCertificate | undefined): string | undefined {
  const cn = certificate?.subject?.CN;
  const value = Array.isArray(cn) ? cn[0] : cn;
  if (typeof value !== 'string' || !value.startsWith(NODE_PREFIX)) return undefined;
  const name = value.slice(NODE_PREFIX.length);
  return name.length > 0 ? name : undefined;
}

/** The node on the other end of an authorised TLS connection, or `undefined`. */
export function peerNode(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  return nodeOfCertificate(socket.getPeerCertificate());
}

/** For `checkServerIdentity`: the peer must hold the certificate of `nodeName`. */
export function expectNode(nodeName: string) {
  return (_host: string, certificate: PeerCertificate): Error | undefined =>
    nodeOfCertificate(certificate) === nodeName
      ? undefined
      : new Error(
          `the peer's certificate is for ${String(certificate.subject?.CN)}, not ${nodeCommonName(nodeName)}`,
        );
}

/** Whether a TLS or socket error means the other side refused our certificate (or we theirs). */
export function isAuthFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return false;
  return (
    /^ERR_SSL_.*(ALERT|CERTIFICATE)/.test(code) ||
    code === 'ERR_TLS_CERT_ALTNAME_INVALID' ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'CERT_SIGNATURE_FAILURE' ||
    code === 'CERT_HAS_EXPIRED' ||
    code === 'ERR_TUNNEL_PEER_IDENTITY'
  );
}
