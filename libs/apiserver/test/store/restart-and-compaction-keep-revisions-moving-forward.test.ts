import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSqliteStore, type SqliteStoreOptions, type Store } from '../../src/store/index';
import {
  backends,
  codeOf,
  describeEvent,
  nodeKey,
  objectFor,
  PODS,
  podKey,
  silentLogger,
  temporaryDirectory,
} from './helpers';

const directory = temporaryDirectory('restart');
let files = 0;

/** Opens a file store and hands it to `fn`, closing it afterwards. */
function withStore<T>(
  path: string,
  fn: (store: Store) => T,
  options: Partial<SqliteStoreOptions> = {},
): T {
  const store = createSqliteStore({ path, logger: silentLogger, ...options });
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

describe('a file store after close and reopen', () => {
  it('keeps objects, the revision and the compacted revision, and counts on from there', () => {
    const path = join(directory, `store-${++files}.db`);
    const before = withStore(path, (store) => {
      for (let index = 0; index < 10; index += 1) {
        store.create(podKey('d', `p${index}`), objectFor(podKey('d', `p${index}`), { index }));
      }
      store.update(podKey('d', 'p0'), objectFor(podKey('d', 'p0'), { index: 'updated' }));
      store.delete(podKey('d', 'p1'));
      store.create(nodeKey('n'), objectFor(nodeKey('n')));
      store.compact(5);
      return {
        list: store.list(PODS),
        at8: store.list(PODS, { revision: 8 }),
        revision: store.currentRevision,
      };
    });
    expect(before.revision).toBe(13);
    withStore(path, (store) => {
      expect(store.currentRevision).toBe(13);
      expect(store.compactedRevision).toBe(5);
      expect(store.list(PODS)).toEqual(before.list);
      expect(store.list(PODS, { revision: 8 })).toEqual(before.at8);
      expect(codeOf(() => store.list(PODS, { revision: 4 }))).toBe('KE_STORE_GONE');
      expect(store.get(podKey('d', 'p0'))!.object.index).toBe('updated');
      const events: string[] = [];
      store.watch(PODS, { fromRevision: 10 }, (event) => events.push(describeEvent(event)));
      expect(events).toEqual(['11 MODIFIED d/p0', '12 DELETED d/p1']);
      expect(store.create(podKey('d', 'new'), objectFor(podKey('d', 'new'))).revision).toBe(14);
      expect(events).toHaveLength(3);
    });
  });

  it('never reuses a revision, even when the newest change was compacted away', () => {
    const path = join(directory, `store-${++files}.db`);
    withStore(path, (store) => {
      store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
      store.delete(podKey('d', 'a'));
      store.compact(store.currentRevision);
    });
    withStore(path, (store) => {
      expect(store.currentRevision).toBe(2);
      expect(store.compactedRevision).toBe(2);
      expect(store.create(podKey('d', 'a'), objectFor(podKey('d', 'a'))).revision).toBe(3);
    });
  });

  it('keeps nothing of a transaction interrupted by close', () => {
    const path = join(directory, `store-${++files}.db`);
    withStore(path, (store) => {
      store.create(podKey('d', 'kept'), objectFor(podKey('d', 'kept')));
      expect(
        codeOf(() =>
          store.transaction(() => {
            store.create(podKey('d', 'lost'), objectFor(podKey('d', 'lost')));
            store.close();
          }),
        ),
      ).toBe('KE_STORE_CLOSED');
    });
    withStore(path, (store) => {
      expect(store.list(PODS).items.map((item) => item.metadata.name)).toEqual(['kept']);
      expect(store.currentRevision).toBe(1);
    });
  });

  it('reopens read-only for inspection', () => {
    const path = join(directory, `store-${++files}.db`);
    withStore(path, (store) => store.create(podKey('d', 'a'), objectFor(podKey('d', 'a'))));
    withStore(
      path,
      (store) => {
        expect(store.get(podKey('d', 'a'))!.revision).toBe(1);
        expect(store.list(PODS, { revision: 0 }).items).toEqual([]);
        expect(store.transaction(() => store.count(PODS))).toBe(1);
      },
      { readonly: true },
    );
  });
});

describe.each(backends('compaction'))('compaction on $name', ({ open }) => {
  it('drops history at or below the revision, never the objects, and never goes back', () => {
    const store = open();
    for (let index = 0; index < 6; index += 1) {
      store.create(podKey('d', `p${index}`), objectFor(podKey('d', `p${index}`)));
    }
    store.compact(4);
    expect(store.compactedRevision).toBe(4);
    store.compact(2);
    expect(store.compactedRevision).toBe(4);
    expect(store.count(PODS)).toBe(6);
    expect(codeOf(() => store.compact(7))).toBe('KE_STORE_INVALID');
    store.compact(6);
    expect(store.compactedRevision).toBe(6);
    expect(store.list(PODS).items).toHaveLength(6);
    expect(codeOf(() => store.watch(PODS, { fromRevision: 5 }, () => {}))).toBe('KE_STORE_GONE');
  });

  it('runs automatically in batches and keeps at least historyRevisions of history', () => {
    const store = open({ historyRevisions: 50 });
    const live: number[] = [];
    store.watch(PODS, { fromRevision: 0 }, (event) => live.push(event.revision));
    const compactedValues = new Set<number>();
    for (let index = 0; index < 1000; index += 1) {
      const key = podKey('d', `p${index % 40}`);
      if (store.get(key)) store.update(key, objectFor(key, { index }));
      else store.create(key, objectFor(key, { index }));
      const current = store.currentRevision;
      expect(current - store.compactedRevision).toBeGreaterThanOrEqual(Math.min(current, 50));
      compactedValues.add(store.compactedRevision);
    }
    // One compaction per batch of 5 writes (a tenth of 50), not one per write.
    expect(compactedValues.size).toBeLessThan(1000 / 5 + 2);
    expect(store.compactedRevision).toBeGreaterThan(900);
    expect(store.compactedRevision).toBeLessThanOrEqual(950);
    // History of the last 50 revisions is there for lists and watches.
    const from = store.currentRevision - 50;
    expect(store.list(PODS, { revision: from }).items).toHaveLength(40);
    const replayed: number[] = [];
    store.watch(PODS, { fromRevision: from }, (event) => replayed.push(event.revision));
    expect(replayed).toHaveLength(50);
    // Live watchers do not notice.
    expect(live).toEqual(Array.from({ length: 1000 }, (_, index) => index + 1));
  });

  it('with historyRevisions 0 keeps only the objects, and watches from now still work', () => {
    const store = open({ historyRevisions: 0 });
    store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
    store.create(podKey('d', 'b'), objectFor(podKey('d', 'b')));
    expect(store.compactedRevision).toBe(2);
    const events: string[] = [];
    store.watch(PODS, { fromRevision: store.currentRevision }, (event) =>
      events.push(describeEvent(event)),
    );
    store.delete(podKey('d', 'a'));
    expect(events).toEqual(['3 DELETED d/a']);
    expect(store.list(PODS).items).toHaveLength(1);
  });
});
