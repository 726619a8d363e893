import { connect, type Socket } from 'node:net';
import ModbusRTU from 'modbus-serial';
import type { ResolvedProtocol } from './config';
import { ModbusError } from './errors';

/** One open connection to a device: modbus-serial's client on a socket or a serial port. */
export interface ModbusLink {
  readonly client: ModbusRTU;
  /** Resolves once, when the connection is gone (closed by either side, reset, port error). */
  readonly closed: Promise<void>;
  readonly isClosed: boolean;
  /** Closes the connection and cancels modbus-serial's timers of requests still waiting. */
  close(): Promise<void>;
}

/** Where a protocol config points, for messages: `127.0.0.1:502` or `/dev/ttyUSB0`. */
export function describeTarget(protocol: ResolvedProtocol): string {
  return protocol.kind === 'tcp'
    ? `${protocol.host}:${protocol.port} (unit ${protocol.slaveID})`
    : `${protocol.path} (slave ${protocol.slaveID})`;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

function disconnected(protocol: ResolvedProtocol, why: string, cause?: unknown): ModbusError {
  return new ModbusError(
    'KE_MODBUS_DISCONNECTED',
    `cannot connect to Modbus device at ${describeTarget(protocol)}: ${why}`,
    { cause },
  );
}

/** Opens a TCP connection ourselves, so that its `close` is seen even after a reset. */
function connectSocket(
  protocol: Extract<ResolvedProtocol, { kind: 'tcp' }>,
  signal: AbortSignal | undefined,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: protocol.host, port: protocol.port });
    const finish = (error?: unknown) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('connect', onConnect);
      if (error === undefined) {
        resolve(socket);
      } else {
        socket.destroy();
        reject(error);
      }
    };
    const onConnect = () => finish();
    const onError = (error: NodeJS.ErrnoException) =>
      finish(disconnected(protocol, error.code ?? error.message, error));
    const onAbort = () => finish(abortReason(signal!));
    const timer = setTimeout(
      () => finish(disconnected(protocol, `no connection within ${protocol.timeoutMs} ms`)),
      protocol.timeoutMs,
    );
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function watch(
  client: ModbusRTU,
  onGone: (watcher: () => void) => void,
): { closed: Promise<void>; isClosed: () => boolean; markGone: () => void } {
  let gone = false;
  let markGone!: () => void;
  const closed = new Promise<void>((resolve) => {
    markGone = () => {
      if (gone) return;
      gone = true;
      resolve();
    };
  });
  // modbus-serial relays port errors as `error` events: without a listener they would throw.
  client.on('error', () => markGone());
  onGone(markGone);
  return { closed, isClosed: () => gone, markGone: () => markGone() };
}

async function openTcp(
  protocol: Extract<ResolvedProtocol, { kind: 'tcp' }>,
  signal: AbortSignal | undefined,
): Promise<ModbusLink> {
  const socket = await connectSocket(protocol, signal);
  socket.setNoDelay(true);
  const client = new ModbusRTU();
  client.setID(protocol.slaveID);
  client.setTimeout(protocol.timeoutMs);
  const { closed, isClosed, markGone } = watch(client, (gone) => socket.once('close', gone));
  socket.on('error', () => {
    // A reset: `close` follows and marks the link gone.
  });
  await client.linkTCP(socket, { port: protocol.port });
  return {
    client,
    closed,
    get isClosed() {
      return isClosed();
    },
    close: () =>
      new Promise<void>((resolve) => {
        markGone();
        if (socket.destroyed) {
          client.destroy(() => resolve());
          return;
        }
        socket.once('close', () => resolve());
        // `destroy` cancels the timers of requests still waiting, then destroys the socket.
        client.destroy(() => {});
      }),
  };
}

async function openRtu(
  protocol: Extract<ResolvedProtocol, { kind: 'rtu' }>,
  signal: AbortSignal | undefined,
): Promise<ModbusLink> {
  const client = new ModbusRTU();
  client.setID(protocol.slaveID);
  client.setTimeout(protocol.timeoutMs);
  const { closed, isClosed, markGone } = watch(client, (gone) => client.on('close', gone));
  const closeClient = () =>
    new Promise<void>((resolve) => {
      markGone();
      client.destroy(() => {
        if (!client.isOpen) {
          resolve();
          return;
        }
        client.close(() => resolve());
      });
    });
  try {
    await client.connectRTUBuffered(protocol.path, {
      baudRate: protocol.baudRate,
      dataBits: protocol.dataBits,
      stopBits: protocol.stopBits,
      parity: protocol.parity,
    });
  } catch (error) {
    const missing =
      (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND'
        ? 'the serialport package is not installed (npm install serialport)'
        : (error as Error).message;
    throw disconnected(protocol, missing, error);
  }
  if (signal?.aborted) {
    await closeClient();
    throw abortReason(signal);
  }
  return {
    client,
    closed,
    get isClosed() {
      return isClosed();
    },
    close: closeClient,
  };
}

/** Connects to the device the protocol config names. */
export function openLink(
  protocol: ResolvedProtocol,
  signal: AbortSignal | undefined,
): Promise<ModbusLink> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return protocol.kind === 'tcp' ? openTcp(protocol, signal) : openRtu(protocol, signal);
}
