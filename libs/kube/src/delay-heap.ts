/** One item waiting for its time, with its position in the heap. */
export interface DelayEntry<T> {
  readonly item: T;
  readyAt: number;
  /** Insertion order: entries due at the same time come out in the order they went in. */
  readonly sequence: number;
  index: number;
}

/**
 * Items waiting to be added to a work queue, earliest first, at most one entry per item (the
 * role of client-go's `waitForPriorityQueue` plus its `waitingEntryByData` map).
 */
export class DelayHeap<T> {
  private readonly entries: DelayEntry<T>[] = [];
  private readonly byItem = new Map<T, DelayEntry<T>>();
  private sequence = 0;

  get size(): number {
    return this.entries.length;
  }

  /** The entry due first, if any. */
  peek(): DelayEntry<T> | undefined {
    return this.entries[0];
  }

  /**
   * Schedules `item` at `readyAt`. An item already waiting keeps a single entry, moved earlier
   * if the new time is earlier (never later), as client-go does.
   */
  schedule(item: T, readyAt: number): void {
    const existing = this.byItem.get(item);
    if (existing) {
      if (readyAt < existing.readyAt) {
        existing.readyAt = readyAt;
        this.up(existing.index);
      }
      return;
    }
    const entry: DelayEntry<T> = { item, readyAt, sequence: this.sequence++, index: 0 };
    entry.index = this.entries.push(entry) - 1;
    this.byItem.set(item, entry);
    this.up(entry.index);
  }

  /** Removes and returns the entry due first. */
  pop(): DelayEntry<T> | undefined {
    const top = this.entries[0];
    if (!top) return undefined;
    const last = this.entries.pop()!;
    if (last !== top) {
      last.index = 0;
      this.entries[0] = last;
      this.down(0);
    }
    this.byItem.delete(top.item);
    return top;
  }

  clear(): void {
    this.entries.length = 0;
    this.byItem.clear();
  }

  private before(a: DelayEntry<T>, b: DelayEntry<T>): boolean {
    return a.readyAt < b.readyAt || (a.readyAt === b.readyAt && a.sequence < b.sequence);
  }

  private swap(i: number, j: number): void {
    const a = this.entries[i]!;
    const b = this.entries[j]!;
    this.entries[i] = b;
    this.entries[j] = a;
    b.index = i;
    a.index = j;
  }

  private up(index: number): void {
    let child = index;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!this.before(this.entries[child]!, this.entries[parent]!)) return;
      this.swap(child, parent);
      child = parent;
    }
  }

  private down(index: number): void {
    const length = this.entries.length;
    let parent = index;
    for (;;) {
      const left = 2 * parent + 1;
      const right = left + 1;
      let first = parent;
      if (left < length && this.before(this.entries[left]!, this.entries[first]!)) first = left;
      if (right < length && this.before(this.entries[right]!, this.entries[first]!)) first = right;
      if (first === parent) return;
      this.swap(parent, first);
      parent = first;
    }
  }
}
