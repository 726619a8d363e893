import { describe, expect, it } from 'vitest';
import { backends, codeOf, errorOf, NODES, nodeKey, objectFor, PODS, podKey } from './helpers';

describe.each(backends('crud'))('CRUD on $name', ({ open }) => {
  it('starts empty at revision 0', () => {
    const store = open();
    expect(store.currentRevision).toBe(0);
    expect(store.compactedRevision).toBe(0);
    expect(store.get(podKey('default', 'a'))).toBeUndefined();
    expect(store.list(PODS)).toEqual({ items: [], revision: 0 });
    expect(store.count(PODS)).toBe(0);
  });

  it('gives every write the next revision of one counter shared by all resources', () => {
    const store = open();
    const pod = store.create(podKey('default', 'a'), objectFor(podKey('default', 'a')));
    const node = store.create(nodeKey('edge-1'), objectFor(nodeKey('edge-1')));
    const updated = store.update(
      podKey('default', 'a'),
      objectFor(podKey('default', 'a'), { spec: { n: 1 } }),
    );
    const deleted = store.delete(nodeKey('edge-1'));
    expect([pod.revision, node.revision, updated.revision, deleted.revision]).toEqual([1, 2, 3, 4]);
    expect(store.currentRevision).toBe(4);
  });

  it('sets metadata.resourceVersion to the revision, overwriting the caller value', () => {
    const store = open();
    const key = podKey('default', 'a');
    const input = objectFor(key);
    input.metadata.resourceVersion = '999';
    const created = store.create(key, input);
    expect(created.object.metadata.resourceVersion).toBe('1');
    expect(input.metadata.resourceVersion).toBe('999');
    const read = store.get(key)!;
    expect(read.revision).toBe(1);
    expect(read.object).toEqual({
      ...input,
      metadata: { ...input.metadata, resourceVersion: '1' },
    });
    expect(read.key).toEqual(key);
  });

  it('returns objects that do not share state with the caller or the store', () => {
    const store = open();
    const key = podKey('default', 'a');
    const input = objectFor(key, { spec: { containers: ['x'] } });
    const created = store.create(key, input);
    (input.spec as { containers: string[] }).containers.push('changed by caller');
    (created.object.spec as { containers: string[] }).containers.push('changed by reader');
    expect(store.get(key)!.object.spec).toEqual({ containers: ['x'] });
  });

  it('updates and deletes, returning the last state at the deletion revision', () => {
    const store = open();
    const key = podKey('default', 'a');
    store.create(key, objectFor(key, { spec: { v: 1 } }));
    const updated = store.update(key, objectFor(key, { spec: { v: 2 } }));
    expect(updated.object.spec).toEqual({ v: 2 });
    expect(store.get(key)!.object.spec).toEqual({ v: 2 });
    const deleted = store.delete(key);
    expect(deleted.revision).toBe(3);
    expect(deleted.object.spec).toEqual({ v: 2 });
    expect(deleted.object.metadata.resourceVersion).toBe('3');
    expect(store.get(key)).toBeUndefined();
    expect(store.currentRevision).toBe(3);
  });

  it('refuses to create a key that exists, and to update or delete one that does not', () => {
    const store = open();
    const key = podKey('default', 'a');
    store.create(key, objectFor(key));
    const exists = errorOf(() => store.create(key, objectFor(key)));
    expect(exists.code).toBe('KE_STORE_ALREADY_EXISTS');
    expect(exists.key).toEqual(key);
    expect(exists.message).toContain('core/pods default/a');
    const missing = podKey('default', 'b');
    expect(codeOf(() => store.update(missing, objectFor(missing)))).toBe('KE_STORE_NOT_FOUND');
    expect(codeOf(() => store.delete(missing))).toBe('KE_STORE_NOT_FOUND');
    expect(store.currentRevision).toBe(1);
  });

  it('refuses a write whose expectedRevision is stale, naming key and both revisions', () => {
    const store = open();
    const key = podKey('default', 'a');
    const created = store.create(key, objectFor(key));
    store.update(key, objectFor(key, { v: 2 }), { expectedRevision: created.revision });
    const conflict = errorOf(() =>
      store.update(key, objectFor(key, { v: 3 }), { expectedRevision: created.revision }),
    );
    expect(conflict.code).toBe('KE_STORE_CONFLICT');
    expect(conflict.message).toContain('core/pods default/a');
    expect(conflict.message).toContain('expected revision 1');
    expect(conflict.message).toContain('at revision 2');
    expect(codeOf(() => store.delete(key, { expectedRevision: 1 }))).toBe('KE_STORE_CONFLICT');
    expect(store.get(key)!.object.v).toBe(2);
    expect(store.delete(key, { expectedRevision: 2 }).revision).toBe(3);
  });

  it('keeps namespaced and cluster-scoped keys apart', () => {
    const store = open();
    store.create(podKey('a', 'x'), objectFor(podKey('a', 'x'), { where: 'a' }));
    store.create(podKey('b', 'x'), objectFor(podKey('b', 'x'), { where: 'b' }));
    store.create(
      { resource: PODS, namespace: '', name: 'x' },
      objectFor({ resource: PODS, namespace: '', name: 'x' }, { where: 'cluster' }),
    );
    store.create(nodeKey('x'), objectFor(nodeKey('x'), { where: 'node' }));
    expect(store.get(podKey('a', 'x'))!.object.where).toBe('a');
    expect(store.get(podKey('b', 'x'))!.object.where).toBe('b');
    expect(store.get({ resource: PODS, namespace: '', name: 'x' })!.object.where).toBe('cluster');
    expect(store.get(nodeKey('x'))!.object.where).toBe('node');
    expect(store.count(PODS)).toBe(3);
    expect(store.count(PODS, 'a')).toBe(1);
    expect(store.count(NODES)).toBe(1);
    expect(store.count(NODES, 'a')).toBe(0);
  });

  it('rejects invalid keys with KE_STORE_INVALID', () => {
    const store = open();
    const invalid = [
      { resource: '', namespace: 'default', name: 'a' },
      { resource: PODS, namespace: 'default', name: '' },
      { resource: PODS, namespace: 'default', name: 'a/b' },
      { resource: PODS, namespace: 'default', name: 'a\0b' },
      { resource: PODS, namespace: 'de/fault', name: 'a' },
      { resource: PODS, namespace: 'de\0fault', name: 'a' },
      { resource: 'core\0pods', namespace: 'default', name: 'a' },
    ];
    for (const key of invalid) {
      expect(codeOf(() => store.get(key))).toBe('KE_STORE_INVALID');
      expect(codeOf(() => store.create(key, objectFor({ ...key, namespace: '' })))).toBe(
        'KE_STORE_INVALID',
      );
      expect(codeOf(() => store.delete(key))).toBe('KE_STORE_INVALID');
    }
    expect(codeOf(() => store.list(''))).toBe('KE_STORE_INVALID');
    expect(codeOf(() => store.count(PODS, 'a/b'))).toBe('KE_STORE_INVALID');
    expect(codeOf(() => store.watch('', { fromRevision: 0 }, () => {}))).toBe('KE_STORE_INVALID');
    expect(store.currentRevision).toBe(0);
  });

  it('rejects objects whose metadata disagrees with the key, or that are not JSON', () => {
    const store = open();
    const key = podKey('default', 'a');
    expect(codeOf(() => store.create(key, objectFor(podKey('default', 'b'))))).toBe(
      'KE_STORE_INVALID',
    );
    expect(codeOf(() => store.create(key, objectFor(podKey('other', 'a'))))).toBe(
      'KE_STORE_INVALID',
    );
    expect(codeOf(() => store.create(key, { metadata: undefined } as never))).toBe(
      'KE_STORE_INVALID',
    );
    expect(codeOf(() => store.create(key, objectFor(key, { size: 1n })))).toBe('KE_STORE_INVALID');
    // The key decides where an object lives; a missing namespace in metadata is fine.
    expect(store.create(key, { metadata: { name: 'a' } }).revision).toBe(1);
  });

  it('rejects stale or malformed options', () => {
    const store = open();
    expect(codeOf(() => store.list(PODS, { limit: -1 }))).toBe('KE_STORE_INVALID');
    expect(codeOf(() => store.list(PODS, { limit: 1.5 }))).toBe('KE_STORE_INVALID');
    expect(codeOf(() => store.list(PODS, { continueAfter: 'not a token' }))).toBe(
      'KE_STORE_INVALID',
    );
    expect(codeOf(() => store.watch(PODS, { fromRevision: -1 }, () => {}))).toBe(
      'KE_STORE_INVALID',
    );
    expect(codeOf(() => store.compact(Number.NaN))).toBe('KE_STORE_INVALID');
  });
});
