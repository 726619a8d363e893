/**
 * @packageDocumentation
 * The daemon shell shared by `ke-cloud` and `ke-edge`: a TypeBox config schema whose every
 * field is settable from a YAML file and overridable by a `--dotted.path` flag, structured logs
 * (pino), and a lifecycle that stops cleanly on SIGINT/SIGTERM.
 *
 * ```ts
 * import { Type } from '@sinclair/typebox';
 * import { runDaemonCli, section } from '@ke/daemon';
 *
 * const schema = section({
 *   logLevel: Type.String({ default: 'info', description: 'log level' }),
 *   server: section({ port: Type.Integer({ default: 8080, description: 'listen port' }) }),
 * });
 * process.exitCode = await runDaemonCli({
 *   name: 'my-daemon', version: '1.0.0', description: 'does one thing', schema,
 *   run: (config, { logger }) => ({
 *     start: async () => logger.info({ port: config.server.port }, 'listening'),
 *     stop: async () => {},
 *   }),
 * });
 * ```
 */
export { type DaemonCliSpec, runDaemonCli } from './cli';
export {
  type ConfigLeaf,
  configLeaves,
  defaultConfig,
  type LeafKind,
  parseConfigText,
  readConfigFile,
  renderConfig,
  resolveConfig,
  section,
} from './config';
export { type ConfigFileCliSpec, runConfigFileCli } from './config-file-cli';
export { type ConfigIssue, DaemonError, type DaemonErrorCode } from './errors';
export { type Component, type RunOptions, runUntilSignal, type SignalTarget } from './lifecycle';
export { createLogger, type LogFormat, type Logger, type LoggerSettings } from './logger';
export { reportModules } from './modules';
