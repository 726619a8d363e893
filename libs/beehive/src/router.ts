import { BeehiveError, BeehiveErrorCode, isBeehiveError } from './errors';
import { Fifo } from './fifo';
import type { Message } from './message';

/**
 * KubeEdge's beehive keeps modules in a package-level map and one buffered Go channel per
 * module (`ChannelSizeDefault` 1024, `MessageTimeoutDefault` 30 s). This router keeps the
 * idea and drops the global: each `createRouter()` is independent, so two edge nodes can
 * live in one process.
 */

/**
 * Where the router reports what it cannot throw (handler failures, dropped responses).
 * Fields first, message second: the argument order of pino, so a pino logger fits as is.
 */
export interface Logger {
  debug?(fields: Record<string, unknown>, message: string): void;
  warn?(fields: Record<string, unknown>, message: string): void;
  error?(fields: Record<string, unknown>, message: string): void;
}

export interface RouterOptions {
  /** Queue bound for modules registered without `queueSize`. Default 1024, as KubeEdge's channels. */
  defaultQueueSize?: number;
  /** `sendSync` timeout when the call gives none (or gives ≤ 0, as in KubeEdge). Default 30 000 ms. */
  defaultTimeoutMs?: number;
  /** Receives handler errors and dropped responses. Default: warnings and errors to the console. */
  logger?: Logger;
}

/** What a handler gets beside the message. */
export interface HandlerContext {
  /** Name of the module handling the message. */
  module: string;
  /** Aborted when the module is unregistered or the router stops: long handlers should stop. */
  signal: AbortSignal;
}

export type MessageHandler = (message: Message, context: HandlerContext) => void | Promise<void>;

export interface RegisterOptions {
  /** Unique module name on this router, e.g. `metamanager`. */
  name: string;
  /** Group for `sendToGroup`, e.g. `meta`. One group per module, as in KubeEdge. */
  group?: string;
  /** Most messages waiting for this module; senders wait beyond it. Default: the router's `defaultQueueSize`. */
  queueSize?: number;
  /** Called for each message. Without it, consume with `receive()`. */
  handler?: MessageHandler;
  /** How many handler calls may run at once. Default 1 (in order, one after another). */
  concurrency?: number;
}

export interface ReceiveOptions {
  /** Aborting rejects the pending `next()` with KE_ROUTER_ABORTED and ends the iterator. */
  signal?: AbortSignal;
}

/** Returned by `register`. */
export interface ModuleHandle {
  readonly name: string;
  readonly group: string | undefined;
  /** Messages for this module, for modules registered without a handler. */
  receive(options?: ReceiveOptions): AsyncIterableIterator<Message>;
  /** Same as `router.unregister(name)`. */
  unregister(): Promise<void>;
}

/** A snapshot of one module's state. */
export interface ModuleInfo {
  name: string;
  group: string | undefined;
  queueSize: number;
  /** Messages in the queue (never more than `queueSize`). */
  queued: number;
  /** `send` calls waiting for room. */
  waitingSenders: number;
  /** Handler calls in progress. */
  running: number;
}

export interface SendOptions {
  /** Aborting a send that waits for room rejects it with KE_ROUTER_ABORTED; the message is not delivered. */
  signal?: AbortSignal;
  /** When the queue is full: `wait` for room (default, back-pressure) or `reject` with KE_ROUTER_QUEUE_FULL. */
  ifFull?: 'wait' | 'reject';
}

export interface SendSyncOptions extends SendOptions {
  /** Covers waiting for room and for the response, as KubeEdge's deadline does. ≤ 0 means the default. */
  timeoutMs?: number;
}

export interface Router {
  /** Adds a module. Throws KE_ROUTER_DUPLICATE_MODULE, KE_ROUTER_STOPPED, KE_INVALID_ARGUMENT. */
  register(options: RegisterOptions): ModuleHandle;
  /**
   * Removes a module: waiting senders reject with KE_ROUTER_UNKNOWN_MODULE, queued messages
   * are dropped (a `sendSync` whose request was dropped rejects at once), `receive`
   * iterators end. Resolves once its running handlers finished. Unknown names are ignored.
   */
  unregister(name: string): Promise<void>;
  has(name: string): boolean;
  modules(): ModuleInfo[];
  /** Resolves when `message` is in the module's queue; waits while the queue is full. */
  send(to: string, message: Message, options?: SendOptions): Promise<void>;
  /** Enqueues without waiting: false when the queue is full. Throws KE_ROUTER_UNKNOWN_MODULE / KE_ROUTER_STOPPED. */
  trySend(to: string, message: Message): boolean;
  /**
   * Sends to every module of `group`; resolves with how many received it (0 when the group
   * is empty: KubeEdge logs and does nothing). On abort some modules may already have it.
   */
  sendToGroup(group: string, message: Message, options?: SendOptions): Promise<number>;
  /**
   * Sends a copy of `message` with `header.sync = true` and resolves with the response whose
   * `parent_msg_id` is the message's `msg_id` (see `sendResponse`). Rejects with
   * KE_ROUTER_TIMEOUT, KE_ROUTER_ABORTED, KE_ROUTER_STOPPED, KE_ROUTER_UNKNOWN_MODULE,
   * KE_ROUTER_QUEUE_FULL (with `ifFull: 'reject'`). Its pending entry is always removed.
   */
  sendSync(to: string, message: Message, options?: SendSyncOptions): Promise<Message>;
  /**
   * Hands a response to the `sendSync` waiting for it and returns true. When none waits
   * (it timed out, or the response is for another process) the response is dropped, logged
   * at debug level, and false is returned, as KubeEdge's `SendResp` does; the caller may
   * route it elsewhere (edgehub forwards such responses to the cloud).
   */
  sendResponse(response: Message): boolean;
  /** Messages for a module registered without a handler; several iterators share the queue. */
  receive(name: string, options?: ReceiveOptions): AsyncIterableIterator<Message>;
  /** Number of `sendSync` calls waiting for a response. */
  readonly pendingRequests: number;
  readonly stopped: boolean;
  /**
   * Rejects every pending `sendSync` and waiting send with KE_ROUTER_STOPPED, ends receive
   * iterators, drops queued messages, clears timers and resolves once running handlers
   * finished. Later calls reject with KE_ROUTER_STOPPED. Idempotent. A handler must not
   * await `stop()` (or `unregister` of its own module): that waits for the handler itself.
   */
  stop(): Promise<void>;
}

const DEFAULT_QUEUE_SIZE = 1024;
const DEFAULT_TIMEOUT_MS = 30_000;
// setTimeout clamps larger delays to 1 ms; longer timeouts are capped to this instead.
const MAX_TIMER_MS = 2_147_483_647;

interface WaitingSender {
  message: Message;
  resolve(): void;
  reject(error: BeehiveError): void;
  cleanup(): void;
}

interface WaitingReceiver {
  resolve(result: IteratorResult<Message>): void;
  reject(error: BeehiveError): void;
  cleanup(): void;
}

interface ModuleState {
  name: string;
  group: string | undefined;
  queueSize: number;
  concurrency: number;
  handler: MessageHandler | undefined;
  queue: Fifo<Message>;
  senders: Set<WaitingSender>;
  receivers: Set<WaitingReceiver>;
  running: Set<Promise<void>>;
  pumpScheduled: boolean;
  closed: boolean;
  lifetime: AbortController;
}

interface PendingRequest {
  module: string;
  finish(error: BeehiveError | undefined, response?: Message): void;
}

const consoleLogger: Logger = {
  warn: (fields, message) => console.warn(`[beehive] ${message}`, fields),
  error: (fields, message) => console.error(`[beehive] ${message}`, fields),
};

/** Creates an independent in-process router. */
export function createRouter(options: RouterOptions = {}): Router {
  return new BeehiveRouter(options);
}

class BeehiveRouter implements Router {
  private readonly moduleStates = new Map<string, ModuleState>();
  private readonly pending = new Map<string, PendingRequest>();
  private readonly defaultQueueSize: number;
  private readonly defaultTimeoutMs: number;
  private readonly logger: Logger;
  private stopPromise: Promise<void> | undefined;

  constructor(options: RouterOptions) {
    this.defaultQueueSize = positiveInteger(
      options.defaultQueueSize ?? DEFAULT_QUEUE_SIZE,
      'defaultQueueSize',
    );
    this.defaultTimeoutMs = positiveInteger(
      options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS,
      'defaultTimeoutMs',
    );
    this.logger = options.logger ?? consoleLogger;
  }

  get pendingRequests(): number {
    return this.pending.size;
  }

  get stopped(): boolean {
    return this.stopPromise !== undefined;
  }

  register(options: RegisterOptions): ModuleHandle {
    this.assertRunning();
    const { name, group, handler } = options;
    if (typeof name !== 'string' || name === '') {
      throw invalidArgument(
        'module name must be a non-empty string',
        'a name such as "metamanager"',
      );
    }
    if (group !== undefined && (typeof group !== 'string' || group === '')) {
      throw invalidArgument(
        `group of module "${name}" must be a non-empty string`,
        'a group such as "meta"',
      );
    }
    if (handler !== undefined && typeof handler !== 'function') {
      throw invalidArgument(`handler of module "${name}" must be a function`, 'a function');
    }
    if (this.moduleStates.has(name)) {
      throw new BeehiveError(
        BeehiveErrorCode.RouterDuplicateModule,
        `Module "${name}" is already registered on this router. Unregister it first or choose another name.`,
        { reason: 'duplicate module name', module: name },
      );
    }
    const state: ModuleState = {
      name,
      group,
      queueSize: positiveInteger(options.queueSize ?? this.defaultQueueSize, 'queueSize'),
      concurrency: positiveInteger(options.concurrency ?? 1, 'concurrency'),
      handler,
      queue: new Fifo(),
      senders: new Set(),
      receivers: new Set(),
      running: new Set(),
      pumpScheduled: false,
      closed: false,
      lifetime: new AbortController(),
    };
    this.moduleStates.set(name, state);
    // The handle is bound to this registration, not to the name: after unregister, a new
    // module registered under the same name is not reachable through an old handle.
    return {
      name,
      group,
      receive: (receiveOptions) => {
        this.assertRunning();
        if (state.closed) throw unknownModule(name, `module "${name}" was unregistered`);
        return this.receiveFrom(state, receiveOptions);
      },
      unregister: () =>
        this.moduleStates.get(name) === state ? this.unregister(name) : Promise.resolve(),
    };
  }

  async unregister(name: string): Promise<void> {
    const state = this.moduleStates.get(name);
    if (state === undefined) return;
    this.moduleStates.delete(name);
    this.closeModule(state, (message) =>
      unknownModule(name, `module "${name}" was unregistered before it took the message`, message),
    );
    await Promise.allSettled([...state.running]);
  }

  has(name: string): boolean {
    return this.moduleStates.has(name);
  }

  modules(): ModuleInfo[] {
    return [...this.moduleStates.values()].map((state) => ({
      name: state.name,
      group: state.group,
      queueSize: state.queueSize,
      queued: state.queue.length,
      waitingSenders: state.senders.size,
      running: state.running.size,
    }));
  }

  async send(to: string, message: Message, options: SendOptions = {}): Promise<void> {
    this.assertRunning();
    const state = this.getModule(to);
    await this.enqueue(state, message, options.signal, options.ifFull);
  }

  trySend(to: string, message: Message): boolean {
    this.assertRunning();
    return this.offer(this.getModule(to), message);
  }

  async sendToGroup(group: string, message: Message, options: SendOptions = {}): Promise<number> {
    this.assertRunning();
    throwIfAborted(options.signal, message);
    const members = [...this.moduleStates.values()].filter((state) => state.group === group);
    if (members.length === 0) {
      this.logger.debug?.(
        { group, msgId: message.header?.msg_id },
        'sendToGroup: no module in group, message dropped',
      );
      return 0;
    }
    const results = await Promise.allSettled(
      members.map((state) => this.enqueue(state, message, options.signal, options.ifFull)),
    );
    let delivered = 0;
    let failure: unknown;
    for (const result of results) {
      if (result.status === 'fulfilled') delivered += 1;
      // A member unregistered meanwhile has left the group; that is not the caller's failure.
      else if (!isBeehiveError(result.reason, BeehiveErrorCode.RouterUnknownModule)) {
        failure ??= result.reason;
      }
    }
    if (failure !== undefined) throw failure;
    return delivered;
  }

  sendSync(to: string, message: Message, options: SendSyncOptions = {}): Promise<Message> {
    try {
      this.assertRunning();
      const state = this.getModule(to);
      const msgId: unknown = message?.header?.msg_id;
      if (typeof msgId !== 'string' || msgId === '') {
        throw invalidArgument(
          'sendSync needs a message with a non-empty header.msg_id',
          'a message made by createMessage()',
        );
      }
      if (this.pending.has(msgId)) {
        throw invalidArgument(
          `a sendSync for msg_id ${msgId} is already waiting`,
          'a new message (createMessage gives each a fresh msg_id)',
        );
      }
      throwIfAborted(options.signal, message);
      const timeoutMs = this.resolveTimeout(options.timeoutMs);
      const request: Message = { ...message, header: { ...message.header, sync: true } };
      return this.startRequest(state, request, msgId, timeoutMs, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  sendResponse(response: Message): boolean {
    const parentId: unknown = response?.header?.parent_msg_id;
    if (typeof parentId === 'string' && parentId !== '') {
      const request = this.pending.get(parentId);
      if (request !== undefined) {
        request.finish(undefined, response);
        return true;
      }
    }
    this.logger.debug?.(
      { parentMsgId: parentId, msgId: response?.header?.msg_id },
      'sendResponse: no sendSync waits for this response; dropped',
    );
    return false;
  }

  receive(name: string, options: ReceiveOptions = {}): AsyncIterableIterator<Message> {
    this.assertRunning();
    return this.receiveFrom(this.getModule(name), options);
  }

  stop(): Promise<void> {
    if (this.stopPromise !== undefined) return this.stopPromise;
    const stoppedError = (message?: Message): BeehiveError =>
      stopped('the router was stopped', message?.header?.msg_id);
    for (const request of [...this.pending.values()]) request.finish(stoppedError());
    const running: Promise<void>[] = [];
    for (const state of this.moduleStates.values()) {
      this.closeModule(state, stoppedError);
      running.push(...state.running);
    }
    this.moduleStates.clear();
    this.stopPromise = Promise.allSettled(running).then(() => undefined);
    return this.stopPromise;
  }

  // --- internals -------------------------------------------------------------------------

  private receiveFrom(
    state: ModuleState,
    options: ReceiveOptions = {},
  ): AsyncIterableIterator<Message> {
    const name = state.name;
    if (state.handler !== undefined) {
      throw invalidArgument(
        `module "${name}" has a handler, which consumes its messages`,
        'receive() only on modules registered without a handler',
      );
    }
    const { signal } = options;
    const mine = new Set<WaitingReceiver>();
    let finished = false;
    const done = (): IteratorResult<Message> => ({ done: true, value: undefined });
    const iterator: AsyncIterableIterator<Message> = {
      next: () => {
        if (finished || state.closed) {
          finished = true;
          return Promise.resolve(done());
        }
        if (signal?.aborted) {
          finished = true;
          return Promise.reject(aborted(signal.reason, name));
        }
        const message = this.take(state);
        if (message !== undefined) return Promise.resolve({ done: false, value: message });
        return new Promise<IteratorResult<Message>>((resolve, reject) => {
          const onAbort = (): void => {
            state.receivers.delete(receiver);
            mine.delete(receiver);
            finished = true;
            reject(aborted(signal?.reason, name));
          };
          const receiver: WaitingReceiver = {
            resolve,
            reject,
            cleanup: () => {
              mine.delete(receiver);
              signal?.removeEventListener('abort', onAbort);
            },
          };
          signal?.addEventListener('abort', onAbort, { once: true });
          state.receivers.add(receiver);
          mine.add(receiver);
        });
      },
      return: () => {
        finished = true;
        for (const receiver of [...mine]) {
          state.receivers.delete(receiver);
          receiver.cleanup();
          receiver.resolve(done());
        }
        return Promise.resolve(done());
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  private startRequest(
    state: ModuleState,
    request: Message,
    msgId: string,
    timeoutMs: number,
    options: SendSyncOptions,
  ): Promise<Message> {
    return new Promise<Message>((resolve, reject) => {
      const { signal } = options;
      // Withdraws the request from the wait-for-room list once the call is settled.
      const sendControl = new AbortController();
      let settled = false;
      const finish = (error: BeehiveError | undefined, response?: Message): void => {
        if (settled) return;
        settled = true;
        this.pending.delete(msgId);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        sendControl.abort(error);
        if (error !== undefined || response === undefined) reject(error);
        else resolve(response);
      };
      const onAbort = (): void => finish(aborted(signal?.reason, state.name, msgId));
      const timer = setTimeout(() => {
        finish(
          new BeehiveError(
            BeehiveErrorCode.RouterTimeout,
            `No response from module "${state.name}" to message ${msgId} within ${timeoutMs} ms. Check that the module answers with sendResponse(createResponse(request, ...)), or raise timeoutMs.`,
            { reason: `timed out after ${timeoutMs} ms`, module: state.name, msgId },
          ),
        );
      }, timeoutMs);
      timer.unref();
      this.pending.set(msgId, { module: state.name, finish });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.enqueue(state, request, sendControl.signal, options.ifFull).catch((error: unknown) =>
        finish(isBeehiveError(error) ? error : aborted(error, state.name, msgId)),
      );
    });
  }

  private resolveTimeout(timeoutMs: number | undefined): number {
    if (timeoutMs === undefined) return this.defaultTimeoutMs;
    if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs)) {
      throw invalidArgument(`timeoutMs must be a number, got ${String(timeoutMs)}`, 'milliseconds');
    }
    if (timeoutMs <= 0) return this.defaultTimeoutMs;
    return Math.min(Math.ceil(timeoutMs), MAX_TIMER_MS);
  }

  private async enqueue(
    state: ModuleState,
    message: Message,
    signal: AbortSignal | undefined,
    ifFull: 'wait' | 'reject' | undefined,
  ): Promise<void> {
    throwIfAborted(signal, message, state.name);
    if (state.closed) throw unknownModule(state.name, 'the module was unregistered', message);
    if (this.offer(state, message)) return;
    if (ifFull === 'reject') {
      throw new BeehiveError(
        BeehiveErrorCode.RouterQueueFull,
        `The queue of module "${state.name}" is full (${state.queueSize} messages). Retry later, send without ifFull: 'reject' to wait, or register the module with a larger queueSize.`,
        { reason: 'queue full', module: state.name, msgId: message.header?.msg_id },
      );
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        state.senders.delete(sender);
        reject(
          isBeehiveError(signal?.reason)
            ? signal.reason
            : aborted(signal?.reason, state.name, message.header?.msg_id),
        );
      };
      const sender: WaitingSender = {
        message,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      state.senders.add(sender);
    });
  }

  /** Puts `message` in the queue (or straight into a waiting receiver) if there is room. */
  private offer(state: ModuleState, message: Message): boolean {
    if (state.closed) return false;
    const receiver = first(state.receivers);
    if (receiver !== undefined) {
      state.receivers.delete(receiver);
      receiver.cleanup();
      receiver.resolve({ done: false, value: message });
      return true;
    }
    if (state.queue.length >= state.queueSize) return false;
    state.queue.push(message);
    this.schedulePump(state);
    return true;
  }

  /** Takes the oldest queued message and lets the first waiting sender into the freed slot. */
  private take(state: ModuleState): Message | undefined {
    const message = state.queue.shift();
    if (message === undefined) return undefined;
    const sender = first(state.senders);
    if (sender !== undefined) {
      state.senders.delete(sender);
      sender.cleanup();
      state.queue.push(sender.message);
      sender.resolve();
    }
    return message;
  }

  private schedulePump(state: ModuleState): void {
    if (state.handler === undefined || state.pumpScheduled) return;
    state.pumpScheduled = true;
    // A microtask, so a handler never runs inside the caller's send().
    queueMicrotask(() => {
      state.pumpScheduled = false;
      this.pump(state);
    });
  }

  private pump(state: ModuleState): void {
    const handler = state.handler;
    if (handler === undefined) return;
    while (!state.closed && state.running.size < state.concurrency) {
      const message = this.take(state);
      if (message === undefined) return;
      const run = this.runHandler(state, handler, message).finally(() => {
        state.running.delete(run);
        this.pump(state);
      });
      state.running.add(run);
    }
  }

  private async runHandler(
    state: ModuleState,
    handler: MessageHandler,
    message: Message,
  ): Promise<void> {
    try {
      await handler(message, { module: state.name, signal: state.lifetime.signal });
    } catch (error) {
      const shuttingDown = state.closed && isBeehiveError(error);
      const log = shuttingDown ? this.logger.debug : this.logger.error;
      log?.call(
        this.logger,
        {
          module: state.name,
          msgId: message.header?.msg_id,
          operation: message.route?.operation,
          resource: message.route?.resource,
          err: error,
        },
        `handler of module "${state.name}" failed; processing continues`,
      );
    }
  }

  private closeModule(state: ModuleState, senderError: (message: Message) => BeehiveError): void {
    state.closed = true;
    state.lifetime.abort();
    for (const sender of [...state.senders]) {
      state.senders.delete(sender);
      sender.cleanup();
      sender.reject(senderError(sender.message));
    }
    for (const receiver of [...state.receivers]) {
      state.receivers.delete(receiver);
      receiver.cleanup();
      receiver.resolve({ done: true, value: undefined });
    }
    const dropped = state.queue.drain();
    for (const message of dropped) {
      const request = this.pending.get(message.header?.msg_id);
      if (request !== undefined && request.module === state.name) {
        request.finish(senderError(message));
      }
    }
    if (dropped.length > 0) {
      this.logger.warn?.(
        { module: state.name, dropped: dropped.length },
        `module "${state.name}" closed with queued messages; dropped them`,
      );
    }
  }

  private assertRunning(): void {
    if (this.stopPromise !== undefined) {
      throw stopped('the router was stopped; create a new router to send again');
    }
  }

  private getModule(name: string): ModuleState {
    const state = this.moduleStates.get(name);
    if (state === undefined) {
      throw unknownModule(name, `no module named "${name}" is registered`);
    }
    return state;
  }
}

function first<T>(set: Set<T>): T | undefined {
  for (const item of set) return item;
  return undefined;
}

function positiveInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalidArgument(
      `${what} must be a positive integer, got ${String(value)}`,
      'an integer ≥ 1',
    );
  }
  return value;
}

function throwIfAborted(signal: AbortSignal | undefined, message: Message, module?: string): void {
  if (signal?.aborted) {
    throw isBeehiveError(signal.reason)
      ? signal.reason
      : aborted(signal.reason, module, message?.header?.msg_id);
  }
}

function invalidArgument(reason: string, expected: string): BeehiveError {
  return new BeehiveError(
    BeehiveErrorCode.InvalidArgument,
    `Invalid argument: ${reason}. Expected ${expected}.`,
    {
      reason,
      expected,
    },
  );
}

function unknownModule(module: string, reason: string, message?: Message): BeehiveError {
  return new BeehiveError(
    BeehiveErrorCode.RouterUnknownModule,
    `Cannot deliver to module "${module}": ${reason}. Register the module before sending to it.`,
    { reason, module, msgId: message?.header?.msg_id },
  );
}

function aborted(cause: unknown, module?: string, msgId?: string): BeehiveError {
  return new BeehiveError(
    BeehiveErrorCode.RouterAborted,
    `The operation${module === undefined ? '' : ` on module "${module}"`} was aborted by its AbortSignal.`,
    { reason: 'aborted', module, msgId, cause },
  );
}

function stopped(reason: string, msgId?: string): BeehiveError {
  return new BeehiveError(
    BeehiveErrorCode.RouterStopped,
    `The router is stopped (${reason}). Nothing is delivered after stop().`,
    { reason, msgId },
  );
}
