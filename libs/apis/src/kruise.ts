import type { V1LabelSelector } from '@kubernetes/client-node';
import { type Static, Type } from '@sinclair/typebox';
import { kindSchema, labelSelectorProperties, ObjectReferenceSchema } from './k8s-builtins';
import { defineResource } from './resource';
import {
  DateTime,
  Int32,
  Int64,
  IntOrStringSchema,
  StringEnum,
  StringMap,
  typed,
} from './schema-helpers';

/**
 * `apps.kruise.io/v1alpha1`: ImagePullJob and NodeImage, as in OpenKruise's
 * `apis/apps/v1alpha1` and `config/crd/bases/`. Values that OpenKruise checks in its admission
 * webhook rather than in the CRD (completion policy type, pull policy, non-negative counts) are
 * part of the schema here, so an API server without that webhook still enforces them.
 */

export const KRUISE_GROUP = 'apps.kruise.io';
export const KRUISE_VERSION = 'v1alpha1';

export const COMPLETION_POLICY_TYPES = ['Always', 'Never'] as const;
export const IMAGE_PULL_POLICIES = ['Always', 'IfNotPresent'] as const;

const imagePullPolicyDescription =
  'Image pull policy. One of Always, IfNotPresent. Defaults to IfNotPresent.';

export const SandboxConfigSchema = Type.Object(
  {
    labels: Type.Optional(StringMap()),
    annotations: Type.Optional(StringMap()),
  },
  {
    description:
      'SandboxConfig support attach metadata in PullImage CRI interface during ImagePulljobs',
  },
);

// ---------------------------------------------------------------------------------------------
// ImagePullJob

export const ImagePullJobNodeSelectorSchema = typed<V1LabelSelector & { names?: string[] }>(
  Type.Object(
    {
      names: Type.Optional(
        Type.Array(Type.String(), {
          description: 'Names specify a set of nodes to execute the job.',
        }),
      ),
      ...labelSelectorProperties,
    },
    {
      description:
        'Selector is a query over nodes that should match the job. nil to match all nodes.',
      'x-kubernetes-map-type': 'atomic',
    },
  ),
);

export const ImagePullJobPodSelectorSchema = typed<V1LabelSelector>(
  Type.Object(labelSelectorProperties, {
    description:
      'PodSelector is a query over pods that should pull image on nodes of these pods. Mutually exclusive with Selector.',
    'x-kubernetes-map-type': 'atomic',
  }),
);

export const PullPolicySchema = Type.Object(
  {
    timeoutSeconds: Type.Optional(
      Int32({
        description: 'Specifies the timeout of the pulling task. Defaults to 600',
        minimum: 1,
      }),
    ),
    backoffLimit: Type.Optional(
      Int32({
        description:
          'Specifies the number of retries before marking the pulling task failed. Defaults to 3',
        minimum: 0,
      }),
    ),
  },
  {
    description:
      'PullPolicy is an optional field to set parameters of the pulling task. If not specified, the system will use the default values.',
  },
);

export const CompletionPolicySchema = Type.Object(
  {
    type: Type.Optional(
      StringEnum(COMPLETION_POLICY_TYPES, {
        description: 'Type indicates the type of the CompletionPolicy. Default is Always.',
      }),
    ),
    activeDeadlineSeconds: Type.Optional(
      Int64({
        description:
          'ActiveDeadlineSeconds specifies the duration in seconds relative to the startTime that the job may be active before the system tries to terminate it; value must be positive integer. Only works for Always type.',
        minimum: 1,
      }),
    ),
    ttlSecondsAfterFinished: Type.Optional(
      Int32({
        description:
          'ttlSecondsAfterFinished limits the lifetime of a Job that has finished execution; unset = never deleted, zero = deleted right after it finishes. Only works for Always type',
        minimum: 0,
      }),
    ),
  },
  {
    description:
      'CompletionPolicy indicates the completion policy of the job. Default is Always CompletionPolicyType.',
  },
);

export const ImagePullJobSpecSchema = Type.Object(
  {
    image: Type.String({ description: 'Image is the image to be pulled by the job' }),
    pullSecrets: Type.Optional(
      Type.Array(Type.String(), {
        description:
          'ImagePullSecrets is an optional list of references to secrets in the same namespace to use for pulling the image.',
      }),
    ),
    selector: Type.Optional(ImagePullJobNodeSelectorSchema),
    podSelector: Type.Optional(ImagePullJobPodSelectorSchema),
    parallelism: Type.Optional(
      IntOrStringSchema({
        description:
          'Parallelism is the requested parallelism, it can be set to any non-negative value. If it is unspecified, it defaults to 1. If it is specified as 0, then the Job is effectively paused until it is increased.',
      }),
    ),
    pullPolicy: Type.Optional(PullPolicySchema),
    completionPolicy: CompletionPolicySchema,
    sandboxConfig: Type.Optional(SandboxConfigSchema),
    imagePullPolicy: Type.Optional(
      StringEnum(IMAGE_PULL_POLICIES, { description: imagePullPolicyDescription }),
    ),
  },
  { description: 'ImagePullJobSpec defines the desired state of ImagePullJob' },
);

export const ImagePullJobStatusSchema = Type.Object(
  {
    startTime: Type.Optional(
      DateTime({
        description: 'Represents time when the job was acknowledged by the job controller.',
      }),
    ),
    completionTime: Type.Optional(
      DateTime({ description: 'Represents time when the job was completed.' }),
    ),
    desired: Int32({
      description:
        'The desired number of pulling tasks, this is typically equal to the number of nodes satisfied.',
    }),
    active: Type.Optional(Int32({ description: 'The number of actively running pulling tasks.' })),
    succeeded: Type.Optional(
      Int32({ description: 'The number of pulling tasks which reached phase Succeeded.' }),
    ),
    failed: Type.Optional(
      Int32({ description: 'The number of pulling tasks  which reached phase Failed.' }),
    ),
    message: Type.Optional(Type.String({ description: 'The text prompt for job running status.' })),
    failedNodes: Type.Optional(
      Type.Array(Type.String(), { description: 'The nodes that failed to pull the image.' }),
    ),
  },
  { description: 'ImagePullJobStatus defines the observed state of ImagePullJob' },
);

export const ImagePullJobSchema = kindSchema(
  `${KRUISE_GROUP}/${KRUISE_VERSION}`,
  'ImagePullJob',
  {
    spec: ImagePullJobSpecSchema,
    status: Type.Optional(ImagePullJobStatusSchema),
  },
  'ImagePullJob is the Schema for the imagepulljobs API',
);

export type ImagePullJobNodeSelector = Static<typeof ImagePullJobNodeSelectorSchema>;
export type PullPolicy = Static<typeof PullPolicySchema>;
export type CompletionPolicy = Static<typeof CompletionPolicySchema>;
export type SandboxConfig = Static<typeof SandboxConfigSchema>;
export type ImagePullJobSpec = Static<typeof ImagePullJobSpecSchema>;
export type ImagePullJobStatus = Static<typeof ImagePullJobStatusSchema>;
export type ImagePullJob = Static<typeof ImagePullJobSchema>;

const CREATION_TIMESTAMP_DESCRIPTION =
  'CreationTimestamp is a timestamp representing the server time when this object was created.';

export const ImagePullJobResource = defineResource({
  group: KRUISE_GROUP,
  version: KRUISE_VERSION,
  kind: 'ImagePullJob',
  plural: 'imagepulljobs',
  singular: 'imagepulljob',
  shortNames: [],
  scope: 'Namespaced',
  description: 'ImagePullJob is the Schema for the imagepulljobs API',
  schema: ImagePullJobSchema,
  subresources: { status: true },
  printerColumns: [
    {
      name: 'TOTAL',
      type: 'integer',
      jsonPath: '.status.desired',
      description: 'Number of all nodes matched by this job',
    },
    {
      name: 'ACTIVE',
      type: 'integer',
      jsonPath: '.status.active',
      description: 'Number of image pull task active',
    },
    {
      name: 'SUCCEED',
      type: 'integer',
      jsonPath: '.status.succeeded',
      description: 'Number of image pull task succeeded',
    },
    {
      name: 'FAILED',
      type: 'integer',
      jsonPath: '.status.failed',
      description: 'Number of image pull tasks failed',
    },
    {
      name: 'AGE',
      type: 'date',
      jsonPath: '.metadata.creationTimestamp',
      description: CREATION_TIMESTAMP_DESCRIPTION,
    },
    {
      name: 'MESSAGE',
      type: 'string',
      jsonPath: '.status.message',
      description: 'Summary of status when job is failed',
    },
  ],
  crdFileName: 'apps.kruise.io_imagepulljobs.yaml',
});

// ---------------------------------------------------------------------------------------------
// NodeImage

export const ImageTagPullPolicySchema = Type.Object(
  {
    timeoutSeconds: Type.Optional(
      Int32({
        description: 'Specifies the timeout of the pulling task. Defaults to 600',
        minimum: 1,
      }),
    ),
    backoffLimit: Type.Optional(
      Int32({
        description:
          'Specifies the number of retries before marking the pulling task failed. Defaults to 3',
        minimum: 0,
      }),
    ),
    ttlSecondsAfterFinished: Type.Optional(
      Int32({
        description:
          'TTLSecondsAfterFinished limits the lifetime of a pulling task that has finished execution.',
        minimum: 0,
      }),
    ),
    activeDeadlineSeconds: Type.Optional(
      Int64({
        description:
          'ActiveDeadlineSeconds specifies the duration in seconds relative to the startTime that the task may be active before the system tries to terminate it; value must be positive integer.',
        minimum: 1,
      }),
    ),
  },
  {
    description:
      'PullPolicy is an optional field to set parameters of the pulling task. If not specified, the system will use the default values.',
  },
);

export const ImageTagSpecSchema = Type.Object(
  {
    tag: Type.String({ description: 'Specifies the image tag' }),
    createdAt: Type.Optional(DateTime({ description: 'Specifies the create time of this tag' })),
    pullPolicy: Type.Optional(ImageTagPullPolicySchema),
    ownerReferences: Type.Optional(
      Type.Array(ObjectReferenceSchema, {
        description:
          'List of objects depended by this object. If this image is managed by a controller, then an entry in this list will point to this controller.',
      }),
    ),
    version: Type.Optional(
      Int64({
        description:
          'An opaque value that represents the internal version of this tag. Populated by the system.',
      }),
    ),
    imagePullPolicy: Type.Optional(
      StringEnum(IMAGE_PULL_POLICIES, { description: imagePullPolicyDescription }),
    ),
  },
  { description: 'ImageTagSpec defines the pulling spec of an image tag' },
);

export const ImageSpecSchema = Type.Object(
  {
    pullSecrets: Type.Optional(
      Type.Array(
        Type.Object(
          {
            namespace: Type.Optional(Type.String()),
            name: Type.Optional(Type.String()),
          },
          {
            description:
              'ReferenceObject comprises a resource name, with a mandatory namespace, rendered as "<namespace>/<name>".',
          },
        ),
        {
          description:
            'PullSecrets is an optional list of references to secrets in the same namespace to use for pulling the image.',
        },
      ),
    ),
    tags: Type.Array(ImageTagSpecSchema, {
      description: 'Tags is a list of versions of this image',
    }),
    sandboxConfig: Type.Optional(SandboxConfigSchema),
  },
  { description: 'ImageSpec defines the pulling spec of an image' },
);

export const NodeImageSpecSchema = Type.Object(
  {
    images: Type.Optional(
      Type.Record(Type.String(), ImageSpecSchema, {
        description:
          'Specifies images to be pulled on this node. It can not be more than 256 for each NodeImage',
      }),
    ),
  },
  { description: 'NodeImageSpec defines the desired state of NodeImage' },
);

export const ImageTagStatusSchema = Type.Object(
  {
    tag: Type.String({ description: 'Represents the image tag.' }),
    phase: Type.String({ description: 'Represents the image pulling task phase.' }),
    progress: Type.Optional(
      Int32({
        description: 'Represents the pulling progress of this tag, which is between 0-100.',
        minimum: 0,
        maximum: 100,
      }),
    ),
    version: Type.Optional(
      Int64({
        description: 'Represents the internal version of this tag that the daemon handled.',
      }),
    ),
    startTime: Type.Optional(
      DateTime({
        description: 'Represents time when the pulling task was acknowledged by the image puller.',
      }),
    ),
    completionTime: Type.Optional(
      DateTime({ description: 'Represents time when the pulling task was completed.' }),
    ),
    message: Type.Optional(
      Type.String({ description: 'Represents the summary information of this node' }),
    ),
    imageID: Type.Optional(Type.String({ description: 'Represents the ID of this image.' })),
  },
  { description: 'ImageTagStatus defines the pulling status of an image tag' },
);

export const NodeImageStatusSchema = Type.Object(
  {
    desired: Int32({
      description:
        'The desired number of pulling tasks, this is typically equal to the number of images in spec.',
    }),
    succeeded: Type.Optional(
      Int32({ description: 'The number of pulling tasks which reached phase Succeeded.' }),
    ),
    failed: Type.Optional(
      Int32({ description: 'The number of pulling tasks  which reached phase Failed.' }),
    ),
    pulling: Type.Optional(
      Int32({ description: 'The number of pulling tasks which are not finished.' }),
    ),
    imageStatuses: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Object(
          {
            tags: Type.Array(ImageTagStatusSchema, {
              description: 'Represents statuses of pulling tasks on this node',
            }),
          },
          { description: 'ImageStatus defines the pulling status of an image' },
        ),
        { description: 'all statuses of active image pulling tasks' },
      ),
    ),
    firstSyncStatus: Type.Optional(
      Type.Object(
        {
          status: Type.Optional(
            Type.String({ description: 'SyncStatusPhase defines the node status' }),
          ),
          message: Type.Optional(Type.String()),
          syncAt: Type.Optional(DateTime()),
        },
        {
          description:
            "The first of all job has finished on this node: the time when a new node's image pulling is completed.",
        },
      ),
    ),
  },
  { description: 'NodeImageStatus defines the observed state of NodeImage' },
);

export const NodeImageSchema = kindSchema(
  `${KRUISE_GROUP}/${KRUISE_VERSION}`,
  'NodeImage',
  {
    spec: NodeImageSpecSchema,
    status: Type.Optional(NodeImageStatusSchema),
  },
  'NodeImage is the Schema for the nodeimages API',
);

export type ImageTagPullPolicy = Static<typeof ImageTagPullPolicySchema>;
export type ImageTagSpec = Static<typeof ImageTagSpecSchema>;
export type ImageSpec = Static<typeof ImageSpecSchema>;
export type NodeImageSpec = Static<typeof NodeImageSpecSchema>;
export type ImageTagStatus = Static<typeof ImageTagStatusSchema>;
export type NodeImageStatus = Static<typeof NodeImageStatusSchema>;
export type NodeImage = Static<typeof NodeImageSchema>;

export const NodeImageResource = defineResource({
  group: KRUISE_GROUP,
  version: KRUISE_VERSION,
  kind: 'NodeImage',
  plural: 'nodeimages',
  singular: 'nodeimage',
  shortNames: [],
  scope: 'Cluster',
  description: 'NodeImage is the Schema for the nodeimages API',
  schema: NodeImageSchema,
  subresources: { status: true },
  printerColumns: [
    {
      name: 'DESIRED',
      type: 'integer',
      jsonPath: '.status.desired',
      description: 'Number of all images on this node',
    },
    {
      name: 'PULLING',
      type: 'integer',
      jsonPath: '.status.pulling',
      description: 'Number of image pull task active',
    },
    {
      name: 'SUCCEED',
      type: 'integer',
      jsonPath: '.status.succeeded',
      description: 'Number of image pull task succeeded',
    },
    {
      name: 'FAILED',
      type: 'integer',
      jsonPath: '.status.failed',
      description: 'Number of image pull tasks failed',
    },
    {
      name: 'AGE',
      type: 'date',
      jsonPath: '.metadata.creationTimestamp',
      description: CREATION_TIMESTAMP_DESCRIPTION,
    },
  ],
  crdFileName: 'apps.kruise.io_nodeimages.yaml',
});
