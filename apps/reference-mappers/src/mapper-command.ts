import { type Logger, runConfigFileCli } from '@ke/daemon';
import { createMapper, type DeviceDriver, loadMapperConfig } from '@ke/mapper-sdk';
import pkg from '../package.json';

const CONFIG_HELP =
  "mapper-framework's config.yaml (grpc_server.socket_path, common.name, common.protocol, " +
  'common.edgecore_sock, common.http_port, dev_init.mode: register | configmap, ...); relative ' +
  'paths are relative to the file';

/**
 * A KubeEdge mapper as a process: reads mapper-framework's config.yaml, registers with
 * edgecore over DMI (or, with `dev_init.mode: configmap`, takes its devices from a file), runs
 * `createDriver()` for each device, and stops cleanly
 * on SIGINT or SIGTERM. Resolves with the exit code (0 clean stop, 1 start/stop failure,
 * 2 bad command line or config).
 */
export function runMapperCommand<ProtocolConfig, VisitorConfig>(options: {
  name: string;
  /** The protocol its driver speaks; a config naming another one gets a warning. */
  protocol: string;
  summary: string;
  createDriver: () => DeviceDriver<ProtocolConfig, VisitorConfig>;
}): Promise<number> {
  return runConfigFileCli({
    name: options.name,
    version: pkg.version,
    summary: options.summary,
    configHelp: CONFIG_HELP,
    async create(path: string, logger: Logger) {
      const config = await loadMapperConfig(path);
      if (config.protocol.toLowerCase() !== options.protocol) {
        logger.warn(
          { protocol: config.protocol },
          `common.protocol is not ${options.protocol}: edgecore hands this mapper the devices of that protocol`,
        );
      }
      return createMapper<ProtocolConfig, VisitorConfig>({
        ...config,
        createDriver: options.createDriver,
        logger,
      });
    },
  });
}
