import { EventEmitter } from 'node:events';
import {
  createAck,
  createKeepalive,
  createResponse,
  encodeMessage,
  type Message,
  Operation,
  tryDecodeMessage,
} from '@ke/beehive';
import { type RawData, WebSocket } from 'ws';
import { EdgeHubError, type EdgeHubErrorCode } from './errors';
import { UpstreamBuffer } from './upstream-buffer';

/** How long `stop()` waits for the handler of the message being handled. */
const STOP_HANDLER_WAIT_MS = 5000;

/** KubeEdge's default project ID, sent as `project_id`. */
export const DEFAULT_PROJECT_ID = 'e632aba927ea4ac2b575ec1603d56f10';

/** Fields first, message second (pino's order), so a pino logger fits as is. */
export interface EdgeHubLogger {
  debug?(fields: object, message: string): void;
  info?(fields: object, message: string): void;
  warn?(fields: object, message: string): void;
  error?(fields: object, message: string): void;
}

/** The TLS identity of the node (PEM): what {@link bootstrapNodeCertificate} returns. */
export interface TlsIdentity {
  readonly caPem: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export interface EdgeHubOptions {
  /** CloudHub's WebSocket endpoint: `wss://host:10000` or just `host:10000`. */
  readonly server: string;
  /** This node's name: the `node_id` header; the certificate must be `system:node:<nodeName>`. */
  readonly nodeName: string;
  /** The `project_id` header; default KubeEdge's. */
  readonly projectId?: string;
  /**
   * The node's certificate, or a function that returns it; the function runs before every
   * connection attempt, so passing `() => bootstrapNodeCertificate(...)` also renews the
   * certificate when it nears expiry.
   */
  readonly identity: TlsIdentity | (() => Promise<TlsIdentity>);
  /**
   * Receives every downstream message (resource in edge form). For insert, update, patch and
   * delete the ACK is sent only after it resolves, so resolve once the change is persisted;
   * throwing leaves the message unacknowledged, and the cloud sends it again. To refuse a
   * message for good (it can never be stored: a malformed resource, content of the wrong
   * kind), throw an error with `retryable: false`: the cloud gets an `error` response to it
   * (content `{ code, message }`) instead of an ACK, and stops sending it.
   */
  readonly handler: (message: Message) => Promise<void> | void;
  /**
   * Keepalive period; default 15 s (KubeEdge's). Three periods without a word from the cloud
   * drop the link.
   */
  readonly heartbeatIntervalMs?: number;
  /** Connection timeout; default 30 s. */
  readonly handshakeTimeoutMs?: number;
  /** Reconnect back-off: doubles from `initialDelayMs` (default 1 s) to `maxDelayMs` (30 s), with jitter. */
  readonly reconnect?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  /** Upstream messages kept while offline; older ones are dropped beyond it. Default 1000. */
  readonly upstreamQueueLimit?: number;
  /** Largest frame accepted from the cloud; default 8 MiB. */
  readonly maxFrameBytes?: number;
  readonly logger?: EdgeHubLogger;
}

export interface EdgeHubEvents {
  connected: [{ server: string }];
  disconnected: [{ reason: string }];
  /** A connection attempt failed; the hub tries again after the back-off. */
  'connect-error': [EdgeHubError];
}

export interface EdgeHub extends EventEmitter<EdgeHubEvents> {
  /** Starts connecting (and reconnecting until {@link EdgeHub.stop}); resolves at once. */
  start(): Promise<void>;
  /** Closes the connection and waits for the message being handled. */
  stop(): Promise<void>;
  /** Whether the link to the cloud is up now. */
  readonly connected: boolean;
  /** Upstream messages waiting for the link. */
  readonly buffered: number;
  /**
   * Sends an upstream message (resource in edge form), or keeps it until the link is back.
   * Returns which.
   */
  send(message: Message): 'sent' | 'buffered';
  /**
   * Sends `message` and resolves with the cloud's reply (the message whose `parent_msg_id` is
   * its `msg_id`). Rejects with `KE_EDGEHUB_OFFLINE` when the link is down and
   * `KE_EDGEHUB_TIMEOUT` after `timeoutMs` (default 10 s).
   */
  request(
    message: Message,
    options?: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<Message>;
}

const ACKED_OPERATIONS = new Set<string>([
  Operation.Insert,
  Operation.Update,
  Operation.Patch,
  Operation.Delete,
]);

function websocketUrl(server: string, projectId: string, nodeName: string): string {
  const base = /^wss?:\/\//.test(server) ? server : `wss://${server}`;
  return `${base.replace(/\/+$/, '')}/${projectId}/${encodeURIComponent(nodeName)}/events`;
}

/** Node's TLS and socket errors, sorted by what the user should do about them. */
function connectError(error: Error & { code?: string }, server: string): EdgeHubError {
  const code = error.code ?? '';
  const reason = `${error.message}${code && !error.message.includes(code) ? ` (${code})` : ''}`;
  let kind: EdgeHubErrorCode = 'KE_EDGEHUB_CLOUD_UNREACHABLE';
  let hint = 'is cloudhub running and reachable?';
  if (/ALERT|ECONNRESET|EPIPE|socket hang up/i.test(code + error.message)) {
    kind = 'KE_EDGEHUB_TLS_REJECTED';
    hint = "cloudhub refused this node's certificate (signed by another CA, expired or revoked)";
  } else if (/CERT|SIGNATURE|ALTNAME|ISSUER|SELF_SIGNED/.test(code)) {
    kind = 'KE_EDGEHUB_SERVER_UNTRUSTED';
    hint = "the server's certificate does not verify against this node's CA";
  }
  return new EdgeHubError(kind, `cannot connect to ${server}: ${reason}; ${hint}`, {
    cause: error,
  });
}

function refusedError(status: number, body: string, server: string): EdgeHubError {
  const reason = body.trim().slice(0, 300) || `HTTP ${status}`;
  if (status === 403) {
    return new EdgeHubError(
      'KE_EDGEHUB_IDENTITY_REJECTED',
      `${server} refused this node: ${reason}`,
    );
  }
  if (status === 503) {
    return new EdgeHubError('KE_EDGEHUB_NODE_LIMIT', `${server} is full: ${reason}`);
  }
  return new EdgeHubError('KE_EDGEHUB_CONNECT_REFUSED', `${server} answered ${status}: ${reason}`);
}

class EdgeHubImpl extends EventEmitter<EdgeHubEvents> implements EdgeHub {
  readonly #options: EdgeHubOptions;
  readonly #logger: EdgeHubLogger;
  readonly #url: string;
  readonly #heartbeatMs: number;
  readonly #buffer: UpstreamBuffer;
  readonly #requests = new Map<string, (reply: Message | EdgeHubError) => void>();
  #running = false;
  /** Bumped by start() and stop(): work begun before the last of them is stale. */
  #generation = 0;
  #ws: WebSocket | undefined;
  #open = false;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #lastHeard = 0;
  #handling: Promise<void> = Promise.resolve();

  constructor(options: EdgeHubOptions) {
    super();
    if (!options.nodeName) {
      throw new EdgeHubError('KE_EDGEHUB_INVALID_ARGUMENT', 'nodeName must not be empty');
    }
    this.#options = options;
    this.#logger = options.logger ?? {};
    this.#url = websocketUrl(
      options.server,
      options.projectId ?? DEFAULT_PROJECT_ID,
      options.nodeName,
    );
    this.#heartbeatMs = options.heartbeatIntervalMs ?? 15_000;
    this.#buffer = new UpstreamBuffer(options.upstreamQueueLimit ?? 1000);
  }

  get connected(): boolean {
    return this.#open;
  }

  get buffered(): number {
    return this.#buffer.size;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#generation += 1;
    this.#attempt = 0;
    void this.#connect();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#generation += 1;
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#heartbeatTimer);
    const ws = this.#ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'edgehub stopping');
      const timer = setTimeout(() => ws.terminate(), 2000);
      await closed;
      clearTimeout(timer);
    }
    // The message being handled may finish (its ACK is moot: the link is closed); a handler
    // that hangs must not hang stop().
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      this.#handling.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), STOP_HANDLER_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!finished) this.#log('warn', {}, 'stopped while the handler was still running');
  }

  send(message: Message): 'sent' | 'buffered' {
    const ws = this.#ws;
    if (this.#open && ws) {
      const frame = encodeMessage(message);
      ws.send(frame, (error) => {
        if (error) this.#keep(message);
      });
      return 'sent';
    }
    this.#keep(message);
    return 'buffered';
  }

  request(message: Message, options: { timeoutMs?: number; signal?: AbortSignal } = {}) {
    // An aborted signal fires no 'abort' event: without this the request would wait it out.
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    if (!this.#open) {
      return Promise.reject(
        new EdgeHubError('KE_EDGEHUB_OFFLINE', 'the cloud is not connected; try again later'),
      );
    }
    const id = message.header.msg_id;
    return new Promise<Message>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        this.#requests.delete(id);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        finish();
        reject(options.signal?.reason);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new EdgeHubError('KE_EDGEHUB_TIMEOUT', `no reply from the cloud to ${id}`));
      }, options.timeoutMs ?? 10_000);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#requests.set(id, (reply) => {
        finish();
        if (reply instanceof EdgeHubError) reject(reply);
        else resolve(reply);
      });
      this.send({ ...message, header: { ...message.header, sync: true } });
    });
  }

  #keep(message: Message): void {
    if (message.route.operation === Operation.Keepalive) return;
    const { dropped, superseded } = this.#buffer.push(message);
    if (dropped) {
      this.#log(
        'warn',
        { resource: dropped.route.resource },
        'upstream buffer full; dropped the oldest message',
      );
    }
    if (superseded)
      this.#log(
        'debug',
        { resource: superseded.route.resource },
        'newer status replaced a buffered one',
      );
  }

  #log(level: keyof EdgeHubLogger, fields: object, message: string): void {
    try {
      this.#logger[level]?.call(this.#logger, { node: this.#options.nodeName, ...fields }, message);
    } catch {
      // a broken logger must not break the link
    }
  }

  async #connect(): Promise<void> {
    if (!this.#running) return;
    const generation = this.#generation;
    // Stopped, or stopped and started again, while this attempt was under way.
    const stale = () => !this.#running || generation !== this.#generation;
    let identity: TlsIdentity;
    try {
      identity =
        typeof this.#options.identity === 'function'
          ? await this.#options.identity()
          : this.#options.identity;
    } catch (error) {
      if (stale()) return;
      const failure =
        error instanceof EdgeHubError
          ? error
          : new EdgeHubError(
              'KE_EDGEHUB_CERT_REQUEST_FAILED',
              `no node certificate: ${(error as Error).message}`,
              {
                cause: error,
              },
            );
      this.#failed(failure);
      return;
    }
    if (stale()) return;
    const ws = new WebSocket(this.#url, {
      ca: identity.caPem,
      cert: identity.certificatePem,
      key: identity.privateKeyPem,
      headers: {
        node_id: this.#options.nodeName,
        project_id: this.#options.projectId ?? DEFAULT_PROJECT_ID,
      },
      handshakeTimeout: this.#options.handshakeTimeoutMs ?? 30_000,
      maxPayload: this.#options.maxFrameBytes ?? 8 * 1024 * 1024,
      perMessageDeflate: false,
    });
    this.#ws = ws;
    let failure: EdgeHubError | undefined;
    ws.on('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      response.on('end', () => {
        failure = refusedError(response.statusCode ?? 0, body, this.#options.server);
        ws.terminate();
      });
      response.on('error', () => ws.terminate());
    });
    ws.on('error', (error) => {
      failure ??= connectError(error, this.#options.server);
    });
    ws.on('open', () => {
      this.#open = true;
      this.#attempt = 0;
      this.#lastHeard = Date.now();
      this.#log('info', { server: this.#options.server }, 'connected to the cloud');
      this.#startHeartbeat(ws);
      // What was kept goes first: a 'connected' listener that reports fresh state at once
      // must not be overtaken by the stale report kept while offline.
      this.#flush(ws);
      this.emit('connected', { server: this.#options.server });
    });
    ws.on('pong', () => {
      this.#lastHeard = Date.now();
    });
    ws.on('message', (data, isBinary) => this.#receive(ws, data, isBinary));
    ws.on('close', (code, reason) => {
      const current = this.#ws === ws;
      const wasOpen = this.#open && current;
      if (current) {
        this.#ws = undefined;
        this.#open = false;
        clearInterval(this.#heartbeatTimer);
        for (const settle of [...this.#requests.values()]) {
          settle(
            new EdgeHubError(
              'KE_EDGEHUB_OFFLINE',
              'the connection to the cloud closed before the reply',
            ),
          );
        }
      }
      if (wasOpen) {
        const why = `closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`;
        this.#log('warn', { reason: why }, 'disconnected from the cloud');
        this.emit('disconnected', { reason: why });
      }
      // Closed by stop(): not a failure, and nothing to reconnect.
      if (stale()) return;
      if (wasOpen) {
        this.#scheduleReconnect();
      } else {
        this.#failed(
          failure ??
            new EdgeHubError(
              'KE_EDGEHUB_CLOUD_UNREACHABLE',
              `cannot connect to ${this.#options.server}`,
            ),
        );
      }
    });
  }

  #failed(error: EdgeHubError): void {
    this.#log('warn', { code: error.code, err: error.message }, 'cannot connect to the cloud');
    if (this.listenerCount('connect-error') > 0) this.emit('connect-error', error);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (!this.#running) return;
    const initial = this.#options.reconnect?.initialDelayMs ?? 1000;
    const max = this.#options.reconnect?.maxDelayMs ?? 30_000;
    const ceiling = Math.min(max, initial * 2 ** this.#attempt);
    this.#attempt += 1;
    // Half fixed, half random: a cloud restart does not bring every node back at once.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => void this.#connect(), delay);
  }

  #startHeartbeat(ws: WebSocket): void {
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = setInterval(() => {
      if (Date.now() - this.#lastHeard > this.#heartbeatMs * 3) {
        this.#log('warn', {}, 'no answer from the cloud for three heartbeats; reconnecting');
        ws.terminate();
        return;
      }
      ws.send(encodeMessage(createKeepalive()));
      ws.ping();
    }, this.#heartbeatMs);
  }

  #flush(ws: WebSocket): void {
    const pending = this.#buffer.drain();
    if (pending.length === 0) return;
    this.#log('info', { messages: pending.length }, 'sending what was kept while offline');
    for (const message of pending) {
      ws.send(encodeMessage(message), (error) => {
        if (error) this.#keep(message);
      });
    }
  }

  #receive(ws: WebSocket, data: RawData, isBinary: boolean): void {
    this.#lastHeard = Date.now();
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : data instanceof ArrayBuffer
        ? Buffer.from(data)
        : data;
    const decoded = tryDecodeMessage(isBinary ? bytes : bytes.toString('utf8'));
    if (!decoded.ok) {
      this.#log(
        'warn',
        { err: decoded.error.message },
        'the cloud sent a frame that is not a message; ignored',
      );
      return;
    }
    const message = decoded.message;
    const parent = message.header.parent_msg_id;
    const waiting = parent ? this.#requests.get(parent) : undefined;
    if (waiting) {
      waiting(message);
      return;
    }
    if (message.route.operation === Operation.Error) {
      this.#log(
        'warn',
        { resource: message.route.resource, reason: message.content },
        'the cloud refused a message',
      );
    }
    // One message at a time, in arrival order: a later change never overtakes an earlier one.
    this.#handling = this.#handling.then(() => this.#handle(ws, message));
  }

  async #handle(ws: WebSocket, message: Message): Promise<void> {
    try {
      await this.#options.handler(message);
    } catch (error) {
      const refusal = error as { retryable?: unknown; code?: unknown; message?: unknown };
      if (refusal?.retryable === false && ACKED_OPERATIONS.has(message.route.operation)) {
        this.#log(
          'warn',
          { resource: message.route.resource, operation: message.route.operation, err: error },
          'refused a message from the cloud; it will not be sent again',
        );
        if (ws.readyState !== WebSocket.OPEN) return;
        const reply = createResponse(message, {
          source: 'edgehub',
          operation: Operation.Error,
          content: {
            code: typeof refusal.code === 'string' ? refusal.code : 'KE_EDGEHUB_REFUSED',
            message: String(refusal.message ?? error),
          },
        });
        ws.send(encodeMessage(reply));
        return;
      }
      this.#log(
        'error',
        { resource: message.route.resource, operation: message.route.operation, err: error },
        'handler failed; the cloud will send the message again',
      );
      return;
    }
    if (!ACKED_OPERATIONS.has(message.route.operation)) return;
    if (ws.readyState !== WebSocket.OPEN) return; // resent on the next connection
    ws.send(encodeMessage(createAck(message, 'edgehub')));
  }
}

/**
 * KubeEdge's EdgeHub link: a WebSocket client to CloudHub over mutual TLS that reconnects with
 * back-off and jitter, sends a keepalive every 15 s, hands downstream messages to `handler`
 * one at a time and ACKs each change after the handler has persisted it, and keeps upstream
 * messages while the cloud is away.
 */
export function createEdgeHub(options: EdgeHubOptions): EdgeHub {
  return new EdgeHubImpl(options);
}
