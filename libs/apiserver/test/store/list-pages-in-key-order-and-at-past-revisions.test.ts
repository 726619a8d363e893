import { describe, expect, it } from 'vitest';
import type { KubeObject, ListOptions, ObjectKey, Store } from '../../src/store/index';
import { backends, codeOf, errorOf, names, objectFor, PODS, podKey, random } from './helpers';

/** Every page of a list, following continueAfter; checks `remaining` on the way. */
function listAllPages(store: Store, resource: string, options: ListOptions & { limit: number }) {
  const pages: KubeObject[][] = [];
  const remainings: Array<number | undefined> = [];
  let continueAfter: string | undefined;
  let revision = options.revision;
  for (let guard = 0; guard < 10_000; guard += 1) {
    const page = store.list(resource, { ...options, continueAfter, revision });
    revision = page.revision;
    pages.push(page.items);
    remainings.push(page.remaining);
    if (page.continueAfter === undefined) return { pages, remainings, revision };
    expect(page.items).toHaveLength(options.limit);
    continueAfter = page.continueAfter;
  }
  throw new Error('the list did not end');
}

function sortedState(state: Map<string, KubeObject>, namespace?: string): KubeObject[] {
  return [...state.values()]
    .filter((object) => !namespace || (object.metadata.namespace ?? '') === namespace)
    .sort((a, b) => {
      const byNamespace = compareCodePoints(a.metadata.namespace ?? '', b.metadata.namespace ?? '');
      return byNamespace || compareCodePoints(a.metadata.name, b.metadata.name);
    });
}

/** Code point order, as SQLite sorts UTF-8 text. */
function compareCodePoints(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    if (x[i] !== y[i]) return x[i]! - y[i]!;
  }
  return x.length - y.length;
}

function idOf(key: ObjectKey): string {
  return `${key.namespace}/${key.name}`;
}

describe.each(backends('list'))('list on $name', ({ open }) => {
  it('returns items in key order: namespace, then name, cluster scope first', () => {
    const store = open();
    for (const [namespace, name] of [
      ['b', 'z'],
      ['a', 'y'],
      ['', 'm'],
      ['b', 'a'],
      ['a', 'b10'],
      ['a', 'b2'],
    ] as const) {
      store.create(podKey(namespace, name), objectFor(podKey(namespace, name)));
    }
    expect(names(store.list(PODS).items)).toEqual(['/m', 'a/b10', 'a/b2', 'a/y', 'b/a', 'b/z']);
    expect(names(store.list(PODS, { namespace: 'a' }).items)).toEqual(['a/b10', 'a/b2', 'a/y']);
    expect(names(store.list(PODS, { namespace: '' }).items)).toHaveLength(6);
    expect(store.list('core/other').items).toEqual([]);
  });

  it('pages with limit and continueAfter add up to the full list, with exact remaining counts', () => {
    const store = open();
    for (let index = 0; index < 23; index += 1) {
      const key = podKey(`ns-${index % 3}`, `pod-${String(index).padStart(2, '0')}`);
      store.create(key, objectFor(key));
    }
    const full = store.list(PODS).items;
    for (const limit of [1, 2, 5, 7, 22, 23, 24, 100]) {
      const { pages, remainings } = listAllPages(store, PODS, { limit });
      expect(pages.flat()).toEqual(full);
      let seen = 0;
      pages.forEach((page, index) => {
        seen += page.length;
        expect(remainings[index]).toBe(seen === full.length ? undefined : full.length - seen);
      });
    }
    const inNamespace = listAllPages(store, PODS, { limit: 3, namespace: 'ns-1' });
    expect(inNamespace.pages.flat()).toEqual(store.list(PODS, { namespace: 'ns-1' }).items);
    // limit 0 means no limit, as in Kubernetes.
    expect(store.list(PODS, { limit: 0 }).items).toEqual(full);
  });

  it('applies the filter before the limit, so every page but the last is full', () => {
    const store = open();
    for (let index = 0; index < 40; index += 1) {
      const key = podKey('default', `pod-${String(index).padStart(2, '0')}`);
      store.create(
        key,
        objectFor(key, { labels: { even: index % 2 === 0, five: index % 5 === 0 } }),
      );
    }
    const filter = (object: KubeObject) => (object.labels as { five: boolean }).five;
    const full = store.list(PODS, { filter }).items;
    expect(full).toHaveLength(8);
    const { pages, remainings } = listAllPages(store, PODS, { limit: 3, filter });
    expect(pages.map((page) => page.length)).toEqual([3, 3, 2]);
    expect(remainings).toEqual([5, 2, undefined]);
    expect(pages.flat()).toEqual(full);
    // A filter that matches nothing after the page ends the list.
    expect(store.list(PODS, { filter, limit: 8 }).continueAfter).toBeUndefined();
  });

  it('pages at a fixed revision stay consistent while writes continue between pages', () => {
    const store = open();
    const keys: ObjectKey[] = [];
    for (let index = 0; index < 30; index += 1) {
      const key = podKey(`ns-${index % 2}`, `pod-${String(index).padStart(2, '0')}`);
      keys.push(key);
      store.create(key, objectFor(key, { generation: 0 }));
    }
    const before = store.list(PODS).items;
    const first = store.list(PODS, { limit: 4 });
    const pages = [first.items];
    let continueAfter = first.continueAfter;
    let step = 0;
    while (continueAfter !== undefined) {
      // Between pages: update, delete and create keys before, inside and after the cursor.
      const key = keys[(step * 7) % keys.length]!;
      if (store.get(key)) {
        if (step % 3 === 0) store.delete(key);
        else store.update(key, objectFor(key, { generation: step }));
      }
      const added = podKey('ns-0', `pod-${String(step).padStart(2, '0')}-new`);
      store.create(added, objectFor(added));
      step += 1;
      const page = store.list(PODS, { limit: 4, continueAfter, revision: first.revision });
      expect(page.revision).toBe(first.revision);
      pages.push(page.items);
      continueAfter = page.continueAfter;
    }
    expect(step).toBeGreaterThan(3);
    expect(pages.flat()).toEqual(before);
    // The same with a filter.
    const filter = (object: KubeObject) => object.metadata.namespace === 'ns-1';
    const filtered = listAllPages(store, PODS, { limit: 3, filter, revision: first.revision });
    expect(filtered.pages.flat()).toEqual(before.filter(filter));
  });

  it('lists what was true at every past revision of random creates, updates and deletes', () => {
    const store = open();
    const next = random(7);
    const universe = Array.from({ length: 12 }, (_, index) =>
      podKey(['', 'a', 'b'][index % 3]!, `p${index}`),
    );
    const current = new Map<string, KubeObject>();
    const history: Array<Map<string, KubeObject>> = [new Map()];
    for (let step = 0; step < 150; step += 1) {
      const key = universe[Math.floor(next() * universe.length)]!;
      const id = idOf(key);
      const existing = current.get(id);
      let written: KubeObject | undefined;
      if (existing === undefined) {
        written = store.create(key, objectFor(key, { step })).object;
      } else if (next() < 0.5) {
        written = store.update(key, objectFor(key, { step })).object;
      } else {
        store.delete(key);
      }
      if (written) current.set(id, written);
      else current.delete(id);
      history.push(new Map(current));
      // An unrelated resource shares the revision counter but not the list.
      if (step % 10 === 0)
        store.create(
          { resource: 'core/other', namespace: '', name: `o${step}` },
          { metadata: { name: `o${step}` } },
        );
      if (step % 10 === 0) history.push(new Map(current));
    }
    expect(history).toHaveLength(store.currentRevision + 1);
    for (let revision = 0; revision <= store.currentRevision; revision += 1) {
      const expected = history[revision]!;
      expect(store.list(PODS, { revision }).items).toEqual(sortedState(expected));
      expect(store.list(PODS, { revision, namespace: 'a' }).items).toEqual(
        sortedState(expected, 'a'),
      );
      if (revision % 10 === 0) {
        const paged = listAllPages(store, PODS, { revision, limit: 2 });
        expect(paged.pages.flat()).toEqual(sortedState(expected));
        expect(paged.revision).toBe(revision);
      }
    }
  });

  it('sorts restored and current rows alike, for names beyond ASCII', () => {
    const store = open();
    const awkward = ['a', 'B', 'é', '\u{1F600}', '\uFFFD', '\uE000', 'z', 'a-1', 'a1'];
    for (const name of awkward) store.create(podKey('n', name), objectFor(podKey('n', name)));
    const latest = store.list(PODS).items;
    const revision = store.currentRevision;
    // Touch every other object so the snapshot mixes rolled-back and current rows.
    awkward.forEach((name, index) => {
      if (index % 2 === 0) store.update(podKey('n', name), objectFor(podKey('n', name), { v: 2 }));
    });
    expect(store.list(PODS, { revision }).items).toEqual(latest);
    expect(listAllPages(store, PODS, { revision, limit: 2 }).pages.flat()).toEqual(latest);
    expect(names(latest).map((id) => id.slice(2))).toEqual(
      [...awkward].sort((a, b) => compareCodePoints(a, b)),
    );
  });

  it('answers GONE below the compacted revision and INVALID above the current one', () => {
    const store = open();
    for (let index = 0; index < 10; index += 1) {
      store.create(podKey('d', `p${index}`), objectFor(podKey('d', `p${index}`)));
    }
    store.compact(5);
    expect(codeOf(() => store.list(PODS, { revision: 4 }))).toBe('KE_STORE_GONE');
    expect(store.list(PODS, { revision: 5 }).items).toHaveLength(5);
    expect(store.list(PODS, { revision: 10 }).items).toHaveLength(10);
    const future = errorOf(() => store.list(PODS, { revision: 11 }));
    expect(future.code).toBe('KE_STORE_INVALID');
    expect(future.message).toContain('Too large resource version: 11, current: 10');
  });

  it('continues a namespace list from a token of another namespace by key order', () => {
    const store = open();
    for (const namespace of ['a', 'b', 'c', 'd']) {
      store.create(podKey(namespace, 'x'), objectFor(podKey(namespace, 'x')));
    }
    const tokenAfter = (count: number) => store.list(PODS, { limit: count }).continueAfter;
    const inB = (continueAfter: string | undefined) =>
      names(store.list(PODS, { namespace: 'b', continueAfter }).items);
    expect(inB(tokenAfter(1))).toEqual(['b/x']);
    expect(inB(tokenAfter(2))).toEqual([]);
    expect(inB(tokenAfter(3))).toEqual([]);
  });
});
