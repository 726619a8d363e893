import { type Static, Type } from '@sinclair/typebox';
import { kindSchema } from './k8s-builtins';
import { defineResource } from './resource';

/**
 * `reliablesyncs.kubeedge.io/v1alpha1`: ObjectSync and ClusterObjectSync, as in KubeEdge's
 * `pkg/apis/reliablesyncs/v1alpha1`. CloudHub keeps one per (edge node, object) it delivered;
 * the name is `<node name>.<object UID>`.
 */

export const RELIABLESYNCS_GROUP = 'reliablesyncs.kubeedge.io';
export const RELIABLESYNCS_VERSION = 'v1alpha1';

export const ObjectSyncSpecSchema = Type.Object(
  {
    objectAPIVersion: Type.Optional(
      Type.String({
        description:
          'ObjectAPIVersion is the APIVersion of the object that was successfully persist to the edge node.',
      }),
    ),
    objectKind: Type.Optional(
      Type.String({
        description:
          'ObjectType is the kind of the object that was successfully persist to the edge node.',
      }),
    ),
    objectName: Type.Optional(
      Type.String({
        description:
          'ObjectName is the name of the object that was successfully persist to the edge node.',
      }),
    ),
  },
  { description: 'ObjectSyncSpec stores the details of objects that persist to the edge.' },
);

export const ObjectSyncStatusSchema = Type.Object(
  {
    objectResourceVersion: Type.Optional(
      Type.String({
        description:
          'ObjectResourceVersion is the resourceversion of the object that was successfully persist to the edge node.',
      }),
    ),
  },
  {
    description: 'ObjectSyncStatus stores the resourceversion of objects that persist to the edge.',
  },
);

const OBJECT_SYNC_DESCRIPTION =
  'ObjectSync stores the state of the namespaced object that was successfully persisted to the edge node.';
const CLUSTER_OBJECT_SYNC_DESCRIPTION =
  'ClusterObjectSync stores the state of the cluster level, nonNamespaced object that was successfully persisted to the edge node.';

export const ObjectSyncSchema = kindSchema(
  `${RELIABLESYNCS_GROUP}/${RELIABLESYNCS_VERSION}`,
  'ObjectSync',
  {
    spec: ObjectSyncSpecSchema,
    status: Type.Optional(ObjectSyncStatusSchema),
  },
  OBJECT_SYNC_DESCRIPTION,
);

export const ClusterObjectSyncSchema = kindSchema(
  `${RELIABLESYNCS_GROUP}/${RELIABLESYNCS_VERSION}`,
  'ClusterObjectSync',
  {
    spec: ObjectSyncSpecSchema,
    status: Type.Optional(ObjectSyncStatusSchema),
  },
  CLUSTER_OBJECT_SYNC_DESCRIPTION,
);

export type ObjectSyncSpec = Static<typeof ObjectSyncSpecSchema>;
export type ObjectSyncStatus = Static<typeof ObjectSyncStatusSchema>;
export type ObjectSync = Static<typeof ObjectSyncSchema>;
export type ClusterObjectSync = Static<typeof ClusterObjectSyncSchema>;

export const ObjectSyncResource = defineResource({
  group: RELIABLESYNCS_GROUP,
  version: RELIABLESYNCS_VERSION,
  kind: 'ObjectSync',
  plural: 'objectsyncs',
  singular: 'objectsync',
  shortNames: [],
  scope: 'Namespaced',
  description: OBJECT_SYNC_DESCRIPTION,
  schema: ObjectSyncSchema,
  subresources: { status: true },
  printerColumns: [],
  crdFileName: 'objectsync_v1alpha1.yaml',
});

export const ClusterObjectSyncResource = defineResource({
  group: RELIABLESYNCS_GROUP,
  version: RELIABLESYNCS_VERSION,
  kind: 'ClusterObjectSync',
  plural: 'clusterobjectsyncs',
  singular: 'clusterobjectsync',
  shortNames: [],
  // The Go type says `scope=Cluster` (+genclient:nonNamespaced); some upstream YAML said Namespaced.
  scope: 'Cluster',
  description: CLUSTER_OBJECT_SYNC_DESCRIPTION,
  schema: ClusterObjectSyncSchema,
  subresources: { status: true },
  printerColumns: [],
  crdFileName: 'cluster_objectsync_v1alpha1.yaml',
});
