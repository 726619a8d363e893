import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createRouter } from '@ke/beehive';
import { type Component, type Logger, reportModules } from '@ke/daemon';
import type { CloudConfig } from './config';
import { type EmbeddedControlPlane, startEmbeddedControlPlane } from './control-plane';

/** Where each cloud module's implementation lands, for the start-up report. */
const MODULE_ISSUES: Record<keyof CloudConfig['modules'], string> = {
  cloudHub: '#4 cloud-edge channel',
  edgeController: '#5 metadata path',
  deviceController: '#7 devices',
  nodeGroupController: 'node groups',
  imagePrePullController: 'image pre-pull',
};

/**
 * The cloud core: owns the data directory and the beehive router that cloud modules talk
 * through. Modules are composed here as their packages arrive; the start-up log says which
 * are running and which are configured but not yet part of this build.
 */
export function createCloudCore(config: CloudConfig, { logger }: { logger: Logger }): Component {
  const router = createRouter();
  const dataDir = resolve(config.dataDir);
  let controlPlane: EmbeddedControlPlane | undefined;
  return {
    async start() {
      await mkdir(dataDir, { recursive: true });
      logger.info(
        {
          dataDir,
          kubeAPI: config.kubeAPIConfig.kubeConfig || 'embedded API server',
        },
        'ke-cloud starting',
      );
      if (!config.kubeAPIConfig.kubeConfig) {
        controlPlane = await startEmbeddedControlPlane({
          dataDir,
          address: config.embeddedAPIServer.address,
          port: config.embeddedAPIServer.port,
          advertiseAddresses: config.modules.cloudHub.advertiseAddress,
          logger: logger.child({ module: 'apiserver' }),
        });
        logger.info(
          {
            url: controlPlane.url,
            kubeconfig: controlPlane.kubeconfigPath,
            try: `kubectl --kubeconfig ${controlPlane.kubeconfigPath} get nodes`,
          },
          'embedded API server ready',
        );
      }
      reportModules(logger, config.modules, { running: [], arrivesWith: MODULE_ISSUES });
      logger.info('ke-cloud running; Ctrl-C stops it');
    },
    async stop() {
      await router.stop();
      await controlPlane?.stop();
      controlPlane = undefined;
    },
  };
}
