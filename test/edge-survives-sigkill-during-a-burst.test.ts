import { command, describeWithSystem, waitFor } from '@ke/testing';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ApiClient, type Edge, TestCluster } from './helpers/cluster';

// Crash safety (issue #5): ke-edge killed with SIGKILL while the cloud streams a burst of
// updates to it keeps a consistent store: no torn or half-applied object, and every update the
// cloud recorded as acknowledged (ObjectSync) is there. Restarted, it converges on the API.

const NODE = 'edge-1';
const PAIRS = 10; // a pod and the ConfigMap it uses, each
const UPDATES = 1000;
const CONCURRENCY = 8;
const CLOUD_VERSION = 'kubeedge.io/cloud-resource-version';

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

interface ObjectSync {
  metadata: { name: string; namespace: string };
  spec: { objectKind: string; objectName: string };
  status?: { objectResourceVersion?: string };
}

let cluster: TestCluster;
let api: ApiClient;
let edge: Edge;

const collection = (kind: string) =>
  `/api/v1/namespaces/default/${kind === 'Pod' ? 'pods' : 'configmaps'}`;

/** The object without what legitimately differs between the API and the edge's copy. */
function content(object: KubeObject): KubeObject {
  const { resourceVersion: _rv, annotations = {}, ...metadata } = object.metadata;
  const { [CLOUD_VERSION]: _cloud, ...rest } = annotations;
  return {
    ...object,
    metadata: { ...metadata, ...(Object.keys(rest).length ? { annotations: rest } : {}) },
  };
}

/** What cloudhub recorded as acknowledged by the node: uid → resourceVersion. */
async function acknowledged(): Promise<Map<string, number>> {
  const list = await api.request<{ items: ObjectSync[] }>(
    'GET',
    '/apis/reliablesyncs.kubeedge.io/v1alpha1/objectsyncs',
  );
  const acked = new Map<string, number>();
  for (const sync of list.items) {
    const version = sync.status?.objectResourceVersion;
    if (!sync.metadata.name.startsWith(`${NODE}.`) || !version) continue;
    acked.set(sync.metadata.name.slice(NODE.length + 1), Number(version));
  }
  return acked;
}

beforeAll(async () => {
  cluster = await TestCluster.create('ke-e2e-crash');
  await cluster.startCloud();
  api = cluster.api();
  edge = await cluster.startEdge(NODE, { token: await cluster.token() });
  await edge.process.waitForLine(/"msg":"connected to the cloud"/, 60_000);
}, 180_000);

afterAll(async () => {
  api?.close();
  await cluster?.stopAll();
});

describeWithSystem('ke-edge killed during a burst of updates', [command('kubectl')], () => {
  it('keeps every acknowledged update and no partial write, then converges', async () => {
    // Every version the API produced, by uid and resourceVersion: the test's own writes, and
    // what a watch sees besides (the cloud writes the status the edge reports for its pods).
    const versions = new Map<string, Map<number, KubeObject>>();
    const remember = (object: KubeObject) => {
      const uid = object.metadata.uid!;
      if (!versions.has(uid)) versions.set(uid, new Map());
      versions.get(uid)!.set(Number(object.metadata.resourceVersion), object);
      return object;
    };
    const stopWatches = await Promise.all(
      ['Pod', 'ConfigMap'].map((kind) =>
        api.watch(collection(kind), (event) => {
          if (event.type === 'ADDED' || event.type === 'MODIFIED') {
            remember(event.object as KubeObject);
          }
        }),
      ),
    );
    const targets: KubeObject[] = [];
    for (let i = 0; i < PAIRS; i += 1) {
      const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `config-${i}` } };
      targets.push(
        remember(
          await api.request('POST', collection('ConfigMap'), { ...configMap, data: { seq: '-' } }),
        ),
      );
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `app-${i}`, labels: { app: `app-${i}` } },
        spec: {
          nodeName: NODE,
          containers: [
            { name: 'app', image: 'busybox', envFrom: [{ configMapRef: { name: `config-${i}` } }] },
          ],
        },
      };
      targets.push(remember(await api.request('POST', collection('Pod'), pod)));
    }
    await waitFor(
      'the pods and configmaps at the edge',
      async () => {
        const counts = await Promise.all(
          ['pods', 'configmaps'].map(async (kind) => {
            const res = await fetch(`${edge.metaServer}/api/v1/namespaces/default/${kind}`);
            const list = (await res.json()) as { items: KubeObject[] };
            return list.items.filter((o) => /^(app|config)-/.test(o.metadata.name)).length;
          }),
        );
        return counts.every((count) => count === PAIRS);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );

    // The burst: pods get an annotation, configmaps new data; SIGKILL at a random point of it.
    const killAt = 200 + Math.floor(Math.random() * (UPDATES - 400));
    const why = `SIGKILL after ${killAt} of ${UPDATES} updates`;
    let next = 0;
    let done = 0;
    let killed: Promise<number | NodeJS.Signals> | undefined;
    let ackedAtKill: Map<string, number> | undefined;
    const worker = async () => {
      for (let i = next++; i < UPDATES; i = next++) {
        const target = targets[i % targets.length]!;
        const patch =
          target.kind === 'Pod'
            ? { metadata: { annotations: { seq: String(i) } } }
            : { data: { seq: String(i) } };
        remember(
          await api.request(
            'PATCH',
            `${collection(target.kind)}/${target.metadata.name}`,
            patch,
            'application/merge-patch+json',
          ),
        );
        done += 1;
        if (done === killAt) {
          killed = edge.process.stop('SIGKILL', 10_000);
          ackedAtKill = await killed.then(acknowledged);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(await killed, why).toBe('SIGKILL');

    // What the cloud recorded as acknowledged: ObjectSyncs are written behind the ACKs; no ACK
    // comes from a dead node, so they settle.
    let previous = ackedAtKill!;
    const ackedAfter = await waitFor(
      'the ObjectSyncs to settle',
      async () => {
        const now = await acknowledged();
        const same =
          now.size === previous.size &&
          [...now].every(([uid, version]) => previous.get(uid) === version);
        previous = now;
        return same && now;
      },
      { timeoutMs: 15_000, intervalMs: 300 },
    );

    // The store as the crash left it.
    const db = new Database(edge.database, { readonly: true, fileMustExist: true });
    const stored = new Map<string, KubeObject>();
    try {
      expect(db.pragma('integrity_check', { simple: true }), why).toBe('ok');
      const rows = db
        .prepare(
          'SELECT resource, namespace, name, value FROM objects ' +
            "WHERE resource IN ('core/pods', 'core/configmaps')",
        )
        .all() as { resource: string; namespace: string; name: string; value: string }[];
      for (const row of rows) {
        const object = JSON.parse(row.value) as KubeObject;
        expect(object.kind, why).toBe(row.resource === 'core/pods' ? 'Pod' : 'ConfigMap');
        expect([object.metadata.namespace, object.metadata.name], why).toEqual([
          row.namespace,
          row.name,
        ]);
        stored.set(object.metadata.uid!, object);
      }
    } finally {
      db.close();
    }
    // A version at the edge reached it after the API made it; give the watch time to show it too.
    const storedVersion = (uid: string) =>
      Number(stored.get(uid)?.metadata.annotations?.[CLOUD_VERSION]);
    await waitFor(
      'the watch to have seen every version the edge holds',
      () =>
        targets.every((target) => {
          const uid = target.metadata.uid!;
          return !stored.has(uid) || versions.get(uid)?.has(storedVersion(uid)) === true;
        }),
      { timeoutMs: 10_000, intervalMs: 100 },
    ).catch(() => {});
    for (const stop of stopWatches) stop();
    let burstUpdatesStored = 0;
    for (const target of targets) {
      const uid = target.metadata.uid!;
      const object = stored.get(uid);
      expect(object, `${target.metadata.name} in the store (${why})`).toBeDefined();
      const version = Number(object!.metadata.annotations?.[CLOUD_VERSION]);
      // Whole: exactly a version the API produced, not a mix of two.
      const original = versions.get(uid)?.get(version);
      expect(
        original,
        `${target.metadata.name}@${version} is an API version (${why})`,
      ).toBeDefined();
      expect(content(object!), why).toEqual(content(original!));
      if (version > Number(target.metadata.resourceVersion)) burstUpdatesStored += 1;
      // Every acknowledged update is there: the stored version is at least the acknowledged one.
      for (const acked of [ackedAtKill!, ackedAfter]) {
        if (acked.has(uid))
          expect(version, `${target.metadata.name} (${why})`).toBeGreaterThanOrEqual(
            acked.get(uid)!,
          );
      }
    }
    // The kill came mid-burst: the edge had stored some burst updates, and not the last ones.
    expect(burstUpdatesStored, why).toBeGreaterThan(0);
    expect(ackedAfter.size, why).toBeGreaterThan(0);

    // Restarted, it catches up with the API.
    edge = await cluster.startEdge(NODE);
    const converged = await waitFor(
      'the edge to hold the latest version of every object',
      async () => {
        const pairs: [KubeObject, KubeObject][] = [];
        for (const kind of ['Pod', 'ConfigMap']) {
          const latest = await api.request<{ items: KubeObject[] }>('GET', collection(kind));
          const res = await fetch(`${edge.metaServer}${collection(kind)}`);
          const atEdge = new Map(
            ((await res.json()) as { items: KubeObject[] }).items.map((o) => [o.metadata.uid, o]),
          );
          if (atEdge.size !== latest.items.length) return false;
          for (const object of latest.items) {
            const copy = atEdge.get(object.metadata.uid);
            const version = copy?.metadata.annotations?.[CLOUD_VERSION];
            if (!copy || version !== object.metadata.resourceVersion) return false;
            pairs.push([copy, object]);
          }
        }
        return pairs;
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );
    expect(converged).toHaveLength(2 * PAIRS);
    for (const [copy, object] of converged) expect(content(copy)).toEqual(content(object));
  }, 120_000);
});
