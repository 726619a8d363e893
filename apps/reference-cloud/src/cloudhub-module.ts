import {
  type CertificateServer,
  type CloudHub,
  createCertificateServer,
  createCloudHub,
  createKubeObjectSyncStore,
} from '@ke/cloudhub';
import type { Logger } from '@ke/daemon';
import type { KubeConfig } from '@ke/kube';
import type { Registry } from 'prom-client';
import { type CloudHubSecrets, loadOrCreateCloudHubSecrets } from './cloudhub-secrets';
import type { CloudConfig } from './config';

export interface CloudHubModule {
  readonly hub: CloudHub;
  readonly certificateServer: CertificateServer;
  readonly secrets: CloudHubSecrets;
  stop(): Promise<void>;
}

/**
 * CloudHub as ke-cloud runs it: the certificate server (10002) and the WebSocket hub (10000),
 * both under the edge CA of `<dataDir>/cloudhub`, with delivery progress in ObjectSync objects
 * of the cluster ke-cloud talks to.
 */
export async function startCloudHubModule(options: {
  config: CloudConfig['modules']['cloudHub'];
  dataDir: string;
  kubeConfig: KubeConfig;
  registry: Registry;
  logger: Logger;
}): Promise<CloudHubModule> {
  const { config, logger } = options;
  const secrets = await loadOrCreateCloudHubSecrets(options.dataDir);
  const certificateServer = createCertificateServer({
    ca: secrets.ca,
    tokenSecret: secrets.tokenSecret,
    host: config.https.address,
    port: config.https.port,
    serverAltNames: config.advertiseAddress,
    logger: logger.child({ module: 'cloudhub', server: 'https' }),
  });
  const hub = createCloudHub({
    ca: secrets.ca,
    host: config.websocket.address,
    port: config.websocket.port,
    serverAltNames: config.advertiseAddress,
    nodeLimit: config.nodeLimit,
    maxFrameBytes: config.websocket.maxFrameBytes,
    nodeQueueLimit: config.nodeQueueLimit,
    keepaliveTimeoutMs: config.keepaliveInterval * 1000,
    objectSyncs: createKubeObjectSyncStore(options.kubeConfig),
    registry: options.registry,
    logger: logger.child({ module: 'cloudhub' }),
  });
  await certificateServer.start();
  try {
    await hub.start();
  } catch (error) {
    await certificateServer.stop();
    throw error;
  }
  return {
    hub,
    certificateServer,
    secrets,
    async stop() {
      await hub.stop();
      await certificateServer.stop();
    },
  };
}
