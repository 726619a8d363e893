import {
  type ClusterObjectSync,
  ClusterObjectSyncResource,
  type ObjectSync,
  ObjectSyncResource,
} from '@ke/apis';
import {
  type CrdClient,
  createCrdClient,
  isKubeError,
  type KubeConfig,
  KubeErrorCode,
} from '@ke/kube';

/** One object's delivery to one node: what an ObjectSync (or ClusterObjectSync) records. */
export interface DeliveredObject {
  /** The edge node. */
  readonly node: string;
  /** The object's UID. */
  readonly uid: string;
  /** The object's namespace; `undefined` for a cluster-scoped object (ClusterObjectSync). */
  readonly namespace: string | undefined;
  readonly name: string;
  readonly kind: string;
  readonly apiVersion: string;
  /** The resourceVersion the node acknowledged. */
  readonly resourceVersion: string;
}

/** Where delivery progress lives, so a restarted (or another) cloudhub resumes from it. */
export interface ObjectSyncStore {
  /** Everything recorded, read once when the hub starts. */
  list(): Promise<DeliveredObject[]>;
  /** Records (creates or updates) one delivery. */
  save(record: DeliveredObject): Promise<void>;
  /** Forgets one delivery: the object was deleted at the node. Missing is not an error. */
  remove(record: DeliveredObject): Promise<void>;
}

/** KubeEdge's ObjectSync name: `<node>.<object UID>`. */
export function objectSyncName(node: string, uid: string): string {
  return `${node}.${uid}`;
}

/** Node and UID back from an ObjectSync name (UIDs have no dots; node names may). */
export function parseObjectSyncName(name: string): { node: string; uid: string } | undefined {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) return undefined;
  return { node: name.slice(0, dot), uid: name.slice(dot + 1) };
}

/** An in-memory store: for tests, benchmarks and embedders that keep progress elsewhere. */
export function createMemoryObjectSyncStore(): ObjectSyncStore & {
  /** What is recorded now. */
  records(): DeliveredObject[];
} {
  const records = new Map<string, DeliveredObject>();
  return {
    async list() {
      return [...records.values()];
    },
    async save(record) {
      records.set(objectSyncName(record.node, record.uid), { ...record });
    },
    async remove(record) {
      records.delete(objectSyncName(record.node, record.uid));
    },
    records() {
      return [...records.values()];
    },
  };
}

type AnySync = ObjectSync | ClusterObjectSync;

function toRecord(sync: AnySync, namespaced: boolean): DeliveredObject | undefined {
  const parsed = parseObjectSyncName(sync.metadata?.name ?? '');
  const resourceVersion = sync.status?.objectResourceVersion;
  if (!parsed || !resourceVersion) return undefined;
  return {
    ...parsed,
    namespace: namespaced ? sync.metadata?.namespace : undefined,
    name: sync.spec?.objectName ?? '',
    kind: sync.spec?.objectKind ?? '',
    apiVersion: sync.spec?.objectAPIVersion ?? '',
    resourceVersion,
  };
}

async function listAll(client: CrdClient<AnySync>): Promise<AnySync[]> {
  const items: AnySync[] = [];
  let token: string | undefined;
  do {
    const page = await client.list(undefined, {
      limit: 500,
      ...(token ? { continue: token } : {}),
    });
    items.push(...page.items);
    token = page.metadata.continue || undefined;
  } while (token);
  return items;
}

/**
 * ObjectSync and ClusterObjectSync objects in a Kubernetes API (`reliablesyncs.kubeedge.io`,
 * the CRDs of `@ke/apis`), as KubeEdge keeps them: one per node and object, with the
 * acknowledged resourceVersion in `status.objectResourceVersion`.
 */
export function createKubeObjectSyncStore(kubeConfig: KubeConfig): ObjectSyncStore {
  const namespaced = createCrdClient(kubeConfig, ObjectSyncResource) as CrdClient<AnySync>;
  const clusterScoped = createCrdClient(
    kubeConfig,
    ClusterObjectSyncResource,
  ) as CrdClient<AnySync>;
  const clientFor = (record: DeliveredObject) => (record.namespace ? namespaced : clusterScoped);

  return {
    async list() {
      const [objects, clusterObjects] = await Promise.all([
        listAll(namespaced),
        listAll(clusterScoped),
      ]);
      return [
        ...objects.map((sync) => toRecord(sync, true)),
        ...clusterObjects.map((sync) => toRecord(sync, false)),
      ].filter((record): record is DeliveredObject => record !== undefined);
    },

    async save(record) {
      const client = clientFor(record);
      const name = objectSyncName(record.node, record.uid);
      const status = { status: { objectResourceVersion: record.resourceVersion } };
      try {
        await client.patchStatus(record.namespace, name, status);
        return;
      } catch (error) {
        if (!isKubeError(error) || error.code !== KubeErrorCode.NotFound) throw error;
      }
      try {
        await client.create({
          metadata: { name, ...(record.namespace ? { namespace: record.namespace } : {}) },
          spec: {
            objectAPIVersion: record.apiVersion,
            objectKind: record.kind,
            objectName: record.name,
          },
        } as AnySync);
      } catch (error) {
        // Another writer created it in between: the status patch below still applies.
        if (!isKubeError(error) || error.code !== KubeErrorCode.AlreadyExists) throw error;
      }
      await client.patchStatus(record.namespace, name, status);
    },

    async remove(record) {
      try {
        await clientFor(record).delete(record.namespace, objectSyncName(record.node, record.uid));
      } catch (error) {
        if (!isKubeError(error) || error.code !== KubeErrorCode.NotFound) throw error;
      }
    },
  };
}
