import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteStore, type Store } from '@ke/apiserver';
import {
  createMessage,
  createResponse,
  createRouter,
  type Message,
  type Router,
} from '@ke/beehive';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CLOUD_RESOURCE_VERSION_ANNOTATION,
  createMetaManager,
  type MetaManager,
  MetaManagerError,
} from '../src/index';

let dir: string;
let store: Store;
let router: Router;
let meta: MetaManager;

const pod = (name: string, resourceVersion: string, image = 'busybox') => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion },
  spec: { nodeName: 'edge-1', containers: [{ name: 'c', image }] },
});

const change = (operation: string, resource: string, content: unknown, rv?: string) =>
  createMessage({
    source: 'edgecontroller',
    group: 'resource',
    operation,
    resource,
    content,
    ...(rv ? { resourceVersion: rv } : {}),
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ke-meta-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
let n = 0;
beforeEach(async () => {
  n += 1;
  store = createSqliteStore({ path: join(dir, `edge-${n}.db`) });
  router = createRouter();
  meta = createMetaManager({ store, router, remoteQueryTimeoutMs: 500 });
  await meta.start();
});
afterEach(async () => {
  await meta.stop();
  await router.stop();
  store.close();
});

const podKey = (name: string) => ({ resource: 'core/pods', namespace: 'default', name });

describe('metamanager', () => {
  it('stores a pod with its cloud resourceVersion, and only newer versions replace it', () => {
    expect(meta.apply(change('insert', 'default/pod/web', pod('web', '10'), '10'))).toBe('stored');
    const stored = store.get(podKey('web'))?.object;
    expect(stored?.metadata.annotations?.[CLOUD_RESOURCE_VERSION_ANNOTATION]).toBe('10');
    expect(meta.apply(change('update', 'default/pod/web', pod('web', '9', 'old'), '9'))).toBe(
      'stale',
    );
    expect(meta.apply(change('update', 'default/pod/web', pod('web', '10', 'same'), '10'))).toBe(
      'stale',
    );
    expect(meta.apply(change('update', 'default/pod/web', pod('web', '12', 'new'), '12'))).toBe(
      'stored',
    );
    const updated = store.get(podKey('web'))?.object as unknown as {
      spec: { containers: { image: string }[] };
    };
    expect(updated.spec.containers[0]?.image).toBe('new');
    expect(meta.apply(change('delete', 'default/pod/web', pod('web', '11'), '11'))).toBe('stale');
    expect(meta.apply(change('delete', 'default/pod/web', pod('web', '13'), '13'))).toBe('deleted');
    expect(store.get(podKey('web'))).toBeUndefined();
    expect(meta.apply(change('delete', 'default/pod/web', pod('web', '13'), '13'))).toBe('absent');
  });

  it('refuses bad input with KE_META_INVALID and stores nothing', () => {
    const bad: [string, Message][] = [
      ['malformed resource', change('insert', 'default//web', pod('web', '1'))],
      ['unknown type', change('insert', 'default/widget/web', pod('web', '1'))],
      ['cluster-scoped pod', change('insert', 'null/pod/web', pod('web', '1'))],
      ['wrong kind', change('insert', 'default/pod/web', { ...pod('web', '1'), kind: 'Secret' })],
      ['wrong name', change('insert', 'default/pod/web', pod('other', '1'))],
      ['not an object', change('insert', 'default/pod/web', 'hello')],
      ['no metadata', change('insert', 'default/pod/web', { kind: 'Pod' })],
      [
        'other namespace',
        change('insert', 'default/pod/web', {
          ...pod('web', '1'),
          metadata: { name: 'web', namespace: 'kube-system' },
        }),
      ],
    ];
    for (const [what, message] of bad) {
      let error: unknown;
      try {
        meta.apply(message);
      } catch (e) {
        error = e;
      }
      expect(error, what).toBeInstanceOf(MetaManagerError);
      expect((error as MetaManagerError).code, what).toBe('KE_META_INVALID');
    }
    expect(store.count('core/pods')).toBe(0);
  });

  it('answers through the router: OK after storing, an error response for bad input', async () => {
    const ok = await router.sendSync(
      'metamanager',
      change('insert', 'default/pod/api', pod('api', '5'), '5'),
    );
    expect(ok.content).toBe('OK');
    const refused = await router.sendSync(
      'metamanager',
      change('insert', 'default/pod/api', { kind: 'Service', metadata: { name: 'api' } }, '6'),
    );
    expect(refused.route.operation).toBe('error');
    expect(refused.content).toMatchObject({ code: 'KE_META_INVALID', retryable: false });
    expect(store.count('core/pods')).toBe(1);
  });

  it('tells local subscribers after a change is stored', async () => {
    const seen: string[] = [];
    router.register({
      name: 'edged',
      group: 'edged',
      handler: (m) => {
        seen.push(`${m.route.operation} ${m.route.resource}`);
      },
    });
    await router.sendSync('metamanager', change('insert', 'default/pod/a', pod('a', '1'), '1'));
    await router.sendSync('metamanager', change('insert', 'default/pod/a', pod('a', '1'), '1'));
    for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual(['insert default/pod/a']);
  });

  it('answers queries from the store, and asks the cloud for what it lacks', async () => {
    meta.apply(
      change(
        'insert',
        'default/configmap/local',
        {
          kind: 'ConfigMap',
          metadata: { name: 'local', namespace: 'default' },
          data: { a: '1' },
        },
        '3',
      ),
    );
    expect(await meta.get('default/configmap/local')).toMatchObject({ data: { a: '1' } });
    await expect(meta.get('default/configmap/remote')).rejects.toMatchObject({
      code: 'KE_META_NOT_FOUND',
    });
    const asked: string[] = [];
    router.register({
      name: 'edgehub',
      handler: (request) => {
        asked.push(request.route.resource);
        router.sendResponse(
          createResponse(request, {
            source: 'edgecontroller',
            content: {
              kind: 'ConfigMap',
              metadata: { name: 'remote', namespace: 'default', resourceVersion: '8' },
              data: { b: '2' },
            },
          }),
        );
      },
    });
    expect(await meta.get('default/configmap/remote')).toMatchObject({ data: { b: '2' } });
    expect(await meta.get('default/configmap/remote')).toMatchObject({ data: { b: '2' } });
    expect(asked).toEqual(['default/configmap/remote']); // stored: the second came from disk
    expect(meta.list('default/configmap')).toHaveLength(2);
  });
});
