import { OpcuaError, type OpcuaErrorCode } from './errors';

const DISCONNECTED =
  /ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EPIPE|socket|disconnect|premature|BadConnectionClosed|BadSecureChannelClosed|BadSecureChannelIdInvalid|BadSessionClosed|BadSessionIdInvalid|BadSessionNotActivated|BadNotConnected|BadServerNotConnected|BadCommunicationError|connection.*(lost|closed)|channel.*(closed|invalid)|reconnect/i;
const TIMEOUT = /timed? ?out|BadTimeout|BadRequestTimeout/i;
const AUTH =
  /BadUserAccessDenied|BadIdentityTokenRejected|BadIdentityTokenInvalid|BadUserSignatureInvalid/;
const SECURITY =
  /BadSecurityPolicyRejected|BadSecurityModeRejected|BadSecurityChecksFailed|BadCertificate\w*|BadNonceInvalid|endpoint.*(not found|cannot be found|does not exist)|cannot find (an )?endpoint/i;
const NODE = /BadNodeIdUnknown|BadNodeIdInvalid/;

/** The OPC UA status name in a message, e.g. `BadTypeMismatch`. */
function statusIn(message: string): string | undefined {
  return /\b(Bad[A-Z]\w*)/.exec(message)?.[1];
}

/**
 * A coded error for whatever node-opcua threw while `action` (a phrase such as "reading
 * ns=1;s=Temperature"). `fallback` is the code when nothing more precise matches.
 */
export function toOpcuaError(
  error: unknown,
  action: string,
  fallback: OpcuaErrorCode = 'KE_OPCUA_BAD_STATUS',
): OpcuaError {
  if (error instanceof OpcuaError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const statusCode = statusIn(message);
  const firstLine = message.split('\n')[0]?.trim() ?? message;
  const fail = (code: OpcuaErrorCode, hint: string) =>
    new OpcuaError(code, `${action}: ${firstLine}; ${hint}`, { cause: error, statusCode });
  if (AUTH.test(message)) {
    return fail('KE_OPCUA_AUTH_FAILED', 'check the protocol config userName and password');
  }
  if (SECURITY.test(message)) {
    return fail(
      'KE_OPCUA_SECURITY_REJECTED',
      'check that the server offers this securityMode and securityPolicy and trusts the client certificate',
    );
  }
  if (NODE.test(message)) {
    return fail('KE_OPCUA_NODE_NOT_FOUND', 'check the visitor nodeID (e.g. ns=1;s=Temperature)');
  }
  if (TIMEOUT.test(message)) {
    return fail('KE_OPCUA_TIMEOUT', 'the server did not answer within the protocol timeout');
  }
  if (DISCONNECTED.test(message)) {
    return fail('KE_OPCUA_DISCONNECTED', 'the server cannot be reached; the driver reconnects');
  }
  return fail(
    fallback,
    fallback === 'KE_OPCUA_DISCONNECTED'
      ? 'the server cannot be reached; the driver reconnects'
      : 'the server refused the request',
  );
}

/** A coded error for a Bad status code in an answer (`statusName` like `BadNodeIdUnknown`). */
export function statusError(statusName: string, action: string): OpcuaError {
  let code: OpcuaErrorCode = 'KE_OPCUA_BAD_STATUS';
  let hint = 'the server refused the request';
  if (NODE.test(statusName)) {
    code = 'KE_OPCUA_NODE_NOT_FOUND';
    hint = 'the server has no such node: check the visitor nodeID (e.g. ns=1;s=Temperature)';
  } else if (statusName === 'BadTypeMismatch') {
    hint = "the value does not match the node's DataType";
  } else if (statusName === 'BadNotWritable' || statusName === 'BadUserAccessDenied') {
    hint = 'the node is not writable by this user';
  } else if (statusName === 'BadNotReadable') {
    hint = 'the node is not readable by this user';
  } else if (TIMEOUT.test(statusName)) {
    code = 'KE_OPCUA_TIMEOUT';
    hint = 'the server did not answer within the protocol timeout';
  }
  return new OpcuaError(code, `${action}: the server answered ${statusName}; ${hint}`, {
    statusCode: statusName,
  });
}
