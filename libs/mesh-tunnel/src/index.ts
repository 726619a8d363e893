/**
 * @packageDocumentation
 * EdgeMesh's tunnel: connects edge nodes behind NATs. A server with a public address
 * (`createTunnelServer`) lets agents learn their public UDP endpoints, coordinates UDP hole
 * punching between them and relays streams when punching fails; an agent (`createTunnelAgent`)
 * dials streams to `ip:port` on another node over a peer-to-peer UDX path (reliable,
 * congestion-controlled streams over UDP) or through the relay. Every stream is end-to-end
 * TLS 1.3 between the two nodes' certificates from the cluster CA.
 *
 * @example
 * ```js
 * import { once } from 'node:events';
 * import { createServer } from 'node:net';
 * import { createCertificateAuthority, issueCertificate } from '@ke/pki';
 * import { createTunnelAgent, createTunnelServer, isTunnelError } from '@ke/mesh-tunnel';
 *
 * // Certificates from the cluster CA: the server's for its public IP, one per node.
 * const ca = await createCertificateAuthority({ commonName: 'my-cluster-ca' });
 * const material = (issued = { privateKeyPem: '', certificatePem: '' }) => ({
 *   key: issued.privateKeyPem,
 *   cert: issued.certificatePem,
 *   ca: ca.certificatePem,
 * });
 * const serverTls = material(
 *   await issueCertificate(ca, {
 *     commonName: 'ke-tunnel-server',
 *     altNames: ['127.0.0.1'],
 *     usage: 'server',
 *   }),
 * );
 * // Node certificates as cloudhub issues them: server+client (agents are TLS servers to each other).
 * const nodeTls = async (name = '') =>
 *   material(
 *     await issueCertificate(ca, { commonName: `system:node:${name}`, usage: 'server+client' }),
 *   );
 *
 * // The server needs a public address; here everything is on loopback, so punching always works.
 * const server = createTunnelServer({
 *   tls: serverTls,
 *   host: '127.0.0.1',
 *   controlPort: 0,
 *   udpPort: 0,
 *   limits: { streamsPerAgent: 256, bytesPerSecondPerAgent: 10_000_000 },
 * });
 * await server.start();
 * const servers = [server.addresses];
 *
 * // A service on edge-2 that edge-1 reaches through the tunnel.
 * const service = createServer((socket) => socket.end('hello from edge-2'));
 * service.listen(0, '127.0.0.1');
 * await once(service, 'listening');
 * const address = service.address();
 * const port = typeof address === 'object' && address ? address.port : 0;
 *
 * const edge2 = createTunnelAgent({
 *   nodeName: 'edge-2',
 *   tls: await nodeTls('edge-2'),
 *   servers,
 *   allow: (ip, p) => ip === '127.0.0.1' && p === port,
 * });
 * const edge1 = createTunnelAgent({ nodeName: 'edge-1', tls: await nodeTls('edge-1'), servers });
 * await edge2.start();
 * await edge1.start();
 *
 * const stream = await edge1.dial('edge-2', '127.0.0.1', port);
 * let answer = '';
 * for await (const chunk of stream) answer += chunk;
 * console.log('answer:', answer);
 * console.log('path:', edge1.stats().peers['edge-2']?.path);
 * console.log('relayed bytes:', server.stats().relay.bytes);
 *
 * try {
 *   await edge1.dial('edge-2', '127.0.0.1', 22);
 * } catch (error) {
 *   console.log('refused:', isTunnelError(error) ? error.code : error);
 * }
 *
 * await edge1.stop();
 * await edge2.stop();
 * await server.stop();
 * service.close();
 * ```
 */
export { createTunnelAgent } from './agent';
export { isTunnelError, TunnelError, type TunnelErrorCode } from './errors';
export { type PreSharedKeyTlsOptions, preSharedKeyTls } from './psk';
export { createTunnelServer } from './server';
export type {
  Logger,
  PathKind,
  PeerStats,
  RelayLimits,
  ServerAgentStats,
  TlsMaterial,
  Tunnel,
  TunnelAgent,
  TunnelAgentOptions,
  TunnelAgentStats,
  TunnelServer,
  TunnelServerAddress,
  TunnelServerOptions,
  TunnelServerStats,
} from './types';
