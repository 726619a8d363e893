import type { Logger } from '@ke/daemon';
import { createTunnelServer, type TlsMaterial, type TunnelServer } from '@ke/mesh-tunnel';
import { type CertifiedKey, issueCertificate } from '@ke/pki';
import { Gauge, type Registry } from 'prom-client';
import type { CloudConfig } from './config';

/**
 * The tunnel server's TLS from the edge CA: agents authenticate with the node certificates
 * cloudhub issued from it, and the server with a certificate from it for `advertiseAddress`,
 * the addresses edge nodes know the cloud by.
 */
export async function tunnelServerTls(
  ca: CertifiedKey,
  advertiseAddress: readonly string[],
): Promise<TlsMaterial> {
  const certificate = await issueCertificate(ca, {
    commonName: 'ke-tunnel-server',
    altNames: [...new Set(['127.0.0.1', 'localhost', ...advertiseAddress])],
    usage: 'server',
  });
  return {
    key: certificate.privateKeyPem,
    cert: certificate.certificatePem,
    ca: ca.certificatePem,
  };
}

/** EdgeMesh's tunnel server as ke-cloud (and `ke-tunnel-server`) runs it; gauges on `registry`. */
export async function startTunnelModule(options: {
  config: CloudConfig['modules']['tunnelServer'];
  tls: TlsMaterial;
  registry?: Registry;
  logger: Logger;
}): Promise<TunnelServer> {
  const { config } = options;
  const server = createTunnelServer({
    tls: options.tls,
    host: config.address,
    controlPort: config.port,
    udpPort: config.port,
    limits: {
      streamsPerAgent: config.streamsPerAgent,
      ...(config.relayBytesPerSecondPerAgent > 0
        ? { bytesPerSecondPerAgent: config.relayBytesPerSecondPerAgent }
        : {}),
    },
    logger: options.logger.child({ module: 'tunnel-server' }),
  });
  await server.start();
  if (options.registry) registerMetrics(server, options.registry);
  return server;
}

/** The server's stats as gauges, read at each scrape. */
function registerMetrics(server: TunnelServer, registry: Registry): void {
  const gauges: [name: string, help: string, read: () => number][] = [
    [
      'ke_tunnel_agents_registered',
      'edge nodes with a control connection now',
      () => Object.values(server.stats().agents).filter((agent) => agent.registered).length,
    ],
    [
      'ke_tunnel_punches_coordinated',
      'hole punches coordinated between two nodes, since start',
      () => server.stats().punchesCoordinated,
    ],
    ['ke_tunnel_relay_streams_open', 'streams relayed now', () => server.stats().relay.streamsOpen],
    [
      'ke_tunnel_relay_streams',
      'streams relayed since start',
      () => server.stats().relay.streamsTotal,
    ],
    [
      'ke_tunnel_relay_bytes',
      'bytes relayed between nodes since start (their end-to-end TLS records)',
      () => server.stats().relay.bytes,
    ],
    [
      'ke_tunnel_relay_refused',
      'relay streams refused (limits, unknown peers) since start',
      () => server.stats().relay.refused,
    ],
    [
      'ke_tunnel_rejected_connections',
      'control connections closed for failed authentication or a protocol violation',
      () => server.stats().rejectedConnections,
    ],
  ];
  for (const [name, help, read] of gauges) {
    registry.removeSingleMetric(name);
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  }
}
