export type EdgedErrorCode =
  /** The CRI runtime cannot be reached: the socket is missing, refuses, or the runtime is down. */
  | 'KE_EDGED_CRI_UNAVAILABLE'
  /** The runtime does not have the sandbox, container or image named (gRPC NOT_FOUND). */
  | 'KE_EDGED_CRI_NOT_FOUND'
  /** The runtime did not answer before the call's deadline. */
  | 'KE_EDGED_CRI_TIMEOUT'
  /** The runtime answered with another error; `grpcCode` and `details` say which. */
  | 'KE_EDGED_CRI_FAILED'
  /** A caller's mistake: an empty endpoint or id. */
  | 'KE_EDGED_INVALID_ARGUMENT'
  /** The pod or container asked about is not on this node. */
  | 'KE_EDGED_POD_NOT_FOUND'
  /** A ConfigMap, Secret or key a container needs does not exist (`CreateContainerConfigError`). */
  | 'KE_EDGED_CONFIG_MISSING'
  /** A pod's configuration cannot be used as written (a bad env var reference, a bad path). */
  | 'KE_EDGED_CONFIG_INVALID'
  /** A volume could not be prepared (a hostPath of the wrong type, a subPath escaping its volume). */
  | 'KE_EDGED_VOLUME_FAILED'
  /** A volume type edged does not support (persistentVolumeClaim, nfs, ...). */
  | 'KE_EDGED_VOLUME_UNSUPPORTED';

/** Every error this package throws; `code` is stable, the message says what to do. */
export class EdgedError extends Error {
  override readonly name: string = 'EdgedError';
  readonly code: EdgedErrorCode;

  constructor(code: EdgedErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** A CRI call that failed: the gRPC status is kept as the runtime sent it. */
export class CriError extends EdgedError {
  override readonly name: string = 'CriError';
  /** The gRPC status code (`@grpc/grpc-js` `status`): 5 NOT_FOUND, 14 UNAVAILABLE, ... */
  readonly grpcCode: number;
  /** The runtime's own message, e.g. containerd's `failed to resolve reference ...: not found`. */
  readonly details: string;
  /** The CRI method, e.g. `RuntimeService/CreateContainer`. */
  readonly method: string;

  constructor(
    code: EdgedErrorCode,
    message: string,
    grpc: { grpcCode: number; details: string; method: string; cause?: unknown },
  ) {
    super(code, message, { cause: grpc.cause });
    this.grpcCode = grpc.grpcCode;
    this.details = grpc.details;
    this.method = grpc.method;
  }
}
