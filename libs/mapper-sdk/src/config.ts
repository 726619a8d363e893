import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { parseDeviceManifests } from './device-file';
import { MapperError, type MapperErrorCode, messageOf } from './errors';
import type { StandaloneDevices } from './mapper';

/** Where edgecore's DMI socket is when the config does not say (edgecore's own default). */
export const DEFAULT_EDGECORE_SOCK = '/etc/kubeedge/dmi.sock';

/** The longest Unix socket path Linux accepts (`sun_path` is 108 bytes with the NUL). */
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * What a mapper-framework `config.yaml` sets: `createMapper`'s options without the driver, so
 * `createMapper({ ...config, createDriver })` runs it.
 */
export interface MapperConfig {
  /** `common.name`. */
  name: string;
  /** `common.version`; default `v1.0.0`. */
  version: string;
  /** `common.api_version`; default `v1.0.0`. */
  apiVersion: string;
  /** `common.protocol`. */
  protocol: string;
  dmi: {
    /**
     * `common.edgecore_sock` as a `unix://` endpoint; default `unix:///etc/kubeedge/dmi.sock`.
     * Left out with `dev_init.mode: configmap`: the mapper never calls edgecore.
     */
    edgeEndpoint?: string;
    /** `grpc_server.socket_path`, absolute; optional with `dev_init.mode: configmap`. */
    socketPath?: string;
  };
  /** `common.http_port` and `common.address` (default `127.0.0.1`); `false` without a port. */
  http: { port: number; host: string } | false;
  /**
   * With `dev_init.mode: configmap`: the Devices of `common.protocol` and the DeviceModels in
   * the file `dev_init.configmap` names, so the mapper runs standalone.
   */
  devices?: StandaloneDevices;
}

/** How `parseMapperConfig` names and places the text it parses. */
export interface ParseMapperConfigOptions {
  /** Names the config in error messages (a file name); default `mapper config`. */
  source?: string;
  /** Relative socket paths are resolved against it; default the working directory. */
  baseDir?: string;
}

const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': ['grpc_server', 'common', 'dev_init'],
  grpc_server: ['socket_path'],
  common: ['name', 'version', 'api_version', 'protocol', 'address', 'edgecore_sock', 'http_port'],
  // mapper-framework's device source: `register` (edgecore) or `configmap` (a file of manifests).
  dev_init: ['mode', 'configmap'],
};

/**
 * Reads a mapper-framework style `config.yaml`, and with `dev_init.mode: configmap` the device
 * file it names. Relative paths in it are resolved against the file's directory. Throws a
 * `MapperError` whose `key` names the bad key.
 */
export async function loadMapperConfig(file: string): Promise<MapperConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new MapperError(
      'KE_MAPPER_CONFIG_READ',
      `cannot read the mapper config ${file}: ${messageOf(cause)}`,
      { cause },
    );
  }
  const checked = checkMapperConfig(text, { source: file, baseDir: dirname(resolve(file)) });
  if (!checked.deviceFile) return checked.config;
  const deviceText = await readDeviceFile(() => readFile(checked.deviceFile!, 'utf8'), file);
  return withDevices(checked.config, checked.deviceFile, deviceText);
}

/**
 * Parses and validates the text of a mapper-framework style `config.yaml`; with
 * `dev_init.mode: configmap` it reads the device file (relative to `baseDir`) synchronously.
 */
export function parseMapperConfig(
  text: string,
  options: ParseMapperConfigOptions = {},
): MapperConfig {
  const source = options.source ?? 'mapper config';
  const checked = checkMapperConfig(text, options);
  if (!checked.deviceFile) return checked.config;
  const deviceFile = checked.deviceFile;
  const deviceText = readDeviceFile(() => readFileSync(deviceFile, 'utf8'), source);
  return withDevices(checked.config, deviceFile, deviceText);
}

function readDeviceFile<T extends string | Promise<string>>(read: () => T, source: string): T {
  const fail = (cause: unknown): never => {
    throw new MapperError(
      'KE_MAPPER_CONFIG_READ',
      `${source}: dev_init.configmap names a file that cannot be read: ${messageOf(cause)}`,
      { cause, key: 'dev_init.configmap' },
    );
  };
  try {
    const result = read();
    return (typeof result === 'string' ? result : result.catch(fail)) as T;
  } catch (cause) {
    return fail(cause);
  }
}

function withDevices(config: MapperConfig, deviceFile: string, text: string): MapperConfig {
  return {
    ...config,
    devices: parseDeviceManifests(text, { source: deviceFile, protocol: config.protocol }),
  };
}

/** The config, and the device file to read when `dev_init.mode` is `configmap`. */
function checkMapperConfig(
  text: string,
  options: ParseMapperConfigOptions,
): { config: MapperConfig; deviceFile: string | undefined } {
  const source = options.source ?? 'mapper config';
  const baseDir = options.baseDir ?? process.cwd();
  const fail = (code: MapperErrorCode, key: string, message: string): never => {
    throw new MapperError(code, `${source}: ${key ? `${key} ` : ''}${message}`, { key });
  };

  const document = parseDocument(text);
  const yamlError = document.errors[0];
  if (yamlError) {
    // The yaml package appends a code frame on later lines; one line is enough to act on.
    const firstLine = yamlError.message.split('\n')[0]!.replace(/:$/, '');
    throw new MapperError('KE_MAPPER_CONFIG_YAML', `${source}: invalid YAML: ${firstLine}`, {
      cause: yamlError,
    });
  }
  const root: unknown = document.toJS() ?? {};
  if (!isMapping(root)) {
    throw new MapperError(
      'KE_MAPPER_CONFIG_YAML',
      `${source}: the top level must be a mapping with grpc_server and common`,
    );
  }

  const section = (key: string): Record<string, unknown> | undefined => {
    const value = key ? root[key] : root;
    if (value === undefined || value === null) return undefined;
    if (!isMapping(value)) fail('KE_MAPPER_CONFIG_INVALID', key, `must be a mapping`);
    const mapping = value as Record<string, unknown>;
    for (const child of Object.keys(mapping)) {
      if (!KNOWN_KEYS[key]!.includes(child)) {
        const path = key ? `${key}.${child}` : child;
        fail(
          'KE_MAPPER_CONFIG_UNKNOWN_KEY',
          path,
          `is not a mapper config key (known${key ? ` under ${key}` : ''}: ${KNOWN_KEYS[key]!.join(', ')})`,
        );
      }
    }
    return mapping;
  };
  section('');
  const grpcServer = section('grpc_server');
  const common = section('common');
  const devInit = section('dev_init');

  const stringAt = (
    mapping: Record<string, unknown> | undefined,
    path: string,
    hint: string,
  ): string | undefined => {
    const value = mapping?.[path.slice(path.indexOf('.') + 1)];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') {
      fail(
        'KE_MAPPER_CONFIG_INVALID',
        path,
        `must be a string, got ${describe(value)} (quote it in the YAML: ${hint})`,
      );
    }
    return value as string;
  };
  const required = (value: string | undefined, path: string, hint: string): string =>
    value ?? fail('KE_MAPPER_CONFIG_MISSING', path, `is missing: ${hint}`);

  const name = required(
    stringAt(common, 'common.name', 'name: modbus-mapper'),
    'common.name',
    "the mapper's name as it registers with edgecore, like `name: modbus-mapper`",
  );
  const version = stringAt(common, 'common.version', 'version: v1.0.0') ?? 'v1.0.0';
  const apiVersion = stringAt(common, 'common.api_version', 'api_version: v1.0.0') ?? 'v1.0.0';
  const protocol = required(
    stringAt(common, 'common.protocol', 'protocol: modbus'),
    'common.protocol',
    'the protocol whose devices edgecore hands this mapper, like `protocol: modbus`',
  );
  const mode = stringAt(devInit, 'dev_init.mode', 'mode: register') ?? 'register';
  if (mode !== 'register' && mode !== 'configmap') {
    fail(
      'KE_MAPPER_CONFIG_INVALID',
      'dev_init.mode',
      `must be register (devices from edgecore) or configmap (devices from the file dev_init.configmap names), got ${JSON.stringify(mode)}`,
    );
  }
  const standalone = mode === 'configmap';
  const deviceFile = standalone
    ? resolve(
        baseDir,
        required(
          stringAt(devInit, 'dev_init.configmap', 'configmap: devices.yaml'),
          'dev_init.configmap',
          'the YAML file of Device and DeviceModel manifests to run, like `configmap: devices.yaml`',
        ),
      )
    : undefined;
  const socketPathText = stringAt(
    grpcServer,
    'grpc_server.socket_path',
    'socket_path: /etc/kubeedge/modbus.sock',
  );
  const socketPath =
    standalone && socketPathText === undefined
      ? undefined
      : socketFile(
          required(
            socketPathText,
            'grpc_server.socket_path',
            "the mapper's own DMI socket, like `socket_path: /etc/kubeedge/modbus.sock`",
          ),
          'grpc_server.socket_path',
        );
  const edgecoreSock = socketFile(
    stringAt(common, 'common.edgecore_sock', 'edgecore_sock: /etc/kubeedge/dmi.sock') ??
      DEFAULT_EDGECORE_SOCK,
    'common.edgecore_sock',
  );
  const host = stringAt(common, 'common.address', 'address: 127.0.0.1') ?? '127.0.0.1';
  if (/\s|\//.test(host)) {
    fail(
      'KE_MAPPER_CONFIG_INVALID',
      'common.address',
      `must be a host name or IP address for the REST API, got ${JSON.stringify(host)}`,
    );
  }
  const port = httpPort(common?.http_port);

  // A standalone mapper never calls edgecore: common.edgecore_sock is checked, then left out.
  const dmi: MapperConfig['dmi'] = standalone
    ? socketPath === undefined
      ? {}
      : { socketPath }
    : { edgeEndpoint: `unix://${edgecoreSock}`, socketPath };
  return {
    config: {
      name,
      version,
      apiVersion,
      protocol,
      dmi,
      http: port === undefined ? false : { port, host },
    },
    deviceFile,
  };

  function socketFile(value: string, path: string): string {
    let file = value;
    if (file.startsWith('unix://')) file = file.slice('unix://'.length);
    else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) {
      fail(
        'KE_MAPPER_CONFIG_INVALID',
        path,
        `must be a Unix socket path or a unix:// URL, got ${JSON.stringify(value)}`,
      );
    }
    if (file === '') fail('KE_MAPPER_CONFIG_INVALID', path, 'names no socket file');
    const absolute = isAbsolute(file) ? file : resolve(baseDir, file);
    if (Buffer.byteLength(absolute) > MAX_SOCKET_PATH_BYTES) {
      fail(
        'KE_MAPPER_CONFIG_INVALID',
        path,
        `is ${Buffer.byteLength(absolute)} bytes long (${absolute}); Unix sockets allow ${MAX_SOCKET_PATH_BYTES}: use a shorter path`,
      );
    }
    return absolute;
  }

  function httpPort(value: unknown): number | undefined {
    if (value === undefined || value === null || value === '') return undefined;
    const port =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^\d+$/.test(value.trim())
          ? Number(value.trim())
          : Number.NaN;
    if (!Number.isInteger(port) || port < 0 || port > 65_535) {
      fail(
        'KE_MAPPER_CONFIG_INVALID',
        'common.http_port',
        `must be a TCP port from 0 to 65535 (0 picks a free one), got ${describe(value)}`,
      );
    }
    return port;
  }
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (isMapping(value)) return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}
