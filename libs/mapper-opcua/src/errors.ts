export type OpcuaErrorCode =
  /** A protocol or visitor config that cannot be used as written (the message names the field). */
  | 'KE_OPCUA_CONFIG_INVALID'
  /** A value to write that cannot be converted to the node's DataType. */
  | 'KE_OPCUA_VALUE_INVALID'
  /** The server has no node with this NodeId (`BadNodeIdUnknown`, `BadNodeIdInvalid`). */
  | 'KE_OPCUA_NODE_NOT_FOUND'
  /** The server refused the user name, the password or the user's certificate. */
  | 'KE_OPCUA_AUTH_FAILED'
  /** The secure channel could not be made: the security mode or policy is not offered, or a certificate was refused. */
  | 'KE_OPCUA_SECURITY_REJECTED'
  /** The server answered a read, write or subscription with a Bad status code; `statusCode` says which. */
  | 'KE_OPCUA_BAD_STATUS'
  /** No answer within the protocol's `timeout`. */
  | 'KE_OPCUA_TIMEOUT'
  /** No session: the server cannot be reached, or the connection is lost and being remade. */
  | 'KE_OPCUA_DISCONNECTED'
  /** The driver has no server: `init()` was not called, or `stop()` was. */
  | 'KE_OPCUA_STOPPED';

/** Every error this package throws; `code` is stable, the message says what to do. */
export class OpcuaError extends Error {
  override readonly name: string = 'OpcuaError';
  readonly code: OpcuaErrorCode;
  /** For `KE_OPCUA_BAD_STATUS` (and node or auth errors from a status): the status name, e.g. `BadTypeMismatch`. */
  readonly statusCode: string | undefined;

  constructor(
    code: OpcuaErrorCode,
    message: string,
    options: { cause?: unknown; statusCode?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.statusCode = options.statusCode;
  }
}
