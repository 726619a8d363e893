import {
  type CallOptions,
  Client,
  type ClientUnaryCall,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { type DmiService, methodDefinition } from './definition';
import { DmiError } from './errors';

const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface DmiClientOptions {
  /** `unix:///etc/kubeedge/dmi.sock`, a socket path, or a gRPC target (`host:port`). */
  endpoint: string;
  /** Deadline of each call. Default 10,000 (the timeout of edgecore's DMI calls). */
  timeoutMs?: number;
  /** Longest wait between reconnection attempts to a server that went away. Default 5,000. */
  maxReconnectBackoffMs?: number;
}

/** Per call: an `AbortSignal`, and a deadline other than the client's. */
export interface DmiCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** `unix:///path` and `host:port` as they are; a bare path becomes `unix://<path>`. */
function grpcTarget(endpoint: string): string {
  if (endpoint.startsWith('/')) return `unix://${endpoint}`;
  return endpoint;
}

function toDmiError(
  error: ServiceError,
  method: string,
  endpoint: string,
  timeoutMs: number,
): DmiError {
  const grpc = { grpcCode: error.code, details: error.details, method, cause: error };
  switch (error.code) {
    case status.UNAVAILABLE:
      return new DmiError(
        'KE_DMI_UNAVAILABLE',
        `${method}: nothing answers at ${endpoint} (${error.details}); check that the ` +
          'server runs and that the endpoint is its socket.',
        grpc,
      );
    case status.NOT_FOUND:
      return new DmiError('KE_DMI_NOT_FOUND', `${method}: ${error.details}`, grpc);
    case status.INVALID_ARGUMENT:
      return new DmiError('KE_DMI_INVALID_ARGUMENT', `${method}: ${error.details}`, grpc);
    case status.DEADLINE_EXCEEDED:
      return new DmiError(
        'KE_DMI_TIMEOUT',
        `${method}: ${endpoint} did not answer within ${timeoutMs} ms.`,
        grpc,
      );
    case status.UNIMPLEMENTED:
      return new DmiError(
        'KE_DMI_FAILED',
        `${method} is not implemented by the server at ${endpoint} (${error.details}); ` +
          'it may speak another DMI version than v1beta1.',
        grpc,
      );
    default:
      return new DmiError(
        'KE_DMI_FAILED',
        `${method} failed: ${error.details} (gRPC ${status[error.code] ?? error.code}).`,
        grpc,
      );
  }
}

/** Unary calls to one DMI service, as promises. */
export interface DmiConnection {
  call<Response>(method: string, request: object, options?: DmiCallOptions): Promise<Response>;
  close(): void;
}

/**
 * A connection (made on the first call, remade after the server restarts) to one DMI service.
 * Every call has a deadline; a failure rejects with a `DmiError` that keeps the gRPC status.
 */
export function connectDmi(service: DmiService, options: DmiClientOptions): DmiConnection {
  const { endpoint } = options;
  if (typeof endpoint !== 'string' || endpoint === '') {
    throw new DmiError(
      'KE_DMI_INVALID_ARGUMENT',
      'endpoint must be a DMI socket, e.g. unix:///etc/kubeedge/dmi.sock.',
    );
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxReconnectBackoffMs = options.maxReconnectBackoffMs ?? 5_000;
  const client = new Client(grpcTarget(endpoint), credentials.createInsecure(), {
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_reconnect_backoff_ms': maxReconnectBackoffMs,
    'grpc.initial_reconnect_backoff_ms': Math.min(1_000, maxReconnectBackoffMs),
    // The server is local: an http_proxy in the environment must not be used to reach it.
    'grpc.enable_http_proxy': 0,
  });
  let closed = false;

  return {
    call<Response>(method: string, request: object, call?: DmiCallOptions): Promise<Response> {
      const name = `${service}/${method}`;
      const deadlineMs = call?.timeoutMs ?? timeoutMs;
      const signal = call?.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (closed) {
        return Promise.reject(
          new DmiError('KE_DMI_UNAVAILABLE', `${name}: the DMI client was closed.`, {
            method: name,
          }),
        );
      }
      const definition = methodDefinition(service, method);
      return new Promise<Response>((resolve, reject) => {
        const onAbort = () => pending.cancel();
        const callOptions: CallOptions = { deadline: Date.now() + deadlineMs };
        const pending: ClientUnaryCall = client.makeUnaryRequest(
          definition.path,
          definition.requestSerialize,
          definition.responseDeserialize,
          request,
          new Metadata(),
          callOptions,
          (error, response) => {
            signal?.removeEventListener('abort', onAbort);
            if (signal?.aborted) reject(signal.reason);
            else if (error) reject(toDmiError(error, name, endpoint, deadlineMs));
            else resolve(response as Response);
          },
        );
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },

    close() {
      if (closed) return;
      closed = true;
      client.close();
    },
  };
}
