/**
 * @packageDocumentation
 * KubeEdge's edged: a kubelet for edge nodes that runs pods on a CRI runtime (containerd,
 * CRI-O, or the built-in simulated runtime), a CRI v1 client, and the simulated runtime.
 *
 * @example
 * ```js
 * import { equal } from 'node:assert/strict';
 * import { once } from 'node:events';
 * import { mkdtemp, rm } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { createCriClient, createEdged, createFakeCriServer } from '@ke/edged-cri';
 *
 * const runtime = createFakeCriServer({ pullAnyImage: true });
 * await runtime.start();
 * const cri = createCriClient({ endpoint: runtime.endpoint });
 * const rootDir = await mkdtemp(join(tmpdir(), 'edged-'));
 *
 * // Where edged reads the ConfigMaps and Secrets pods use (MetaManager's store at the edge).
 * const configMaps = new Map([
 *   ['default/web', { metadata: { name: 'web', namespace: 'default' }, data: { greeting: 'hello' } }],
 * ]);
 * const edged = createEdged({
 *   nodeName: 'edge-1',
 *   runtime: cri,
 *   rootDir,
 *   lookup: {
 *     configMap: async (namespace, name) => configMaps.get(`${namespace}/${name}`),
 *     secret: async () => undefined,
 *   },
 * });
 * edged.on('podStatus', ({ pod, status }) => {
 *   console.log(pod.metadata?.name, status.phase, status.podIP ?? '');
 * });
 * await edged.start();
 *
 * // The pods this node should run (from MetaManager); pods not listed are stopped.
 * edged.setPods([
 *   {
 *     metadata: { name: 'web', namespace: 'default', uid: 'uid-web-1' },
 *     spec: {
 *       nodeName: 'edge-1',
 *       containers: [
 *         {
 *           name: 'web',
 *           image: 'busybox:1.36',
 *           command: ['httpd', '-f', '-p', '8080'],
 *           env: [
 *             { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'web', key: 'greeting' } } },
 *           ],
 *         },
 *       ],
 *     },
 *   },
 * ]);
 * while (edged.podStatus('default', 'web')?.phase !== 'Running') await once(edged, 'podStatus');
 * equal(edged.nodeStatus().nodeInfo?.containerRuntimeVersion, 'simulated://0.1.0');
 *
 * // Deleted: containers get their grace period, then the sandbox goes.
 * edged.deletePod('default', 'web');
 * await once(edged, 'podRemoved');
 *
 * await edged.stop();
 * cri.close();
 * await runtime.stop();
 * await rm(rootDir, { recursive: true, force: true });
 * ```
 */

export { Backoff, type BackoffOptions } from './backoff';
export { CRI_API_PROTO } from './cri/api-proto';
export {
  type CriCallOptions,
  type CriClient,
  type CriClientOptions,
  createCriClient,
  nanosToDate,
} from './cri/client';
export {
  createFakeCriServer,
  type FakeContainer,
  type FakeCriServer,
  type FakeCriServerOptions,
  type FakeExecHandler,
  type FakeExecResult,
  type FakeImage,
  type FakeSandbox,
  normalizeImageRef,
} from './cri/fake-runtime';
export type * from './cri/types';
export {
  createEdged,
  type Edged,
  type EdgedEvents,
  type EdgedLogger,
  type EdgedOptions,
  type PodEvent,
  type ResourceLookup,
} from './edged';
export { CriError, EdgedError, type EdgedErrorCode } from './errors';
export { readContainerLog } from './logs';
export {
  buildNodeStatus,
  defaultNodeIP,
  type NodeStatusInput,
  notReadyReason,
  type RuntimeHealth,
} from './node-status';
export { buildPodStatus, type ContainerView, type PodStatusInput } from './status';
