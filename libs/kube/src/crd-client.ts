import type { ResourceDefinition } from '@ke/apis';
import {
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { toKubeError } from './api-errors';
import { KubeError, KubeErrorCode } from './errors';

/** The object type a `@ke/apis` resource definition describes (`Device` for `DeviceResource`). */
export type ObjectOf<R extends ResourceDefinition> = R['schema'] extends { static: infer O }
  ? O extends KubernetesObject
    ? O
    : KubernetesObject
  : KubernetesObject;

/** Options of {@link CrdClient.list}, as the API server takes them. */
export interface ListOptions {
  /** e.g. `app=thermometer,tier!=test`. */
  labelSelector?: string;
  /** e.g. `metadata.name=thermometer`. */
  fieldSelector?: string;
  /** Page size; continue with the returned `metadata.continue`. */
  limit?: number;
  /** The `metadata.continue` token of the previous page. */
  continue?: string;
  /** `0` lets the server answer from its cache; '' (default) asks for the latest state. */
  resourceVersion?: string;
  /** How `resourceVersion` is matched: `NotOlderThan` or `Exact`. */
  resourceVersionMatch?: string;
}

/** A list response: `metadata.resourceVersion` is where a watch continues from. */
export interface KubeList<T> {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

/** Options of {@link CrdClient.delete}. */
export interface DeleteOptions {
  /** `Orphan`, `Background` or `Foreground`. */
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  gracePeriodSeconds?: number;
  /** Delete only if the object still has this uid / resourceVersion. */
  preconditions?: { uid?: string; resourceVersion?: string };
}

/** The patch formats the API server accepts for custom resources. */
export type PatchType = 'merge' | 'json';

/**
 * Typed access to one custom resource. Namespaced kinds need a namespace for everything but
 * `list` (where none means all namespaces); cluster-scoped kinds take `undefined` (or '').
 * Every failure rejects with a {@link KubeError} (`KE_KUBE_NOT_FOUND`, `KE_KUBE_CONFLICT`, ...).
 */
export interface CrdClient<T extends KubernetesObject> {
  /** The definition this client serves. */
  readonly resource: ResourceDefinition;
  get(namespace: string | undefined, name: string): Promise<T>;
  list(namespace?: string, options?: ListOptions): Promise<KubeList<T>>;
  /** Creates `object` in its `metadata.namespace`; `apiVersion` and `kind` are filled in if missing. */
  create(object: T): Promise<T>;
  /** Replaces the object (send the `resourceVersion` you read to get `KE_KUBE_CONFLICT` on races). */
  replace(object: T): Promise<T>;
  /** `merge` (RFC 7386 merge patch, the default) or `json` (RFC 6902 operations). */
  patch(namespace: string | undefined, name: string, patch: unknown, type?: PatchType): Promise<T>;
  /** Replaces the `status` subresource (kinds that have one; for the others `replace` writes status). */
  replaceStatus(object: T): Promise<T>;
  /**
   * Patches the `status` subresource: no resourceVersion needed, so it suits writers that own
   * the status (custom resources refuse an unconditional `replaceStatus`).
   */
  patchStatus(
    namespace: string | undefined,
    name: string,
    patch: unknown,
    type?: PatchType,
  ): Promise<T>;
  delete(namespace: string | undefined, name: string, options?: DeleteOptions): Promise<void>;
  /** URL path to list/watch, for client-node's `Watch` (all namespaces when none is given). */
  watchPath(namespace?: string): string;
}

function invalidArgument(message: string): KubeError {
  return new KubeError(KubeErrorCode.InvalidArgument, message, { reason: message });
}

/**
 * A typed client for one of our CRDs, on client-node's `CustomObjectsApi`.
 *
 * @example
 * ```ts
 * const devices = createCrdClient(loadKubeConfig(), DeviceResource); // CrdClient<Device>
 * const device = await devices.get('default', 'thermometer');
 * await devices.patch('default', 'thermometer', { spec: { nodeName: 'edge-2' } });
 * ```
 */
export function createCrdClient<R extends ResourceDefinition>(
  kc: KubeConfig,
  resource: R,
): CrdClient<ObjectOf<R>>;
export function createCrdClient<T extends KubernetesObject>(
  kc: KubeConfig,
  resource: ResourceDefinition,
): CrdClient<T>;
export function createCrdClient(
  kc: KubeConfig,
  resource: ResourceDefinition,
): CrdClient<KubernetesObject> {
  let api: CustomObjectsApi;
  try {
    api = kc.makeApiClient(CustomObjectsApi);
  } catch (error) {
    throw new KubeError(
      KubeErrorCode.ConfigInvalid,
      `cannot make an API client: ${error instanceof Error ? error.message : String(error)}`,
      { reason: 'no active cluster', cause: error },
    );
  }
  const { group, version, plural, kind } = resource;
  const namespaced = resource.scope === 'Namespaced';
  const fullName = `${plural}.${group}`;

  /** The namespace to address, checked against the kind's scope. */
  const scopeOf = (namespace: string | undefined, what: string): string | undefined => {
    if (namespaced) {
      if (!namespace) throw invalidArgument(`${what}: ${kind} is namespaced; give a namespace`);
      return namespace;
    }
    if (namespace) {
      throw invalidArgument(`${what}: ${kind} is cluster-scoped; got namespace "${namespace}"`);
    }
    return undefined;
  };

  const describe = (verb: string, namespace: string | undefined, name?: string) =>
    `${verb} ${fullName} ${[namespace, name].filter(Boolean).join('/')}`.trimEnd();

  const call = async <R>(operation: string, request: () => Promise<R>): Promise<R> => {
    try {
      return await request();
    } catch (error) {
      throw toKubeError(error, operation);
    }
  };

  const nameOf = (object: KubernetesObject, what: string): string => {
    const name = object.metadata?.name;
    if (!name) throw invalidArgument(`${what}: metadata.name is required`);
    return name;
  };

  // An empty name would address the collection instead of an object.
  const requireName = (name: string, what: string): void => {
    if (typeof name !== 'string' || name === '') throw invalidArgument(`${what}: name is required`);
  };

  const withTypeMeta = (object: KubernetesObject): KubernetesObject => ({
    ...object,
    apiVersion: object.apiVersion ?? resource.apiVersion,
    kind: object.kind ?? kind,
  });

  return {
    resource,

    async get(namespace, name) {
      const ns = scopeOf(namespace, `get ${kind}`);
      requireName(name, `get ${kind}`);
      return call(describe('get', ns, name), () =>
        ns === undefined
          ? api.getClusterCustomObject({ group, version, plural, name })
          : api.getNamespacedCustomObject({ group, version, plural, namespace: ns, name }),
      );
    },

    async list(namespace, options = {}) {
      if (!namespaced && namespace) {
        throw invalidArgument(
          `list ${kind}: ${kind} is cluster-scoped; got namespace "${namespace}"`,
        );
      }
      const query = {
        group,
        version,
        plural,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        limit: options.limit,
        _continue: options.continue,
        resourceVersion: options.resourceVersion,
        resourceVersionMatch: options.resourceVersionMatch,
      };
      return call(describe('list', namespace || undefined), () => {
        if (!namespaced) return api.listClusterCustomObject(query);
        if (namespace) return api.listNamespacedCustomObject({ ...query, namespace });
        return api.listCustomObjectForAllNamespaces(query);
      });
    },

    async create(object) {
      const ns = scopeOf(object.metadata?.namespace, `create ${kind}`);
      const body = withTypeMeta(object);
      const name = object.metadata?.name ?? object.metadata?.generateName ?? '';
      return call(describe('create', ns, name), () =>
        ns === undefined
          ? api.createClusterCustomObject({ group, version, plural, body })
          : api.createNamespacedCustomObject({ group, version, plural, namespace: ns, body }),
      );
    },

    async replace(object) {
      const ns = scopeOf(object.metadata?.namespace, `replace ${kind}`);
      const name = nameOf(object, `replace ${kind}`);
      const body = withTypeMeta(object);
      return call(describe('replace', ns, name), () =>
        ns === undefined
          ? api.replaceClusterCustomObject({ group, version, plural, name, body })
          : api.replaceNamespacedCustomObject({
              group,
              version,
              plural,
              namespace: ns,
              name,
              body,
            }),
      );
    },

    async patch(namespace, name, patch, type = 'merge') {
      const ns = scopeOf(namespace, `patch ${kind}`);
      requireName(name, `patch ${kind}`);
      if (type !== 'merge' && type !== 'json') {
        throw invalidArgument(`patch ${kind}: type must be 'merge' or 'json', got "${type}"`);
      }
      if (type === 'json' && !Array.isArray(patch)) {
        throw invalidArgument(`patch ${kind}: a JSON patch is an array of operations`);
      }
      const contentType = type === 'json' ? PatchStrategy.JsonPatch : PatchStrategy.MergePatch;
      const options = setHeaderOptions('Content-Type', contentType);
      return call(describe(`patch (${type})`, ns, name), () =>
        ns === undefined
          ? api.patchClusterCustomObject({ group, version, plural, name, body: patch }, options)
          : api.patchNamespacedCustomObject(
              { group, version, plural, namespace: ns, name, body: patch },
              options,
            ),
      );
    },

    async patchStatus(namespace, name, patch, type = 'merge') {
      if (!resource.subresources.status) {
        throw invalidArgument(
          `patch status of ${kind}: ${kind} has no status subresource; use patch`,
        );
      }
      const ns = scopeOf(namespace, `patch status of ${kind}`);
      requireName(name, `patch status of ${kind}`);
      if (type !== 'merge' && type !== 'json') {
        throw invalidArgument(
          `patch status of ${kind}: type must be 'merge' or 'json', got "${type}"`,
        );
      }
      const contentType = type === 'json' ? PatchStrategy.JsonPatch : PatchStrategy.MergePatch;
      const options = setHeaderOptions('Content-Type', contentType);
      return call(describe(`patch status (${type}) of`, ns, name), () =>
        ns === undefined
          ? api.patchClusterCustomObjectStatus(
              { group, version, plural, name, body: patch },
              options,
            )
          : api.patchNamespacedCustomObjectStatus(
              { group, version, plural, namespace: ns, name, body: patch },
              options,
            ),
      );
    },

    async replaceStatus(object) {
      if (!resource.subresources.status) {
        throw invalidArgument(
          `replace status of ${kind}: ${kind} has no status subresource; use replace`,
        );
      }
      const ns = scopeOf(object.metadata?.namespace, `replace status of ${kind}`);
      const name = nameOf(object, `replace status of ${kind}`);
      const body = withTypeMeta(object);
      return call(describe('replace status of', ns, name), () =>
        ns === undefined
          ? api.replaceClusterCustomObjectStatus({ group, version, plural, name, body })
          : api.replaceNamespacedCustomObjectStatus({
              group,
              version,
              plural,
              namespace: ns,
              name,
              body,
            }),
      );
    },

    async delete(namespace, name, options = {}) {
      const ns = scopeOf(namespace, `delete ${kind}`);
      requireName(name, `delete ${kind}`);
      const body = {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        ...(options.propagationPolicy ? { propagationPolicy: options.propagationPolicy } : {}),
        ...(options.gracePeriodSeconds === undefined
          ? {}
          : { gracePeriodSeconds: options.gracePeriodSeconds }),
        ...(options.preconditions ? { preconditions: options.preconditions } : {}),
      };
      await call(describe('delete', ns, name), () =>
        ns === undefined
          ? api.deleteClusterCustomObject({ group, version, plural, name, body })
          : api.deleteNamespacedCustomObject({ group, version, plural, namespace: ns, name, body }),
      );
    },

    watchPath(namespace) {
      if (!namespaced && namespace) {
        throw invalidArgument(
          `watch ${kind}: ${kind} is cluster-scoped; got namespace "${namespace}"`,
        );
      }
      const base = `/apis/${group}/${version}`;
      return namespaced && namespace
        ? `${base}/namespaces/${encodeURIComponent(namespace)}/${plural}`
        : `${base}/${plural}`;
    },
  };
}
