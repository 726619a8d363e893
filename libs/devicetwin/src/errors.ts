/** What went wrong, as a stable code a caller can switch on. */
export type DeviceTwinErrorCode =
  /** Options given to `createDeviceTwin` cannot work. */
  | 'KE_TWIN_INVALID_OPTIONS'
  /** A message (MQTT, DMI or from the cloud) is malformed: result code 400. */
  | 'KE_TWIN_INVALID'
  /** The message names a device this node does not have: result code 404. */
  | 'KE_TWIN_NOT_FOUND'
  /** The message carries a twin version older than the stored one: result code 409. */
  | 'KE_TWIN_VERSION_CONFLICT'
  /** The SQLite store failed (disk full, locked, corrupt): result code 500, retried by the cloud. */
  | 'KE_TWIN_STORE_FAILED'
  /** The MQTT broker could not be started or reached. */
  | 'KE_TWIN_BROKER_FAILED'
  /** The DMI socket could not be served. */
  | 'KE_TWIN_DMI_FAILED';

/** The result code KubeEdge's DeviceTwin puts in `.../result` messages for each error. */
export const RESULT_CODE: Readonly<Partial<Record<DeviceTwinErrorCode, number>>> = {
  KE_TWIN_INVALID: 400,
  KE_TWIN_NOT_FOUND: 404,
  KE_TWIN_VERSION_CONFLICT: 409,
  KE_TWIN_STORE_FAILED: 500,
};

export class DeviceTwinError extends Error {
  readonly code: DeviceTwinErrorCode;
  /** Whether trying the same message again may work (store failures), or never (bad input). */
  readonly retryable: boolean;

  constructor(code: DeviceTwinErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeviceTwinError';
    this.code = code;
    this.retryable = code === 'KE_TWIN_STORE_FAILED';
  }

  /** The result code for `.../result` topics (500 for anything unexpected). */
  get resultCode(): number {
    return RESULT_CODE[this.code] ?? 500;
  }
}

export const invalid = (message: string) => new DeviceTwinError('KE_TWIN_INVALID', message);
