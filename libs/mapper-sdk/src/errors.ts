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
  | 'KE_MAPPER_DRIVER_FAILED';

/** Every error this package throws or logs; `code` is stable, the message says what to do. */
export class MapperError extends Error {
  override readonly name: string = 'MapperError';
  readonly code: MapperErrorCode;

  constructor(code: MapperErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
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
