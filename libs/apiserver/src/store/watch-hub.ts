import type { KubeObject, StoreEvent, StoreEventType } from './types';

/** One row of the change log, as the store writes it and reads it back. */
export interface Change {
  readonly revision: number;
  readonly type: StoreEventType;
  readonly resource: string;
  readonly namespace: string;
  readonly name: string;
  /** JSON of the object after the change (for DELETED: its last state at the deletion revision). */
  readonly value: string;
  /** JSON of the object before the change; null for ADDED. */
  readonly previous: string | null;
}

/** A page of history: matching changes after some revision, up to `upTo` (the committed revision). */
export interface HistoryPage {
  readonly changes: readonly Change[];
  readonly upTo: number;
}

/** Where listener failures are reported. Fields first, message second, as pino takes them. */
export interface StoreLogger {
  warn?(fields: Record<string, unknown>, message: string): void;
  error?(fields: Record<string, unknown>, message: string): void;
}

type Listener = (event: StoreEvent) => void;

interface Watcher {
  readonly resource: string;
  /** undefined: every namespace. */
  readonly namespace: string | undefined;
  readonly listener: Listener;
  /** Highest revision this watcher has been given (or asked to start after). */
  lastDelivered: number;
  /** Still reading history: live events wait in the change log until the replay reaches them. */
  replaying: boolean;
  active: boolean;
}

/** Parses a change into the event listeners receive. */
export function toEvent(change: Change): StoreEvent {
  const key = { resource: change.resource, namespace: change.namespace, name: change.name };
  const object = JSON.parse(change.value) as KubeObject;
  if (change.previous === null) {
    return { type: change.type, revision: change.revision, key, object };
  }
  const previous = JSON.parse(change.previous) as KubeObject;
  return { type: change.type, revision: change.revision, key, object, previous };
}

/**
 * Delivers committed changes to watchers exactly once and in revision order.
 *
 * Two rules make that hold when listeners write or start watches themselves:
 * - one delivery loop at a time: changes committed by a listener are queued behind the ones being
 *   delivered instead of being delivered in the middle of them;
 * - each watcher remembers the last revision it was given and skips anything at or below it, so a
 *   watch that replayed history from the database does not get the same change again live.
 */
export class WatchHub {
  private readonly watchers = new Map<string, Set<Watcher>>();
  private queue: Change[] = [];
  private delivering = false;
  private closed = false;

  constructor(private readonly logger: StoreLogger) {}

  /**
   * Registers a watcher, replays history through `readHistory` (called until it returns no
   * changes), then lets live changes through. Errors from `readHistory` propagate.
   */
  add(
    resource: string,
    namespace: string | undefined,
    fromRevision: number,
    listener: Listener,
    readHistory: (after: number) => HistoryPage,
  ): () => void {
    const watcher: Watcher = {
      resource,
      namespace,
      listener,
      lastDelivered: fromRevision,
      replaying: true,
      active: true,
    };
    let set = this.watchers.get(resource);
    if (set === undefined) {
      set = new Set();
      this.watchers.set(resource, set);
    }
    set.add(watcher);
    const stop = () => this.remove(watcher);
    try {
      for (;;) {
        const page = readHistory(watcher.lastDelivered);
        for (const change of page.changes) {
          if (!this.deliver(watcher, change, toEvent(change))) return stop;
        }
        if (page.changes.length === 0) {
          // Everything committed up to `upTo` that matches has been replayed.
          watcher.lastDelivered = Math.max(watcher.lastDelivered, page.upTo);
          break;
        }
      }
    } catch (error) {
      this.remove(watcher);
      throw error;
    }
    watcher.replaying = false;
    return stop;
  }

  /** Hands committed changes (in revision order) to the watchers of their resources. */
  publish(changes: readonly Change[]): void {
    if (this.closed || changes.length === 0) return;
    for (const change of changes) this.queue.push(change);
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let index = 0; index < this.queue.length && !this.closed; index += 1) {
        const change = this.queue[index]!;
        const set = this.watchers.get(change.resource);
        if (set === undefined) continue;
        // Parsed once, on demand, and shared by the watchers of this change.
        let event: StoreEvent | undefined;
        for (const watcher of set) {
          if (watcher.replaying || !this.wants(watcher, change)) continue;
          event ??= toEvent(change);
          this.deliver(watcher, change, event);
        }
      }
    } finally {
      this.queue = [];
      this.delivering = false;
    }
  }

  /**
   * After a rollback to `revision`: revisions above it were never committed and will be reused, so
   * a watcher that was asked to start above it must not skip them.
   */
  rewind(revision: number): void {
    for (const set of this.watchers.values()) {
      for (const watcher of set) watcher.lastDelivered = Math.min(watcher.lastDelivered, revision);
    }
  }

  /** Drops every watcher and anything queued; later calls do nothing. */
  close(): void {
    this.closed = true;
    for (const set of this.watchers.values()) {
      for (const watcher of set) watcher.active = false;
    }
    this.watchers.clear();
    this.queue = [];
  }

  /** Number of active watchers (for tests and metrics). */
  get size(): number {
    let size = 0;
    for (const set of this.watchers.values()) size += set.size;
    return size;
  }

  private wants(watcher: Watcher, change: Change): boolean {
    return (
      watcher.active &&
      change.revision > watcher.lastDelivered &&
      (watcher.namespace === undefined || watcher.namespace === change.namespace)
    );
  }

  /** Calls the listener; false when the watcher is gone (stopped, or removed for throwing). */
  private deliver(watcher: Watcher, change: Change, event: StoreEvent): boolean {
    if (!watcher.active) return false;
    if (!this.wants(watcher, change)) return true;
    watcher.lastDelivered = change.revision;
    try {
      watcher.listener(event);
    } catch (error) {
      this.remove(watcher);
      this.logger.error?.(
        {
          err: error,
          resource: watcher.resource,
          namespace: watcher.namespace,
          revision: change.revision,
        },
        'store watch listener threw; the watch is removed',
      );
      return false;
    }
    return watcher.active;
  }

  private remove(watcher: Watcher): void {
    if (!watcher.active) return;
    watcher.active = false;
    const set = this.watchers.get(watcher.resource);
    if (set === undefined) return;
    set.delete(watcher);
    if (set.size === 0) this.watchers.delete(watcher.resource);
  }
}
