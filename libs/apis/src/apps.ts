import { type Static, Type } from '@sinclair/typebox';
import {
  EmbeddedObjectSchema,
  EnvVarSchema,
  kindSchema,
  LabelSelectorSchema,
  ResourceRequirementsSchema,
} from './k8s-builtins';
import { defineResource } from './resource';
import { StringEnum, StringMap } from './schema-helpers';

/**
 * `apps.kubeedge.io/v1alpha1`: NodeGroup and EdgeApplication, as in KubeEdge's
 * `pkg/apis/apps/v1alpha1` and `build/crds/apps/`.
 */

export const APPS_GROUP = 'apps.kubeedge.io';
export const APPS_VERSION = 'v1alpha1';

// ---------------------------------------------------------------------------------------------
// NodeGroup

export const NODE_READY_STATUSES = ['Ready', 'NotReady', 'Unknown'] as const;
export const NODE_SELECTION_STATUSES = ['Succeeded', 'Failed'] as const;

export const NodeGroupSpecSchema = Type.Object(
  {
    nodes: Type.Optional(
      Type.Array(Type.String(), {
        description: 'Nodes contains names of all the nodes in the nodegroup.',
      }),
    ),
    matchLabels: Type.Optional(
      StringMap({ description: 'MatchLabels are used to select nodes that have these labels.' }),
    ),
    topologyEnabled: Type.Optional(
      Type.Boolean({
        description:
          'topologyEnabled indicates whether the topology is enabled for this NodeGroup.',
      }),
    ),
  },
  { description: 'Spec represents the specification of the desired behavior of member nodegroup.' },
);

export const NodeGroupNodeStatusSchema = Type.Object(
  {
    nodeName: Type.String({ description: 'NodeName contains name of this node.' }),
    readyStatus: StringEnum(NODE_READY_STATUSES, {
      description: 'ReadyStatus contains ready status of this node.',
    }),
    selectionStatus: StringEnum(NODE_SELECTION_STATUSES, {
      description: 'SelectionStatus contains status of the selection result for this node.',
    }),
    selectionStatusReason: Type.Optional(
      Type.String({
        description:
          'SelectionStatusReason contains human-readable reason for this SelectionStatus.',
      }),
    ),
  },
  { description: 'NodeStatus contains status of node that selected by this NodeGroup.' },
);

export const NodeGroupStatusSchema = Type.Object(
  {
    nodeStatuses: Type.Optional(
      Type.Array(NodeGroupNodeStatusSchema, {
        description: 'NodeStatuses is a status list of all selected nodes.',
      }),
    ),
  },
  { description: 'Status represents the status of member nodegroup.' },
);

export const NodeGroupSchema = kindSchema(
  `${APPS_GROUP}/${APPS_VERSION}`,
  'NodeGroup',
  {
    spec: NodeGroupSpecSchema,
    status: Type.Optional(NodeGroupStatusSchema),
  },
  'NodeGroup is the Schema for the nodegroups API',
);

export type NodeGroupSpec = Static<typeof NodeGroupSpecSchema>;
export type NodeGroupNodeStatus = Static<typeof NodeGroupNodeStatusSchema>;
export type NodeGroupStatus = Static<typeof NodeGroupStatusSchema>;
export type NodeGroup = Static<typeof NodeGroupSchema>;

export const NodeGroupResource = defineResource({
  group: APPS_GROUP,
  version: APPS_VERSION,
  kind: 'NodeGroup',
  plural: 'nodegroups',
  singular: 'nodegroup',
  shortNames: ['ng'],
  scope: 'Cluster',
  description: 'NodeGroup is the Schema for the nodegroups API',
  schema: NodeGroupSchema,
  subresources: { status: true },
  printerColumns: [],
  crdFileName: 'apps_v1alpha1_nodegroup.yaml',
});

// ---------------------------------------------------------------------------------------------
// EdgeApplication

export const IMAGE_COMPONENTS = ['Registry', 'Repository', 'Tag'] as const;
export const OVERRIDER_OPERATORS = ['add', 'remove', 'replace'] as const;
export const COMMAND_ARGS_OPERATORS = ['add', 'remove'] as const;
export const MANIFEST_CONDITIONS = ['Processing', 'Available'] as const;

export const ImageOverriderSchema = Type.Object(
  {
    predicate: Type.Optional(
      Type.Object(
        { path: Type.String({ description: 'Path indicates the path of target field' }) },
        {
          description:
            'Predicate filters images before applying the rule. Defaults to nil: image fields of Pod, ReplicaSet, Deployment and StatefulSet are detected automatically.',
        },
      ),
    ),
    component: StringEnum(IMAGE_COMPONENTS, {
      description:
        "Component is part of image name, which is presumed to be '[registry/]repository[:tag]'.",
    }),
    operator: StringEnum(OVERRIDER_OPERATORS, {
      description: 'Operator represents the operator which will apply on the image.',
    }),
    value: Type.Optional(
      Type.String({
        description:
          "Value to be applied to image. Must not be empty when operator is 'add' or 'replace'. Ignored when operator is 'remove'.",
      }),
    ),
  },
  { description: 'ImageOverrider represents the rules dedicated to handling image overrides.' },
);

export const EnvOverriderSchema = Type.Object(
  {
    containerName: Type.String({ description: 'The name of container' }),
    operator: StringEnum(OVERRIDER_OPERATORS, {
      description: 'Operator represents the operator which will apply on the env.',
    }),
    value: Type.Optional(
      Type.Array(EnvVarSchema, {
        description:
          "Value to be applied to env. Must not be empty when operator is 'add' or 'replace'; for 'remove' only the names are matched.",
      }),
    ),
  },
  { description: 'EnvOverrider represents the rules dedicated to handling env overrides.' },
);

export const CommandArgsOverriderSchema = Type.Object(
  {
    containerName: Type.String({ description: 'The name of container' }),
    operator: StringEnum(COMMAND_ARGS_OPERATORS, {
      description: 'Operator represents the operator which will apply on the command/args.',
    }),
    value: Type.Optional(
      Type.Array(Type.String(), {
        description:
          "Value to be applied to command/args: appended for 'add', deleted where matching for 'remove'.",
      }),
    ),
  },
  {
    description:
      'CommandArgsOverrider represents the rules dedicated to handling command/args overrides.',
  },
);

export const ResourcesOverriderSchema = Type.Object(
  {
    containerName: Type.String({ description: 'The name of container' }),
    value: Type.Optional(
      ResourceRequirementsSchema('Value to be applied to resources. Must not be empty'),
    ),
  },
  {
    description:
      'ResourcesOverrider represents the rules dedicated to handling resources overrides.',
  },
);

export const OverridersSchema = Type.Object(
  {
    replicas: Type.Optional(
      Type.Integer({
        description: 'Replicas will override the replicas field of deployment',
        minimum: 0,
      }),
    ),
    imageOverriders: Type.Optional(
      Type.Array(ImageOverriderSchema, {
        description: 'ImageOverriders represents the rules dedicated to handling image overrides.',
      }),
    ),
    envOverriders: Type.Optional(
      Type.Array(EnvOverriderSchema, {
        description: 'EnvOverriders will override the env field of the container',
      }),
    ),
    commandOverriders: Type.Optional(
      Type.Array(CommandArgsOverriderSchema, {
        description:
          'CommandOverriders represents the rules dedicated to handling container command',
      }),
    ),
    argsOverriders: Type.Optional(
      Type.Array(CommandArgsOverriderSchema, {
        description: 'ArgsOverriders represents the rules dedicated to handling container args',
      }),
    ),
    resourcesOverriders: Type.Optional(
      Type.Array(ResourcesOverriderSchema, {
        description: 'ResourcesOverriders will override the resources field of the container',
      }),
    ),
  },
  { description: 'Overriders represents the override rules that would apply on workload.' },
);

export const TargetNodeGroupSchema = Type.Object(
  {
    name: Type.String({ description: 'Name represents the name of target node group' }),
    overriders: Type.Optional(OverridersSchema),
  },
  {
    description:
      'TargetNodeGroup represents the target node group of workload to be deployed, including override rules to apply for this node group.',
  },
);

export const TargetNodeLabelsSchema = Type.Object(
  {
    labelSelector: Type.Optional(
      LabelSelectorSchema(
        'LabelSelector represents the label selectors used to match nodes for workload deployment.',
      ),
    ),
    overriders: Type.Optional(OverridersSchema),
  },
  {
    description:
      'TargetNodeLabels represents the target nodes with specified labels of workload to be deployed, including override rules to apply for the node.',
  },
);

export const WorkloadScopeSchema = Type.Object(
  {
    targetNodeGroups: Type.Optional(
      Type.Array(TargetNodeGroupSchema, {
        description:
          'TargetNodeGroups represents the target node groups of workload to be deployed.',
      }),
    ),
    targetNodeLabels: Type.Optional(
      Type.Array(TargetNodeLabelsSchema, {
        description:
          'TargetNodeLabels represents the target nodes with specified labels of workload to be deployed',
      }),
    ),
  },
  { description: 'WorkloadScope represents which node groups the workload will be deployed in.' },
);

export const ResourceTemplateSchema = Type.Object(
  {
    manifests: Type.Optional(
      Type.Array(
        EmbeddedObjectSchema(
          'Manifest represents a resource to be deployed on managed node groups.',
        ),
        {
          description:
            'Manifests represent a list of Kubernetes resources to be deployed on the managed node groups.',
        },
      ),
    ),
  },
  {
    description:
      'WorkloadTemplate contains original templates of resources to be deployed as an EdgeApplication.',
  },
);

export const EdgeApplicationSpecSchema = Type.Object(
  {
    workloadTemplate: Type.Optional(ResourceTemplateSchema),
    workloadScope: WorkloadScopeSchema,
  },
  { description: 'Spec represents the desired behavior of EdgeApplication.' },
);

export const ResourceIdentifierSchema = Type.Object(
  {
    ordinal: Type.Integer({
      description:
        'Ordinal represents an index in manifests list, so the condition can still be linked to a manifest.',
      minimum: 0,
    }),
    group: Type.Optional(Type.String({ description: 'Group is the group of the resource.' })),
    version: Type.Optional(Type.String({ description: 'Version is the version of the resource.' })),
    kind: Type.Optional(Type.String({ description: 'Kind is the kind of the resource.' })),
    resource: Type.Optional(
      Type.String({ description: 'Resource is the resource type of the resource' }),
    ),
    namespace: Type.Optional(
      Type.String({ description: 'Namespace is the namespace of the resource' }),
    ),
    name: Type.Optional(Type.String({ description: 'Name is the name of the resource' })),
  },
  { description: 'Identifier represents the identity of a resource linking to manifests in spec.' },
);

export const ManifestStatusSchema = Type.Object(
  {
    identifier: ResourceIdentifierSchema,
    conditions: Type.Optional(
      StringEnum(MANIFEST_CONDITIONS, {
        description:
          'Conditions contain the condition status for this manifest: Processing (not yet as desired) or Available.',
      }),
    ),
  },
  { description: 'ManifestStatus contains running status of a specific manifest in spec.' },
);

export const EdgeApplicationStatusSchema = Type.Object(
  {
    workloadStatus: Type.Optional(
      Type.Array(ManifestStatusSchema, {
        description: 'WorkloadStatus contains running statuses of generated resources.',
      }),
    ),
  },
  { description: 'Status represents the status of PropagationStatus.' },
);

export const EdgeApplicationSchema = kindSchema(
  `${APPS_GROUP}/${APPS_VERSION}`,
  'EdgeApplication',
  {
    spec: EdgeApplicationSpecSchema,
    status: Type.Optional(EdgeApplicationStatusSchema),
  },
  'EdgeApplication is the Schema for the edgeapplications API',
);

export type ImageOverrider = Static<typeof ImageOverriderSchema>;
export type EnvOverrider = Static<typeof EnvOverriderSchema>;
export type CommandArgsOverrider = Static<typeof CommandArgsOverriderSchema>;
export type ResourcesOverrider = Static<typeof ResourcesOverriderSchema>;
export type Overriders = Static<typeof OverridersSchema>;
export type TargetNodeGroup = Static<typeof TargetNodeGroupSchema>;
export type TargetNodeLabels = Static<typeof TargetNodeLabelsSchema>;
export type WorkloadScope = Static<typeof WorkloadScopeSchema>;
export type ResourceTemplate = Static<typeof ResourceTemplateSchema>;
export type EdgeApplicationSpec = Static<typeof EdgeApplicationSpecSchema>;
export type ResourceIdentifier = Static<typeof ResourceIdentifierSchema>;
export type ManifestStatus = Static<typeof ManifestStatusSchema>;
export type EdgeApplicationStatus = Static<typeof EdgeApplicationStatusSchema>;
export type EdgeApplication = Static<typeof EdgeApplicationSchema>;

export const EdgeApplicationResource = defineResource({
  group: APPS_GROUP,
  version: APPS_VERSION,
  kind: 'EdgeApplication',
  plural: 'edgeapplications',
  singular: 'edgeapplication',
  shortNames: ['eapp'],
  scope: 'Namespaced',
  description: 'EdgeApplication is the Schema for the edgeapplications API',
  schema: EdgeApplicationSchema,
  subresources: { status: true },
  printerColumns: [],
  crdFileName: 'apps_v1alpha1_edgeapplication.yaml',
});
