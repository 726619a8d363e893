import { lstat, mkdir, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { type DmiService, serviceDefinition } from './definition';
import { DmiError, grpcStatusOf } from './errors';

/** Sun's sockaddr_un holds 108 bytes with the terminating NUL; Linux and macOS agree. */
const MAX_SOCKET_PATH_BYTES = 107;
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** What a handler learns about the call besides its request. */
export interface DmiCallContext {
  /** The DMI method, e.g. `DeviceMapperService/RegisterDevice`. */
  method: string;
  /** Aborted when the caller cancels the call or its deadline passes. */
  signal: AbortSignal;
}

/** A handler: may be async; throw a `DmiError` or an error with `grpcCode` to answer with it. */
export type DmiHandler<Request, Response> = (
  request: Request,
  context: DmiCallContext,
) => Response | Promise<Response>;

export interface DmiServerOptions {
  /** The Unix socket to listen on; a stale socket file there is removed by `start()`. */
  socketPath: string;
  /** How long `stop()` lets calls in flight finish before it cuts them off. Default 2,000. */
  shutdownTimeoutMs?: number;
}

/** A DMI service listening on a Unix socket. */
export interface DmiServer {
  /** `unix://<socketPath>`: give it to the client. */
  readonly endpoint: string;
  /** The socket's absolute path. */
  readonly socketPath: string;
  /** Listens (creating the socket's directory). Resolves once clients can connect. */
  start(): Promise<void>;
  /** Stops listening, lets calls in flight finish (up to `shutdownTimeoutMs`), removes the socket. */
  stop(): Promise<void>;
}

type Handlers = Record<string, DmiHandler<never, unknown> | undefined>;

function implement(
  service: DmiService,
  methods: string[],
  handlers: Handlers,
): UntypedServiceImplementation {
  const implementation: UntypedServiceImplementation = {};
  for (const method of methods) {
    const handlerName = method.charAt(0).toLowerCase() + method.slice(1);
    const name = `${service}/${method}`;
    implementation[method] = async (
      call: ServerUnaryCall<unknown, unknown>,
      callback: sendUnaryData<unknown>,
    ) => {
      const handler = handlers[handlerName];
      if (typeof handler !== 'function') {
        callback({ code: status.UNIMPLEMENTED, details: `${name} is not implemented` });
        return;
      }
      const cancelled = new AbortController();
      const onCancelled = () => cancelled.abort(new DmiError('KE_DMI_FAILED', `${name} cancelled`));
      call.once('cancelled', onCancelled);
      try {
        const response = await handler(call.request as never, {
          method: name,
          signal: cancelled.signal,
        });
        callback(null, response ?? {});
      } catch (error) {
        callback(grpcStatusOf(error));
      } finally {
        call.removeListener('cancelled', onCancelled);
      }
    };
  }
  return implementation;
}

/** The server of one DMI service: what `createDeviceManagerServer` and `createDeviceMapperServer` share. */
export function createDmiServer(
  service: DmiService,
  options: DmiServerOptions,
  handlers: Handlers,
): DmiServer {
  if (typeof options.socketPath !== 'string' || options.socketPath === '') {
    throw new DmiError(
      'KE_DMI_INVALID_ARGUMENT',
      'socketPath must be the path of a Unix socket, e.g. /etc/kubeedge/dmi.sock.',
    );
  }
  const socketPath = resolve(options.socketPath);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new DmiError(
      'KE_DMI_INVALID_ARGUMENT',
      `socketPath ${socketPath} is longer than the ${MAX_SOCKET_PATH_BYTES} bytes a Unix ` +
        'socket path may have; choose a shorter one.',
    );
  }
  const endpoint = `unix://${socketPath}`;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 2_000;
  const definition = serviceDefinition(service) as unknown as ServiceDefinition;
  const implementation = implement(service, Object.keys(definition), handlers);
  let server: Server | undefined;
  // start() and stop() run one at a time, in the order they were called.
  let transition: Promise<void> = Promise.resolve();

  async function removeStaleSocket(): Promise<void> {
    const stats = await lstat(socketPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!stats) return;
    if (!stats.isSocket()) {
      throw new DmiError(
        'KE_DMI_INVALID_ARGUMENT',
        `${socketPath} exists and is not a socket; refusing to replace it. Remove it or choose ` +
          'another socketPath.',
      );
    }
    // A socket left by a server that did not stop cleanly would make the bind fail.
    await rm(socketPath, { force: true });
  }

  async function doStart(): Promise<void> {
    if (server) return;
    await mkdir(dirname(socketPath), { recursive: true });
    await removeStaleSocket();
    const next = new Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    });
    next.addService(definition, implementation);
    await new Promise<void>((resolveBind, rejectBind) => {
      next.bindAsync(endpoint, ServerCredentials.createInsecure(), (error) =>
        error ? rejectBind(error) : resolveBind(),
      );
    }).catch((error: Error) => {
      next.forceShutdown();
      throw new DmiError('KE_DMI_UNAVAILABLE', `cannot listen on ${endpoint}: ${error.message}`, {
        cause: error,
      });
    });
    server = next;
  }

  async function doStop(): Promise<void> {
    const current = server;
    if (!current) return;
    server = undefined;
    await new Promise<void>((resolveShutdown) => {
      const force = setTimeout(() => {
        current.forceShutdown();
        resolveShutdown();
      }, shutdownTimeoutMs);
      force.unref();
      current.tryShutdown(() => {
        clearTimeout(force);
        resolveShutdown();
      });
    });
    await rm(socketPath, { force: true });
  }

  function serialized(step: () => Promise<void>): Promise<void> {
    const result = transition.then(step);
    transition = result.catch(() => {});
    return result;
  }

  return {
    endpoint,
    socketPath,
    start: () => serialized(doStart),
    stop: () => serialized(doStop),
  };
}
