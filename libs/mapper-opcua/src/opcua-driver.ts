import { setMaxListeners } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AttributeIds,
  type ClientMonitoredItem,
  type ClientSession,
  type ClientSubscription,
  DataType,
  type DataValue,
  type NodeId,
  OPCUACertificateManager,
  OPCUAClient,
  resolveNodeId,
  TimestampsToReturn,
  type UserIdentityInfo,
  UserTokenType,
  Variant,
  VariantArrayType,
} from 'node-opcua';
import { formatValue, parseValue, SCALAR_DATA_TYPES, type ScalarDataType } from './codec';
import {
  type OpcuaProtocolConfig,
  type OpcuaVisitorConfig,
  type ResolvedProtocol,
  resolveProtocol,
  resolveVisitor,
} from './config';
import type { DeviceDriver, DeviceState } from './driver';
import { OpcuaError } from './errors';
import { statusError, toOpcuaError } from './errors-map';

/** What the mapper passes to `subscribe`: the sampling interval it wants, and a signal. */
type SubscribeOptions = NonNullable<Parameters<NonNullable<DeviceDriver['subscribe']>>[3]>;

export interface OpcuaDriverOptions {
  /**
   * The client's PKI folder: its own certificate and key (made on first use when the protocol
   * config names none) and the server certificates it trusts or rejected. Default
   * `<os tmpdir>/ke-mapper-opcua-pki`; give a lasting folder in production so that servers
   * can trust the client's certificate once.
   */
  pkiDir?: string;
  /** Trust server certificates that are not in `<pkiDir>/trusted` (default true, as node-opcua). */
  acceptUnknownServerCertificates?: boolean;
  /**
   * Waits between attempts to reach a server that went away: `initialMs`, doubling up to
   * `maxMs` (default 500 ms → 10 s). node-opcua's client reconnects and restores the session
   * and its subscriptions.
   */
  reconnectBackoff?: { initialMs?: number; maxMs?: number };
  /**
   * The sampling interval of monitored items, in ms. Default 0: the server reports every change
   * as it happens. The mapper's hint (the property's `collectCycle`) is not used by default,
   * since sampling once per collect cycle would delay a change by up to a cycle.
   */
  samplingIntervalMs?: number;
  /** How often the server sends the notifications of a subscription, in ms (default 100). */
  publishingIntervalMs?: number;
  /** The client's application name, as servers see it (default `ke-mapper-opcua`). */
  applicationName?: string;
}

/** The OPC UA driver: the `DeviceDriver` a mapper runs for an OPC UA server. */
export type OpcuaDriver = DeviceDriver<OpcuaProtocolConfig, OpcuaVisitorConfig> & {
  subscribe: NonNullable<DeviceDriver<OpcuaProtocolConfig, OpcuaVisitorConfig>['subscribe']>;
};

/** OPC UA ServerState (Part 5, 12.6): 0 is Running. */
const SERVER_STATE_NODE = 'ns=0;i=2259';
const SERVER_STATE_RUNNING = 0;

interface Connection {
  client: OPCUAClient;
  session: ClientSession;
  protocol: ResolvedProtocol;
  /** False between node-opcua's `connection_lost` and `connection_reestablished`. */
  connected: boolean;
  subscription: Promise<ClientSubscription> | undefined;
  /** DataType of each node written to, by node ID. */
  dataTypes: Map<string, { dataType: ScalarDataType; arrayType: VariantArrayType }>;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** `work`, failing with `KE_OPCUA_TIMEOUT` after `ms`, or with the signal's reason when it aborts. */
async function bounded<T>(
  work: Promise<T>,
  ms: number,
  action: string,
  signal?: AbortSignal,
): Promise<T> {
  if (signal?.aborted) {
    work.catch(() => undefined);
    throw abortReason(signal);
  }
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new OpcuaError(
                'KE_OPCUA_TIMEOUT',
                `${action}: no answer within ${ms} ms; raise the protocol timeout or check the server`,
              ),
            ),
          ms,
        );
        timer.unref();
        if (signal) {
          onAbort = () => reject(abortReason(signal));
          signal.addEventListener('abort', onAbort, { once: true });
        }
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (signal && onAbort) signal.removeEventListener('abort', onAbort);
    work.catch(() => undefined);
  }
}

function dataTypeName(dataType: DataType | undefined): ScalarDataType | undefined {
  const name = dataType === undefined ? undefined : DataType[dataType];
  return SCALAR_DATA_TYPES.includes(name as ScalarDataType) ? (name as ScalarDataType) : undefined;
}

function formatDataValue(dataValue: DataValue): string {
  const variant = dataValue.value;
  if (!variant) return '';
  const name = dataTypeName(variant.dataType);
  if (name) return formatValue(variant.value, name);
  // Structures, LocalizedText, NodeIds, ...: their text form.
  const raw = variant.value as unknown;
  if (raw === null || raw === undefined) return '';
  const text = (raw as { text?: unknown }).text;
  if (typeof text === 'string') return text;
  return typeof raw === 'object' ? String(raw.toString()) : String(raw);
}

function identityOf(protocol: ResolvedProtocol): UserIdentityInfo {
  if (protocol.userName === undefined) return { type: UserTokenType.Anonymous };
  return {
    type: UserTokenType.UserName,
    userName: protocol.userName,
    password: protocol.password ?? '',
  };
}

/**
 * Creates the OPC UA driver. `init(protocol)` opens a secure channel and a session to
 * `protocol.url`; properties are read, written and subscribed to by their visitor's `nodeID`;
 * when the server goes away node-opcua's client reconnects with back-off and restores the
 * session and its subscriptions.
 */
export function createOpcuaDriver(options: OpcuaDriverOptions = {}): OpcuaDriver {
  const pkiDir = options.pkiDir ?? join(tmpdir(), 'ke-mapper-opcua-pki');
  const initialDelay = options.reconnectBackoff?.initialMs ?? 500;
  const maxDelay = options.reconnectBackoff?.maxMs ?? 10_000;
  const publishingInterval = options.publishingIntervalMs ?? 100;

  let connection: Connection | undefined;
  let certificateManager: OPCUACertificateManager | undefined;
  /** The state after the last request: `unhealthy` after a Bad answer or a timeout. */
  let lastOutcome: 'ok' | 'unhealthy' = 'ok';
  /** Aborted by `stop()`: ends a connect in progress. */
  let lifetime = new AbortController();
  /** Ends every subscription of the current connection. */
  const unsubscribers = new Set<() => Promise<void>>();

  function stoppedError(): OpcuaError {
    return new OpcuaError(
      'KE_OPCUA_STOPPED',
      'the OPC UA driver has no server: call init(protocol) first (or again after stop())',
    );
  }

  function live(): Connection {
    if (!connection) throw stoppedError();
    if (!connection.connected) {
      throw new OpcuaError(
        'KE_OPCUA_DISCONNECTED',
        `the connection to ${connection.protocol.url} is lost; the driver is reconnecting`,
      );
    }
    return connection;
  }

  function nodeIdOf(nodeID: string, property: string): NodeId {
    try {
      return resolveNodeId(nodeID);
    } catch (error) {
      throw new OpcuaError(
        'KE_OPCUA_CONFIG_INVALID',
        `visitor nodeID ${JSON.stringify(nodeID)} of property ${property} is not an OPC UA node ID (e.g. ns=1;s=Temperature, ns=2;i=1001)`,
        { cause: error },
      );
    }
  }

  /** Records how a request went (for `deviceState`) and turns failures into coded errors. */
  async function request<T>(action: string, work: () => Promise<T>): Promise<T> {
    try {
      const result = await work();
      lastOutcome = 'ok';
      return result;
    } catch (error) {
      const failure = toOpcuaError(error, action);
      if (failure.code === 'KE_OPCUA_TIMEOUT' || failure.code === 'KE_OPCUA_BAD_STATUS') {
        lastOutcome = 'unhealthy';
      }
      throw failure;
    }
  }

  async function connect(protocol: ResolvedProtocol, signal: AbortSignal): Promise<Connection> {
    certificateManager ??= new OPCUACertificateManager({
      rootFolder: pkiDir,
      automaticallyAcceptUnknownCertificate: options.acceptUnknownServerCertificates ?? true,
      // Nothing edits the folder while the driver runs; watchers would outlive stop().
      disableFileWatchers: true,
    });
    const client = OPCUAClient.create({
      applicationName: options.applicationName ?? 'ke-mapper-opcua',
      clientName: `ke-mapper-opcua ${protocol.url}`,
      endpointMustExist: false,
      securityMode: protocol.securityMode,
      securityPolicy: protocol.securityPolicy,
      certificateFile: protocol.certificate,
      privateKeyFile: protocol.privateKey,
      clientCertificateManager: certificateManager,
      // One retry at init (the mapper retries init with its own back-off); node-opcua
      // reconnects without limit, with this back-off, once a connection was made.
      connectionStrategy: { maxRetry: 1, initialDelay, maxDelay, randomisationFactor: 0 },
      transportTimeout: protocol.timeoutMs,
      defaultTransactionTimeout: protocol.timeoutMs,
      requestedSessionTimeout: Math.max(60_000, protocol.timeoutMs * 4),
      keepSessionAlive: true,
    });
    const onAbort = () => void client.disconnect().catch(() => undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await bounded(
        client.connect(protocol.url).catch((error: unknown) => {
          throw toOpcuaError(error, `connecting to ${protocol.url}`, 'KE_OPCUA_DISCONNECTED');
        }),
        protocol.timeoutMs + initialDelay + protocol.timeoutMs,
        `connecting to ${protocol.url}`,
        signal,
      );
      const session = await bounded(
        client.createSession(identityOf(protocol)).catch((error: unknown) => {
          throw toOpcuaError(
            error,
            `opening a session on ${protocol.url} as ${protocol.userName ?? 'anonymous'}`,
            'KE_OPCUA_AUTH_FAILED',
          );
        }),
        protocol.timeoutMs,
        `opening a session on ${protocol.url}`,
        signal,
      );
      const opened: Connection = {
        client,
        session,
        protocol,
        connected: true,
        subscription: undefined,
        dataTypes: new Map(),
      };
      client.on('connection_lost', () => {
        opened.connected = false;
      });
      client.on('connection_reestablished', () => {
        opened.connected = true;
      });
      return opened;
    } catch (error) {
      await client.disconnect().catch(() => undefined);
      throw signal.aborted ? abortReason(signal) : error;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async function close(closing: Connection): Promise<void> {
    for (const unsubscribe of [...unsubscribers]) await unsubscribe().catch(() => undefined);
    unsubscribers.clear();
    const timeoutMs = closing.protocol.timeoutMs;
    if (closing.connected) {
      const subscription = await closing.subscription?.catch(() => undefined);
      if (subscription) {
        await bounded(subscription.terminate(), timeoutMs, 'ending the subscription').catch(
          () => undefined,
        );
      }
      await bounded(closing.session.close(true), timeoutMs, 'closing the session').catch(
        () => undefined,
      );
    }
    await bounded(closing.client.disconnect(), timeoutMs, 'disconnecting').catch(() => undefined);
  }

  async function dataTypeOf(
    current: Connection,
    nodeId: NodeId,
    nodeID: string,
    action: string,
  ): Promise<{ dataType: ScalarDataType; arrayType: VariantArrayType }> {
    const known = current.dataTypes.get(nodeID);
    if (known) return known;
    const [value, dataTypeAttribute] = await bounded(
      current.session.read([
        { nodeId, attributeId: AttributeIds.Value },
        { nodeId, attributeId: AttributeIds.DataType },
      ]),
      current.protocol.timeoutMs,
      action,
    );
    for (const answer of [value, dataTypeAttribute]) {
      if (answer && !answer.statusCode.isGood()) throw statusError(answer.statusCode.name, action);
    }
    // A built-in DataType (ns=0, i=1..15) names itself; a subtype (Duration, UtcTime, an
    // enumeration) is written as the built-in type of the value it holds now.
    const typeNode = dataTypeAttribute?.value.value as NodeId | undefined;
    const builtIn =
      typeNode && typeNode.namespace === 0 && typeof typeNode.value === 'number'
        ? dataTypeName(typeNode.value as DataType)
        : undefined;
    const dataType = builtIn ?? dataTypeName(value?.value.dataType);
    if (!dataType) {
      throw new OpcuaError(
        'KE_OPCUA_VALUE_INVALID',
        `${action}: the node's DataType ${typeNode?.toString() ?? 'unknown'} is not one this driver writes (Boolean, integers, Float, Double, String, DateTime, ByteString)`,
      );
    }
    const resolved = { dataType, arrayType: value?.value.arrayType ?? VariantArrayType.Scalar };
    current.dataTypes.set(nodeID, resolved);
    return resolved;
  }

  function subscriptionOf(current: Connection): Promise<ClientSubscription> {
    current.subscription ??= current.session
      .createSubscription2({
        requestedPublishingInterval: publishingInterval,
        requestedMaxKeepAliveCount: 10,
        requestedLifetimeCount: Math.max(60, Math.ceil(60_000 / publishingInterval)),
        maxNotificationsPerPublish: 1000,
        publishingEnabled: true,
        priority: 1,
      })
      .catch((error: unknown) => {
        current.subscription = undefined;
        throw error;
      });
    return current.subscription;
  }

  return {
    async init(config, { signal } = {}) {
      const protocol = resolveProtocol(config);
      if (connection) await this.stop();
      lifetime = new AbortController();
      setMaxListeners(0, lifetime.signal);
      const combined = signal ? AbortSignal.any([signal, lifetime.signal]) : lifetime.signal;
      lastOutcome = 'ok';
      const opened = await connect(protocol, combined);
      if (combined.aborted) {
        // stop() (or the caller) gave up while the session was being opened.
        await close(opened);
        throw abortReason(combined);
      }
      connection = opened;
    },

    async readProperty(visitor, property, { signal } = {}) {
      const { nodeID } = resolveVisitor(visitor, property.name);
      const nodeId = nodeIdOf(nodeID, property.name);
      const current = live();
      const action = `reading property ${property.name} (${nodeID})`;
      return request(action, async () => {
        const dataValue = await bounded(
          current.session.read({ nodeId, attributeId: AttributeIds.Value }),
          current.protocol.timeoutMs,
          action,
          signal,
        );
        if (!dataValue.statusCode.isGood()) throw statusError(dataValue.statusCode.name, action);
        return formatDataValue(dataValue);
      });
    },

    async writeProperty(visitor, property, value, { signal } = {}) {
      const { nodeID } = resolveVisitor(visitor, property.name);
      const nodeId = nodeIdOf(nodeID, property.name);
      const current = live();
      const action = `writing ${JSON.stringify(value)} to property ${property.name} (${nodeID})`;
      const { dataType, arrayType } = await request(action, () =>
        dataTypeOf(current, nodeId, nodeID, action),
      );
      let converted: unknown;
      if (arrayType === VariantArrayType.Array) {
        let items: unknown;
        try {
          items = JSON.parse(value);
        } catch {
          items = undefined;
        }
        if (!Array.isArray(items)) {
          throw new OpcuaError(
            'KE_OPCUA_VALUE_INVALID',
            `${action}: the node holds an array of ${dataType}: write a JSON array such as ["1","2"]`,
          );
        }
        converted = items.map((item) => parseValue(String(item), dataType));
      } else {
        converted = parseValue(value, dataType);
      }
      await request(action, async () => {
        const statusCode = await bounded(
          current.session.write({
            nodeId,
            attributeId: AttributeIds.Value,
            value: {
              value: new Variant({ dataType: DataType[dataType], arrayType, value: converted }),
            },
          }),
          current.protocol.timeoutMs,
          action,
          signal,
        );
        if (!statusCode.isGood()) throw statusError(statusCode.name, action);
      });
    },

    async subscribe(visitor, property, onValue, subscribeOptions: SubscribeOptions = {}) {
      const { nodeID } = resolveVisitor(visitor, property.name);
      const nodeId = nodeIdOf(nodeID, property.name);
      const current = live();
      const action = `subscribing to property ${property.name} (${nodeID})`;
      // subscribeOptions.samplingIntervalMs (the collect cycle) only as an explicit opt-in.
      const samplingInterval = options.samplingIntervalMs ?? 0;
      const item: ClientMonitoredItem = await request(action, async () => {
        const subscription = await bounded(
          subscriptionOf(current),
          current.protocol.timeoutMs,
          action,
          subscribeOptions.signal,
        );
        return bounded(
          subscription.monitor(
            { nodeId, attributeId: AttributeIds.Value },
            { samplingInterval, discardOldest: true, queueSize: 10 },
            TimestampsToReturn.Both,
          ),
          current.protocol.timeoutMs,
          action,
          subscribeOptions.signal,
        );
      });
      // node-opcua reports a refused item on the item, not as a failed monitor().
      const refused = item.statusCode;
      if (refused && !refused.isGood()) {
        await item.terminate().catch(() => undefined);
        throw statusError(refused.name, action);
      }
      item.on('changed', (dataValue: DataValue) => {
        if (dataValue.statusCode.isGood()) onValue(formatDataValue(dataValue));
      });
      let ended = false;
      const unsubscribe = async () => {
        if (ended) return;
        ended = true;
        unsubscribers.delete(unsubscribe);
        item.removeAllListeners('changed');
        if (connection === current && current.connected) {
          await bounded(item.terminate(), current.protocol.timeoutMs, 'unsubscribing').catch(
            () => undefined,
          );
        }
      };
      unsubscribers.add(unsubscribe);
      return unsubscribe;
    },

    async deviceState(): Promise<DeviceState> {
      const current = connection;
      if (!current) return 'unknown';
      if (!current.connected) return 'disconnected';
      try {
        const dataValue = await bounded(
          current.session.read({
            nodeId: resolveNodeId(SERVER_STATE_NODE),
            attributeId: AttributeIds.Value,
          }),
          current.protocol.timeoutMs,
          'reading the server state',
        );
        if (!current.connected) return 'disconnected';
        if (!dataValue.statusCode.isGood()) return 'unhealthy';
        if (dataValue.value.value !== SERVER_STATE_RUNNING) return 'unhealthy';
        return lastOutcome;
      } catch (error) {
        if (!current.connected) return 'disconnected';
        return toOpcuaError(error, 'reading the server state').code === 'KE_OPCUA_DISCONNECTED'
          ? 'disconnected'
          : 'unhealthy';
      }
    },

    async stop() {
      lifetime.abort(stoppedError());
      const closing = connection;
      connection = undefined;
      if (closing) await close(closing);
      const manager = certificateManager;
      certificateManager = undefined;
      await manager?.dispose().catch(() => undefined);
    },
  };
}
