/**
 * String constants KubeEdge puts on the wire and uses inside its apps. Values are exactly
 * KubeEdge's (beehive `model/message.go`, `common/constants`, `edge/pkg/common/message`,
 * cloudhub's model); the keys are ours. Messages may carry values not listed here: these are
 * conveniences, not a closed set, so `route.operation` is typed as `string`.
 */

/** `route.operation` values. */
export const Operation = {
  // beehive model: operations on resources
  Insert: 'insert',
  Update: 'update',
  Patch: 'patch',
  Delete: 'delete',
  Query: 'query',
  Upload: 'upload',
  /** A reply; `header.parent_msg_id` names the request. ACKs are responses with content "OK". */
  Response: 'response',
  /** An error reply (beehive `ResponseErrorOperation`). */
  Error: 'error',
  /** Edge → cloud heartbeat: group `resource`, resource `node`, content `"ping"`. */
  Keepalive: 'keepalive',
  // edgehub / eventbus / servicebus (edge/pkg/common/message)
  /** Edgehub tells local modules about the cloud connection (resource `node/connection`). */
  Connect: 'connect',
  Subscribe: 'subscribe',
  Unsubscribe: 'unsubscribe',
  Message: 'message',
  Publish: 'publish',
  GetResult: 'get_result',
  Start: 'start',
  Stop: 'stop',
  // device twin and cloudhub (common/constants/resourceoperations.go)
  Get: 'get',
  List: 'list',
  Detail: 'detail',
  Delta: 'delta',
  Document: 'document',
  /** Twin "updated" (past tense, distinct from `update`). */
  Updated: 'updated',
  /** Twin "deleted" (past tense, distinct from `delete`). */
  Deleted: 'deleted',
  Connected: 'connected',
  Disconnected: 'disconnected',
  MetaInternalSync: 'meta-internal-sync',
  FunctionAction: 'action',
  FunctionActionResult: 'action_result',
} as const;
export type Operation = (typeof Operation)[keyof typeof Operation];

/**
 * Group names. The first four are what `route.group` carries between cloud and edge (edgehub
 * dispatches on them); the rest are beehive module groups inside the apps, used with
 * `router.sendToGroup`.
 */
export const Group = {
  /** Kubernetes objects (pods, configmaps, node status ...); dispatched to the meta group. */
  Resource: 'resource',
  /** Device twin traffic; dispatched to the twin group. */
  Twin: 'twin',
  /** Function traffic; dispatched to the meta group. */
  Func: 'func',
  /** ServiceBus traffic; dispatched to the bus group. */
  User: 'user',
  // edge module groups (edge/pkg/common/modules/group.go)
  Meta: 'meta',
  Hub: 'hub',
  Bus: 'bus',
  Edged: 'edged',
  Mesh: 'mesh',
  Proxy: 'proxy',
  // cloud module groups (cloud/pkg/common/modules/modules.go)
  CloudHub: 'cloudhub',
  EdgeController: 'edgecontroller',
  DeviceController: 'devicecontroller',
  SyncController: 'synccontroller',
  DynamicController: 'dynamiccontroller',
  Router: 'router',
} as const;
export type Group = (typeof Group)[keyof typeof Group];

/** The `<type>` segment of resource strings. */
export const ResourceType = {
  Pod: 'pod',
  PodList: 'podlist',
  PodStatus: 'podstatus',
  PodPatch: 'podpatch',
  ConfigMap: 'configmap',
  Secret: 'secret',
  ServiceAccountToken: 'serviceaccounttoken',
  Service: 'service',
  ServiceList: 'servicelist',
  Endpoints: 'endpoints',
  EndpointsList: 'endpointslist',
  Node: 'node',
  NodeStatus: 'nodestatus',
  NodePatch: 'nodepatch',
  Lease: 'lease',
  PersistentVolume: 'persistentvolume',
  PersistentVolumeClaim: 'persistentvolumeclaim',
  VolumeAttachment: 'volumeattachment',
  Volume: 'volume',
  Rule: 'rule',
  RuleEndpoint: 'ruleendpoint',
  RuleStatus: 'rulestatus',
  Membership: 'membership',
  Twin: 'twin',
  Device: 'device',
  AuthInfo: 'auth_info',
} as const;
export type ResourceType = (typeof ResourceType)[keyof typeof ResourceType];

/**
 * The Kubernetes kind of each resource type that names an object (`pod` → `Pod`), for the
 * types the cloud sends to edge nodes and records in ObjectSyncs. One table for every package
 * that maps between the two.
 */
const KIND_BY_RESOURCE_TYPE: ReadonlyMap<string, string> = new Map([
  ['pod', 'Pod'],
  ['configmap', 'ConfigMap'],
  ['secret', 'Secret'],
  ['service', 'Service'],
  ['endpoints', 'Endpoints'],
  ['endpointslice', 'EndpointSlice'],
  ['node', 'Node'],
  ['lease', 'Lease'],
  ['device', 'Device'],
  ['devicemodel', 'DeviceModel'],
  ['persistentvolume', 'PersistentVolume'],
  ['persistentvolumeclaim', 'PersistentVolumeClaim'],
  ['volumeattachment', 'VolumeAttachment'],
  ['serviceaccounttoken', 'ServiceAccountToken'],
]);
const RESOURCE_TYPE_BY_KIND: ReadonlyMap<string, string> = new Map(
  [...KIND_BY_RESOURCE_TYPE].map(([type, kind]) => [kind, type]),
);

/** The kind of the objects of resource type `type` (`configmap` → `ConfigMap`), if known. */
export function kindOfResourceType(type: string): string | undefined {
  return KIND_BY_RESOURCE_TYPE.get(type);
}

/** The resource type of objects of kind `kind` (`ConfigMap` → `configmap`), if known. */
export function resourceTypeOfKind(kind: string): string | undefined {
  return RESOURCE_TYPE_BY_KIND.get(kind);
}

/**
 * Module names, which are also the `route.source` values peers see. DeviceTwin is `twin`
 * because cloudhub routes upstream messages whose source is `twin` to devicecontroller.
 * EdgeHub is `edgehub` as in this project's wire fixtures (KubeEdge's Go module is named
 * `websocket`; nothing routes on it).
 */
export const ModuleName = {
  // edge
  EdgeHub: 'edgehub',
  MetaManager: 'metamanager',
  Edged: 'edged',
  DeviceTwin: 'twin',
  EventBus: 'eventbus',
  ServiceBus: 'servicebus',
  EdgeStream: 'edgestream',
  TaskManager: 'taskmanager',
  // cloud
  CloudHub: 'cloudhub',
  EdgeController: 'edgecontroller',
  DeviceController: 'devicecontroller',
  SyncController: 'synccontroller',
  DynamicController: 'dynamiccontroller',
  CloudStream: 'cloudStream',
  Router: 'router',
} as const;
export type ModuleName = (typeof ModuleName)[keyof typeof ModuleName];

/** Resource of the message edgehub sends local modules when the cloud connection changes. */
export const NODE_CONNECTION_RESOURCE = 'node/connection';

/** Content of an ACK and of a successful response (KubeEdge `MessageSuccessfulContent`). */
export const ACK_CONTENT = 'OK';

/** Content of a keepalive message. */
export const KEEPALIVE_CONTENT = 'ping';
