import {
  type EdgeApplication,
  EdgeApplicationResource,
  type NodeGroup,
  NodeGroupResource,
} from './apps';
import { type Device, type DeviceModel, DeviceModelResource, DeviceResource } from './devices';
import {
  type ImagePullJob,
  ImagePullJobResource,
  type NodeImage,
  NodeImageResource,
} from './kruise';
import {
  type ClusterObjectSync,
  ClusterObjectSyncResource,
  type ObjectSync,
  ObjectSyncResource,
} from './reliablesyncs';
import type { ResourceDefinition } from './resource';

/** An object of any kind this package knows; narrow it on `kind`. */
export type KnownObject =
  | Device
  | DeviceModel
  | NodeGroup
  | EdgeApplication
  | ImagePullJob
  | NodeImage
  | ObjectSync
  | ClusterObjectSync;

/** Every kind this package knows, in the order their CRDs are listed. */
export const resources: readonly ResourceDefinition[] = Object.freeze([
  DeviceResource,
  DeviceModelResource,
  NodeGroupResource,
  EdgeApplicationResource,
  ImagePullJobResource,
  NodeImageResource,
  ObjectSyncResource,
  ClusterObjectSyncResource,
]);

/** The definition for `apiVersion` + `kind`, or `undefined` if this package does not know it. */
export function findResource(apiVersion: string, kind: string): ResourceDefinition | undefined {
  return resources.find((resource) => resource.apiVersion === apiVersion && resource.kind === kind);
}
