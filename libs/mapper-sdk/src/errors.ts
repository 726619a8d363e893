export type MapperErrorCode =
  /** `createMapper` was given options it cannot run with (no name, no protocol, a bad socket path). */
  | 'KE_MAPPER_INVALID_OPTIONS'
  /** The mapper has no device of that namespace and name. */
  | 'KE_MAPPER_DEVICE_NOT_FOUND'
  /** The device has no property of that name, or no value was read for it yet. */
  | 'KE_MAPPER_PROPERTY_NOT_FOUND'
  /** A value could not be pushed to an MQTT broker or HTTP endpoint (the push is dropped). */
  | 'KE_MAPPER_PUSH_FAILED'
  /** A device's driver threw while connecting, reading, writing or reporting its state. */
  | 'KE_MAPPER_DRIVER_FAILED'
  /** The mapper's config file could not be read (missing, unreadable). */
  | 'KE_MAPPER_CONFIG_READ'
  /** The mapper's config is not valid YAML, or its top level is not a mapping. */
  | 'KE_MAPPER_CONFIG_YAML'
  /** A required config key is missing (`key` names it). */
  | 'KE_MAPPER_CONFIG_MISSING'
  /** A config key has a value of the wrong type or out of range (`key` names it). */
  | 'KE_MAPPER_CONFIG_INVALID'
  /** The config has a key the mapper does not know, usually a typo (`key` names it). */
  | 'KE_MAPPER_CONFIG_UNKNOWN_KEY'
  /**
   * The device file of `dev_init.configmap` holds what the mapper cannot run: not a v1beta1
   * Device or DeviceModel, a bad field, a Device whose DeviceModel is not in the file.
   */
  | 'KE_MAPPER_CONFIG_DEVICES';

/** Every error this package throws or logs; `code` is stable, the message says what to do. */
export class MapperError extends Error {
  override readonly name: string = 'MapperError';
  readonly code: MapperErrorCode;
  /** For config errors: the dotted key at fault, like `common.http_port`. */
  readonly key: string | undefined;

  constructor(
    code: MapperErrorCode,
    message: string,
    options: { cause?: unknown; key?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.key = options.key;
  }
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The `code` of anything thrown, if it has a string one. */
export function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
