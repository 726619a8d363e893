import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createRouter } from '@ke/beehive';
import { type Component, type Logger, reportModules } from '@ke/daemon';
import { buildNodeStatus } from '@ke/edged-cri';
import type { EdgeHub } from '@ke/edgehub';
import pkg from '../package.json';
import type { EdgeConfig } from './config';
import { type DeviceModule, startDeviceModule } from './device-module';
import { type EdgedModule, startEdgedModule } from './edged-module';
import { createEdgeHubModule } from './edgehub-module';
import { checkMeshConfig, type MeshModule, startMeshModule } from './mesh-module';
import { type MetaModule, startMetaModule } from './meta-module';
import { startNodeStatus } from './node-status';

/** Where each edge module's implementation lands, for the start-up report. */
const MODULE_ISSUES: Record<keyof EdgeConfig['modules'], string> = {
  edgeHub: '#4 cloud-edge channel',
  edged: '#6 pods on containerd',
  metaManager: '#5 metadata path',
  eventBus: '#7 devices',
  deviceTwin: '#7 devices',
  edgeMesh: '#8 and #9 EdgeMesh (tunnel: #9)',
  serviceBus: 'service bus',
};

/**
 * The edge core: owns the data directory and the beehive router that edge modules talk
 * through. Modules are composed here as their packages arrive; the start-up log says which
 * are running and which are configured but not yet part of this build.
 */
export function createEdgeCore(config: EdgeConfig, { logger }: { logger: Logger }): Component {
  checkMeshConfig(config);
  const router = createRouter();
  const dataDir = resolve(config.dataDir);
  const nodeName = config.modules.edged.hostnameOverride;
  const running: (keyof EdgeConfig['modules'])[] = [];
  let edgeHub: EdgeHub | undefined;
  let meta: MetaModule | undefined;
  let nodeStatus: { stop(): void; reportNow(): void } | undefined;
  let edged: EdgedModule | undefined;
  let devices: DeviceModule | undefined;
  let mesh: MeshModule | undefined;
  return {
    async start() {
      await mkdir(dataDir, { recursive: true });
      logger.info(
        {
          nodeName,
          dataDir,
          database: config.database.dataSource || join(dataDir, 'edgecore.db'),
          cloudHub: config.modules.edgeHub.websocket.server,
          runtime: config.modules.edged.containerRuntimeEndpoint || 'simulated',
        },
        'ke-edge starting',
      );
      if (config.modules.metaManager.enable) {
        meta = await startMetaModule({ config, dataDir, router, logger });
        running.push('metaManager');
        logger.info(
          {
            database: meta.databasePath,
            metaServer: meta.metaServerUrl,
            ...(meta.metaServerUrl
              ? { try: `kubectl --server ${meta.metaServerUrl} get pods` }
              : {}),
          },
          'metadata store ready',
        );
      }
      if (config.modules.edgeHub.enable) {
        const module = createEdgeHubModule({
          config: config.modules.edgeHub,
          nodeName,
          dataDir,
          router,
          logger,
        });
        edgeHub = module.hub;
      }
      if (config.modules.edged.enable && meta) {
        edged = await startEdgedModule({
          config: config.modules.edged,
          dataDir,
          router,
          store: meta.store,
          meta: meta.meta,
          logger,
        });
        running.push('edged');
      }
      if (config.modules.deviceTwin.enable) {
        devices = await startDeviceModule({ config, dataDir, nodeName, router, logger });
        running.push('deviceTwin');
        if (devices.twin.mqttUrl) running.push('eventBus');
        logger.info(
          { mqtt: devices.twin.mqttUrl ?? 'off', dmi: devices.twin.dmiEndpoint },
          'device twin ready for mappers and apps',
        );
      }
      if (edgeHub) {
        const runtime = edged?.edged;
        nodeStatus = startNodeStatus({
          hub: edgeHub,
          nodeName,
          labels: config.modules.edged.nodeLabels,
          frequencyMs: config.modules.edged.nodeStatusUpdateFrequency * 1000,
          status: (previous) =>
            runtime
              ? runtime.nodeStatus(previous)
              : buildNodeStatus({
                  health: { error: { code: 'KE_EDGED_DISABLED', message: 'edged is disabled' } },
                  kubeletVersion: `v1.31.0-kubeedge-ts-${pkg.version}`,
                  ...(previous ? { previous } : {}),
                }),
        });
        runtime?.on('runtime', () => nodeStatus?.reportNow());
        await edgeHub.start();
        running.push('edgeHub');
      }
      if (config.modules.edgeMesh.enable) {
        mesh = await startMeshModule({
          config,
          nodeName,
          metaServerUrl: meta?.metaServerUrl,
          certDir: join(dataDir, 'certs'),
          logger,
        });
        running.push('edgeMesh');
        const dns = mesh.dns?.address;
        logger.info(
          {
            dns: dns ? `${dns.host}:${dns.port}` : 'off',
            proxy: mesh.proxy ? config.modules.edgeMesh.proxy.mode : 'off',
            tunnel: mesh.tunnel ? config.modules.edgeMesh.tunnel.servers : 'off',
            ...(dns
              ? {
                  try: `dig @${dns.host} -p ${dns.port} kubernetes.default.svc.${config.modules.edged.clusterDomain}`,
                }
              : {}),
          },
          'EdgeMesh ready: cluster DNS and the service proxy',
        );
        // A node that joins now gets its certificate from edgehub: the tunnel starts then.
        const tunnel = mesh.tunnel;
        if (tunnel && !tunnel.agent && edgeHub) {
          const startTunnel = () =>
            tunnel
              .startIfReady()
              .catch((error: Error) =>
                logger.error({ err: error }, 'tunnel agent failed to start'),
              );
          if (edgeHub.connected) void startTunnel();
          else edgeHub.once('connected', startTunnel);
        }
      }
      reportModules(logger, config.modules, { running, arrivesWith: MODULE_ISSUES });
      logger.info({ nodeName }, 'ke-edge running; Ctrl-C stops it');
    },
    async stop() {
      nodeStatus?.stop();
      await mesh?.stop();
      mesh = undefined;
      await devices?.stop();
      devices = undefined;
      await edged?.stop();
      edged = undefined;
      await edgeHub?.stop();
      edgeHub = undefined;
      await router.stop();
      await meta?.stop();
      meta = undefined;
    },
  };
}
