import { crdFor, DeviceModelResource, DeviceResource, ObjectSyncResource } from '@ke/apis';
import { type ApiServer, createApiServer, createMemoryStore, type Store } from '@ke/apiserver';
import type { Message } from '@ke/beehive';
import { type KubeConfig, loadKubeConfig } from '@ke/kube';
import { waitFor } from '@ke/testing';

export const DEVICES = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';
export const MODELS = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicemodels';
export const OBJECTSYNCS =
  '/apis/reliablesyncs.kubeedge.io/v1alpha1/namespaces/default/objectsyncs';

/** An object as the API returns it. */
export interface ApiObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown> & {
    twins?: {
      propertyName?: string;
      reported?: { value: string; metadata?: Record<string, string> };
      observedDesired?: { value: string; metadata?: Record<string, string> };
    }[];
    state?: string;
    lastOnlineTime?: string;
  };
}

export interface TestApi {
  readonly kubeConfig: KubeConfig;
  /** A JSON request (PATCH is a merge patch); throws with the status and body unless 2xx. */
  request<T = ApiObject>(method: string, path: string, body?: unknown): Promise<T>;
  stop(): Promise<void>;
}

/**
 * The embedded API server on a free loopback port, anonymous, serving the Device, DeviceModel
 * and ObjectSync CRDs. `deviceStatusSubresource` installs the Device CRD with a status
 * subresource (as a cluster might), which the upstream CRD has not.
 */
export async function startApi(
  options: { deviceStatusSubresource?: boolean } = {},
): Promise<TestApi> {
  const store: Store = createMemoryStore();
  const server: ApiServer = createApiServer({
    store,
    host: '127.0.0.1',
    port: 0,
    auth: { anonymous: true },
  });
  await server.start();
  const request = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const contentType = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': contentType },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  };
  for (const definition of [DeviceResource, DeviceModelResource, ObjectSyncResource]) {
    const crd = crdFor(definition);
    if (definition === DeviceResource && options.deviceStatusSubresource) {
      for (const version of crd.spec.versions) version.subresources = { status: {} };
    }
    await request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
  }
  await waitFor('the CRDs to be served', async () => {
    await request('GET', DEVICES);
    await request('GET', MODELS);
    await request('GET', OBJECTSYNCS);
    return true;
  });
  const kubeConfig = loadKubeConfig({
    yaml: `
apiVersion: v1
kind: Config
current-context: test
clusters: [{ name: test, cluster: { server: '${server.url}' } }]
contexts: [{ name: test, context: { cluster: test, user: anonymous } }]
users: [{ name: anonymous, user: {} }]
`,
  });
  return {
    kubeConfig,
    request,
    async stop() {
      await server.stop();
      store.close();
    },
  };
}

export function model(name: string, properties: string[] = ['temperature']) {
  return {
    apiVersion: 'devices.kubeedge.io/v1beta1',
    kind: 'DeviceModel',
    metadata: { name },
    spec: {
      protocol: 'modbus',
      properties: properties.map((property) => ({ name: property, type: 'INT' })),
    },
  };
}

export function device(
  name: string,
  nodeName: string,
  modelName: string,
  properties: { name: string; desired?: string }[] = [{ name: 'temperature' }],
) {
  return {
    apiVersion: 'devices.kubeedge.io/v1beta1',
    kind: 'Device',
    metadata: { name },
    spec: {
      deviceModelRef: { name: modelName },
      nodeName,
      properties: properties.map((p) => ({
        name: p.name,
        ...(p.desired === undefined ? {} : { desired: { value: p.desired } }),
      })),
    },
  };
}

/** The messages a controller dispatched, in order, and ways to wait for them. */
export class Recorder {
  readonly messages: Message[] = [];
  readonly dispatch = (message: Message): void => {
    this.messages.push(message);
  };

  /** Where the next message will be: pass it to `since` to look only at later ones. */
  mark(): number {
    return this.messages.length;
  }

  since(mark: number): Message[] {
    return this.messages.slice(mark);
  }

  /** The first message after `mark` with this operation and resource. */
  find(mark: number, operation: string, resource: string): Message | undefined {
    return this.since(mark).find(
      (m) => m.route.operation === operation && m.route.resource === resource,
    );
  }

  /** Waits for the first message after `mark` with this operation and resource. */
  async waitFor(mark: number, operation: string, resource: string): Promise<Message> {
    return waitFor(`${operation} ${resource}`, () => this.find(mark, operation, resource));
  }

  /** Waits for a membership update of `node` after `mark` that adds or removes device `id`. */
  async waitForMembership(
    mark: number,
    node: string,
    change: 'added_devices' | 'removed_devices',
    id: string,
  ): Promise<Message<MembershipContent>> {
    return waitFor(`membership of ${node}: ${change} ${id}`, () =>
      this.since(mark).find(
        (m): m is Message<MembershipContent> =>
          m.route.resource === `node/${node}/membership` &&
          (m.content as MembershipContent)[change].some((d) => d.id === id),
      ),
    );
  }
}

export interface MembershipContent {
  event_id: string;
  timestamp: number;
  added_devices: { id: string; name: string }[];
  removed_devices: { id: string; name: string }[];
}
