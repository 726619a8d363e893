import { isNewerVersion } from './resource-version';

/**
 * A message on its way to one node: its frame and what the hub needs to know about it (not
 * the message object, which would keep the caller's objects alive while the message waits).
 */
export interface Outgoing {
  /** The message's `msg_id`, which the node's ACK names as `parent_msg_id`. */
  readonly msgId: string;
  /** Edge form: `node/<id>/` already stripped. */
  readonly resource: string;
  /** The encoded frame (the bytes of a text frame), made once however often it is sent. */
  readonly frame: Buffer;
  /** Reliable (UID-keyed, acknowledged) messages carry what the ObjectSync needs. */
  readonly object?: ObjectRef | undefined;
}

/** The object a reliable message is about. */
export interface ObjectRef {
  readonly uid: string;
  readonly namespace: string | undefined;
  readonly name: string;
  readonly kind: string;
  readonly apiVersion: string;
  readonly resourceVersion: string | undefined;
  readonly deleted: boolean;
  /**
   * The node is sent the object afresh (operation insert): the controller wants the node to
   * have it again, e.g. a ConfigMap removed from the node and now used by a new pod there.
   */
  readonly inserted?: boolean;
}

/** A reliable message sent and not yet acknowledged. */
export interface InFlight {
  readonly item: Outgoing;
  /** Sends so far (1 after the first). */
  attempts: number;
  /**
   * When to send again without an acknowledgement (ms since epoch); infinite until the frame
   * has been written to the socket, so time spent queued behind a large burst does not count.
   */
  dueAt: number;
  /** How long to wait for the ACK once the frame is written (set `dueAt` from it then). */
  waitMs: number;
}

export type EnqueueResult = 'queued' | 'replaced' | 'superseded';

/**
 * One node's outgoing messages, kept while the node is offline: reliable messages keyed by
 * object UID (a newer version replaces a queued older one, an older one is dropped), and a
 * bounded FIFO of messages that need no acknowledgement.
 */
export class NodeQueue {
  /** Not yet sent (or to be sent again), by UID, oldest first. */
  readonly waiting = new Map<string, Outgoing>();
  /** Sent, waiting for the ACK, by msg_id. */
  readonly inFlight = new Map<string, InFlight>();
  /** The message in flight per UID: a UID never has two. */
  readonly inFlightUids = new Map<string, Outgoing>();
  readonly noAck: Outgoing[] = [];

  get depth(): number {
    return this.waiting.size + this.inFlight.size + this.noAck.length;
  }

  enqueueReliable(item: Outgoing & { object: ObjectRef }): EnqueueResult {
    const uid = item.object.uid;
    const queued = this.waiting.get(uid);
    // Compare with the newest version the queue holds: a waiting one is always newer than the
    // one in flight. An older version queued behind the one in flight would be sent in its
    // place if the link dropped (requeueInFlight keeps what is waiting).
    const newest = queued ?? this.inFlightUids.get(uid);
    if (newest?.object) {
      const newer = isNewerVersion(item.object.resourceVersion, newest.object.resourceVersion);
      // A delete wins over a queued change of the same version: it is the object's last word.
      const deletes = item.object.deleted && !newest.object.deleted;
      // And an insert after a delete brings the object back: the controller wants it there.
      const revives = item.object.inserted === true && newest.object.deleted;
      if (!newer && !deletes && !revives) return 'superseded';
    }
    // Deleting the key first puts the newer message at the back, behind what was queued
    // after the older one: the node sees changes in the order they happened.
    this.waiting.delete(uid);
    this.waiting.set(uid, item);
    return queued ? 'replaced' : 'queued';
  }

  /** Adds a message that needs no ACK; returns the oldest one dropped to make room, if any. */
  enqueueNoAck(item: Outgoing, limit: number): Outgoing | undefined {
    this.noAck.push(item);
    return this.noAck.length > limit ? this.noAck.shift() : undefined;
  }

  /** The next reliable message whose object has nothing in flight, taken off the queue. */
  takeNext(): Outgoing | undefined {
    for (const [uid, item] of this.waiting) {
      if (this.inFlightUids.has(uid)) continue;
      this.waiting.delete(uid);
      return item;
    }
    return undefined;
  }

  /** Marks `item` in flight; its deadline starts when the frame is written (see `InFlight`). */
  markSent(item: Outgoing & { object: ObjectRef }): InFlight {
    const entry: InFlight = { item, attempts: 1, dueAt: Number.POSITIVE_INFINITY, waitMs: 0 };
    this.inFlight.set(item.msgId, entry);
    this.inFlightUids.set(item.object.uid, item);
    return entry;
  }

  /** The in-flight message `msgId` was acknowledged: it leaves the queue. */
  acknowledge(msgId: string): InFlight | undefined {
    const entry = this.inFlight.get(msgId);
    if (!entry) return undefined;
    this.inFlight.delete(msgId);
    if (entry.item.object) this.inFlightUids.delete(entry.item.object.uid);
    return entry;
  }

  /**
   * The connection dropped: everything in flight goes back to the front of the queue, unless a
   * newer version of its object is already waiting.
   */
  requeueInFlight(): void {
    const back = new Map<string, Outgoing>();
    for (const { item } of this.inFlight.values()) {
      const uid = item.object?.uid;
      if (uid === undefined || this.waiting.has(uid)) continue;
      back.set(uid, item);
    }
    this.inFlight.clear();
    this.inFlightUids.clear();
    for (const [uid, item] of this.waiting) back.set(uid, item);
    this.waiting.clear();
    for (const [uid, item] of back) this.waiting.set(uid, item);
  }
}
