/** The stable codes of {@link DeviceControllerError}, for `switch (err.code)`. */
export const DeviceControllerErrorCode = {
  /** An option is missing or out of range (`kubeConfig`, `dispatch`, `workers`). */
  InvalidOptions: 'KE_DEVICECONTROLLER_INVALID_OPTIONS',
  /** `start()` was called while the controller runs; call `stop()` first. */
  AlreadyStarted: 'KE_DEVICECONTROLLER_ALREADY_STARTED',
  /** `dispatch` threw (cloudhub's queue for the node is full): the node is reconciled again later. */
  DispatchFailed: 'KE_DEVICECONTROLLER_DISPATCH_FAILED',
  /** An upstream resource is not `node/<node>/device/<ns>/<name>/twin/edge_updated` or `.../state/update`. */
  UnknownResource: 'KE_DEVICECONTROLLER_UNKNOWN_RESOURCE',
  /** An upstream message's content does not have the shape decision 0007 gives it. */
  MalformedContent: 'KE_DEVICECONTROLLER_MALFORMED_CONTENT',
  /** An upstream message names a Device the API does not have. */
  UnknownDevice: 'KE_DEVICECONTROLLER_UNKNOWN_DEVICE',
  /** An upstream message names a Device bound (`spec.nodeName`) to another node than the sender. */
  WrongNode: 'KE_DEVICECONTROLLER_WRONG_NODE',
} as const;

export type DeviceControllerErrorCode =
  (typeof DeviceControllerErrorCode)[keyof typeof DeviceControllerErrorCode];

/**
 * Every error this package throws, and the `err` of every refusal it logs; `code` is stable,
 * the message says what was wrong and what to do.
 */
export class DeviceControllerError extends Error {
  override readonly name = 'DeviceControllerError';
  readonly code: DeviceControllerErrorCode;

  constructor(code: DeviceControllerErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** True when `error` is a {@link DeviceControllerError}, optionally with the given code. */
export function isDeviceControllerError(
  error: unknown,
  code?: DeviceControllerErrorCode,
): error is DeviceControllerError {
  return error instanceof DeviceControllerError && (code === undefined || error.code === code);
}
