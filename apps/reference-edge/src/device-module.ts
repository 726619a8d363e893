import { join } from 'node:path';
import type { Router } from '@ke/beehive';
import type { Logger } from '@ke/daemon';
import { createDeviceTwin, type DeviceTwin, type MqttOptions } from '@ke/devicetwin';
import type { EdgeConfig } from './config';

export interface DeviceModule {
  readonly twin: DeviceTwin;
  stop(): Promise<void>;
}

/** `tcp://host:port` (or mqtt://) → host and port. */
function brokerAddress(url: string): { host: string; port: number } {
  const parsed = new URL(url.replace(/^tcp:/, 'mqtt:'));
  const port = Number(parsed.port || 1883);
  if (!parsed.hostname || !Number.isInteger(port) || port > 65535) {
    throw new Error(`${JSON.stringify(url)} is not tcp://host:port`);
  }
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port };
}

/**
 * DeviceTwin and the EventBus as ke-edge runs them: twins in the edge database, KubeEdge's MQTT
 * topics on the embedded broker (`eventBus.mqttServerInternal`, default 127.0.0.1:1883) or an
 * external one (`mqttMode: external`), and the DMI socket mappers register on.
 */
export async function startDeviceModule(options: {
  config: EdgeConfig;
  dataDir: string;
  nodeName: string;
  router: Router;
  logger: Logger;
}): Promise<DeviceModule> {
  const { config, dataDir, nodeName, router, logger } = options;
  const bus = config.modules.eventBus;
  let mqtt: MqttOptions | false = false;
  if (bus.enable) {
    mqtt =
      bus.mqttMode === 'internal'
        ? { embedded: brokerAddress(bus.mqttServerInternal) }
        : { url: bus.mqttServerExternal.replace(/^tcp:/, 'mqtt:') };
  }
  const twin = createDeviceTwin({
    nodeName,
    databasePath: config.database.dataSource || join(dataDir, 'edgecore.db'),
    router,
    mqtt,
    dmi: { socketPath: config.modules.deviceTwin.dmiSockPath || join(dataDir, 'dmi.sock') },
    defaultReportCycleMs: config.modules.deviceTwin.reportCycle,
    logger: logger.child({ module: 'devicetwin' }),
  });
  await twin.start();
  return {
    twin,
    stop: () => twin.stop(),
  };
}
