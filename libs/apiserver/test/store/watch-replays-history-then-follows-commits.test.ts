import { describe, expect, it } from 'vitest';
import type { ObjectKey, Store, StoreEvent } from '../../src/store/index';
import {
  backends,
  codeOf,
  describeEvent,
  errorOf,
  NODES,
  nodeKey,
  objectFor,
  PODS,
  podKey,
  random,
  recordingLogger,
} from './helpers';

/** A watch that records what it receives. */
function record(store: Store, resource: string, fromRevision: number, namespace?: string) {
  const events: StoreEvent[] = [];
  const stop = store.watch(resource, { fromRevision, namespace }, (event) => events.push(event));
  return { events, stop, seen: () => events.map(describeEvent) };
}

describe.each(backends('watch'))('watch on $name', ({ open }) => {
  it('replays history synchronously before returning, then delivers each commit', () => {
    const store = open();
    for (let index = 1; index <= 5; index += 1) {
      store.create(podKey('d', `p${index}`), objectFor(podKey('d', `p${index}`)));
    }
    const watch = record(store, PODS, 2);
    expect(watch.seen()).toEqual(['3 ADDED d/p3', '4 ADDED d/p4', '5 ADDED d/p5']);
    store.update(podKey('d', 'p1'), objectFor(podKey('d', 'p1'), { v: 2 }));
    store.delete(podKey('d', 'p2'));
    expect(watch.seen().slice(3)).toEqual(['6 MODIFIED d/p1', '7 DELETED d/p2']);
  });

  it('describes each change as Kubernetes sends it', () => {
    const store = open();
    const key = podKey('d', 'a');
    const watch = record(store, PODS, 0);
    store.create(key, objectFor(key, { v: 1 }));
    store.update(key, objectFor(key, { v: 2 }));
    store.delete(key);
    const [added, modified, deleted] = watch.events;
    expect(added).toMatchObject({ type: 'ADDED', revision: 1, key, object: { v: 1 } });
    expect(added).not.toHaveProperty('previous');
    expect(modified).toMatchObject({ type: 'MODIFIED', object: { v: 2 }, previous: { v: 1 } });
    expect(modified!.object.metadata.resourceVersion).toBe('2');
    expect(modified!.previous!.metadata.resourceVersion).toBe('1');
    expect(deleted).toMatchObject({ type: 'DELETED', revision: 3, object: { v: 2 } });
    expect(deleted!.object.metadata.resourceVersion).toBe('3');
    expect(deleted!.previous!.metadata.resourceVersion).toBe('2');
    // History replays the same events.
    expect(record(store, PODS, 0).events).toEqual(watch.events);
  });

  it('from the current revision delivers only what comes next', () => {
    const store = open();
    store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
    const watch = record(store, PODS, store.currentRevision);
    expect(watch.events).toEqual([]);
    store.create(podKey('d', 'b'), objectFor(podKey('d', 'b')));
    expect(watch.seen()).toEqual(['2 ADDED d/b']);
  });

  it('follows one resource, and one namespace when asked', () => {
    const store = open();
    const all = record(store, PODS, 0);
    const inA = record(store, PODS, 0, 'a');
    const nodes = record(store, NODES, 0);
    store.create(podKey('a', 'x'), objectFor(podKey('a', 'x')));
    store.create(podKey('b', 'x'), objectFor(podKey('b', 'x')));
    store.create(nodeKey('n'), objectFor(nodeKey('n')));
    store.create(podKey('a', 'y'), objectFor(podKey('a', 'y')));
    expect(all.seen()).toEqual(['1 ADDED a/x', '2 ADDED b/x', '4 ADDED a/y']);
    expect(inA.seen()).toEqual(['1 ADDED a/x', '4 ADDED a/y']);
    expect(nodes.seen()).toEqual(['3 ADDED /n']);
    // History from a namespace too.
    expect(record(store, PODS, 1, 'a').seen()).toEqual(['4 ADDED a/y']);
  });

  it('throws GONE before delivering anything when the history was compacted', () => {
    const store = open();
    for (let index = 1; index <= 5; index += 1) {
      store.create(podKey('d', `p${index}`), objectFor(podKey('d', `p${index}`)));
    }
    store.compact(3);
    const received: StoreEvent[] = [];
    const gone = errorOf(() => store.watch(PODS, { fromRevision: 2 }, (e) => received.push(e)));
    expect(gone.code).toBe('KE_STORE_GONE');
    expect(received).toEqual([]);
    expect(record(store, PODS, 3).seen()).toEqual(['4 ADDED d/p4', '5 ADDED d/p5']);
    expect(codeOf(() => store.watch(PODS, { fromRevision: 6 }, () => {}))).toBe('KE_STORE_INVALID');
  });

  it('removes a listener that throws, logs it, and the write still succeeds', () => {
    const { logger, records } = recordingLogger();
    const store = open({ logger });
    let calls = 0;
    store.watch(PODS, { fromRevision: 0 }, () => {
      calls += 1;
      throw new Error('listener broke');
    });
    const healthy = record(store, PODS, 0);
    const created = store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
    store.create(podKey('d', 'b'), objectFor(podKey('d', 'b')));
    expect(created.revision).toBe(1);
    expect(calls).toBe(1);
    expect(healthy.seen()).toEqual(['1 ADDED d/a', '2 ADDED d/b']);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ level: 'error', fields: { resource: PODS, revision: 1 } });
    expect((records[0]!.fields.err as Error).message).toBe('listener broke');
    // Throwing during the history replay removes it the same way.
    let replayCalls = 0;
    store.watch(PODS, { fromRevision: 0 }, () => {
      replayCalls += 1;
      throw new Error('again');
    });
    store.create(podKey('d', 'c'), objectFor(podKey('d', 'c')));
    expect(replayCalls).toBe(1);
    expect(records).toHaveLength(2);
  });

  it('stops on unsubscribe, idempotently, also from inside the listener', () => {
    const store = open();
    const watch = record(store, PODS, 0);
    const selfStopping: string[] = [];
    const stopSelf = store.watch(PODS, { fromRevision: 0 }, (event) => {
      selfStopping.push(describeEvent(event));
      stopSelf();
      stopSelf();
    });
    store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
    watch.stop();
    watch.stop();
    store.create(podKey('d', 'b'), objectFor(podKey('d', 'b')));
    expect(watch.seen()).toEqual(['1 ADDED d/a']);
    expect(selfStopping).toEqual(['1 ADDED d/a']);
  });

  it('keeps revision order for every watcher when listeners write', () => {
    const store = open();
    const first = record(store, PODS, 0);
    // This listener answers each new pod with a node; both are delivered in revision order.
    store.watch(PODS, { fromRevision: 0 }, (event) => {
      if (event.type === 'ADDED') {
        store.create(nodeKey(`for-${event.key.name}`), objectFor(nodeKey(`for-${event.key.name}`)));
        store.update(event.key, objectFor(event.key, { answered: true }));
      }
    });
    const last = record(store, PODS, 0);
    const nodes = record(store, NODES, 0);
    store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
    const expected = ['1 ADDED d/a', '3 MODIFIED d/a'];
    expect(first.seen()).toEqual(expected);
    expect(last.seen()).toEqual(expected);
    expect(nodes.seen()).toEqual(['2 ADDED /for-a']);
  });

  it('starts a watch inside a listener without gaps or duplicates', () => {
    const store = open();
    let inner: ReturnType<typeof record> | undefined;
    store.watch(PODS, { fromRevision: 0 }, (event) => {
      if (event.revision === 2) inner = record(store, PODS, 0);
    });
    store.transaction(() => {
      for (const name of ['a', 'b', 'c'])
        store.create(podKey('d', name), objectFor(podKey('d', name)));
    });
    store.create(podKey('d', 'e'), objectFor(podKey('d', 'e')));
    expect(inner!.seen()).toEqual(['1 ADDED d/a', '2 ADDED d/b', '3 ADDED d/c', '4 ADDED d/e']);
  });

  it('started inside a transaction, sees the transaction only after it commits', () => {
    const store = open();
    store.create(podKey('d', 'before'), objectFor(podKey('d', 'before')));
    let watch: ReturnType<typeof record> | undefined;
    let fromCurrent: ReturnType<typeof record> | undefined;
    store.transaction(() => {
      store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
      watch = record(store, PODS, 0);
      expect(watch.seen()).toEqual(['1 ADDED d/before']);
      fromCurrent = record(store, PODS, store.currentRevision);
      store.create(podKey('d', 'b'), objectFor(podKey('d', 'b')));
      expect(watch.seen()).toEqual(['1 ADDED d/before']);
    });
    expect(watch!.seen()).toEqual(['1 ADDED d/before', '2 ADDED d/a', '3 ADDED d/b']);
    expect(fromCurrent!.seen()).toEqual(['3 ADDED d/b']);
  });

  it('delivers nothing from a transaction that rolls back, and does not skip reused revisions', () => {
    const store = open();
    const watch = record(store, PODS, 0);
    let insideWatch: ReturnType<typeof record> | undefined;
    expect(() =>
      store.transaction(() => {
        store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
        store.create(podKey('d', 'b'), objectFor(podKey('d', 'b')));
        // Asked to start after revision 2, which the rollback takes back.
        insideWatch = record(store, PODS, store.currentRevision);
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(watch.events).toEqual([]);
    expect(store.currentRevision).toBe(0);
    store.create(podKey('d', 'c'), objectFor(podKey('d', 'c')));
    expect(watch.seen()).toEqual(['1 ADDED d/c']);
    expect(insideWatch!.seen()).toEqual(['1 ADDED d/c']);
  });

  it('delivers every change exactly once, in order, under 1,000 interleaved writes', () => {
    const store = open({ historyRevisions: 100_000 });
    const next = random(42);
    const resources = [PODS, NODES];
    const namespaces = ['a', 'b'];
    const keys: ObjectKey[] = [];
    for (const resource of resources) {
      for (const namespace of resource === NODES ? [''] : namespaces) {
        for (let index = 0; index < 6; index += 1)
          keys.push({ resource, namespace, name: `o${index}` });
      }
    }
    /** The truth: every committed change, from the write results. */
    const committed: Array<{ revision: number; key: ObjectKey; type: string }> = [];
    const watches: Array<{
      resource: string;
      namespace?: string;
      from: number;
      events: StoreEvent[];
    }> = [];
    let listenerActions = 200;
    const startWatch = (from: number) => {
      const resource = resources[Math.floor(next() * resources.length)]!;
      const namespace =
        resource === PODS && next() < 0.5 ? namespaces[Math.floor(next() * 2)] : undefined;
      const entry = { resource, namespace, from, events: [] as StoreEvent[] };
      watches.push(entry);
      store.watch(resource, { fromRevision: from, namespace }, (event) => {
        entry.events.push(event);
        // Now and then a listener writes, or starts another watch from the recent past (bounded,
        // as each such watch replays history through listeners that may do the same).
        if (listenerActions > 0 && next() < 0.02) {
          listenerActions -= 1;
          if (next() < 0.7) writeOne();
          else startWatch(Math.max(0, store.currentRevision - Math.floor(next() * 20)));
        }
      });
    };
    const writeOne = () => {
      const key = keys[Math.floor(next() * keys.length)]!;
      const write = store.get(key)
        ? next() < 0.6
          ? { type: 'MODIFIED', result: () => store.update(key, objectFor(key, { r: next() })) }
          : { type: 'DELETED', result: () => store.delete(key) }
        : { type: 'ADDED', result: () => store.create(key, objectFor(key)) };
      const revision = write.result().revision;
      // Inside a transaction the change is committed only if the transaction is.
      pendingChanges.push({ revision, key, type: write.type });
    };
    let pendingChanges: typeof committed = [];
    const flush = () => {
      committed.push(...pendingChanges);
      pendingChanges = [];
    };
    let writes = 0;
    for (let step = 0; step < 1000; step += 1) {
      const roll = next();
      if (roll < 0.05) {
        startWatch(Math.floor(next() * (store.currentRevision + 1)));
      } else if (roll < 0.15) {
        // A transaction of a few writes, which sometimes rolls back.
        const rollBack = next() < 0.3;
        const saved = pendingChanges;
        pendingChanges = [];
        try {
          store.transaction(() => {
            for (let index = 0; index < 3; index += 1) writeOne();
            if (next() < 0.5) startWatch(store.currentRevision);
            if (rollBack) throw new Error('roll back');
          });
          pendingChanges = [...saved, ...pendingChanges];
        } catch {
          pendingChanges = saved;
          // Revisions the rollback took back are reused, and a watch asked to start after one of
          // them gets the new changes that now carry it.
          for (const watch of watches) watch.from = Math.min(watch.from, store.currentRevision);
        }
        writes += 3;
      } else {
        writeOne();
        writes += 1;
      }
      flush();
    }
    expect(writes).toBeGreaterThan(900);
    // Listener writes happen during delivery; they are committed immediately (no transaction).
    committed.sort((a, b) => a.revision - b.revision);
    expect(committed.map((change) => change.revision)).toEqual(
      Array.from({ length: store.currentRevision }, (_, index) => index + 1),
    );
    expect(watches.length).toBeGreaterThan(40);
    for (const watch of watches) {
      const expected = committed
        .filter(
          (change) =>
            change.key.resource === watch.resource &&
            (watch.namespace === undefined || change.key.namespace === watch.namespace) &&
            change.revision > watch.from,
        )
        .map(
          (change) =>
            `${change.revision} ${change.type} ${change.key.namespace}/${change.key.name}`,
        );
      expect(watch.events.map(describeEvent)).toEqual(expected);
    }
  });
});
