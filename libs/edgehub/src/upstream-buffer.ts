import type { Message } from '@ke/beehive';

/**
 * Upstream messages kept while the cloud is unreachable, oldest first and bounded. A status
 * report (resource type ending in `status`, e.g. `nodestatus`, `podstatus`) replaces the
 * unsent older report of the same object: only the latest state matters after an outage.
 */
export class UpstreamBuffer {
  readonly #limit: number;
  readonly #messages = new Map<string, Message>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#messages.size;
  }

  /** Adds `message`; returns what had to go to make room (superseded or dropped). */
  push(message: Message): { superseded?: Message; dropped?: Message } {
    const key = statusKey(message) ?? `id:${message.header.msg_id}`;
    const superseded = this.#messages.get(key);
    this.#messages.delete(key);
    this.#messages.set(key, message);
    let dropped: Message | undefined;
    if (this.#messages.size > this.#limit) {
      const [oldestKey, oldest] = this.#messages.entries().next().value as [string, Message];
      this.#messages.delete(oldestKey);
      dropped = oldest;
    }
    return { ...(superseded ? { superseded } : {}), ...(dropped ? { dropped } : {}) };
  }

  /** Takes everything, oldest first. */
  drain(): Message[] {
    const messages = [...this.#messages.values()];
    this.#messages.clear();
    return messages;
  }

  /** Puts messages back at the front (a flush that failed half-way). */
  unshift(messages: readonly Message[]): void {
    const rest = [...this.#messages.entries()];
    this.#messages.clear();
    for (const message of messages) {
      this.#messages.set(statusKey(message) ?? `id:${message.header.msg_id}`, message);
    }
    for (const [key, message] of rest) {
      this.#messages.delete(key);
      this.#messages.set(key, message);
    }
    while (this.#messages.size > this.#limit) {
      const oldestKey = this.#messages.keys().next().value as string;
      this.#messages.delete(oldestKey);
    }
  }
}

function statusKey(message: Message): string | undefined {
  const segments = message.route.resource.split('/');
  const type = segments[1];
  if (segments.length < 3 || !type?.endsWith('status')) return undefined;
  return `status:${message.route.operation}:${message.route.resource}`;
}
