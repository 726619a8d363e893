import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '@ke/apiserver';
import {
  createMessage,
  type Message,
  ModuleName,
  Operation,
  parseEdgeResource,
  type Router,
} from '@ke/beehive';
import type { Logger } from '@ke/daemon';
import {
  type CriClient,
  createCriClient,
  createEdged,
  createFakeCriServer,
  type Edged,
  type FakeCriServer,
} from '@ke/edged-cri';
import type { MetaManager } from '@ke/metamanager';
import type { V1ConfigMap, V1Pod, V1Secret } from '@kubernetes/client-node';
import pkg from '../package.json';
import { commaList } from './addresses';
import type { EdgeConfig } from './config';

export interface EdgedModule {
  readonly edged: Edged;
  /** `unix:///...` of containerd, or of the simulated runtime. */
  readonly endpoint: string;
  readonly simulated: boolean;
  stop(): Promise<void>;
}

/**
 * Edged as ke-edge runs it: pods from MetaManager's store run on the CRI runtime at
 * `containerRuntimeEndpoint`, or, when that is empty, on an in-process simulated runtime
 * (its node reports `simulated://...`). Pod, ConfigMap and Secret changes arrive from
 * MetaManager through the router (group `edged`); pod statuses go to the cloud as
 * `<ns>/podstatus/<name>` through edgehub.
 */
export async function startEdgedModule(options: {
  config: EdgeConfig['modules']['edged'];
  dataDir: string;
  router: Router;
  store: Store;
  meta: MetaManager;
  logger: Logger;
}): Promise<EdgedModule> {
  const { config, router, store, meta, logger } = options;
  const rootDir = join(options.dataDir, 'edged');
  await mkdir(rootDir, { recursive: true });
  let fake: FakeCriServer | undefined;
  let endpoint = config.containerRuntimeEndpoint;
  if (!endpoint) {
    fake = createFakeCriServer({
      socketPath: join(rootDir, 'simulated-cri.sock'),
      pullAnyImage: true,
    });
    await fake.start();
    endpoint = fake.endpoint;
  }
  const runtime: CriClient = createCriClient({ endpoint });
  const lookup = async <T>(resource: string): Promise<T | undefined> => {
    try {
      return (await meta.get(resource)) as T;
    } catch (error) {
      if ((error as { code?: string }).code === 'KE_META_NOT_FOUND') return undefined;
      throw error;
    }
  };
  const edged = createEdged({
    nodeName: config.hostnameOverride,
    runtime,
    rootDir,
    lookup: {
      configMap: (ns, name) => lookup<V1ConfigMap>(`${ns}/configmap/${name}`),
      secret: (ns, name) => lookup<V1Secret>(`${ns}/secret/${name}`),
    },
    clusterDns: commaList(config.clusterDNS),
    clusterDomain: config.clusterDomain,
    kubeletVersion: `v1.31.0-kubeedge-ts-${pkg.version}`,
    logger: logger.child({ module: 'edged' }),
  });
  edged.on('podStatus', ({ pod, status }) => {
    if (!router.has(ModuleName.EdgeHub)) return;
    const message = createMessage({
      source: 'edged',
      group: 'resource',
      operation: Operation.Update,
      resource: `${pod.metadata?.namespace}/podstatus/${pod.metadata?.name}`,
      content: { uid: pod.metadata?.uid, name: pod.metadata?.name, status },
    });
    router.send(ModuleName.EdgeHub, message, { ifFull: 'reject' }).catch((error: Error) => {
      logger.warn({ err: error, pod: message.route.resource }, 'a pod status was not sent');
    });
  });
  // kubelet's events (Pulled, Started, BackOff, Killing, ...) go to the cloud's API.
  let eventSeq = 0;
  edged.on('event', ({ pod, type, reason, message, fieldPath }) => {
    if (!router.has(ModuleName.EdgeHub)) return;
    const namespace = pod.metadata?.namespace ?? 'default';
    const now = new Date().toISOString();
    const name = `${pod.metadata?.name}.${Date.now().toString(16)}${(eventSeq++ % 4096).toString(16)}`;
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'Pod',
        name: pod.metadata?.name,
        namespace,
        uid: pod.metadata?.uid,
        ...(fieldPath ? { fieldPath } : {}),
      },
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: 'kubelet', host: config.hostnameOverride },
    };
    const upstream = createMessage({
      source: 'edged',
      group: 'resource',
      operation: Operation.Insert,
      resource: `${namespace}/event/${name}`,
      content: event,
    });
    router.send(ModuleName.EdgeHub, upstream, { ifFull: 'reject' }).catch((error: Error) => {
      logger.warn({ err: error, reason }, 'a pod event was not sent');
    });
  });
  router.register({
    name: 'edged',
    group: 'edged',
    handler: (message: Message) => {
      let parts: ReturnType<typeof parseEdgeResource>;
      try {
        parts = parseEdgeResource(message.route.resource);
      } catch {
        return;
      }
      if (parts.type === 'pod') {
        if (message.route.operation === Operation.Delete) {
          edged.deletePod(parts.namespace ?? '', parts.name ?? '');
        } else {
          edged.upsertPod(message.content as V1Pod);
        }
      } else if (parts.type === 'configmap' || parts.type === 'secret') {
        edged.refreshVolumes();
      }
    },
  });
  await edged.start();
  // Everything the store holds for this node now; pods not in it are removed from the runtime.
  edged.setPods(store.list('core/pods').items as V1Pod[]);
  logger.info(
    {
      runtime: fake ? 'simulated' : endpoint,
      version: edged.nodeStatus().nodeInfo?.containerRuntimeVersion,
    },
    'edged running',
  );
  return {
    edged,
    endpoint,
    simulated: fake !== undefined,
    async stop() {
      await edged.stop();
      if (router.has('edged') && !router.stopped) await router.unregister('edged');
      runtime.close();
      await fake?.stop();
    },
  };
}
