import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@ke/daemon';
import type { ServiceSource } from '@ke/mesh-proxy';
import {
  createTunnelAgent,
  type Tunnel,
  type TunnelAgent,
  TunnelError,
  type TunnelServerAddress,
} from '@ke/mesh-tunnel';
import { commaList, hostPort } from './addresses';
import type { EdgeConfig } from './config';

/** The proxy's way to endpoints on other nodes, as ke-edge runs it. */
export interface NodeTunnel extends Tunnel {
  /** The agent, once this node has its certificate; undefined before. */
  readonly agent: TunnelAgent | undefined;
  /** Starts the agent if the node certificate is on disk (after edgehub joined); idempotent. */
  startIfReady(): Promise<void>;
  stop(): Promise<void>;
}

/** `host:port` of `tunnel.servers` → addresses; the server answers TLS and UDP on one port. */
function serverAddresses(servers: string): TunnelServerAddress[] {
  return commaList(servers).map((server) => {
    const { host, port } = hostPort(server);
    return { host, controlPort: port, udpPort: port };
  });
}

/**
 * IPs of the endpoints on this node, from the proxy's view of Services: what a peer may reach
 * through this node's agent (pods behind Services here, not the node's other ports).
 */
function localEndpoints(source: ServiceSource, nodeName: string): () => ReadonlySet<string> {
  let cached: Set<string> | undefined;
  source.onChange(() => {
    cached = undefined;
  });
  return () => {
    if (!cached) {
      cached = new Set();
      for (const service of source.services()) {
        for (const endpoint of service.endpoints ?? []) {
          if (endpoint.nodeName === nodeName) cached.add(endpoint.ip);
        }
      }
    }
    return cached;
  };
}

/**
 * The tunnel agent of `@ke/mesh-tunnel` behind mesh-proxy's `Tunnel`: it authenticates with the
 * node certificate edgehub keeps in `certDir`, so it starts once that exists (at once on a
 * node that joined before, or when edgehub first connects). Until then a dial fails with
 * `KE_TUNNEL_UNAVAILABLE` and the proxy tries another endpoint.
 */
export function createNodeTunnel(options: {
  config: EdgeConfig['modules']['edgeMesh']['tunnel'];
  nodeName: string;
  certDir: string;
  source: ServiceSource;
  logger: Logger;
}): NodeTunnel {
  const { config, nodeName, certDir, logger } = options;
  const servers = serverAddresses(config.servers);
  if (servers.length === 0) {
    throw new TunnelError(
      'KE_TUNNEL_INVALID_OPTIONS',
      'modules.edgeMesh.tunnel.servers is empty: name at least one tunnel server (host:port)',
    );
  }
  const local = localEndpoints(options.source, nodeName);
  const files = ['node.key', 'node.crt', 'ca.crt'].map((file) => join(certDir, file));
  let agent: TunnelAgent | undefined;
  let starting: Promise<void> | undefined;
  let stopped = false;
  const tunnel: NodeTunnel = {
    get agent() {
      return agent;
    },
    dial(node, ip, port, signal) {
      if (!agent) {
        return Promise.reject(
          new TunnelError('KE_TUNNEL_UNAVAILABLE', 'the tunnel waits for the node certificate'),
        );
      }
      return agent.dial(node, ip, port, signal);
    },
    startIfReady() {
      if (agent || stopped || !files.every((file) => existsSync(file))) return Promise.resolve();
      starting ??= (async () => {
        const [key, cert, ca] = await Promise.all(files.map((file) => readFile(file, 'utf8')));
        const created = createTunnelAgent({
          nodeName,
          tls: { key: key!, cert: cert!, ca: ca! },
          servers,
          punch: config.punch,
          allow: (ip) => local().has(ip),
          logger: logger.child({ module: 'mesh-tunnel' }),
        });
        await created.start();
        if (stopped) {
          await created.stop();
          return;
        }
        agent = created;
        logger.info({ servers: config.servers }, 'tunnel agent registered');
      })().finally(() => {
        starting = undefined;
      });
      return starting;
    },
    async stop() {
      stopped = true;
      await starting?.catch(() => {});
      await agent?.stop();
      agent = undefined;
    },
  };
  return tunnel;
}
