import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  createMessage,
  DEFAULT_MAX_MESSAGE_BYTES,
  edgeToCloudResource,
  encodeMessage,
  kindOfResourceType,
  type Message,
  Operation,
  parseEdgeResource,
  splitCloudResource,
  tryDecodeMessage,
} from '@ke/beehive';
import { type CertifiedKey, issueCertificate } from '@ke/pki';
import { Registry } from 'prom-client';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { isValidNodeName } from './certificate-server';
import { DeliveryLedger } from './delivery-ledger';
import { CloudHubError } from './errors';
import { type CloudHubLogger, log } from './logger';
import { type CloudHubMetrics, createCloudHubMetrics } from './metrics';
import { NodeQueue, type ObjectRef, type Outgoing } from './node-queue';
import { createMemoryObjectSyncStore, type ObjectSyncStore } from './object-sync';
import { isNewerVersion } from './resource-version';

export interface CloudHubOptions {
  /** The cluster CA: node certificates must chain to it; it also signs the hub's certificate. */
  readonly ca: CertifiedKey;
  /** Listen address; default `127.0.0.1` (KubeEdge's cloudcore listens on `0.0.0.0`). */
  readonly host?: string;
  /** WebSocket port; default 10000 (KubeEdge's), 0 for any free port. */
  readonly port?: number;
  /** Extra DNS names or IPs for the hub's certificate (host, localhost, loopback are in). */
  readonly serverAltNames?: readonly string[];
  /** Most nodes connected at once; one more is refused with 503. Default 1000. */
  readonly nodeLimit?: number;
  /** Largest frame accepted from a node; a bigger one closes its connection (1009). Default 8 MiB. */
  readonly maxFrameBytes?: number;
  /** Most messages queued for one node; more are refused (`KE_CLOUDHUB_QUEUE_FULL`). Default 10,000. */
  readonly nodeQueueLimit?: number;
  /** A node silent for this long is disconnected. Default 30 s (two missed 15 s heartbeats). */
  readonly keepaliveTimeoutMs?: number;
  /** Resend an unacknowledged message after this long; default 5 s. */
  readonly ackTimeoutMs?: number;
  /** After 5 plain retries the interval doubles up to this; default 60 s. */
  readonly maxRetryIntervalMs?: number;
  /** Reliable messages in flight per node; default 32. */
  readonly maxInFlight?: number;
  /** Delivery progress (ObjectSync); default in memory, lost on restart. */
  readonly objectSyncs?: ObjectSyncStore;
  /** Where the metrics go; default a registry of the hub's own (see {@link CloudHub.registry}). */
  readonly registry?: Registry;
  readonly logger?: CloudHubLogger;
}

/** A node's connection, as the events report it. */
export interface NodeConnection {
  readonly node: string;
  readonly projectId: string;
  readonly remoteAddress: string;
}

export interface CloudHubEvents {
  connected: [NodeConnection];
  disconnected: [NodeConnection & { reason: string }];
  /** An upstream message, its resource back in cloud form (`node/<id>/...`). */
  message: [{ node: string; message: Message }];
  /** A node acknowledged a reliable message (it persisted that version of the object). */
  acked: [{ node: string; msgId: string; uid?: string; resourceVersion?: string }];
  /**
   * A node refused a reliable message for good (an `error` response to it: it can never store
   * it); the message leaves the queue and is not sent again. Logged, and counted as dropped
   * with reason `refused`.
   */
  refused: [{ node: string; msgId: string; resource: string; code?: string; detail: string }];
  /** A frame or a connection refused; also logged and counted. */
  rejected: [{ node?: string; reason: RejectReason; detail: string }];
}

export type RejectReason =
  | 'tls'
  | 'identity'
  | 'node_limit'
  | 'bad_node_id'
  | 'malformed'
  | 'oversize'
  | 'other_node';

/** What {@link CloudHub.dispatch} did with a message. */
export type DispatchResult =
  /** Queued for the node (sent now if it is connected). */
  | 'queued'
  /** Queued in place of an older version of the same object. */
  | 'replaced'
  /** Not queued: the node already has this version or a newer one, or a newer one is queued. */
  | 'stale';

export interface CloudHub extends EventEmitter<CloudHubEvents> {
  /** `wss://host:port`; the real port once started. */
  readonly url: string;
  /** The registry the metrics are in. */
  readonly registry: Registry;
  /** Loads delivery progress, then listens. */
  start(): Promise<void>;
  /** Closes every connection and the listener, after writing pending delivery progress. */
  stop(): Promise<void>;
  /**
   * Queues a downstream message; its resource is in cloud form, `node/<id>/<ns>/<type>/<name>`.
   * Changes to objects (insert, update, patch, delete of content with `metadata.uid`) are
   * delivered reliably; anything else once, if the node is connected or comes back while it is
   * still queued. Throws `KE_CLOUDHUB_BAD_MESSAGE` or `KE_CLOUDHUB_QUEUE_FULL`.
   */
  dispatch(message: Message): DispatchResult;
  /** The nodes connected now. */
  connectedNodes(): string[];
  isConnected(node: string): boolean;
  /** Messages queued or in flight for `node` (all nodes without one). */
  queueDepth(node?: string): number;
  /** Drops a node's queue (the node was deleted). */
  forgetNode(node: string): void;
}

const RELIABLE_OPERATIONS = new Set<string>([
  Operation.Insert,
  Operation.Update,
  Operation.Patch,
  Operation.Delete,
]);

/** How long `stop()` waits for ACKs of messages on the wire, then for nodes to close. */
const STOP_DRAIN_MS = 1000;
const STOP_CLOSE_MS = 1000;

/** Resource types named after the node that sends them: no node may send another's. */
const NODE_NAMED_TYPES = new Set(['node', 'nodestatus', 'nodepatch', 'lease']);

interface Session extends NodeConnection {
  readonly ws: WebSocket;
  lastSeen: number;
}

function objectOf(message: Message, type: string): ObjectRef | undefined {
  if (!RELIABLE_OPERATIONS.has(message.route.operation)) return undefined;
  const content = message.content as
    | {
        apiVersion?: unknown;
        kind?: unknown;
        metadata?: {
          uid?: unknown;
          namespace?: unknown;
          name?: unknown;
          resourceVersion?: unknown;
        };
      }
    | null
    | undefined;
  const metadata = content?.metadata;
  if (typeof metadata?.uid !== 'string' || metadata.uid === '') return undefined;
  const resourceVersion =
    message.header.resourceversion ??
    (typeof metadata.resourceVersion === 'string' ? metadata.resourceVersion : undefined);
  return {
    uid: metadata.uid,
    namespace:
      typeof metadata.namespace === 'string' && metadata.namespace ? metadata.namespace : undefined,
    name: typeof metadata.name === 'string' ? metadata.name : '',
    kind:
      typeof content?.kind === 'string'
        ? content.kind
        : (kindOfResourceType(type) ?? type.charAt(0).toUpperCase() + type.slice(1)),
    apiVersion: typeof content?.apiVersion === 'string' ? content.apiVersion : 'v1',
    resourceVersion,
    deleted: message.route.operation === Operation.Delete,
    inserted: message.route.operation === Operation.Insert,
  };
}

/** The node a resource names when it is in cloud form, `node/<id>/<namespace>/<type>[/...]`. */
function cloudFormNode(resource: string): string | undefined {
  const segments = resource.split('/');
  return segments.length >= 4 && segments[0] === 'node' ? segments[1] : undefined;
}

function refuseUpgrade(socket: Socket, status: number, reason: string): void {
  const text = `${reason}\n`;
  const statusText = { 400: 'Bad Request', 403: 'Forbidden', 503: 'Service Unavailable' }[status];
  socket.end(
    `HTTP/1.1 ${status} ${statusText ?? 'Error'}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      'Connection: close\r\n\r\n' +
      text,
  );
}

/**
 * KubeEdge's CloudHub: the WebSocket endpoint (wss, port 10000) edge nodes connect to with
 * their `system:node:<name>` certificates, and the reliable delivery of object changes to them.
 */
class CloudHubImpl extends EventEmitter<CloudHubEvents> implements CloudHub {
  readonly registry: Registry;
  readonly #options: CloudHubOptions;
  readonly #logger: CloudHubLogger;
  readonly #host: string;
  readonly #metrics: CloudHubMetrics;
  readonly #ledger: DeliveryLedger;
  readonly #queues = new Map<string, NodeQueue>();
  /**
   * The last dispatched content object and its encoding (`,"content":<JSON>}`, made when a
   * second message carries it), for this synchronous turn (see `#encode`).
   */
  #lastContent: { object: object; tail: Buffer | undefined } | undefined;
  readonly #sessions = new Map<string, Session>();
  readonly #limits: {
    nodeLimit: number;
    maxFrameBytes: number;
    nodeQueueLimit: number;
    keepaliveTimeoutMs: number;
    ackTimeoutMs: number;
    maxRetryIntervalMs: number;
    maxInFlight: number;
  };
  #port: number;
  #server: Server | undefined;
  #wss: WebSocketServer | undefined;
  #ticker: NodeJS.Timeout | undefined;

  constructor(options: CloudHubOptions) {
    super();
    this.#options = options;
    this.#logger = options.logger ?? {};
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 10000;
    this.#limits = {
      nodeLimit: options.nodeLimit ?? 1000,
      maxFrameBytes: options.maxFrameBytes ?? 8 * 1024 * 1024,
      nodeQueueLimit: options.nodeQueueLimit ?? 10_000,
      keepaliveTimeoutMs: options.keepaliveTimeoutMs ?? 30_000,
      ackTimeoutMs: options.ackTimeoutMs ?? 5_000,
      maxRetryIntervalMs: options.maxRetryIntervalMs ?? 60_000,
      maxInFlight: options.maxInFlight ?? 32,
    };
    for (const [name, value] of Object.entries(this.#limits)) {
      if (!(Number.isFinite(value) && value > 0)) {
        throw new CloudHubError('KE_CLOUDHUB_INVALID_OPTIONS', `${name} must be > 0, got ${value}`);
      }
    }
    this.registry = options.registry ?? new Registry();
    this.#metrics = createCloudHubMetrics(this.registry, () => this.queueDepth());
    this.#ledger = new DeliveryLedger(
      options.objectSyncs ?? createMemoryObjectSyncStore(),
      this.#logger,
    );
  }

  get url(): string {
    const shown = this.#host.includes(':') ? `[${this.#host}]` : this.#host;
    return `wss://${shown}:${this.#port}`;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    let loaded: number;
    try {
      loaded = await this.#ledger.load();
    } catch (cause) {
      throw new CloudHubError(
        'KE_CLOUDHUB_OBJECTSYNC_UNAVAILABLE',
        'cannot read delivery progress (ObjectSync objects); is the API reachable and are the ' +
          'reliablesyncs.kubeedge.io CRDs installed?',
        { cause },
      );
    }
    const altNames = new Set([
      'localhost',
      '127.0.0.1',
      '::1',
      ...(this.#options.serverAltNames ?? []),
    ]);
    if (this.#host !== '0.0.0.0' && this.#host !== '::') altNames.add(this.#host);
    const serving = await issueCertificate(this.#options.ca, {
      commonName: 'kubeedge-cloudhub',
      altNames: [...altNames],
      usage: 'server',
    });
    const server = createServer({
      key: serving.privateKeyPem,
      cert: serving.certificatePem,
      ca: this.#options.ca.certificatePem,
      requestCert: true,
      // TLS session tickets stay on (Node's and Go's default; a reconnecting node resumes its
      // session). Without them an idle connection holds ~11 KB less before its first message,
      // but most of it comes back with the first messages, and the first fan-out to 10,000
      // nodes took 0.6-1.3 s longer (benchmarks/cloudhub, docs/performance.md).
      rejectUnauthorized: true,
    });
    server.on('request', (_request, response) => {
      response.writeHead(426, { 'Content-Type': 'text/plain' }).end('WebSocket only\n');
    });
    server.on('tlsClientError', (error, socket) => {
      this.#reject(
        undefined,
        'tls',
        `TLS handshake from ${socket.remoteAddress} failed: ${error.message}`,
      );
    });
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.#limits.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    server.on('upgrade', (request, socket, head) =>
      this.#upgrade(wss, request, socket as Socket, head),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', (cause) => {
        reject(
          new CloudHubError(
            'KE_CLOUDHUB_LISTEN_FAILED',
            `cannot listen on ${this.#host}:${this.#port}`,
            {
              cause,
            },
          ),
        );
      });
      server.listen(this.#port, this.#host, () => resolve());
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    this.#wss = wss;
    const tickMs = Math.max(
      50,
      Math.min(1000, this.#limits.ackTimeoutMs / 5, this.#limits.keepaliveTimeoutMs / 5),
    );
    this.#ticker = setInterval(() => this.#tick(), tickMs);
    this.#ticker.unref();
    log(this.#logger, 'info', { url: this.url, objectSyncs: loaded }, 'cloudhub listening');
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined; // nothing new is sent from here on
    clearInterval(this.#ticker);
    // ACKs of messages already on the wire get a moment to arrive, so the ObjectSyncs record
    // what the nodes hold (otherwise a node keeps a version the cloud does not know it has).
    const drainUntil = Date.now() + STOP_DRAIN_MS;
    while (Date.now() < drainUntil && this.#inFlightTotal() > 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const closing = [...this.#sessions.values()].map((session) => {
      const closed = new Promise<void>((resolve) => session.ws.once('close', () => resolve()));
      session.ws.close(1001, 'cloudhub stopping');
      this.#dropSession(session, 'cloudhub stopping');
      return { ws: session.ws, closed };
    });
    // A node that does not answer the close frame must not hold stop() for ws's 30 s timeout.
    const force = setTimeout(() => {
      for (const { ws } of closing) ws.terminate();
    }, STOP_CLOSE_MS);
    await Promise.all(closing.map(({ closed }) => closed));
    clearTimeout(force);
    const flushed = await this.#ledger.flush(5000);
    if (!flushed) {
      log(
        this.#logger,
        'warn',
        { backlog: this.#ledger.backlog },
        'stopping with ObjectSync writes pending',
      );
    }
    await this.#ledger.stop();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    this.#wss?.close();
    this.#wss = undefined;
  }

  /**
   * The frame of a downstream message, as the bytes of a text frame (sent as they are, however
   * often). A controller fanning one object out to many nodes dispatches it once per node, one
   * after another, with the same content object: its JSON is made once for the run
   * (remembered for the current synchronous turn only, so a content object changed later is
   * encoded afresh). Other messages are encoded as they are.
   */
  #encode(message: Message): Buffer {
    const content = message.content;
    const last = this.#lastContent;
    if (typeof content !== 'object' || content === null || last?.object !== content) {
      if (typeof content === 'object' && content !== null) {
        if (last === undefined) queueMicrotask(() => (this.#lastContent = undefined));
        this.#lastContent = { object: content, tail: undefined };
      }
      return Buffer.from(encodeMessage(message));
    }
    // Same content as the message before: encode it once, then only the header and route.
    last.tail ??= Buffer.from(`,"content":${JSON.stringify(content)}}`);
    const head = encodeMessage({
      header: message.header,
      route: message.route,
      content: undefined,
    });
    // The head's bytes without its closing brace, then the content's; no buffer in between.
    const headLength = Buffer.byteLength(head) - 1;
    if (headLength + last.tail.length > DEFAULT_MAX_MESSAGE_BYTES) {
      return Buffer.from(encodeMessage(message)); // what encodeMessage refuses: let it say why
    }
    const frame = Buffer.allocUnsafe(headLength + last.tail.length);
    frame.write(head, 0, headLength);
    last.tail.copy(frame, headLength);
    return frame;
  }

  dispatch(message: Message): DispatchResult {
    let node: string;
    let edgeResource: string;
    try {
      ({ node, edgeResource } = splitCloudResource(message.route.resource));
    } catch (cause) {
      throw new CloudHubError(
        'KE_CLOUDHUB_BAD_MESSAGE',
        `dispatch: resource ${JSON.stringify(message.route.resource)} is not node/<node>/<namespace>/<type>/<name> (or node/<node>/<resource>)`,
        { cause },
      );
    }
    // Node-level resources (KubeEdge's device `membership`) have no namespace/type form.
    let type = '';
    try {
      type = parseEdgeResource(edgeResource).type;
    } catch {
      type = '';
    }
    const edgeMessage: Message = {
      header: message.header,
      route: { ...message.route, resource: edgeResource },
      content: message.content,
    };
    let frame: Buffer;
    try {
      frame = this.#encode(edgeMessage);
    } catch (cause) {
      throw new CloudHubError(
        'KE_CLOUDHUB_BAD_MESSAGE',
        'dispatch: the message cannot be encoded',
        {
          cause,
        },
      );
    }
    const object = type ? objectOf(message, type) : undefined;
    const queue = this.#queueOf(node);
    if (object) {
      if (object.inserted) this.#ledger.revive(node, object.uid);
      if (this.#isStale(node, object)) {
        this.#metrics.dropped.inc({ reason: 'stale' });
        return 'stale';
      }
      if (!queue.waiting.has(object.uid) && queue.depth >= this.#limits.nodeQueueLimit) {
        this.#queueFull(node);
      }
      const result = queue.enqueueReliable({
        msgId: message.header.msg_id,
        resource: edgeResource,
        frame,
        object,
      });
      if (result === 'superseded') {
        this.#metrics.dropped.inc({ reason: 'stale' });
        return 'stale';
      }
      if (result === 'replaced') this.#metrics.dropped.inc({ reason: 'superseded' });
      this.#pump(node);
      return result;
    }
    const session = this.#sessions.get(node);
    if (session && queue.noAck.length === 0) {
      this.#send(session, frame, 'noack');
      return 'queued';
    }
    if (queue.depth >= this.#limits.nodeQueueLimit && queue.noAck.length === 0)
      this.#queueFull(node);
    const dropped = queue.enqueueNoAck(
      { msgId: message.header.msg_id, resource: edgeResource, frame },
      this.#limits.nodeQueueLimit,
    );
    if (dropped) this.#metrics.dropped.inc({ reason: 'queue_full' });
    this.#pump(node);
    return 'queued';
  }

  #inFlightTotal(): number {
    let total = 0;
    for (const node of this.#sessions.keys()) total += this.#queues.get(node)?.inFlight.size ?? 0;
    return total;
  }

  connectedNodes(): string[] {
    return [...this.#sessions.keys()];
  }

  isConnected(node: string): boolean {
    return this.#sessions.has(node);
  }

  queueDepth(node?: string): number {
    if (node !== undefined) return this.#queues.get(node)?.depth ?? 0;
    let depth = 0;
    for (const queue of this.#queues.values()) depth += queue.depth;
    return depth;
  }

  forgetNode(node: string): void {
    this.#queues.delete(node);
  }

  #queueFull(node: string): never {
    this.#metrics.dropped.inc({ reason: 'queue_full' });
    throw new CloudHubError(
      'KE_CLOUDHUB_QUEUE_FULL',
      `node ${node} has ${this.#limits.nodeQueueLimit} messages queued (nodeQueueLimit); ` +
        'retry later or raise the limit',
    );
  }

  /** The node has this version (or a newer one) already, or has deleted the object. */
  #isStale(node: string, object: ObjectRef): boolean {
    if (this.#ledger.deleted(node, object.uid)) return true;
    if (object.deleted) return false;
    return !isNewerVersion(object.resourceVersion, this.#ledger.acknowledged(node, object.uid));
  }

  #queueOf(node: string): NodeQueue {
    let queue = this.#queues.get(node);
    if (!queue) {
      queue = new NodeQueue();
      this.#queues.set(node, queue);
    }
    return queue;
  }

  #reject(node: string | undefined, reason: RejectReason, detail: string): void {
    if (
      reason === 'tls' ||
      reason === 'identity' ||
      reason === 'node_limit' ||
      reason === 'bad_node_id'
    ) {
      this.#metrics.refusedConnections.inc({ reason });
    } else {
      this.#metrics.rejected.inc({ reason });
    }
    log(this.#logger, 'warn', { node, reason }, detail);
    this.emit('rejected', { ...(node === undefined ? {} : { node }), reason, detail });
  }

  #upgrade(wss: WebSocketServer, request: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const nodeId = request.headers.node_id;
    const projectId = request.headers.project_id;
    if (typeof nodeId !== 'string' || !isValidNodeName(nodeId)) {
      const detail = `refused a connection without a valid node_id header (${JSON.stringify(nodeId ?? null)})`;
      this.#reject(undefined, 'bad_node_id', detail);
      refuseUpgrade(socket, 400, 'the node_id header must name the node (a DNS-1123 subdomain)');
      return;
    }
    const peer = (socket as unknown as TLSSocket).getPeerCertificate();
    const commonName = peer?.subject?.CN;
    if (commonName !== `system:node:${nodeId}`) {
      const detail = `refused node ${nodeId}: its certificate is for ${commonName ?? 'nobody'}`;
      this.#reject(nodeId, 'identity', detail);
      refuseUpgrade(
        socket,
        403,
        `certificate CN ${commonName ?? '(none)'} does not match node_id ${nodeId}; ` +
          `the node must use the certificate issued to system:node:${nodeId}`,
      );
      return;
    }
    if (!this.#sessions.has(nodeId) && this.#sessions.size >= this.#limits.nodeLimit) {
      this.#reject(
        nodeId,
        'node_limit',
        `refused node ${nodeId}: ${this.#limits.nodeLimit} nodes connected (nodeLimit)`,
      );
      refuseUpgrade(
        socket,
        503,
        `node limit reached: ${this.#limits.nodeLimit} nodes are connected`,
      );
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      if (!this.#server) {
        ws.close(1001, 'cloudhub stopping');
        return;
      }
      const session: Session = {
        node: nodeId,
        projectId: typeof projectId === 'string' ? projectId : '',
        remoteAddress: socket.remoteAddress ?? '',
        ws,
        lastSeen: Date.now(),
      };
      this.#attach(session);
    });
  }

  #attach(session: Session): void {
    const previous = this.#sessions.get(session.node);
    if (previous) {
      previous.ws.close(4000, 'replaced by a newer connection of the same node');
      this.#dropSession(previous, 'replaced by a newer connection');
    }
    this.#sessions.set(session.node, session);
    this.#metrics.connectedNodes.set(this.#sessions.size);
    const { ws } = session;
    ws.on('message', (data, isBinary) => this.#receive(session, data, isBinary));
    ws.on('pong', () => {
      session.lastSeen = Date.now();
    });
    ws.on('error', (error) => {
      const code = (error as { code?: string }).code;
      if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.#reject(
          session.node,
          'oversize',
          `node ${session.node} sent a frame over ${this.#limits.maxFrameBytes} bytes; connection closed (1009)`,
        );
      } else {
        log(this.#logger, 'debug', { node: session.node, err: error }, 'connection error');
      }
    });
    ws.on('close', (code, reason) => {
      this.#dropSession(session, `closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`);
    });
    const { ws: _ws, lastSeen: _lastSeen, ...connection } = session;
    log(this.#logger, 'info', connection, 'node connected');
    this.emit('connected', connection);
    this.#pump(session.node);
  }

  #dropSession(session: Session, reason: string): void {
    if (this.#sessions.get(session.node) !== session) return;
    this.#sessions.delete(session.node);
    this.#metrics.connectedNodes.set(this.#sessions.size);
    this.#queues.get(session.node)?.requeueInFlight();
    if (
      session.ws.readyState === WebSocket.OPEN ||
      session.ws.readyState === WebSocket.CONNECTING
    ) {
      session.ws.terminate();
    }
    const { ws: _ws, lastSeen: _lastSeen, ...connection } = session;
    log(this.#logger, 'info', { ...connection, reason }, 'node disconnected');
    this.emit('disconnected', { ...connection, reason });
  }

  #send(session: Session, frame: Buffer, type: 'ack' | 'noack'): void {
    session.ws.send(frame, { binary: false });
    const hot = this.#metrics.hot;
    if (type === 'ack') hot.sentAck++;
    else hot.sentNoAck++;
    hot.bytesSent += frame.length;
  }

  /** Sends what the node's window allows: queued no-ACK messages, then reliable ones. */
  #pump(node: string): void {
    const session = this.#sessions.get(node);
    const queue = this.#queues.get(node);
    if (!session || !queue || !this.#server) return;
    for (const item of queue.noAck.splice(0)) this.#send(session, item.frame, 'noack');
    while (queue.inFlight.size < this.#limits.maxInFlight) {
      const item = queue.takeNext();
      if (!item) break;
      const object = item.object;
      if (!object) continue;
      if (this.#isStale(node, object)) {
        this.#metrics.dropped.inc({ reason: 'stale' });
        continue;
      }
      const entry = queue.markSent(item as Outgoing & { object: ObjectRef });
      entry.waitMs = this.#limits.ackTimeoutMs;
      this.#send(session, item.frame, 'ack');
    }
  }

  #retryDelay(attempts: number): number {
    const { ackTimeoutMs, maxRetryIntervalMs } = this.#limits;
    if (attempts <= 5) return ackTimeoutMs;
    return Math.min(maxRetryIntervalMs, ackTimeoutMs * 2 ** (attempts - 5));
  }

  /** Resends overdue messages and disconnects silent nodes. */
  #tick(): void {
    const now = Date.now();
    // Deleting the current entry while iterating a Map is safe: a dropped node is not revisited.
    for (const session of this.#sessions.values()) {
      if (now - session.lastSeen > this.#limits.keepaliveTimeoutMs) {
        log(
          this.#logger,
          'warn',
          { node: session.node, silentMs: now - session.lastSeen },
          'node missed its keepalives; disconnecting it',
        );
        session.ws.terminate();
        this.#dropSession(session, 'keepalive timeout');
        continue;
      }
      // An idle node costs this tick no more than the keepalive check (10,000 of them do add up).
      const queue = this.#queues.get(session.node);
      if (!queue || queue.inFlight.size === 0) continue;
      // Deadlines start once the node's frames have left for the socket (a write callback per
      // frame would cost more than this check per tick).
      const written = session.ws.bufferedAmount === 0;
      for (const entry of queue.inFlight.values()) {
        if (entry.dueAt === Number.POSITIVE_INFINITY) {
          if (written) entry.dueAt = now + entry.waitMs;
          continue;
        }
        if (entry.dueAt > now) continue;
        entry.attempts += 1;
        entry.dueAt = Number.POSITIVE_INFINITY;
        entry.waitMs = this.#retryDelay(entry.attempts);
        this.#metrics.retried.inc();
        this.#send(session, entry.item.frame, 'ack');
      }
    }
  }

  #receive(session: Session, data: RawData, isBinary: boolean): void {
    session.lastSeen = Date.now();
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : data instanceof ArrayBuffer
        ? Buffer.from(data)
        : data;
    this.#metrics.hot.bytesReceived += bytes.length;
    const decoded = tryDecodeMessage(isBinary ? bytes : bytes.toString('utf8'), {
      maxBytes: this.#limits.maxFrameBytes,
    });
    if (!decoded.ok) {
      this.#reject(
        session.node,
        'malformed',
        `node ${session.node} sent a frame that is not a KubeEdge message: ${decoded.error.message}`,
      );
      return;
    }
    const message = decoded.message;
    this.#metrics.hot.received++;
    const { operation } = message.route;
    if (operation === Operation.Keepalive) return;
    const parent = message.header.parent_msg_id;
    if (operation === Operation.Error && parent) {
      const refused = this.#queues.get(session.node)?.acknowledge(parent);
      if (refused) {
        this.#onRefused(session.node, refused.item, message.content);
        return;
      }
    }
    if (operation === Operation.Response && parent) {
      const acked = this.#queues.get(session.node)?.acknowledge(parent);
      if (acked) {
        this.#onAck(session.node, acked.item);
        return;
      }
      if (message.content === 'OK') {
        // An ACK of a message resent after the first ACK, or of one that needed none.
        log(this.#logger, 'debug', { node: session.node, parent }, 'ACK for nothing in flight');
        return;
      }
    }
    let resource: string;
    try {
      const parts = parseEdgeResource(message.route.resource);
      // A resource in cloud form (`node/<id>/<ns>/<type>...`) parses as an edge one too, and
      // would be forwarded under this node's prefix: it must not name another node either.
      const claimed = cloudFormNode(message.route.resource);
      const named = NODE_NAMED_TYPES.has(parts.type) ? parts.name : undefined;
      const owner = [claimed, named].find((node) => node !== undefined && node !== session.node);
      if (owner !== undefined) {
        this.#reject(
          session.node,
          'other_node',
          `node ${session.node} sent ${operation} for ${message.route.resource}, which belongs to node ${owner}; dropped`,
        );
        this.#replyError(
          session,
          message,
          `resource ${message.route.resource} belongs to another node`,
        );
        return;
      }
      resource = edgeToCloudResource(message.route.resource, session.node);
    } catch (error) {
      const other = /^node\/([^/]+)\//.exec(message.route.resource)?.[1];
      const reason: RejectReason =
        other !== undefined && other !== session.node ? 'other_node' : 'malformed';
      this.#reject(
        session.node,
        reason,
        `node ${session.node} sent resource ${JSON.stringify(message.route.resource)}: ${(error as Error).message}`,
      );
      this.#replyError(session, message, `bad resource ${JSON.stringify(message.route.resource)}`);
      return;
    }
    this.emit('message', {
      node: session.node,
      message: { ...message, route: { ...message.route, resource } },
    });
  }

  #replyError(session: Session, request: Message, reason: string): void {
    const reply = createMessage({
      source: 'cloudhub',
      group: request.route.group ?? '',
      operation: Operation.Error,
      resource: request.route.resource,
      content: reason,
      parentId: request.header.msg_id,
    });
    this.#send(session, Buffer.from(encodeMessage(reply)), 'noack');
  }

  #onRefused(node: string, refused: Outgoing, content: unknown): void {
    const reason = (typeof content === 'object' && content !== null ? content : {}) as {
      code?: unknown;
      message?: unknown;
    };
    const code = typeof reason.code === 'string' ? reason.code : undefined;
    const detail =
      typeof content === 'string' ? content : String(reason.message ?? JSON.stringify(content));
    this.#metrics.dropped.inc({ reason: 'refused' });
    log(
      this.#logger,
      'warn',
      { node, msgId: refused.msgId, resource: refused.resource, code, detail },
      'the node refused a message; it is not sent again',
    );
    this.emit('refused', {
      node,
      msgId: refused.msgId,
      resource: refused.resource,
      ...(code === undefined ? {} : { code }),
      detail,
    });
    this.#pump(node);
  }

  #onAck(node: string, item: Outgoing): void {
    this.#metrics.hot.acked++;
    if (this.listenerCount('acked') > 0) {
      this.emit('acked', {
        node,
        msgId: item.msgId,
        ...(item.object ? { uid: item.object.uid } : {}),
        ...(item.object?.resourceVersion ? { resourceVersion: item.object.resourceVersion } : {}),
      });
    }
    const object = item.object;
    // A delete needs no version to be recorded: without one, the ObjectSync would outlive the
    // object and a late change could bring it back at the node.
    if (object && (object.resourceVersion !== undefined || object.deleted)) {
      const record = {
        node,
        uid: object.uid,
        namespace: object.namespace,
        name: object.name,
        kind: object.kind,
        apiVersion: object.apiVersion,
        resourceVersion: object.resourceVersion ?? '',
      };
      // An insert queued since the delete was sent brings the object back: no tombstone.
      const revived = this.#queues.get(node)?.waiting.get(object.uid)?.object?.inserted === true;
      if (object.deleted) this.#ledger.recordDeleted(record, { tombstone: !revived });
      else this.#ledger.recordDelivered(record);
    }
    this.#pump(node);
  }
}

/**
 * KubeEdge's CloudHub WebSocket endpoint with reliable delivery.
 *
 * Nodes connect over TLS with a client certificate from `ca` whose CN is
 * `system:node:<node_id header>`. {@link CloudHub.dispatch} queues object changes per node by
 * UID; each is sent until the node ACKs it, and the ACKed resourceVersion is recorded in the
 * ObjectSync store, so a version the node has is never sent again, across restarts too.
 */
export function createCloudHub(options: CloudHubOptions): CloudHub {
  return new CloudHubImpl(options);
}
