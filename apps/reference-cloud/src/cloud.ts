import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createRouter, Group } from '@ke/beehive';
import { type Component, type Logger, reportModules } from '@ke/daemon';
import { createDeviceController, type DeviceController } from '@ke/devicecontroller';
import { createEdgeController, type EdgeController } from '@ke/edgecontroller';
import { type KubeConfig, loadKubeConfig } from '@ke/kube';
import type { TunnelServer } from '@ke/mesh-tunnel';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { type CloudHubModule, startCloudHubModule } from './cloudhub-module';
import type { CloudConfig } from './config';
import { type EmbeddedControlPlane, startEmbeddedControlPlane } from './control-plane';
import {
  createEndpointSliceController,
  type EndpointSliceController,
} from './endpointslice-controller';
import { installCrds } from './install-crds';
import { type MonitorServer, startMonitorServer } from './monitor';
import { startTunnelModule, tunnelServerTls } from './tunnel-module';

/** Where each cloud module's implementation lands, for the start-up report. */
const MODULE_ISSUES: Record<keyof CloudConfig['modules'], string> = {
  cloudHub: '#4 cloud-edge channel',
  edgeController: '#5 metadata path',
  deviceController: '#7 devices',
  nodeGroupController: 'node groups',
  imagePrePullController: 'image pre-pull',
  tunnelServer: '#9 EdgeMesh tunnel',
};

/**
 * The cloud core: owns the data directory, the metrics registry and the beehive router that
 * cloud modules talk through. Modules are composed here as their packages arrive; the start-up
 * log says which are running and which are configured but not yet part of this build.
 */
export function createCloudCore(config: CloudConfig, { logger }: { logger: Logger }): Component {
  const router = createRouter();
  const dataDir = resolve(config.dataDir);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let controlPlane: EmbeddedControlPlane | undefined;
  let cloudHub: CloudHubModule | undefined;
  let monitor: MonitorServer | undefined;
  let edgeController: EdgeController | undefined;
  let deviceController: DeviceController | undefined;
  let endpointSliceController: EndpointSliceController | undefined;
  let tunnelServer: TunnelServer | undefined;
  const running: (keyof CloudConfig['modules'])[] = [];

  async function connectToKubernetes(): Promise<KubeConfig> {
    if (config.kubeAPIConfig.kubeConfig) {
      return loadKubeConfig({ file: config.kubeAPIConfig.kubeConfig });
    }
    controlPlane = await startEmbeddedControlPlane({
      dataDir,
      address: config.embeddedAPIServer.address,
      port: config.embeddedAPIServer.port,
      serviceClusterIPRange: config.embeddedAPIServer.serviceClusterIPRange,
      advertiseAddresses: config.modules.cloudHub.advertiseAddress,
      logger: logger.child({ module: 'apiserver' }),
    });
    const kubeConfig = loadKubeConfig({ file: controlPlane.kubeconfigPath });
    const crds = await installCrds(kubeConfig);
    logger.info(
      {
        url: controlPlane.url,
        kubeconfig: controlPlane.kubeconfigPath,
        crds: crds.length,
        try: `kubectl --kubeconfig ${controlPlane.kubeconfigPath} get nodes`,
      },
      'embedded API server ready',
    );
    return kubeConfig;
  }

  return {
    async start() {
      await mkdir(dataDir, { recursive: true });
      logger.info(
        { dataDir, kubeAPI: config.kubeAPIConfig.kubeConfig || 'embedded API server' },
        'ke-cloud starting',
      );
      const kubeConfig = await connectToKubernetes();
      // A real cluster's kube-controller-manager writes EndpointSlices; the embedded API server
      // has nobody else to do it, and EdgeMesh at the edge needs them.
      if (controlPlane && config.controllers.endpointSlice.enable) {
        const controller = createEndpointSliceController({
          kubeConfig,
          logger: logger.child({ module: 'endpointslice' }),
        });
        await controller.start();
        endpointSliceController = controller;
      }
      if (config.modules.cloudHub.enable) {
        cloudHub = await startCloudHubModule({
          config: config.modules.cloudHub,
          dataDir,
          kubeConfig,
          registry,
          logger,
        });
        running.push('cloudHub');
        logger.info(
          {
            websocket: cloudHub.hub.url,
            certificates: cloudHub.certificateServer.url,
            joinToken: `ke-cloud token create --data-dir ${config.dataDir}`,
          },
          'cloudhub ready for edge nodes',
        );
      }
      if (config.modules.edgeController.enable && cloudHub) {
        const hub = cloudHub.hub;
        const controller = createEdgeController({
          kubeConfig,
          dispatch: (message) => hub.dispatch(message),
          nodeMonitorGracePeriodMs: config.modules.edgeController.nodeMonitorGracePeriod * 1000,
          logger: logger.child({ module: 'edgecontroller' }),
        });
        hub.on('message', ({ node, message }) => void controller.handleUpstream(node, message));
        await controller.start();
        edgeController = controller;
        running.push('edgeController');
      }
      if (config.modules.deviceController.enable && cloudHub) {
        const hub = cloudHub.hub;
        const controller = createDeviceController({
          kubeConfig,
          dispatch: (message) => hub.dispatch(message),
          logger: logger.child({ module: 'devicecontroller' }),
        });
        hub.on('message', ({ node, message }) => {
          if (message.route.group === Group.Twin) void controller.handleUpstream(node, message);
        });
        await controller.start();
        deviceController = controller;
        running.push('deviceController');
      }
      if (config.modules.tunnelServer.enable && cloudHub) {
        tunnelServer = await startTunnelModule({
          config: config.modules.tunnelServer,
          tls: await tunnelServerTls(cloudHub.secrets.ca, config.modules.cloudHub.advertiseAddress),
          registry,
          logger,
        });
        running.push('tunnelServer');
        const { host, controlPort, udpPort } = tunnelServer.addresses;
        logger.info(
          { tls: `${host}:${controlPort}`, udp: `${host}:${udpPort}` },
          'tunnel server ready for edge nodes',
        );
      }
      monitor = await startMonitorServer({
        bindAddress: config.commonConfig.monitorServer.bindAddress,
        registry,
        problems: () => {
          const problems: string[] = [];
          if (config.modules.cloudHub.enable && !cloudHub) problems.push('cloudhub: not running');
          return problems;
        },
      });
      logger.info(
        { metrics: `${monitor.url}/metrics`, health: `${monitor.url}/healthz` },
        'monitor server listening',
      );
      reportModules(logger, config.modules, { running, arrivesWith: MODULE_ISSUES });
      logger.info('ke-cloud running; Ctrl-C stops it');
    },
    async stop() {
      await monitor?.stop();
      monitor = undefined;
      await router.stop();
      await deviceController?.stop();
      deviceController = undefined;
      await edgeController?.stop();
      edgeController = undefined;
      await tunnelServer?.stop();
      tunnelServer = undefined;
      await endpointSliceController?.stop();
      endpointSliceController = undefined;
      await cloudHub?.stop();
      cloudHub = undefined;
      await controlPlane?.stop();
      controlPlane = undefined;
    },
  };
}
