import { status } from '@grpc/grpc-js';

export type DmiErrorCode =
  /** The other side cannot be reached: no socket, nobody listening, or it went away. */
  | 'KE_DMI_UNAVAILABLE'
  /** The other side does not have the device or model named (gRPC NOT_FOUND). */
  | 'KE_DMI_NOT_FOUND'
  /** The other side did not answer before the call's deadline. */
  | 'KE_DMI_TIMEOUT'
  /** The other side answered with another error; `grpcCode` and `details` say which. */
  | 'KE_DMI_FAILED'
  /** A caller's mistake (an empty endpoint, a socket path that is not a socket), or a request the other side refused as malformed (gRPC INVALID_ARGUMENT). */
  | 'KE_DMI_INVALID_ARGUMENT'
  /** A `configData` value this package cannot pack into, or unpack from, a `google.protobuf.Any`. */
  | 'KE_DMI_UNSUPPORTED_VALUE';

/**
 * Every error this package throws; `code` is stable, the message says what to do. A failed call
 * also keeps the gRPC status as the other side sent it. A handler may throw one (or any error
 * with a numeric `grpcCode`) to answer with that status.
 */
export class DmiError extends Error {
  override readonly name: string = 'DmiError';
  readonly code: DmiErrorCode;
  /** The gRPC status code (`@grpc/grpc-js` `status`): 5 NOT_FOUND, 14 UNAVAILABLE, ... */
  readonly grpcCode: number | undefined;
  /** The other side's own message. */
  readonly details: string | undefined;
  /** The DMI method, e.g. `DeviceManagerService/MapperRegister`. */
  readonly method: string | undefined;

  constructor(
    code: DmiErrorCode,
    message: string,
    options: { grpcCode?: number; details?: string; method?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.grpcCode = options.grpcCode;
    this.details = options.details;
    this.method = options.method;
  }
}

const statusOfCode: Record<DmiErrorCode, status> = {
  KE_DMI_UNAVAILABLE: status.UNAVAILABLE,
  KE_DMI_NOT_FOUND: status.NOT_FOUND,
  KE_DMI_TIMEOUT: status.DEADLINE_EXCEEDED,
  KE_DMI_FAILED: status.UNKNOWN,
  KE_DMI_INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  KE_DMI_UNSUPPORTED_VALUE: status.INVALID_ARGUMENT,
};

/**
 * The gRPC status a handler's error answers with: its `grpcCode` if it has a valid one, else the
 * status of its `DmiError` code, else INTERNAL; the details are its message.
 */
export function grpcStatusOf(error: unknown): { code: status; details: string } {
  const details = error instanceof Error ? error.message : String(error);
  const grpcCode = (error as { grpcCode?: unknown } | null)?.grpcCode;
  if (
    typeof grpcCode === 'number' &&
    Number.isInteger(grpcCode) &&
    grpcCode > status.OK &&
    grpcCode <= status.UNAUTHENTICATED
  ) {
    return { code: grpcCode, details };
  }
  if (error instanceof DmiError) return { code: statusOfCode[error.code], details };
  return { code: status.INTERNAL, details };
}
