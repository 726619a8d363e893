/**
 * How a strategic merge patch treats a field, as the `patchStrategy` Go struct tag says:
 * - `merge`: a list is merged item by item (by `patchMergeKey` for lists of objects, by value for
 *   lists of scalars);
 * - `replace`: the patch value replaces the field (the default for lists, which Kubernetes calls
 *   atomic);
 * - `retainKeys`: for maps, like merge when applying (the strategy only shapes the patches clients
 *   compute; a `$retainKeys` directive in the patch is what clears keys);
 * - `merge,retainKeys`: a merged list whose items may carry `$retainKeys` (pod `volumes`).
 */
export type PatchStrategy = 'merge' | 'replace' | 'retainKeys' | 'merge,retainKeys';

export interface PatchFieldMeta {
  readonly patchStrategy: PatchStrategy;
  /** The field that identifies an item of a merged list of objects (`name` for containers). */
  readonly patchMergeKey?: string;
}

/**
 * Patch metadata of one kind, by field path: dot-separated JSON field names from the object root,
 * with `[]` after a list field for its items (`spec.containers[].env`). Fields not listed are
 * merged when they are objects and replaced when they are lists, which is also how Kubernetes
 * treats lists that have no patch strategy.
 */
export type PatchSchema = Readonly<Record<string, PatchFieldMeta>>;

const merge = (patchMergeKey?: string): PatchFieldMeta =>
  patchMergeKey === undefined
    ? { patchStrategy: 'merge' }
    : { patchStrategy: 'merge', patchMergeKey };

const mergeRetainingKeys = (patchMergeKey: string): PatchFieldMeta => ({
  patchStrategy: 'merge,retainKeys',
  patchMergeKey,
});

/** Joins a prefix (possibly empty) and a field path. */
const at = (prefix: string, path: string) => (prefix === '' ? path : `${prefix}.${path}`);

/** `metav1.ObjectMeta` at `prefix` (`metadata`, `spec.template.metadata`). */
function objectMeta(prefix: string): Record<string, PatchFieldMeta> {
  return {
    [at(prefix, 'finalizers')]: merge(),
    [at(prefix, 'ownerReferences')]: merge('uid'),
  };
}

/** `core/v1.Container` (and `EphemeralContainer`) at `prefix`. */
function container(prefix: string): Record<string, PatchFieldMeta> {
  return {
    [at(prefix, 'ports')]: merge('containerPort'),
    [at(prefix, 'env')]: merge('name'),
    [at(prefix, 'volumeMounts')]: merge('mountPath'),
    [at(prefix, 'volumeDevices')]: merge('devicePath'),
    // args, command, envFrom, resizePolicy have no patch strategy: they are replaced.
  };
}

/** `core/v1.PodSpec` at `prefix`. `tolerations`, `readinessGates` have no strategy (replaced). */
function podSpec(prefix: string): Record<string, PatchFieldMeta> {
  return {
    [at(prefix, 'volumes')]: mergeRetainingKeys('name'),
    [at(prefix, 'initContainers')]: merge('name'),
    ...container(at(prefix, 'initContainers[]')),
    [at(prefix, 'containers')]: merge('name'),
    ...container(at(prefix, 'containers[]')),
    [at(prefix, 'ephemeralContainers')]: merge('name'),
    ...container(at(prefix, 'ephemeralContainers[]')),
    [at(prefix, 'imagePullSecrets')]: merge('name'),
    [at(prefix, 'hostAliases')]: merge('ip'),
    [at(prefix, 'topologySpreadConstraints')]: merge('topologyKey'),
    [at(prefix, 'schedulingGates')]: merge('name'),
    [at(prefix, 'resourceClaims')]: mergeRetainingKeys('name'),
  };
}

/** `core/v1.PodTemplateSpec` at `prefix` (`spec.template`). */
function podTemplate(prefix: string): Record<string, PatchFieldMeta> {
  return { ...objectMeta(at(prefix, 'metadata')), ...podSpec(at(prefix, 'spec')) };
}

/** Lists of conditions merged by `type` (`status.conditions` of most kinds). */
const conditions = (prefix: string) => ({ [at(prefix, 'conditions')]: merge('type') });

const metadata = objectMeta('metadata');

/** A kind that has only object metadata with patch strategies (ConfigMap, Secret, CRs, ...). */
export const objectMetaPatchSchema: PatchSchema = Object.freeze({ ...metadata });

const workload = (extra: Record<string, PatchFieldMeta> = {}): PatchSchema =>
  Object.freeze({
    ...metadata,
    ...podTemplate('spec.template'),
    ...conditions('status'),
    ...extra,
  });

/**
 * Patch metadata of the built-in kinds, taken from the struct tags of `k8s.io/api` (`core/v1`,
 * `apps/v1`, `batch/v1`) and `metav1.ObjectMeta`. Keyed by kind.
 */
export const builtinPatchSchemas: Readonly<Record<string, PatchSchema>> = Object.freeze({
  Pod: Object.freeze({
    ...metadata,
    ...podSpec('spec'),
    ...conditions('status'),
    'status.podIPs': merge('ip'),
    'status.hostIPs': merge('ip'),
    'status.resourceClaimStatuses': mergeRetainingKeys('name'),
  }),
  PodTemplate: Object.freeze({ ...metadata, ...podTemplate('template') }),
  ReplicationController: workload(),
  Deployment: workload({ 'spec.strategy': { patchStrategy: 'retainKeys' } }),
  ReplicaSet: workload(),
  DaemonSet: workload(),
  StatefulSet: workload(),
  Job: workload(),
  CronJob: Object.freeze({
    ...metadata,
    ...objectMeta('spec.jobTemplate.metadata'),
    ...podTemplate('spec.jobTemplate.spec.template'),
  }),
  Node: Object.freeze({
    ...metadata,
    'spec.podCIDRs': merge(),
    ...conditions('status'),
    'status.addresses': merge('type'),
  }),
  Service: Object.freeze({ ...metadata, 'spec.ports': merge('port'), ...conditions('status') }),
  Namespace: Object.freeze({ ...metadata, ...conditions('status') }),
  PersistentVolumeClaim: Object.freeze({ ...metadata, ...conditions('status') }),
  ServiceAccount: Object.freeze({ ...metadata, secrets: merge('name') }),
  // Lists in these have no patch strategy (Endpoints `subsets`, EndpointSlice `endpoints` and
  // `ports` are atomic): only their metadata merges.
  ConfigMap: objectMetaPatchSchema,
  Secret: objectMetaPatchSchema,
  Endpoints: objectMetaPatchSchema,
  EndpointSlice: objectMetaPatchSchema,
  Event: objectMetaPatchSchema,
  Lease: objectMetaPatchSchema,
});

/**
 * The schema to apply a strategic merge patch to a built-in kind with: its entry in
 * {@link builtinPatchSchemas}, else {@link objectMetaPatchSchema}. Custom resources do not support
 * strategic merge patch at all; see `unsupportedPatchTypeError`.
 */
export function patchSchemaForKind(kind: string): PatchSchema {
  return Object.hasOwn(builtinPatchSchemas, kind)
    ? (builtinPatchSchemas[kind] ?? objectMetaPatchSchema)
    : objectMetaPatchSchema;
}
