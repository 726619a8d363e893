import type {
  KubernetesObject,
  V1EnvVar,
  V1LabelSelector,
  V1LocalObjectReference,
  V1ObjectMeta,
  V1ObjectReference,
  V1ResourceRequirements,
} from '@kubernetes/client-node';
import { type TProperties, Type } from '@sinclair/typebox';
import { DateTime, FreeFormObject, IntOrStringSchema, StringMap, typed } from './schema-helpers';

/**
 * Runtime schemas for the Kubernetes built-in types our APIs embed. Their static types are the
 * `@kubernetes/client-node` ones; the shapes follow the OpenAPI that controller-gen writes into
 * the upstream CRDs for them.
 */

/** `resource.Quantity` as the API server validates it. */
const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

function Quantity(description?: string) {
  return IntOrStringSchema(description === undefined ? {} : { description }, {
    pattern: QUANTITY_PATTERN,
  });
}

const OwnerReferenceSchema = Type.Object(
  {
    apiVersion: Type.String(),
    kind: Type.String(),
    name: Type.String(),
    uid: Type.String(),
    controller: Type.Optional(Type.Boolean()),
    blockOwnerDeletion: Type.Optional(Type.Boolean()),
  },
  { 'x-kubernetes-map-type': 'atomic' },
);

/**
 * `metadata`. Only used to check objects: a CRD must declare metadata as a bare
 * `type: object` (the API server validates it itself), so the CRD renderer replaces this.
 */
export const ObjectMetaSchema = typed<V1ObjectMeta>(
  Type.Object({
    name: Type.Optional(Type.String()),
    generateName: Type.Optional(Type.String()),
    namespace: Type.Optional(Type.String()),
    labels: Type.Optional(StringMap()),
    annotations: Type.Optional(StringMap()),
    uid: Type.Optional(Type.String()),
    resourceVersion: Type.Optional(Type.String()),
    generation: Type.Optional(Type.Integer()),
    creationTimestamp: Type.Optional(DateTime()),
    deletionTimestamp: Type.Optional(DateTime()),
    deletionGracePeriodSeconds: Type.Optional(Type.Integer()),
    finalizers: Type.Optional(Type.Array(Type.String())),
    ownerReferences: Type.Optional(Type.Array(OwnerReferenceSchema)),
    managedFields: Type.Optional(Type.Array(FreeFormObject())),
    selfLink: Type.Optional(Type.String()),
  }),
);

const LabelSelectorRequirementSchema = Type.Object(
  {
    key: Type.String({ description: 'key is the label key that the selector applies to.' }),
    operator: Type.String({
      description:
        "operator represents a key's relationship to a set of values. Valid operators are In, NotIn, Exists and DoesNotExist.",
    }),
    values: Type.Optional(
      Type.Array(Type.String(), {
        description:
          'values is an array of string values. Non-empty for In and NotIn, empty for Exists and DoesNotExist.',
        'x-kubernetes-list-type': 'atomic',
      }),
    ),
  },
  {
    description:
      'A label selector requirement is a selector that contains values, a key, and an operator that relates the key and values.',
  },
);

/** The fields of `metav1.LabelSelector`, for types that inline it (kruise's node selector). */
export const labelSelectorProperties = {
  matchExpressions: Type.Optional(
    Type.Array(LabelSelectorRequirementSchema, {
      description:
        'matchExpressions is a list of label selector requirements. The requirements are ANDed.',
      'x-kubernetes-list-type': 'atomic',
    }),
  ),
  matchLabels: Type.Optional(
    StringMap({
      description:
        'matchLabels is a map of {key,value} pairs; each is equivalent to a matchExpressions element with operator In. The requirements are ANDed.',
    }),
  ),
};

/** `metav1.LabelSelector`. */
export function LabelSelectorSchema(description: string) {
  return typed<V1LabelSelector>(
    Type.Object(labelSelectorProperties, { description, 'x-kubernetes-map-type': 'atomic' }),
  );
}

/** `corev1.LocalObjectReference`. */
export function LocalObjectReferenceSchema(description: string) {
  return typed<V1LocalObjectReference>(
    Type.Object(
      { name: Type.Optional(Type.String({ description: 'Name of the referent.' })) },
      { description },
    ),
  );
}

/** `corev1.ObjectReference`. */
export const ObjectReferenceSchema = typed<V1ObjectReference>(
  Type.Object(
    {
      apiVersion: Type.Optional(Type.String({ description: 'API version of the referent.' })),
      fieldPath: Type.Optional(
        Type.String({
          description: 'If referring to a piece of an object, the path of that piece.',
        }),
      ),
      kind: Type.Optional(Type.String({ description: 'Kind of the referent.' })),
      name: Type.Optional(Type.String({ description: 'Name of the referent.' })),
      namespace: Type.Optional(Type.String({ description: 'Namespace of the referent.' })),
      resourceVersion: Type.Optional(
        Type.String({
          description: 'Specific resourceVersion to which this reference is made, if any.',
        }),
      ),
      uid: Type.Optional(Type.String({ description: 'UID of the referent.' })),
    },
    {
      description:
        'ObjectReference contains enough information to let you inspect or modify the referred object.',
      'x-kubernetes-map-type': 'atomic',
    },
  ),
);

function KeySelector(description: string, keyDescription: string, optionalDescription: string) {
  return Type.Object(
    {
      key: Type.String({ description: keyDescription }),
      name: Type.Optional(Type.String({ description: 'Name of the referent.' })),
      optional: Type.Optional(Type.Boolean({ description: optionalDescription })),
    },
    { description, 'x-kubernetes-map-type': 'atomic' },
  );
}

/** `corev1.EnvVar`. */
export const EnvVarSchema = typed<V1EnvVar>(
  Type.Object(
    {
      name: Type.String({ description: 'Name of the environment variable.' }),
      value: Type.Optional(
        Type.String({
          description:
            'Variable references $(VAR_NAME) are expanded using earlier variables. Defaults to "".',
        }),
      ),
      valueFrom: Type.Optional(
        Type.Object(
          {
            configMapKeyRef: Type.Optional(
              KeySelector(
                'Selects a key of a ConfigMap.',
                'The key to select.',
                'Specify whether the ConfigMap or its key must be defined',
              ),
            ),
            fieldRef: Type.Optional(
              Type.Object(
                {
                  apiVersion: Type.Optional(
                    Type.String({
                      description: 'Version of the schema the FieldPath is written in terms of.',
                    }),
                  ),
                  fieldPath: Type.String({
                    description: 'Path of the field to select in the specified API version.',
                  }),
                },
                { description: 'Selects a field of the pod.', 'x-kubernetes-map-type': 'atomic' },
              ),
            ),
            resourceFieldRef: Type.Optional(
              Type.Object(
                {
                  containerName: Type.Optional(
                    Type.String({
                      description: 'Container name: required for volumes, optional for env vars',
                    }),
                  ),
                  divisor: Type.Optional(
                    Quantity(
                      'Specifies the output format of the exposed resources, defaults to "1"',
                    ),
                  ),
                  resource: Type.String({ description: 'Required: resource to select' }),
                },
                {
                  description:
                    'Selects a resource of the container (limits or requests of cpu, memory, storage).',
                  'x-kubernetes-map-type': 'atomic',
                },
              ),
            ),
            secretKeyRef: Type.Optional(
              KeySelector(
                "Selects a key of a secret in the pod's namespace",
                'The key of the secret to select from.',
                'Specify whether the Secret or its key must be defined',
              ),
            ),
          },
          {
            description:
              "Source for the environment variable's value. Cannot be used if value is not empty.",
          },
        ),
      ),
    },
    { description: 'EnvVar represents an environment variable present in a Container.' },
  ),
);

/** `corev1.ResourceRequirements`. */
export function ResourceRequirementsSchema(description: string) {
  return typed<V1ResourceRequirements>(
    Type.Object(
      {
        claims: Type.Optional(
          Type.Array(
            Type.Object(
              {
                name: Type.String({
                  description:
                    'Name of one entry in pod.spec.resourceClaims of the Pod where this field is used.',
                }),
                request: Type.Optional(
                  Type.String({
                    description: 'Name of a request in the referenced claim, if any.',
                  }),
                ),
              },
              { description: 'ResourceClaim references one entry in PodSpec.ResourceClaims.' },
            ),
            {
              description:
                'Claims lists the names of resources, defined in spec.resourceClaims, used by this container.',
              'x-kubernetes-list-map-keys': ['name'],
              'x-kubernetes-list-type': 'map',
            },
          ),
        ),
        limits: Type.Optional(
          Type.Record(Type.String(), Quantity(), {
            description: 'Limits describes the maximum amount of compute resources allowed.',
          }),
        ),
        requests: Type.Optional(
          Type.Record(Type.String(), Quantity(), {
            description: 'Requests describes the minimum amount of compute resources required.',
          }),
        ),
      },
      { description },
    ),
  );
}

/** A whole Kubernetes object kept as it is (EdgeApplication's manifests). */
export function EmbeddedObjectSchema(description: string) {
  return FreeFormObject<KubernetesObject>({ description });
}

/**
 * The schema of a whole object of one kind: `apiVersion` and `kind` fixed to the kind's,
 * Kubernetes `metadata`, then the kind's own top-level fields (`spec`, `status`).
 */
export function kindSchema<
  const ApiVersion extends string,
  const Kind extends string,
  Fields extends TProperties,
>(apiVersion: ApiVersion, kind: Kind, fields: Fields, description: string) {
  return Type.Object(
    {
      apiVersion: Type.Literal(apiVersion),
      kind: Type.Literal(kind),
      metadata: ObjectMetaSchema,
      ...fields,
    },
    { description },
  );
}
