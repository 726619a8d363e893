import { ClusterObjectSyncResource, crdFor, ObjectSyncResource } from '@ke/apis';
import { type ApiServer, createApiServer, createMemoryStore, type Store } from '@ke/apiserver';
import { type KubeConfig, type KubernetesObject, loadKubeConfig } from '@ke/kube';
import { waitFor } from '@ke/testing';

/** An object as the API returns it: these fields are always set. */
export interface ApiObject extends KubernetesObject {
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion: string;
    labels?: Record<string, string>;
  };
  [field: string]: unknown;
}

export interface TestApi {
  readonly url: string;
  readonly kubeConfig: KubeConfig;
  /** A JSON request; throws with the status and body for an answer that is not 2xx. */
  request<T = ApiObject>(method: string, path: string, body?: unknown): Promise<T>;
  /** Every item of a collection. */
  list<T = ApiObject>(path: string): Promise<T[]>;
  stop(): Promise<void>;
}

export const OBJECTSYNCS = '/apis/reliablesyncs.kubeedge.io/v1alpha1/objectsyncs';
export const CLUSTER_OBJECTSYNCS = '/apis/reliablesyncs.kubeedge.io/v1alpha1/clusterobjectsyncs';

/**
 * The embedded Kubernetes API server on a free loopback port, anonymous access, with the
 * ObjectSync and ClusterObjectSync CRDs installed and served.
 */
export async function startApi(): Promise<TestApi> {
  const store: Store = createMemoryStore();
  const server: ApiServer = createApiServer({
    store,
    host: '127.0.0.1',
    port: 0,
    auth: { anonymous: true },
  });
  await server.start();
  const url = server.url;
  const request = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const contentType = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
    const response = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': contentType },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  };
  for (const definition of [ObjectSyncResource, ClusterObjectSyncResource]) {
    await request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      ...crdFor(definition),
    });
  }
  await waitFor('the ObjectSync CRDs to be served', async () => {
    await request('GET', OBJECTSYNCS);
    await request('GET', CLUSTER_OBJECTSYNCS);
    return true;
  });
  const kubeConfig = loadKubeConfig({
    yaml: `
apiVersion: v1
kind: Config
current-context: test
clusters: [{ name: test, cluster: { server: '${url}' } }]
contexts: [{ name: test, context: { cluster: test, user: anonymous } }]
users: [{ name: anonymous, user: {} }]
`,
  });
  return {
    url,
    kubeConfig,
    request,
    async list<T>(path: string) {
      return (await request<{ items: T[] }>('GET', path)).items;
    },
    async stop() {
      await server.stop();
      store.close();
    },
  };
}
