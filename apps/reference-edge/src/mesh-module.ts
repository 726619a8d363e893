import { DaemonError, type Logger } from '@ke/daemon';
import { loadKubeConfig } from '@ke/kube';
import { createDnsServer, createKubeServiceSource, type DnsServer } from '@ke/mesh-dns';
import { createKubeSource, createServiceProxy, type ServiceProxy } from '@ke/mesh-proxy';
import { commaList, hostPort } from './addresses';
import type { EdgeConfig } from './config';
import { createNodeTunnel, type NodeTunnel } from './mesh-tunnel';

export interface MeshModule {
  /** Where the cluster DNS answers; undefined when it is off. */
  readonly dns: DnsServer | undefined;
  readonly proxy: ServiceProxy | undefined;
  /** The tunnel to other nodes' endpoints; undefined when it is off. */
  readonly tunnel: NodeTunnel | undefined;
  stop(): Promise<void>;
}

/** A kubeconfig for the edge's own MetaServer: plain HTTP on loopback, no credentials. */
function metaServerKubeConfig(url: string) {
  return loadKubeConfig({
    yaml: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'metaserver', cluster: { server: url } }],
      users: [{ name: 'edge', user: {} }],
      contexts: [{ name: 'metaserver', context: { cluster: 'metaserver', user: 'edge' } }],
      'current-context': 'metaserver',
    }),
  });
}

/** Refuses mesh settings that cannot work together, before anything starts (exit code 2). */
export function checkMeshConfig(config: EdgeConfig): void {
  const mesh = config.modules.edgeMesh;
  if (!mesh.enable) return;
  const refuse = (path: string, message: string) => {
    throw new DaemonError('KE_CONFIG_INVALID', message, { issues: [{ path, message }] });
  };
  if (!config.modules.metaManager.enable || !config.modules.metaManager.metaServer.enable) {
    refuse(
      'modules.edgeMesh.enable',
      'EdgeMesh reads Services from the MetaServer: enable modules.metaManager.metaServer too',
    );
  }
  if (mesh.tunnel.enable && !mesh.proxy.enable) {
    refuse(
      'modules.edgeMesh.tunnel.enable',
      'the tunnel carries the service proxy’s connections: enable modules.edgeMesh.proxy',
    );
  }
  if (mesh.tunnel.enable && commaList(mesh.tunnel.servers).length === 0) {
    refuse(
      'modules.edgeMesh.tunnel.servers',
      'the tunnel needs at least one server (host:port, ke-cloud’s modules.tunnelServer)',
    );
  }
}

/**
 * EdgeMesh as ke-edge runs it: the cluster DNS (`@ke/mesh-dns`) and the service proxy
 * (`@ke/mesh-proxy`), both reading Services and EndpointSlices from this node's MetaServer —
 * what the cloud synced here — so they keep answering while the cloud is away. Endpoints on
 * other nodes go through the tunnel (`modules.edgeMesh.tunnel`) when it is on, else they are
 * dialled directly.
 */
export async function startMeshModule(options: {
  config: EdgeConfig;
  nodeName: string;
  metaServerUrl: string | undefined;
  /** Where edgehub keeps the node certificate the tunnel authenticates with. */
  certDir: string;
  logger: Logger;
}): Promise<MeshModule> {
  const { config, nodeName, metaServerUrl, logger } = options;
  const mesh = config.modules.edgeMesh;
  if (!metaServerUrl) throw new Error('startMeshModule: the MetaServer is not running');
  const kubeConfig = metaServerKubeConfig(metaServerUrl);
  let dns: DnsServer | undefined;
  let proxy: ServiceProxy | undefined;
  let tunnel: NodeTunnel | undefined;
  const stop = async () => {
    await proxy?.stop();
    await tunnel?.stop();
    await dns?.stop();
  };
  try {
    if (mesh.dns.enable) {
      const upstream = commaList(mesh.dns.upstream);
      dns = createDnsServer({
        source: createKubeServiceSource({
          kubeConfig,
          logger: logger.child({ module: 'mesh-dns' }),
        }),
        clusterDomain: config.modules.edged.clusterDomain,
        ...hostPort(mesh.dns.listen),
        ...(upstream.length > 0 ? { upstream } : {}),
        logger: logger.child({ module: 'mesh-dns' }),
      });
      await dns.start();
    }
    if (mesh.proxy.enable) {
      const proxyLogger = logger.child({ module: 'mesh-proxy' });
      const source = createKubeSource({ kubeConfig, logger: proxyLogger });
      if (mesh.tunnel.enable) {
        tunnel = createNodeTunnel({
          config: mesh.tunnel,
          nodeName,
          certDir: options.certDir,
          source,
          logger,
        });
      }
      proxy = createServiceProxy({
        source,
        ...(tunnel ? { tunnel } : {}),
        nodeName,
        mode: mesh.proxy.mode,
        loadBalancing: mesh.proxy.loadBalancing,
        reachableCidrs: commaList(mesh.proxy.reachableCIDRs),
        iptables: mesh.proxy.iptables ? {} : false,
        logger: proxyLogger,
      });
      await proxy.start();
      await tunnel?.startIfReady();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { dns, proxy, tunnel, stop };
}
