import type {
  IntOrString,
  KubernetesObject,
  V1EnvVar,
  V1LabelSelector,
  V1LocalObjectReference,
  V1ObjectMeta,
} from '@kubernetes/client-node';
import { describe, expectTypeOf, it } from 'vitest';
import type {
  Device,
  DeviceModel,
  EdgeApplication,
  ImagePullJob,
  KnownObject,
  NodeGroup,
  NodeImage,
  ObjectSync,
} from '../src/index';

/** The static types are checked by `tsc` (and by Vitest's type assertions at run time, trivially). */
describe('the TypeScript types', () => {
  it('use client-node types for the Kubernetes built-ins they embed', () => {
    expectTypeOf<Device['metadata']>().toEqualTypeOf<V1ObjectMeta>();
    expectTypeOf<
      NonNullable<Device['spec']['deviceModelRef']>
    >().toEqualTypeOf<V1LocalObjectReference>();
    expectTypeOf<
      NonNullable<ImagePullJob['spec']['podSelector']>
    >().toEqualTypeOf<V1LabelSelector>();
    expectTypeOf<NonNullable<ImagePullJob['spec']['selector']>>().toEqualTypeOf<
      V1LabelSelector & { names?: string[] }
    >();
    expectTypeOf<NonNullable<ImagePullJob['spec']['parallelism']>>().toEqualTypeOf<IntOrString>();
    type Manifest = NonNullable<
      NonNullable<EdgeApplication['spec']['workloadTemplate']>['manifests']
    >[number];
    expectTypeOf<Manifest>().toEqualTypeOf<KubernetesObject>();
    type EnvOverriderValue = NonNullable<
      NonNullable<
        NonNullable<
          EdgeApplication['spec']['workloadScope']['targetNodeGroups']
        >[number]['overriders']
      >['envOverriders']
    >[number]['value'];
    expectTypeOf<NonNullable<EnvOverriderValue>>().toEqualTypeOf<V1EnvVar[]>();
  });

  it('follow the upstream field names, optionality and enums', () => {
    expectTypeOf<Device['apiVersion']>().toEqualTypeOf<'devices.kubeedge.io/v1beta1'>();
    expectTypeOf<Device['kind']>().toEqualTypeOf<'Device'>();
    expectTypeOf<NonNullable<Device['spec']['properties']>[number]['collectCycle']>().toEqualTypeOf<
      number | undefined
    >();
    expectTypeOf<NonNullable<Device['spec']['protocol']>['configData']>().toEqualTypeOf<
      Record<string, unknown> | undefined
    >();
    expectTypeOf<NonNullable<DeviceModel['spec']['properties']>[number]['type']>().toEqualTypeOf<
      'INT' | 'FLOAT' | 'DOUBLE' | 'STRING' | 'BOOLEAN' | 'BYTES' | 'STREAM' | undefined
    >();
    expectTypeOf<ImagePullJob['spec']['image']>().toEqualTypeOf<string>();
    expectTypeOf<ImagePullJob['spec']['completionPolicy']['type']>().toEqualTypeOf<
      'Always' | 'Never' | undefined
    >();
    expectTypeOf<NonNullable<NodeGroup['status']>['nodeStatuses']>().toEqualTypeOf<
      | {
          nodeName: string;
          readyStatus: 'Ready' | 'NotReady' | 'Unknown';
          selectionStatus: 'Succeeded' | 'Failed';
          selectionStatusReason?: string;
        }[]
      | undefined
    >();
    expectTypeOf<
      NonNullable<NodeImage['spec']['images']>[string]['tags'][number]['tag']
    >().toEqualTypeOf<string>();
    expectTypeOf<ObjectSync['spec']['objectName']>().toEqualTypeOf<string | undefined>();
  });

  it('narrow a KnownObject on kind', () => {
    expectTypeOf<Extract<KnownObject, { kind: 'NodeGroup' }>>().toEqualTypeOf<NodeGroup>();
    const object = {} as KnownObject;
    if (object.kind === 'Device') expectTypeOf(object).toEqualTypeOf<Device>();
  });
});
