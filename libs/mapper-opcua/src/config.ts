import { MessageSecurityMode, SecurityPolicy } from 'node-opcua';
import { OpcuaError } from './errors';

/** The `configData` of a v1beta1 Device's `protocol`, as KubeEdge's OPC UA mapper takes it. */
export interface OpcuaProtocolConfig {
  /** The server's endpoint, e.g. `opc.tcp://192.168.1.20:4840`. */
  url: string;
  /** `None` (default), `Sign` or `SignAndEncrypt`. */
  securityMode?: string;
  /** `None` (default), `Basic256Sha256`, `Aes128_Sha256_RsaOaep`, `Aes256_Sha256_RsaPss`, ... (with or without the policy URI prefix). */
  securityPolicy?: string;
  /** Log in with this user name (and `password`); anonymous when absent. */
  userName?: string;
  password?: string;
  /** Path of the client's certificate (PEM or DER) for Sign/SignAndEncrypt; a self-signed one is made when absent. */
  certificate?: string;
  /** Path of the private key (PEM) of `certificate`. */
  privateKey?: string;
  /** Milliseconds to wait for a connection and for each request (default 5000). */
  timeout?: number | string;
}

/** The `configData` of a property's visitor, as KubeEdge's OPC UA mapper takes it. */
export interface OpcuaVisitorConfig {
  /** The node to read, write and subscribe to: `ns=1;s=Temperature`, `ns=2;i=1001`, `i=2258`. */
  nodeID: string;
  /** The node's browse name; informative (used in messages), the node is found by `nodeID`. */
  browseName?: string;
}

/** A protocol config with its defaults filled in. */
export interface ResolvedProtocol {
  url: string;
  securityMode: MessageSecurityMode;
  securityModeName: 'None' | 'Sign' | 'SignAndEncrypt';
  securityPolicy: SecurityPolicy;
  securityPolicyName: string;
  userName: string | undefined;
  password: string | undefined;
  certificate: string | undefined;
  privateKey: string | undefined;
  timeoutMs: number;
}

export const DEFAULT_TIMEOUT_MS = 5000;

const SECURITY_MODES = {
  None: MessageSecurityMode.None,
  Sign: MessageSecurityMode.Sign,
  SignAndEncrypt: MessageSecurityMode.SignAndEncrypt,
} as const;

const POLICY_PREFIX = 'http://opcfoundation.org/UA/SecurityPolicy#';

function configError(message: string): OpcuaError {
  return new OpcuaError('KE_OPCUA_CONFIG_INVALID', message);
}

function optionalString(config: Record<string, unknown>, field: string): string | undefined {
  const value = config[field];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') {
    throw configError(`protocol config field ${field} must be a string, got ${typeof value}`);
  }
  return value;
}

/** Validates a protocol config and fills in defaults; throws `KE_OPCUA_CONFIG_INVALID`. */
export function resolveProtocol(
  config: OpcuaProtocolConfig | Record<string, unknown>,
): ResolvedProtocol {
  const fields = (config ?? {}) as Record<string, unknown>;
  const url = optionalString(fields, 'url');
  if (!url || !/^opc\.tcp:\/\/[^/\s]+/.test(url)) {
    throw configError(
      `protocol config field url must be an OPC UA endpoint like opc.tcp://host:4840, got ${JSON.stringify(fields.url)}`,
    );
  }
  const modeName = optionalString(fields, 'securityMode') ?? 'None';
  if (!Object.hasOwn(SECURITY_MODES, modeName)) {
    throw configError(
      `protocol config field securityMode must be None, Sign or SignAndEncrypt, got ${JSON.stringify(modeName)}`,
    );
  }
  const policyText = optionalString(fields, 'securityPolicy') ?? 'None';
  const policyName = policyText.startsWith(POLICY_PREFIX)
    ? policyText.slice(POLICY_PREFIX.length)
    : policyText;
  const policies = Object.keys(SecurityPolicy).filter((k) => k !== 'Invalid');
  if (!policies.includes(policyName)) {
    throw configError(
      `protocol config field securityPolicy must be one of ${policies.join(', ')}, got ${JSON.stringify(policyText)}`,
    );
  }
  const securityMode = SECURITY_MODES[modeName as keyof typeof SECURITY_MODES];
  const securityPolicy = SecurityPolicy[policyName as keyof typeof SecurityPolicy];
  if ((securityMode === MessageSecurityMode.None) !== (policyName === 'None')) {
    throw configError(
      `protocol config securityMode ${modeName} does not go with securityPolicy ${policyName}: use None with None, or Sign/SignAndEncrypt with a policy such as Basic256Sha256`,
    );
  }
  const timeoutRaw = fields.timeout;
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (timeoutRaw !== undefined && timeoutRaw !== null && timeoutRaw !== '') {
    timeoutMs = Number(timeoutRaw);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw configError(
        `protocol config field timeout must be a positive number of ms, got ${JSON.stringify(timeoutRaw)}`,
      );
    }
  }
  const userName = optionalString(fields, 'userName');
  const password = optionalString(fields, 'password');
  if (password !== undefined && userName === undefined) {
    throw configError('protocol config has a password but no userName');
  }
  const certificate = optionalString(fields, 'certificate');
  const privateKey = optionalString(fields, 'privateKey');
  if ((certificate === undefined) !== (privateKey === undefined)) {
    throw configError(
      'protocol config fields certificate and privateKey go together: give both or neither',
    );
  }
  return {
    url,
    securityMode,
    securityModeName: modeName as ResolvedProtocol['securityModeName'],
    securityPolicy,
    securityPolicyName: policyName,
    userName,
    password,
    certificate,
    privateKey,
    timeoutMs,
  };
}

/** Validates a visitor config; throws `KE_OPCUA_CONFIG_INVALID`. */
export function resolveVisitor(
  visitor: OpcuaVisitorConfig | Record<string, unknown>,
  propertyName: string,
): { nodeID: string; browseName: string | undefined } {
  const fields = (visitor ?? {}) as Record<string, unknown>;
  const nodeID = fields.nodeID ?? fields.nodeId;
  if (typeof nodeID !== 'string' || nodeID.trim() === '') {
    throw configError(
      `visitor config of property ${propertyName} needs nodeID, e.g. "ns=1;s=Temperature", got ${JSON.stringify(nodeID)}`,
    );
  }
  const browseName = typeof fields.browseName === 'string' ? fields.browseName : undefined;
  return { nodeID: nodeID.trim(), browseName };
}
