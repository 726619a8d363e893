import type { KubeObject } from './store/types';

/** Verbs as discovery lists them. */
export const ALL_VERBS = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
] as const;
export type Verb = (typeof ALL_VERBS)[number];

/** One field-level problem found by a resource's validator. */
export interface FieldProblem {
  readonly field: string;
  readonly message: string;
  readonly reason?: string;
}

/** A served resource: what discovery lists and what the handlers need to serve it. */
export interface ResourceInfo {
  /** API group; `''` for the legacy core group. */
  readonly group: string;
  readonly version: string;
  /** Plural resource name in URLs, e.g. `pods`. */
  readonly resource: string;
  readonly kind: string;
  readonly listKind: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly verbs: readonly Verb[];
  /** Whether `status` is a subresource: writes to the main resource then keep the stored status. */
  readonly statusSubresource: boolean;
  /** Key of the collection in the store: `<group or core>/<plural>`. */
  readonly storageResource: string;
  /** Set for resources defined by a CustomResourceDefinition. */
  readonly custom: boolean;
  /** Checks an object before it is stored; empty when valid. */
  readonly validate?: (object: KubeObject) => readonly FieldProblem[];
  /**
   * Fills in server-set fields of a new object (strategy PrepareForCreate). Runs inside the
   * create's store transaction, so it may read the store (Service IP allocation) and throw an
   * `ApiError` to refuse the object.
   */
  readonly prepare?: (object: KubeObject) => void;
  /**
   * Fills in and checks server-owned fields of a replaced object (strategy PrepareForUpdate plus
   * immutability checks), given the stored version. Runs inside the update's transaction; not
   * called for the status subresource.
   */
  readonly prepareUpdate?: (next: KubeObject, current: KubeObject) => void;
  /** Fields the schema does not know, as paths (for `fieldValidation=Strict|Warn`). */
  readonly unknownFields?: (object: KubeObject) => string[];
  /** The OpenAPI v3 schema of the kind, for `/openapi/v3` (CRDs have one). */
  readonly openAPISchema?: Record<string, unknown>;
  /** Removes fields the schema does not know (CRD pruning). */
  readonly prune?: (object: KubeObject) => KubeObject;
  /** Extra `kubectl get` columns (CRD `additionalPrinterColumns`). */
  readonly printerColumns?: readonly PrinterColumn[];
}

export interface PrinterColumn {
  readonly name: string;
  readonly type: string;
  readonly jsonPath: string;
  readonly description?: string;
  readonly priority?: number;
  readonly format?: string;
}

/** `apps/v1` or `v1`. */
export function groupVersion(info: Pick<ResourceInfo, 'group' | 'version'>): string {
  return info.group ? `${info.group}/${info.version}` : info.version;
}

export function storageResourceOf(group: string, resource: string): string {
  return `${group || 'core'}/${resource}`;
}

type BuiltinSpec = [
  group: string,
  version: string,
  resource: string,
  kind: string,
  namespaced: boolean,
  shortNames: string[],
  statusSubresource: boolean,
  categories?: string[],
];

const BUILTINS: BuiltinSpec[] = [
  ['', 'v1', 'namespaces', 'Namespace', false, ['ns'], true],
  ['', 'v1', 'nodes', 'Node', false, ['no'], true],
  ['', 'v1', 'pods', 'Pod', true, ['po'], true, ['all']],
  ['', 'v1', 'services', 'Service', true, ['svc'], true, ['all']],
  ['', 'v1', 'endpoints', 'Endpoints', true, ['ep'], false],
  ['', 'v1', 'configmaps', 'ConfigMap', true, ['cm'], false],
  ['', 'v1', 'secrets', 'Secret', true, [], false],
  ['', 'v1', 'events', 'Event', true, ['ev'], false],
  ['', 'v1', 'serviceaccounts', 'ServiceAccount', true, ['sa'], false],
  ['coordination.k8s.io', 'v1', 'leases', 'Lease', true, [], false],
  ['discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true, [], false],
  ['apps', 'v1', 'deployments', 'Deployment', true, ['deploy'], true, ['all']],
  ['apps', 'v1', 'replicasets', 'ReplicaSet', true, ['rs'], true, ['all']],
  ['apps', 'v1', 'daemonsets', 'DaemonSet', true, ['ds'], true, ['all']],
  [
    'apiextensions.k8s.io',
    'v1',
    'customresourcedefinitions',
    'CustomResourceDefinition',
    false,
    ['crd', 'crds'],
    true,
    ['api-extensions'],
  ],
];

export function builtinResources(): ResourceInfo[] {
  return BUILTINS.map(
    ([group, version, resource, kind, namespaced, shortNames, statusSubresource, categories]) => ({
      group,
      version,
      resource,
      kind,
      listKind: `${kind}List`,
      singular: kind.toLowerCase(),
      namespaced,
      shortNames,
      categories: categories ?? [],
      verbs: ALL_VERBS,
      statusSubresource,
      storageResource: storageResourceOf(group, resource),
      custom: false,
    }),
  );
}

/**
 * The resources this server serves, by group, version and plural. CRDs add and remove entries
 * at run time; discovery and routing read it on every request.
 */
export class ResourceRegistry {
  readonly #byKey = new Map<string, ResourceInfo>();

  constructor(resources: readonly ResourceInfo[] = builtinResources()) {
    for (const info of resources) this.add(info);
  }

  add(info: ResourceInfo): void {
    this.#byKey.set(`${info.group}/${info.version}/${info.resource}`, info);
  }

  remove(group: string, resource: string): void {
    for (const [key, info] of this.#byKey) {
      if (info.group === group && info.resource === resource) this.#byKey.delete(key);
    }
  }

  find(group: string, version: string, resource: string): ResourceInfo | undefined {
    return this.#byKey.get(`${group}/${version}/${resource}`);
  }

  /** The resource whose objects have this `apiVersion` and `kind`. */
  findKind(apiVersion: string, kind: string): ResourceInfo | undefined {
    for (const info of this.#byKey.values()) {
      if (groupVersion(info) === apiVersion && info.kind === kind) return info;
    }
    return undefined;
  }

  all(): ResourceInfo[] {
    return [...this.#byKey.values()];
  }

  /** Group → versions (sorted, preferred first) → resources. */
  groups(): Map<string, Map<string, ResourceInfo[]>> {
    const groups = new Map<string, Map<string, ResourceInfo[]>>();
    for (const info of this.#byKey.values()) {
      const versions = groups.get(info.group) ?? new Map<string, ResourceInfo[]>();
      groups.set(info.group, versions);
      versions.set(info.version, [...(versions.get(info.version) ?? []), info]);
    }
    return groups;
  }
}
