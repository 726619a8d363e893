/** How an edge resource type (`pod` in `default/pod/nginx`) is kept in the store and served. */
export interface ResourceTypeInfo {
  /** The store's collection, `<group or core>/<plural>`: what the MetaServer serves it as. */
  readonly storage: string;
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespaced: boolean;
}

/**
 * The Kubernetes objects an edge node keeps, by KubeEdge resource type. Other types (status
 * reports, twins) are not objects of the store: they pass through to their modules or the cloud.
 */
export const RESOURCE_TYPES: Readonly<Record<string, ResourceTypeInfo>> = Object.freeze({
  pod: { storage: 'core/pods', kind: 'Pod', apiVersion: 'v1', namespaced: true },
  configmap: { storage: 'core/configmaps', kind: 'ConfigMap', apiVersion: 'v1', namespaced: true },
  secret: { storage: 'core/secrets', kind: 'Secret', apiVersion: 'v1', namespaced: true },
  service: { storage: 'core/services', kind: 'Service', apiVersion: 'v1', namespaced: true },
  endpoints: { storage: 'core/endpoints', kind: 'Endpoints', apiVersion: 'v1', namespaced: true },
  endpointslice: {
    storage: 'discovery.k8s.io/endpointslices',
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
    namespaced: true,
  },
  node: { storage: 'core/nodes', kind: 'Node', apiVersion: 'v1', namespaced: false },
});

/** The edge resource type of a store collection (`core/pods` → `pod`). */
export function typeOfStorage(storage: string): string | undefined {
  for (const [type, info] of Object.entries(RESOURCE_TYPES)) {
    if (info.storage === storage) return type;
  }
  return undefined;
}
