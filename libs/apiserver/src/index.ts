/**
 * @packageDocumentation
 * A Kubernetes-compatible API server over a pluggable store.
 */
export {
  ApiCore,
  type DeleteOptions,
  type ListQuery,
  type PatchType,
  type WatchQuery,
  type WriteHook,
} from './core';
export {
  ApiError,
  type ApiErrorCode,
  type Status,
  type StatusCause,
  type StatusReason,
} from './errors';
export * from './patch/index';
export { type ResourceInfo, ResourceRegistry } from './registry';
export * from './selectors/index';
export { type ApiServer, type ApiServerOptions, type AuthOptions, createApiServer } from './server';
export {
  DEFAULT_SERVICE_CLUSTER_IP_RANGE,
  type IPv4Range,
  parseIPv4Range,
  ServiceIPAllocator,
  ServiceIPRangeError,
} from './service-ips';
export * from './store/index';
