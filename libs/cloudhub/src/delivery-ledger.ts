import { createWorkQueue, itemExponentialFailure, runWorkers } from '@ke/kube';
import { type CloudHubLogger, log } from './logger';
import { type DeliveredObject, type ObjectSyncStore, objectSyncName } from './object-sync';

type Pending = { op: 'save'; record: DeliveredObject } | { op: 'remove'; record: DeliveredObject };

/**
 * What each node has acknowledged, object by object: answered from memory, written through to
 * the {@link ObjectSyncStore} in the background. Writes of one object coalesce (only the
 * latest acknowledged version is written) and failed writes are retried with back-off, so a
 * slow or briefly unreachable API never slows delivery down.
 */
export class DeliveryLedger {
  readonly #store: ObjectSyncStore;
  readonly #logger: CloudHubLogger;
  readonly #versions = new Map<string, string>();
  readonly #tombstones = new Set<string>();
  readonly #pending = new Map<string, Pending>();
  readonly #queue = createWorkQueue<string>({
    name: 'objectsync',
    rateLimiter: itemExponentialFailure(200, 30_000),
  });
  readonly #stopWorkers = new AbortController();
  #workers: Promise<void> | undefined;
  #drained: (() => void)[] = [];

  constructor(store: ObjectSyncStore, logger: CloudHubLogger) {
    this.#store = store;
    this.#logger = logger;
  }

  /** Reads what the store holds; call once before the hub accepts nodes. */
  async load(): Promise<number> {
    const records = await this.#store.list();
    for (const record of records) {
      this.#versions.set(objectSyncName(record.node, record.uid), record.resourceVersion);
    }
    this.#workers = runWorkers(this.#queue, 4, (key) => this.#write(key), {
      signal: this.#stopWorkers.signal,
      keepAlive: false,
      logger: {
        warn: (fields, message) => log(this.#logger, 'warn', fields, message),
        error: (fields, message) => log(this.#logger, 'error', fields, message),
      },
    });
    return records.length;
  }

  /** The resourceVersion `node` acknowledged for the object `uid`, if any. */
  acknowledged(node: string, uid: string): string | undefined {
    return this.#versions.get(objectSyncName(node, uid));
  }

  /** `node` persisted `record.resourceVersion` of the object. */
  recordDelivered(record: DeliveredObject): void {
    const key = objectSyncName(record.node, record.uid);
    this.#versions.set(key, record.resourceVersion);
    this.#tombstones.delete(key);
    this.#pending.set(key, { op: 'save', record });
    this.#queue.add(key);
  }

  /** Whether `node` acknowledged the deletion of object `uid` (since this hub started). */
  deleted(node: string, uid: string): boolean {
    return this.#tombstones.has(objectSyncName(node, uid));
  }

  /** `node` is sent object `uid` again on purpose (an insert): its deletion no longer holds. */
  revive(node: string, uid: string): void {
    this.#tombstones.delete(objectSyncName(node, uid));
  }

  /**
   * `node` deleted the object: its ObjectSync goes too. The hub remembers the deletion in
   * memory, so a late change of the same object is not sent to resurrect it.
   */
  recordDeleted(record: DeliveredObject, { tombstone = true }: { tombstone?: boolean } = {}): void {
    const key = objectSyncName(record.node, record.uid);
    this.#versions.delete(key);
    if (tombstone) this.#tombstones.add(key);
    this.#pending.set(key, { op: 'remove', record });
    this.#queue.add(key);
  }

  /** Writes not yet in the store. */
  get backlog(): number {
    return this.#pending.size;
  }

  /** Resolves when every recorded delivery is in the store, or after `timeoutMs`. */
  async flush(timeoutMs: number): Promise<boolean> {
    if (this.#pending.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const drained = new Promise<boolean>((resolve) => {
      this.#drained.push(() => resolve(true));
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = await drained;
    clearTimeout(timer);
    return done;
  }

  /** Stops writing; call {@link flush} first to keep what is pending. */
  async stop(): Promise<void> {
    this.#stopWorkers.abort();
    await this.#workers;
    for (const resolve of this.#drained.splice(0)) resolve();
  }

  async #write(key: string): Promise<void> {
    const pending = this.#pending.get(key);
    if (!pending) return;
    if (pending.op === 'save') await this.#store.save(pending.record);
    else await this.#store.remove(pending.record);
    // A newer acknowledgement may have arrived while writing: it is queued again already.
    if (this.#pending.get(key) === pending) this.#pending.delete(key);
    if (this.#pending.size === 0) for (const resolve of this.#drained.splice(0)) resolve();
  }
}
