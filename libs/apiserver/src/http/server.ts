import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ApiCore, DeleteOptions, ListQuery, PatchType, WatchEventType } from '../core';
import { ApiError, badRequest, type Status, successStatus } from '../errors';
import { isPlainObject } from '../objects';
import {
  builtinPatchTypes,
  patchTypeFromContentType,
  unsupportedPatchTypeError,
} from '../patch/index';
import { groupVersion, type ResourceInfo, type ResourceRegistry } from '../registry';
import type { KubeObject } from '../store/types';
import {
  apiGroupDocument,
  apiGroupList,
  apiVersions,
  resourceList,
  SERVER_VERSION,
} from './discovery';
import { openApiV3 } from './openapi';
import { decodeProtobufObject, PROTOBUF_TYPE } from './protobuf';
import { parseRequestInfo, type ResourceRequest } from './request-info';
import { tableFor, wantsTable } from './table';

export interface Authenticator {
  /** Returns the user name, or undefined to refuse the request with 401. */
  authenticate(request: IncomingMessage): string | undefined;
}

export interface HttpOptions {
  readonly core: ApiCore;
  readonly registry: ResourceRegistry;
  readonly host: string;
  readonly port: number;
  readonly tls?: {
    readonly key: string | Buffer;
    readonly cert: string | Buffer;
    readonly ca?: string | Buffer;
  };
  readonly authenticator: Authenticator;
  /** Largest request body; Kubernetes' limit is 3 MiB. */
  readonly maxRequestBytes: number;
  /** Server-side watch timeout when the client gives none. */
  readonly watchTimeoutSeconds: number;
  readonly bookmarkIntervalMs: number;
  /** Bytes a slow watcher may have queued before its watch is closed (it re-lists). */
  readonly maxWatchBufferBytes: number;
  readonly logger?: {
    warn?(fields: object, message: string): void;
    debug?(fields: object, message: string): void;
  };
}

const JSON_TYPE = 'application/json';

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendStatus(res: ServerResponse, status: Status): void {
  send(res, status.code, status);
}

/**
 * Reads a request body up to `limit` bytes. A larger body is refused with 413 without reading the
 * rest; the response then closes the connection (see #handle), as Go's server does, because the
 * unread remainder would otherwise be taken for the next request on that connection.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = (message: string) => new ApiError('RequestEntityTooLarge', message);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    return Promise.reject(
      tooLarge(`the request body of ${declared} bytes is larger than the limit of ${limit} bytes`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error: Error | undefined) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', finish);
      req.off('close', onClose);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        finish(tooLarge(`the request body is larger than the limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(undefined);
    // The client went away mid-body: nobody is waiting for an answer, but the handler must end.
    const onClose = () => {
      if (!req.complete) finish(badRequest('the request body ended early'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', finish);
    req.on('close', onClose);
  });
}

function parseJson(body: Buffer, what: string): unknown {
  if (body.length === 0) throw badRequest(`the ${what} is empty`);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw badRequest(`the ${what} is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Media types read as JSON. Kubernetes insists on application/json; no type and `text/plain`
 * (what `fetch` sends for a string body) are read as JSON too, for hand-written clients.
 */
const JSON_LIKE = new Set(['', JSON_TYPE, 'text/plain', '*/*']);

/**
 * The object of a create or update, by its Content-Type: JSON, or Kubernetes protobuf for the
 * kinds kubectl's generators send that way (client-go's typed clients always use protobuf for
 * built-in kinds). Anything else is 415, as Kubernetes answers an unknown media type.
 */
function decodeObject(body: Buffer, contentType: string | undefined): unknown {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (JSON_LIKE.has(media)) return parseJson(body, 'request body');
  if (media === PROTOBUF_TYPE) return decodeProtobufObject(body);
  throw new ApiError(
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${JSON_TYPE}, ${PROTOBUF_TYPE}`,
  );
}

function patchType(contentType: string | undefined): PatchType {
  const type = patchTypeFromContentType(contentType ?? '');
  if (type) return type;
  const { message } = unsupportedPatchTypeError(builtinPatchTypes);
  throw new ApiError('UnsupportedMediaType', message);
}

function intParam(url: URL, name: string): number | undefined {
  const value = url.searchParams.get(name);
  if (value === null || value === '') return undefined;
  if (!/^-?\d+$/.test(value)) throw badRequest(`${name}: "${value}" is not an integer`);
  return Number(value);
}

function listQuery(url: URL): ListQuery {
  const get = (name: string) => url.searchParams.get(name) ?? undefined;
  return {
    labelSelector: get('labelSelector'),
    fieldSelector: get('fieldSelector'),
    limit: intParam(url, 'limit'),
    continue: get('continue'),
    resourceVersion: get('resourceVersion'),
    resourceVersionMatch: get('resourceVersionMatch'),
  };
}

/** Objects of a custom resource are served in the version the client asked for (no conversion). */
function asServed(info: ResourceInfo, object: KubeObject): KubeObject {
  if (!info.custom) return object;
  return { ...object, apiVersion: groupVersion(info) };
}

/**
 * Watch event lines by event object: the store hands every watcher the same object for one
 * change, so with many watchers it is serialised once, not once per watcher.
 */
const eventLines = new WeakMap<KubeObject, Map<string, string>>();

function eventLine(info: ResourceInfo, type: WatchEventType, object: KubeObject): string {
  const key = `${type} ${groupVersion(info)}`;
  let lines = eventLines.get(object);
  if (!lines) {
    lines = new Map();
    eventLines.set(object, lines);
  }
  let line = lines.get(key);
  if (line === undefined) {
    line = `${JSON.stringify({ type, object: asServed(info, object) })}\n`;
    lines.set(key, line);
  }
  return line;
}

/**
 * The HTTP side of the API server: authentication, discovery, the resource verbs, watch
 * streams, Tables for kubectl. Everything else is `ApiCore`.
 */
export class HttpApi {
  readonly #options: HttpOptions;
  readonly #server: Server;
  readonly #watches = new Set<() => void>();
  #address: AddressInfo | undefined;

  constructor(options: HttpOptions) {
    this.#options = options;
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      void this.#handle(req, res);
    };
    this.#server = options.tls
      ? createHttpsServer(
          {
            key: options.tls.key,
            cert: options.tls.cert,
            ...(options.tls.ca
              ? { ca: options.tls.ca, requestCert: true, rejectUnauthorized: false }
              : {}),
          },
          handler,
        )
      : createHttpServer(handler);
    this.#server.keepAliveTimeout = 60_000;
  }

  get url(): string {
    const address = this.#address;
    if (!address) throw new Error('the API server is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${this.#options.tls ? 'https' : 'http'}://${host}:${address.port}`;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#address = this.#server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    for (const stop of [...this.#watches]) stop();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const user = this.#options.authenticator.authenticate(req);
      if (user === undefined) {
        throw new ApiError('Unauthorized', 'Unauthorized');
      }
      const url = new URL(req.url ?? '/', 'http://localhost');
      const info = parseRequestInfo(req.method ?? 'GET', url);
      if (info.kind === 'nonresource') {
        this.#nonResource(info.path, req, res);
        return;
      }
      await this.#resource(info, url, req, res);
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof ApiError) {
        // The unread rest of a too large body must not be parsed as the next request.
        if (error.reason === 'RequestEntityTooLarge') res.setHeader('Connection', 'close');
        sendStatus(res, error.toStatus());
        return;
      }
      this.#options.logger?.warn?.({ err: error, url: req.url }, 'request failed');
      sendStatus(
        res,
        new ApiError(
          'InternalError',
          `an error on the server has prevented the request from succeeding: ${(error as Error).message}`,
        ).toStatus(),
      );
    }
  }

  #nonResource(path: string, req: IncomingMessage, res: ServerResponse): void {
    const trimmed = path.replace(/\/+$/, '') || '/';
    if (['/healthz', '/livez', '/readyz'].includes(trimmed)) {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    const host = req.headers.host ?? `${this.#options.host}:${this.#options.port}`;
    const document = this.#nonResourceDocument(trimmed, host);
    if (document === undefined) {
      throw new ApiError('NotFound', 'the server could not find the requested resource', {
        details: {},
      });
    }
    send(res, 200, document);
  }

  /** Discovery, version and OpenAPI documents by path; undefined for unknown paths. */
  #nonResourceDocument(path: string, host: string): unknown {
    const { registry } = this.#options;
    if (path === '/version') return SERVER_VERSION;
    if (path === '/api') return apiVersions(host);
    if (path === '/apis') return apiGroupList(registry);
    if (path === '/openapi/v3' || path.startsWith('/openapi/v3/')) return openApiV3(registry, path);
    const core = /^\/api\/([^/]+)$/.exec(path);
    if (core) return resourceList(registry, '', core[1]!);
    const group = /^\/apis\/([^/]+)$/.exec(path);
    if (group) return apiGroupDocument(registry, group[1]!);
    const version = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
    if (version) return resourceList(registry, version[1]!, version[2]!);
    return undefined;
  }

  async #resource(
    request: ResourceRequest,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const { core, registry, maxRequestBytes } = this.#options;
    const info = registry.find(request.group, request.version, request.resource);
    if (!info) {
      throw new ApiError('NotFound', 'the server could not find the requested resource', {
        details: { group: request.group, kind: request.resource },
      });
    }
    if (info.namespaced === false && request.namespace) {
      throw new ApiError('NotFound', 'the server could not find the requested resource');
    }
    const ns = request.namespace;
    const dryRun = url.searchParams.getAll('dryRun').includes('All');
    const fieldValidation = url.searchParams.get('fieldValidation') ?? undefined;
    const table = wantsTable(req.headers.accept, url);
    switch (request.verb) {
      case 'get': {
        if (request.subresource && request.subresource !== 'status') {
          throw new ApiError(
            'NotFound',
            `the server could not find the requested resource (get ${info.resource} ${request.name}/${request.subresource})`,
          );
        }
        const object = asServed(info, core.get(info, ns, request.name));
        return send(
          res,
          200,
          table ? tableFor(info, [object], String(object.metadata.resourceVersion), table) : object,
        );
      }
      case 'list': {
        const result = core.list(info, ns, listQuery(url));
        const items = result.items.map((item) => asServed(info, item));
        const metadata = {
          resourceVersion: String(result.revision),
          ...(result.continue
            ? { continue: result.continue, remainingItemCount: result.remaining }
            : {}),
        };
        if (table)
          return send(res, 200, tableFor(info, items, metadata.resourceVersion, table, metadata));
        return send(res, 200, {
          kind: info.listKind,
          apiVersion: groupVersion(info),
          metadata,
          items,
        });
      }
      case 'watch':
        return this.#watch(info, ns, url, req, res, table);
      case 'create': {
        if (request.name)
          throw new ApiError('MethodNotAllowed', `POST is not allowed on a named ${info.resource}`);
        const body = decodeObject(
          await readBody(req, maxRequestBytes),
          req.headers['content-type'],
        );
        return send(
          res,
          201,
          asServed(info, core.create(info, ns, body, { dryRun, fieldValidation })),
        );
      }
      case 'update': {
        const body = decodeObject(
          await readBody(req, maxRequestBytes),
          req.headers['content-type'],
        );
        return send(
          res,
          200,
          asServed(
            info,
            core.update(info, ns, request.name, body, {
              subresource: request.subresource,
              dryRun,
              fieldValidation,
            }),
          ),
        );
      }
      case 'patch': {
        const type = patchType(req.headers['content-type']);
        const body = parseJson(await readBody(req, maxRequestBytes), 'patch');
        return send(
          res,
          200,
          asServed(
            info,
            core.patch(info, ns, request.name, type, body, {
              subresource: request.subresource,
              dryRun,
              fieldValidation,
            }),
          ),
        );
      }
      case 'delete': {
        const raw = await readBody(req, maxRequestBytes);
        const options = this.#deleteOptions(raw, url);
        const deleted = core.delete(info, ns, request.name, options);
        return send(res, 200, asServed(info, deleted));
      }
      case 'deletecollection': {
        const raw = await readBody(req, maxRequestBytes);
        const options = this.#deleteOptions(raw, url);
        const deleted = core.deleteCollection(info, ns, listQuery(url), options);
        return send(res, 200, {
          kind: info.listKind,
          apiVersion: groupVersion(info),
          metadata: { resourceVersion: String(core.store.currentRevision) },
          items: deleted.map((item) => asServed(info, item)),
        });
      }
    }
  }

  #deleteOptions(raw: Buffer, url: URL): DeleteOptions {
    const body = raw.length > 0 ? parseJson(raw, 'DeleteOptions') : {};
    if (!isPlainObject(body)) throw badRequest('DeleteOptions must be a JSON object');
    const grace = intParam(url, 'gracePeriodSeconds');
    return {
      ...(body as DeleteOptions),
      ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}),
      ...(url.searchParams.get('propagationPolicy')
        ? { propagationPolicy: url.searchParams.get('propagationPolicy')! }
        : {}),
      ...(url.searchParams.getAll('dryRun').length
        ? { dryRun: url.searchParams.getAll('dryRun') }
        : {}),
    };
  }

  #watch(
    info: ResourceInfo,
    namespace: string,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
    table: ReturnType<typeof wantsTable>,
  ): void {
    const { core, watchTimeoutSeconds, bookmarkIntervalMs, maxWatchBufferBytes } = this.#options;
    const query = {
      ...listQuery(url),
      allowWatchBookmarks: url.searchParams.get('allowWatchBookmarks') === 'true',
    };
    // 0 (or less) means "no timeout of my own", as in Kubernetes: the server's default applies.
    const requested = intParam(url, 'timeoutSeconds');
    const timeoutSeconds = requested && requested > 0 ? requested : watchTimeoutSeconds;
    let ended = false;
    let lastRevision = query.resourceVersion ?? '0';
    const write = (type: WatchEventType, object: unknown) => {
      if (ended) return;
      if (!res.headersSent) {
        res.writeHead(200, {
          'Content-Type': JSON_TYPE,
          'Transfer-Encoding': 'chunked',
          'Cache-Control': 'no-cache',
        });
      }
      if (type === 'ERROR' || type === 'BOOKMARK') {
        res.write(`${JSON.stringify({ type, object })}\n`);
      } else {
        const stored = object as KubeObject;
        lastRevision = String(stored.metadata.resourceVersion ?? lastRevision);
        res.write(
          table
            ? `${JSON.stringify({ type, object: tableFor(info, [asServed(info, stored)], lastRevision, table) })}\n`
            : eventLine(info, type, stored),
        );
      }
      // An ERROR (e.g. 410 Expired) is the last event of a watch, as in Kubernetes: the client
      // has to re-list, so the stream ends instead of idling until its timeout.
      if (type === 'ERROR') {
        stop();
        return;
      }
      if (res.writableLength > maxWatchBufferBytes) {
        this.#options.logger?.warn?.(
          { resource: info.resource },
          'closing a watch whose client does not keep up',
        );
        stop();
      }
    };
    let unsubscribe: () => void = () => {};
    const timers: NodeJS.Timeout[] = [];
    const stop = () => {
      if (ended) return;
      ended = true;
      unsubscribe();
      for (const timer of timers) clearTimeout(timer);
      this.#watches.delete(stop);
      if (!res.headersSent) res.writeHead(200, { 'Content-Type': JSON_TYPE });
      res.end();
    };
    this.#watches.add(stop);
    req.on('close', stop);
    res.on('error', stop);
    unsubscribe = core.watch(info, namespace, query, { event: write });
    // Ended during the replay (an ERROR event, or a client too slow for it): no timers to arm.
    if (ended) {
      unsubscribe();
      return;
    }
    if (!res.headersSent) {
      res.writeHead(200, {
        'Content-Type': JSON_TYPE,
        'Transfer-Encoding': 'chunked',
        'Cache-Control': 'no-cache',
      });
      res.flushHeaders();
    }
    timers.push(setTimeout(stop, timeoutSeconds * 1000));
    if (query.allowWatchBookmarks) {
      // Every event up to the current revision has been written (the store delivers on
      // commit), so a bookmark at it is truthful. One interval timer per watch.
      const bookmark = () =>
        write('BOOKMARK', {
          kind: info.kind,
          apiVersion: groupVersion(info),
          metadata: { resourceVersion: String(core.store.currentRevision) },
        });
      timers.push(setInterval(bookmark, bookmarkIntervalMs));
    }
  }
}

export { successStatus };
