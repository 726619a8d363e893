import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/store/index';
import { backends, codeOf, describeEvent, nodeKey, objectFor, PODS, podKey } from './helpers';

describe.each(backends('transactions'))('transactions on $name', ({ open }) => {
  it('commits every write with its own revision, in order, and returns the result', () => {
    const store = open();
    const result = store.transaction(() => {
      const a = store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
      const b = store.create(nodeKey('n'), objectFor(nodeKey('n')));
      store.update(podKey('d', 'a'), objectFor(podKey('d', 'a'), { v: 2 }), {
        expectedRevision: a.revision,
      });
      // Reads inside see the transaction's own writes.
      expect(store.get(podKey('d', 'a'))!.object.v).toBe(2);
      expect(store.count(PODS)).toBe(1);
      expect(store.currentRevision).toBe(3);
      return [a.revision, b.revision];
    });
    expect(result).toEqual([1, 2]);
    expect(store.currentRevision).toBe(3);
  });

  it('writes nothing and restores the revision when the function throws', () => {
    const store = open();
    store.create(podKey('d', 'kept'), objectFor(podKey('d', 'kept')));
    const events: string[] = [];
    store.watch(PODS, { fromRevision: 0 }, (event) => events.push(describeEvent(event)));
    expect(() =>
      store.transaction(() => {
        store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
        store.delete(podKey('d', 'kept'));
        store.compact(store.currentRevision);
        throw new Error('changed my mind');
      }),
    ).toThrow('changed my mind');
    expect(store.get(podKey('d', 'a'))).toBeUndefined();
    expect(store.get(podKey('d', 'kept'))).toBeDefined();
    expect(store.currentRevision).toBe(1);
    expect(store.compactedRevision).toBe(0);
    expect(events).toEqual(['1 ADDED d/kept']);
    expect(store.create(podKey('d', 'b'), objectFor(podKey('d', 'b'))).revision).toBe(2);
    expect(store.list(PODS, { revision: 1 }).items).toHaveLength(1);
  });

  it('joins nested calls to the outer transaction', () => {
    const store = open();
    const events: string[] = [];
    store.watch(PODS, { fromRevision: 0 }, (event) => events.push(describeEvent(event)));
    expect(() =>
      store.transaction(() => {
        store.transaction(() => store.create(podKey('d', 'a'), objectFor(podKey('d', 'a'))));
        expect(events).toEqual([]);
        throw new Error('outer fails');
      }),
    ).toThrow('outer fails');
    expect(store.get(podKey('d', 'a'))).toBeUndefined();
    expect(events).toEqual([]);
  });

  it('undoes only a nested call whose error the outer function catches', () => {
    const store = open();
    const events: string[] = [];
    store.watch(PODS, { fromRevision: 0 }, (event) => events.push(describeEvent(event)));
    store.transaction(() => {
      store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
      try {
        store.transaction(() => {
          store.create(podKey('d', 'b'), objectFor(podKey('d', 'b')));
          throw new Error('inner fails');
        });
      } catch {
        // The outer transaction carries on without the inner writes.
      }
      // A failed write inside a transaction does not spoil it either.
      expect(codeOf(() => store.create(podKey('d', 'a'), objectFor(podKey('d', 'a'))))).toBe(
        'KE_STORE_ALREADY_EXISTS',
      );
      store.create(podKey('d', 'c'), objectFor(podKey('d', 'c')));
    });
    expect(events).toEqual(['1 ADDED d/a', '2 ADDED d/c']);
    expect(store.get(podKey('d', 'b'))).toBeUndefined();
  });

  it('refuses an async function and writes nothing', async () => {
    const store = open();
    let thrown: unknown;
    try {
      store.transaction(async () => {
        store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(StoreError);
    expect((thrown as StoreError).code).toBe('KE_STORE_INVALID');
    expect(store.get(podKey('d', 'a'))).toBeUndefined();
    expect(store.currentRevision).toBe(0);
  });

  it('fails with KE_STORE_CLOSED and writes nothing when the store is closed inside', () => {
    const store = open();
    expect(
      codeOf(() =>
        store.transaction(() => {
          store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
          store.close();
        }),
      ),
    ).toBe('KE_STORE_CLOSED');
  });
});
