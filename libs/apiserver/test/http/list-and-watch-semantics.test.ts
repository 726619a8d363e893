import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configMap,
  createNamespace,
  request,
  startServer,
  type TestServer,
  uniqueName,
  type WatchEvent,
  watch,
} from './helpers';

// List and watch as client-go relies on them, over HTTP: consistent pages, lists at a past
// resourceVersion, watches that resume without a gap, selector transitions, bookmarks, expiry,
// timeouts, finalizers, the status subresource and generateName.

const GROUP = 'semantics.example.com';
const BOOKMARK_INTERVAL_MS = 200;

let api: TestServer;

const gadgetCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `gadgets.${GROUP}` },
  spec: {
    group: GROUP,
    scope: 'Namespaced',
    names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget', listKind: 'GadgetList' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', properties: { size: { type: 'integer' } } },
              status: { type: 'object', properties: { phase: { type: 'string' } } },
            },
          },
        },
      },
    ],
  },
};

beforeAll(async () => {
  api = await startServer({ bookmarkIntervalMs: BOOKMARK_INTERVAL_MS });
  const crd = await request(
    api.url,
    'POST',
    '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
    { body: gadgetCrd },
  );
  expect(crd.status).toBe(201);
});

afterAll(async () => {
  await api?.stop();
});

const configMaps = (namespace: string) => `/api/v1/namespaces/${namespace}/configmaps`;

async function createConfigMap(
  namespace: string,
  name: string,
  data: Record<string, string> = {},
  metadata: object = {},
) {
  const created = await request(api.url, 'POST', configMaps(namespace), {
    body: configMap(name, data, metadata),
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body;
}

async function mergePatch(path: string, patch: unknown) {
  const patched = await request(api.url, 'PATCH', path, {
    body: patch,
    contentType: 'application/merge-patch+json',
  });
  expect(patched.status, JSON.stringify(patched.body)).toBe(200);
  return patched.body;
}

describe('lists', () => {
  it('page with limit/continue over one snapshot: every object once, despite writes between pages', async () => {
    const ns = await createNamespace(api.url, 'paging');
    const initial = Array.from({ length: 23 }, (_, i) => `cm-${String(i).padStart(2, '0')}`);
    for (const name of initial) await createConfigMap(ns, name, { v: '0' });

    const seen: string[] = [];
    const pageVersions = new Set<string>();
    let token: string | undefined;
    let page = 0;
    do {
      const query = `limit=4${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
      const list = await request(api.url, 'GET', `${configMaps(ns)}?${query}`);
      expect(list.status, JSON.stringify(list.body)).toBe(200);
      expect(list.body.items.length).toBeLessThanOrEqual(4);
      for (const item of list.body.items) {
        seen.push(item.metadata.name);
        // Items are as of the snapshot, not as rewritten since.
        expect(item.data).toEqual({ v: '0' });
      }
      pageVersions.add(list.body.metadata.resourceVersion);
      token = list.body.metadata.continue;
      if (token) expect(list.body.metadata.remainingItemCount).toBeGreaterThan(0);
      // Writes between pages: new objects before and after the cursor, updates, deletions.
      await createConfigMap(ns, `aa-new-${page}`);
      await createConfigMap(ns, `zz-new-${page}`);
      await request(api.url, 'PUT', `${configMaps(ns)}/${initial[22 - page]}`, {
        body: configMap(initial[22 - page]!, { v: `updated-${page}` }),
      });
      expect(
        (await request(api.url, 'DELETE', `${configMaps(ns)}/${initial[page * 3]}`)).status,
      ).toBe(200);
      page++;
    } while (token);

    expect(page).toBe(6);
    expect(seen).toEqual(initial);
    expect(pageVersions.size).toBe(1);
  });

  it('with resourceVersion and resourceVersionMatch=Exact return the state as of then', async () => {
    const ns = await createNamespace(api.url, 'exact');
    const first = await createConfigMap(ns, 'versioned', { step: 'one' });
    const second = await mergePatch(`${configMaps(ns)}/versioned`, { data: { step: 'two' } });
    await createConfigMap(ns, 'later');

    const old = await request(
      api.url,
      'GET',
      `${configMaps(ns)}?resourceVersion=${first.metadata.resourceVersion}&resourceVersionMatch=Exact`,
    );
    expect(old.status).toBe(200);
    expect(old.body.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    expect(old.body.items.map((i: { data: unknown }) => i.data)).toEqual([{ step: 'one' }]);

    const latest = await request(api.url, 'GET', configMaps(ns));
    expect(latest.body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual([
      'later',
      'versioned',
    ]);
    expect(latest.body.items[1].metadata.resourceVersion).toBe(second.metadata.resourceVersion);
  });

  it('create objects with distinct names from generateName', async () => {
    const ns = await createNamespace(api.url, 'gen');
    const names = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const created = await request(api.url, 'POST', configMaps(ns), {
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'worker-' } },
      });
      expect(created.status).toBe(201);
      expect(created.body.metadata.generateName).toBe('worker-');
      expect(created.body.metadata.name).toMatch(/^worker-[a-z0-9]{5}$/);
      names.add(created.body.metadata.name);
    }
    expect(names.size).toBe(20);
  });
});

describe('watches', () => {
  it('from a resourceVersion deliver exactly the later events, in order, for 200 writes', async () => {
    const ns = await createNamespace(api.url, 'resume');
    const start = await request(api.url, 'GET', configMaps(ns));
    const from = start.body.metadata.resourceVersion as string;

    const expected: Array<{ type: string; name: string; rv: string }> = [];
    const write = async (i: number) => {
      const name = `obj-${i % 40}`;
      const path = `${configMaps(ns)}/${name}`;
      const existing = expected.filter((e) => e.name === name).at(-1);
      if (!existing || existing.type === 'DELETED') {
        const created = await createConfigMap(ns, name, { i: String(i) });
        expected.push({ type: 'ADDED', name, rv: created.metadata.resourceVersion });
      } else if (i % 7 === 0) {
        const deleted = await request(api.url, 'DELETE', path);
        expect(deleted.status).toBe(200);
        // The DELETED event carries the deletion's revision, one after the object's last write.
        expected.push({ type: 'DELETED', name, rv: '' });
      } else {
        const patched = await mergePatch(path, { data: { i: String(i) } });
        expected.push({ type: 'MODIFIED', name, rv: patched.metadata.resourceVersion });
      }
    };
    // Half the writes happen before the watch starts, half while it runs.
    for (let i = 0; i < 100; i++) await write(i);
    const stream = await watch(api.url, `${configMaps(ns)}?watch=true&resourceVersion=${from}`);
    expect(stream.status).toBe(200);
    for (let i = 100; i < 200; i++) await write(i);

    const received: WatchEvent[] = [];
    while (received.length < expected.length) received.push(await stream.next());
    stream.close();

    expect(received.map((e) => [e.type, e.object.metadata.name])).toEqual(
      expected.map((e) => [e.type, e.name]),
    );
    const versions = received.map((e) => Number(e.object.metadata.resourceVersion));
    for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1]!);
    expect(versions[0]).toBeGreaterThan(Number(from));
    expected.forEach((e, i) => {
      if (e.rv) expect(received[i]!.object.metadata.resourceVersion).toBe(e.rv);
    });
    // Nothing beyond the 200 writes arrived.
    expect(stream.events.length).toBe(expected.length);
  });

  it('with a label selector turn changes in and out of the selection into ADDED and DELETED', async () => {
    const ns = await createNamespace(api.url, 'selector');
    const stream = await watch(api.url, `${configMaps(ns)}?watch=true&labelSelector=tier%3Dweb`);
    const path = `${configMaps(ns)}/moving`;
    await createConfigMap(ns, 'moving', { a: '1' }, { labels: { tier: 'web' } });
    await createConfigMap(ns, 'never', { a: '1' }, { labels: { tier: 'db' } });
    const matching = await mergePatch(path, { data: { a: '2' } });
    const leaving = await mergePatch(path, { metadata: { labels: { tier: 'db' } } });
    await mergePatch(path, { data: { a: '3' } });
    await mergePatch(path, { metadata: { labels: { tier: 'web' } } });

    const events = [
      await stream.next(),
      await stream.next(),
      await stream.next(),
      await stream.next(),
    ];
    stream.close();
    expect(
      events.map((e) => [e.type, e.object.metadata.name, e.object.metadata.labels.tier]),
    ).toEqual([
      ['ADDED', 'moving', 'web'],
      ['MODIFIED', 'moving', 'web'],
      // Gone from the selection: its last matching state, at the revision of the change.
      ['DELETED', 'moving', 'web'],
      ['ADDED', 'moving', 'web'],
    ]);
    expect(events[2]!.object.data).toEqual(matching.data);
    expect(events[2]!.object.metadata.resourceVersion).toBe(leaving.metadata.resourceVersion);
    expect(events[3]!.object.data).toEqual({ a: '3' });
  });

  it('without a resourceVersion start with the current objects as ADDED', async () => {
    const ns = await createNamespace(api.url, 'initial');
    await createConfigMap(ns, 'one');
    await createConfigMap(ns, 'two');
    const stream = await watch(api.url, `${configMaps(ns)}?watch=true`);
    const initial = [await stream.next(), await stream.next()];
    expect(initial.map((e) => [e.type, e.object.metadata.name])).toEqual([
      ['ADDED', 'one'],
      ['ADDED', 'two'],
    ]);
    await createConfigMap(ns, 'three');
    expect(await stream.next()).toMatchObject({
      type: 'ADDED',
      object: { metadata: { name: 'three' } },
    });
    stream.close();
  });

  it('with allowWatchBookmarks get BOOKMARK events carrying a resourceVersion', async () => {
    const ns = await createNamespace(api.url, 'bookmark');
    const created = await createConfigMap(ns, 'marked');
    const stream = await watch(
      api.url,
      `${configMaps(ns)}?watch=true&allowWatchBookmarks=true&resourceVersion=${created.metadata.resourceVersion}`,
    );
    const bookmark = await stream.waitFor((e) => e.type === 'BOOKMARK', BOOKMARK_INTERVAL_MS * 20);
    stream.close();
    expect(bookmark.object.kind).toBe('ConfigMap');
    expect(Number(bookmark.object.metadata.resourceVersion)).toBeGreaterThanOrEqual(
      Number(created.metadata.resourceVersion),
    );
  });

  it('with timeoutSeconds=1 end on time, and without allowWatchBookmarks get no bookmark', async () => {
    const ns = await createNamespace(api.url, 'timeout');
    const began = Date.now();
    const stream = await watch(api.url, `${configMaps(ns)}?watch=true&timeoutSeconds=1`);
    expect(stream.status).toBe(200);
    await stream.ended(5000);
    expect(Date.now() - began).toBeGreaterThanOrEqual(900);
    // 1 s is several bookmark intervals: none came because none was asked for.
    expect(stream.events.filter((e) => e.type === 'BOOKMARK')).toEqual([]);
  });
});

describe('a resourceVersion the server has not reached', () => {
  it('is answered 504 with the ResourceVersionTooLarge cause, for lists and watches', async () => {
    const ns = await createNamespace(api.url, 'future');
    const future = api.store.currentRevision + 1000;
    const tooLarge = {
      kind: 'Status',
      code: 504,
      reason: 'Timeout',
      details: { causes: [{ reason: 'ResourceVersionTooLarge' }], retryAfterSeconds: 1 },
    };
    const list = await request(api.url, 'GET', `${configMaps(ns)}?resourceVersion=${future}`);
    expect(list.status).toBe(504);
    expect(list.body).toMatchObject(tooLarge);

    const stream = await watch(api.url, `${configMaps(ns)}?watch=true&resourceVersion=${future}`);
    const error = await stream.next();
    expect(error).toMatchObject({ type: 'ERROR', object: tooLarge });
    await stream.ended(5000);
  });
});

describe('compaction', () => {
  it('answers a watch from a compacted resourceVersion with an ERROR 410 event and an exact list with 410', async () => {
    const ns = await createNamespace(api.url, 'compact');
    const old = await createConfigMap(ns, 'old');
    await mergePatch(`${configMaps(ns)}/old`, { data: { x: '1' } });
    const oldRv = old.metadata.resourceVersion as string;
    api.store.compact(api.store.currentRevision);

    const stream = await watch(api.url, `${configMaps(ns)}?watch=true&resourceVersion=${oldRv}`);
    expect(stream.status).toBe(200);
    const error = await stream.next();
    expect(error.type).toBe('ERROR');
    expect(error.object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
    await stream.ended(5000);

    const list = await request(
      api.url,
      'GET',
      `${configMaps(ns)}?resourceVersion=${oldRv}&resourceVersionMatch=Exact`,
    );
    expect(list.status).toBe(410);
    expect(list.body).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });

    // A fresh list and a watch from its resourceVersion work again.
    const fresh = await request(api.url, 'GET', configMaps(ns));
    expect(fresh.status).toBe(200);
    const resumed = await watch(
      api.url,
      `${configMaps(ns)}?watch=true&resourceVersion=${fresh.body.metadata.resourceVersion}`,
    );
    await createConfigMap(ns, 'new');
    expect(await resumed.next()).toMatchObject({
      type: 'ADDED',
      object: { metadata: { name: 'new' } },
    });
    resumed.close();
  });

  it('answers a continue token older than the compaction with 410', async () => {
    const ns = await createNamespace(api.url, 'continue');
    for (const name of ['a', 'b', 'c']) await createConfigMap(ns, name);
    const first = await request(api.url, 'GET', `${configMaps(ns)}?limit=1`);
    const token = first.body.metadata.continue as string;
    expect(token).toBeTruthy();
    await createConfigMap(ns, 'd');
    api.store.compact(api.store.currentRevision);
    const next = await request(
      api.url,
      'GET',
      `${configMaps(ns)}?limit=1&continue=${encodeURIComponent(token)}`,
    );
    expect(next.status).toBe(410);
    expect(next.body).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
  });
});

describe('finalizers', () => {
  it('keep a deleted object, marked, until a patch removes the last one; then watchers see DELETED', async () => {
    const ns = await createNamespace(api.url, 'final');
    const name = uniqueName('held');
    const path = `${configMaps(ns)}/${name}`;
    await createConfigMap(ns, name, { a: '1' }, { finalizers: ['example.com/hold'] });
    const stream = await watch(
      api.url,
      `${configMaps(ns)}?watch=true&fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`,
    );
    expect((await stream.next()).type).toBe('ADDED');

    const deleted = await request(api.url, 'DELETE', path);
    expect(deleted.status).toBe(200);
    expect(deleted.body.metadata.deletionTimestamp).toBeTruthy();
    const marked = await stream.next();
    expect(marked.type).toBe('MODIFIED');
    expect(marked.object.metadata.deletionTimestamp).toBeTruthy();

    const stillThere = await request(api.url, 'GET', path);
    expect(stillThere.status).toBe(200);
    expect(stillThere.body.metadata.finalizers).toEqual(['example.com/hold']);
    expect(stillThere.body.metadata.deletionTimestamp).toBe(
      deleted.body.metadata.deletionTimestamp,
    );

    // A second delete does not move the deletionTimestamp.
    const again = await request(api.url, 'DELETE', path);
    expect(again.body.metadata.deletionTimestamp).toBe(deleted.body.metadata.deletionTimestamp);

    await mergePatch(path, { metadata: { finalizers: null } });
    const gone = await stream.next();
    expect(gone.type).toBe('DELETED');
    expect(gone.object.metadata.name).toBe(name);
    expect((await request(api.url, 'GET', path)).status).toBe(404);
    stream.close();
  });
});

describe('the status subresource of a custom resource', () => {
  it('keeps status out of writes to the main resource and spec out of writes to /status', async () => {
    const ns = await createNamespace(api.url, 'status');
    const gadgets = `/apis/${GROUP}/v1/namespaces/${ns}/gadgets`;
    const created = await request(api.url, 'POST', gadgets, {
      body: {
        apiVersion: `${GROUP}/v1`,
        kind: 'Gadget',
        metadata: { name: 'g' },
        spec: { size: 1 },
        status: { phase: 'Ignored' },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBeUndefined();
    expect(created.body.metadata.generation).toBe(1);

    const statusWrite = await request(api.url, 'PUT', `${gadgets}/g/status`, {
      body: {
        ...created.body,
        spec: { size: 99 },
        status: { phase: 'Ready', notInTheSchema: true },
      },
    });
    expect(statusWrite.status, JSON.stringify(statusWrite.body)).toBe(200);
    expect(statusWrite.body.spec).toEqual({ size: 1 });
    // Pruned to the schema, as every write of a custom resource is.
    expect(statusWrite.body.status).toEqual({ phase: 'Ready' });
    expect(statusWrite.body.metadata.generation).toBe(1);

    const mainWrite = await request(api.url, 'PUT', `${gadgets}/g`, {
      body: { ...statusWrite.body, spec: { size: 2 }, status: { phase: 'Broken' } },
    });
    expect(mainWrite.status, JSON.stringify(mainWrite.body)).toBe(200);
    expect(mainWrite.body.spec).toEqual({ size: 2 });
    expect(mainWrite.body.status).toEqual({ phase: 'Ready' });
    expect(mainWrite.body.metadata.generation).toBe(2);

    const read = await request(api.url, 'GET', `${gadgets}/g/status`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ spec: { size: 2 }, status: { phase: 'Ready' } });

    const patchedStatus = await request(api.url, 'PATCH', `${gadgets}/g/status`, {
      body: { spec: { size: 5 }, status: { phase: 'Done' } },
      contentType: 'application/merge-patch+json',
    });
    expect(patchedStatus.status).toBe(200);
    expect(patchedStatus.body).toMatchObject({ spec: { size: 2 }, status: { phase: 'Done' } });
  });
});

describe('deleting a CRD', () => {
  it('deletes its objects: watchers see DELETED and the CRD created again starts empty', async () => {
    const ns = await createNamespace(api.url, 'crdgone');
    const group = 'ephemeral.example.com';
    const crd = {
      ...gadgetCrd,
      metadata: { name: `gadgets.${group}` },
      spec: { ...gadgetCrd.spec, group },
    };
    const crds = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
    expect((await request(api.url, 'POST', crds, { body: crd })).status).toBe(201);
    const gadgets = `/apis/${group}/v1/namespaces/${ns}/gadgets`;
    for (const name of ['a', 'b']) {
      const created = await request(api.url, 'POST', gadgets, {
        body: { apiVersion: `${group}/v1`, kind: 'Gadget', metadata: { name }, spec: { size: 1 } },
      });
      expect(created.status).toBe(201);
    }
    const list = await request(api.url, 'GET', gadgets);
    const stream = await watch(
      api.url,
      `${gadgets}?watch=true&resourceVersion=${list.body.metadata.resourceVersion}`,
    );

    const deleted = await request(api.url, 'DELETE', `${crds}/gadgets.${group}`);
    expect(deleted.status).toBe(200);
    const events = [await stream.next(), await stream.next()];
    stream.close();
    expect(events.map((e) => [e.type, e.object.metadata.name])).toEqual([
      ['DELETED', 'a'],
      ['DELETED', 'b'],
    ]);
    expect((await request(api.url, 'GET', gadgets)).status).toBe(404);

    expect((await request(api.url, 'POST', crds, { body: crd })).status).toBe(201);
    const again = await request(api.url, 'GET', gadgets);
    expect(again.status).toBe(200);
    expect(again.body.items).toEqual([]);
  });
});
