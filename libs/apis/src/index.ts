/**
 * @packageDocumentation
 * TypeBox schemas, TypeScript types, validation and CRD YAML for the KubeEdge and OpenKruise
 * APIs that kubeedge-ts serves: Device, DeviceModel, NodeGroup, EdgeApplication, ImagePullJob,
 * NodeImage, ObjectSync and ClusterObjectSync.
 *
 * @example
 * ```js
 * import { equal } from 'node:assert/strict';
 * import { crdFor, DeviceResource, parseManifests, validate } from '@ke/apis';
 *
 * const yamlText = `
 * apiVersion: devices.kubeedge.io/v1beta1
 * kind: Device
 * metadata:
 *   name: thermometer
 *   namespace: default
 * spec:
 *   deviceModelRef:
 *     name: thermometer-model
 *   nodeName: edge-node-1
 *   protocol:
 *     protocolName: modbus
 *     configData:
 *       ip: 127.0.0.1
 *       port: 5020
 *   properties:
 *     - name: temperature
 *       collectCycle: 2000
 *       visitors:
 *         protocolName: modbus
 *         configData:
 *           register: HoldingRegister
 *           offset: 2
 * `;
 *
 * // Parse (multi-document YAML works too) and validate.
 * const [device] = parseManifests(yamlText);
 * const result = validate(device);
 * console.log('valid:', result.ok);
 * equal(result.ok, true);
 *
 * // A broken variant is rejected, and the issue names the field.
 * const [broken] = parseManifests(yamlText.replace('collectCycle: 2000', 'collectCycle: often'));
 * const rejected = validate(broken);
 * equal(rejected.ok, false);
 * if (!rejected.ok) {
 *   const [issue] = rejected.issues;
 *   console.log(`rejected: ${issue?.path}: ${issue?.message}`);
 *   equal(issue?.path, 'spec.properties[0].collectCycle');
 * }
 *
 * // The CRD that makes the API server serve Devices.
 * const crd = crdFor(DeviceResource);
 * console.log('CRD:', crd.metadata.name);
 * equal(crd.metadata.name, 'devices.devices.kubeedge.io');
 * ```
 */

export {
  APPS_GROUP,
  APPS_VERSION,
  COMMAND_ARGS_OPERATORS,
  type CommandArgsOverrider,
  CommandArgsOverriderSchema,
  type EdgeApplication,
  EdgeApplicationResource,
  EdgeApplicationSchema,
  type EdgeApplicationSpec,
  EdgeApplicationSpecSchema,
  type EdgeApplicationStatus,
  EdgeApplicationStatusSchema,
  type EnvOverrider,
  EnvOverriderSchema,
  IMAGE_COMPONENTS,
  type ImageOverrider,
  ImageOverriderSchema,
  MANIFEST_CONDITIONS,
  type ManifestStatus,
  ManifestStatusSchema,
  NODE_READY_STATUSES,
  NODE_SELECTION_STATUSES,
  type NodeGroup,
  type NodeGroupNodeStatus,
  NodeGroupNodeStatusSchema,
  NodeGroupResource,
  NodeGroupSchema,
  type NodeGroupSpec,
  NodeGroupSpecSchema,
  type NodeGroupStatus,
  NodeGroupStatusSchema,
  OVERRIDER_OPERATORS,
  type Overriders,
  OverridersSchema,
  type ResourceIdentifier,
  ResourceIdentifierSchema,
  type ResourcesOverrider,
  ResourcesOverriderSchema,
  type ResourceTemplate,
  ResourceTemplateSchema,
  type TargetNodeGroup,
  TargetNodeGroupSchema,
  type TargetNodeLabels,
  TargetNodeLabelsSchema,
  type WorkloadScope,
  WorkloadScopeSchema,
} from './apps';
export {
  type CustomResourceDefinition,
  type CustomResourceDefinitionVersion,
  crdFor,
  crdSchemaFor,
  GEN_CRDS_COMMAND,
  renderCrdFiles,
  renderCrdYaml,
} from './crd';
export {
  DEVICES_GROUP,
  DEVICES_VERSION,
  type Device,
  type DeviceMethod,
  DeviceMethodSchema,
  type DeviceModel,
  DeviceModelResource,
  DeviceModelSchema,
  type DeviceModelSpec,
  DeviceModelSpecSchema,
  type DeviceProperty,
  DevicePropertySchema,
  DeviceResource,
  DeviceSchema,
  type DeviceSpec,
  DeviceSpecSchema,
  type DeviceStatus,
  DeviceStatusSchema,
  type ModelProperty,
  ModelPropertySchema,
  PROPERTY_ACCESS_MODES,
  PROPERTY_TYPES,
  type ProtocolConfig,
  ProtocolConfigSchema,
  type PushMethod,
  PushMethodSchema,
  type Twin,
  type TwinProperty,
  TwinPropertySchema,
  TwinSchema,
  type VisitorConfig,
  VisitorConfigSchema,
} from './devices';
export { ApisError, ApisErrorCode, formatIssues, type ValidationIssue } from './errors';
export {
  COMPLETION_POLICY_TYPES,
  type CompletionPolicy,
  CompletionPolicySchema,
  IMAGE_PULL_POLICIES,
  type ImagePullJob,
  type ImagePullJobNodeSelector,
  ImagePullJobResource,
  ImagePullJobSchema,
  type ImagePullJobSpec,
  ImagePullJobSpecSchema,
  type ImagePullJobStatus,
  ImagePullJobStatusSchema,
  type ImageSpec,
  ImageSpecSchema,
  type ImageTagPullPolicy,
  type ImageTagSpec,
  ImageTagSpecSchema,
  type ImageTagStatus,
  ImageTagStatusSchema,
  KRUISE_GROUP,
  KRUISE_VERSION,
  type NodeImage,
  NodeImageResource,
  NodeImageSchema,
  type NodeImageSpec,
  NodeImageSpecSchema,
  type NodeImageStatus,
  NodeImageStatusSchema,
  type PullPolicy,
  PullPolicySchema,
  type SandboxConfig,
} from './kruise';
export { type ParseManifestsOptions, parseManifests } from './manifests';
export { type OpenApiSchema, toOpenApiSchema } from './openapi';
export { findResource, type KnownObject, resources } from './registry';
export {
  type ClusterObjectSync,
  ClusterObjectSyncResource,
  ClusterObjectSyncSchema,
  type ObjectSync,
  ObjectSyncResource,
  ObjectSyncSchema,
  type ObjectSyncSpec,
  ObjectSyncSpecSchema,
  type ObjectSyncStatus,
  ObjectSyncStatusSchema,
  RELIABLESYNCS_GROUP,
  RELIABLESYNCS_VERSION,
} from './reliablesyncs';
export type { PrinterColumn, ResourceDefinition } from './resource';
export { assertValid, type ValidateOptions, type ValidationResult, validate } from './validate';
