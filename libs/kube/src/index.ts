/**
 * @packageDocumentation
 * Kubernetes access for the kubeedge-ts cloud controllers, on `@kubernetes/client-node`:
 * a rate-limited work queue with client-go semantics and the worker loop around it,
 * kubeconfig loading with clear errors, typed clients for the `@ke/apis` custom resources,
 * informers (list + watch + resync, with indexes) and Lease leader election with client-go's
 * semantics, and one error type with stable codes.
 *
 * @example
 * ```js
 * import { deepEqual, equal } from 'node:assert/strict';
 * import { createWorkQueue, defaultControllerRateLimiter, runWorkers } from '@ke/kube';
 *
 * // A controller's queue of `namespace/name` keys. The default rate limiter retries a failing
 * // key after 5 ms, 10 ms, 20 ms, ... (at most 1000 s), and at most 10 retries/s overall.
 * const queue = createWorkQueue({ name: 'devices', rateLimiter: defaultControllerRateLimiter() });
 *
 * // An informer's event handlers would add keys; a key added twice before it runs, runs once.
 * queue.add('default/thermometer');
 * queue.add('default/valve');
 * queue.add('default/pump');
 * queue.add('default/thermometer');
 *
 * const attempts = new Map();
 * const converged = new Set();
 * const stop = new AbortController();
 *
 * // Two workers; one key is never reconciled by both at once. Reconcile reads the current
 * // state and converges; throwing asks for a retry with back-off (here: the valve, twice).
 * await runWorkers(
 *   queue,
 *   2,
 *   async (key) => {
 *     attempts.set(key, (attempts.get(key) ?? 0) + 1);
 *     if (key === 'default/valve' && attempts.get(key) <= 2) throw new Error('valve not reachable');
 *     converged.add(key);
 *     if (converged.size === 3) stop.abort(); // all converged: stop the workers
 *   },
 *   {
 *     signal: stop.signal,
 *     logger: {
 *       warn: (fields, message) => console.log(`${message}: ${fields.key} in ${fields.delayMs} ms`),
 *     },
 *   },
 * );
 *
 * console.log('attempts:', Object.fromEntries(attempts));
 * deepEqual(Object.fromEntries(attempts), {
 *   'default/thermometer': 1,
 *   'default/valve': 3,
 *   'default/pump': 1,
 * });
 * equal(queue.numRequeues('default/valve'), 0); // forgotten once it succeeded
 * equal(queue.shuttingDown, true);
 * ```
 */

export type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
export { toKubeError } from './api-errors';
export type { BackoffOptions } from './backoff';
export { type Clock, realClock } from './clock';
export {
  describeKubeConfig,
  type KubeConfigDescription,
  type KubeConfigSource,
  loadKubeConfig,
} from './config';
export {
  type CrdClient,
  createCrdClient,
  type DeleteOptions,
  type KubeList,
  type ListOptions,
  type ObjectOf,
  type PatchType,
} from './crd-client';
export {
  isKubeError,
  KubeError,
  KubeErrorCode,
  type KubeErrorDetails,
  type KubeStatus,
} from './errors';
export {
  builtinIndexers,
  byNamespace,
  byNodeName,
  type IndexFunc,
  metaNamespaceKey,
  splitMetaNamespaceKey,
} from './indexer';
export {
  createInformer,
  type DeleteInfo,
  type Informer,
  type InformerEvent,
  type InformerHandlers,
  type InformerOptions,
} from './informer';
export {
  createLeaderElector,
  type LeaderElector,
  type LeaderElectorOptions,
  type LeaseSpec,
  microTime,
} from './leader-election';
export type { Logger } from './logger';
export {
  type BucketOptions,
  bucket,
  defaultControllerRateLimiter,
  itemExponentialFailure,
  itemFastSlow,
  maxOf,
  type RateLimiter,
} from './rate-limiters';
export { type Reconcile, type RunWorkersOptions, runWorkers } from './workers';
export {
  createWorkQueue,
  type WorkQueue,
  type WorkQueueGetResult,
  type WorkQueueOptions,
} from './workqueue';
