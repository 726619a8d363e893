import { DaemonError, type Logger } from '@ke/daemon';
import { loadKubeConfig } from '@ke/kube';
import { createDnsServer, createKubeServiceSource, type DnsServer } from '@ke/mesh-dns';
import { createKubeSource, createServiceProxy, type ServiceProxy } from '@ke/mesh-proxy';
import { commaList, hostPort } from './addresses';
import type { EdgeConfig } from './config';

export interface MeshModule {
  /** Where the cluster DNS answers; undefined when it is off. */
  readonly dns: DnsServer | undefined;
  readonly proxy: ServiceProxy | undefined;
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

/**
 * EdgeMesh as ke-edge runs it: the cluster DNS (`@ke/mesh-dns`) and the service proxy
 * (`@ke/mesh-proxy`), both reading Services and EndpointSlices from this node's MetaServer —
 * what the cloud synced here — so they keep answering while the cloud is away. Endpoints on
 * other nodes are dialled directly until `@ke/mesh-tunnel` is wired in.
 */
export async function startMeshModule(options: {
  config: EdgeConfig;
  nodeName: string;
  metaServerUrl: string | undefined;
  logger: Logger;
}): Promise<MeshModule> {
  const { config, nodeName, metaServerUrl, logger } = options;
  const mesh = config.modules.edgeMesh;
  if (!metaServerUrl) {
    const message =
      'EdgeMesh reads Services from the MetaServer: enable modules.metaManager.metaServer too';
    throw new DaemonError('KE_CONFIG_INVALID', message, {
      issues: [{ path: 'modules.edgeMesh.enable', message }],
    });
  }
  const kubeConfig = metaServerKubeConfig(metaServerUrl);
  let dns: DnsServer | undefined;
  let proxy: ServiceProxy | undefined;
  const stop = async () => {
    await proxy?.stop();
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
      proxy = createServiceProxy({
        source: createKubeSource({ kubeConfig, logger: proxyLogger }),
        nodeName,
        mode: mesh.proxy.mode,
        loadBalancing: mesh.proxy.loadBalancing,
        reachableCidrs: commaList(mesh.proxy.reachableCIDRs),
        iptables: mesh.proxy.iptables ? {} : false,
        logger: proxyLogger,
      });
      await proxy.start();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { dns, proxy, stop };
}
