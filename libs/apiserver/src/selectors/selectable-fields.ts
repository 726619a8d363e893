import { SelectorError } from './errors';
import type { FieldSelector } from './field-selector';

/**
 * Which fields each resource can be selected by, and their values for one object, following the
 * field label conversion functions and `ToSelectableFields` of the Kubernetes registry
 * (`pkg/apis/core/v1/conversion.go`, `pkg/registry/<group>/<resource>/strategy.go`).
 *
 * Resources are named `<group>/<plural>` with `core` for the legacy group: `core/pods`,
 * `apps/replicasets`, `events.k8s.io/events`.
 */

type JsonObject = Record<string, unknown>;

interface ResourceFields {
  /** Labels the resource accepts; any other is "field label not supported". */
  readonly accepted: readonly string[];
  /** Old spellings the server still accepts, and the label they mean. */
  readonly aliases?: Readonly<Record<string, string>>;
  /** The values of the selectable fields of one object (metadata ones excluded). */
  readonly values: (object: JsonObject) => Record<string, string>;
}

const asObject = (value: unknown): JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : {};

/** The value at a dotted path when it is a string, else "". */
function text(object: JsonObject, path: string): string {
  let current: unknown = object;
  for (const part of path.split('.')) current = asObject(current)[part];
  return typeof current === 'string' ? current : '';
}

/** The value at a dotted path printed as Go prints a bool or integer, with the zero value when absent. */
function scalar(object: JsonObject, path: string, zero: string): string {
  let current: unknown = object;
  for (const part of path.split('.')) current = asObject(current)[part];
  if (typeof current === 'boolean' || typeof current === 'number') return String(current);
  if (typeof current === 'string') return current;
  return zero;
}

function firstPodIP(pod: JsonObject): string {
  const status = asObject(pod.status);
  const podIPs = Array.isArray(status.podIPs) ? status.podIPs : [];
  const first = podIPs.length > 0 ? text(asObject(podIPs[0]), 'ip') : '';
  // A v1 pod written by an old client may carry only `podIP`; conversion fills `podIPs` from it.
  return first !== '' || podIPs.length > 0 ? first : text(pod, 'status.podIP');
}

const coreEventFields: ResourceFields = {
  accepted: [
    'metadata.name',
    'metadata.namespace',
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
  values: (event) => ({
    'involvedObject.kind': text(event, 'involvedObject.kind'),
    'involvedObject.namespace': text(event, 'involvedObject.namespace'),
    'involvedObject.name': text(event, 'involvedObject.name'),
    'involvedObject.uid': text(event, 'involvedObject.uid'),
    'involvedObject.apiVersion': text(event, 'involvedObject.apiVersion'),
    'involvedObject.resourceVersion': text(event, 'involvedObject.resourceVersion'),
    'involvedObject.fieldPath': text(event, 'involvedObject.fieldPath'),
    reason: text(event, 'reason'),
    // core/v1 calls the reporting controller `reportingComponent`.
    reportingComponent: text(event, 'reportingComponent'),
    source: text(event, 'source.component') || text(event, 'reportingComponent'),
    type: text(event, 'type'),
  }),
};

// events.k8s.io serves the same events with other field names; its selectors use those names.
const eventsApiFields: ResourceFields = {
  accepted: [
    'metadata.name',
    'metadata.namespace',
    'regarding.kind',
    'regarding.namespace',
    'regarding.name',
    'regarding.uid',
    'regarding.apiVersion',
    'regarding.resourceVersion',
    'regarding.fieldPath',
    'reason',
    'reportingController',
    'source',
    'type',
  ],
  values: (event) => ({
    'regarding.kind': text(event, 'regarding.kind'),
    'regarding.namespace': text(event, 'regarding.namespace'),
    'regarding.name': text(event, 'regarding.name'),
    'regarding.uid': text(event, 'regarding.uid'),
    'regarding.apiVersion': text(event, 'regarding.apiVersion'),
    'regarding.resourceVersion': text(event, 'regarding.resourceVersion'),
    'regarding.fieldPath': text(event, 'regarding.fieldPath'),
    reason: text(event, 'reason'),
    reportingController: text(event, 'reportingController'),
    source: text(event, 'deprecatedSource.component') || text(event, 'reportingController'),
    type: text(event, 'type'),
  }),
};

const resourceFields: Readonly<Record<string, ResourceFields>> = {
  'core/pods': {
    accepted: [
      'metadata.name',
      'metadata.namespace',
      'spec.nodeName',
      'spec.restartPolicy',
      'spec.schedulerName',
      'spec.serviceAccountName',
      'spec.hostNetwork',
      'status.phase',
      'status.podIP',
      // Accepted but never filled in by Kubernetes, so it only matches "".
      'status.podIPs',
      'status.nominatedNodeName',
    ],
    aliases: { 'spec.host': 'spec.nodeName' },
    values: (pod) => ({
      'spec.nodeName': text(pod, 'spec.nodeName'),
      'spec.restartPolicy': text(pod, 'spec.restartPolicy'),
      'spec.schedulerName': text(pod, 'spec.schedulerName'),
      'spec.serviceAccountName': text(pod, 'spec.serviceAccountName'),
      'spec.hostNetwork': scalar(pod, 'spec.hostNetwork', 'false'),
      'status.phase': text(pod, 'status.phase'),
      'status.podIP': firstPodIP(pod),
      'status.nominatedNodeName': text(pod, 'status.nominatedNodeName'),
    }),
  },
  'core/nodes': {
    accepted: ['metadata.name', 'spec.unschedulable'],
    values: (node) => ({ 'spec.unschedulable': scalar(node, 'spec.unschedulable', 'false') }),
  },
  'core/namespaces': {
    accepted: ['metadata.name', 'status.phase'],
    values: (namespace) => ({ 'status.phase': text(namespace, 'status.phase') }),
  },
  'core/secrets': {
    accepted: ['metadata.name', 'metadata.namespace', 'type'],
    values: (secret) => ({ type: text(secret, 'type') }),
  },
  'core/services': {
    accepted: ['metadata.name', 'metadata.namespace', 'spec.clusterIP', 'spec.type'],
    values: (service) => ({
      'spec.clusterIP': text(service, 'spec.clusterIP'),
      'spec.type': text(service, 'spec.type'),
    }),
  },
  'core/replicationcontrollers': {
    accepted: ['metadata.name', 'metadata.namespace', 'status.replicas'],
    values: (controller) => ({ 'status.replicas': scalar(controller, 'status.replicas', '0') }),
  },
  'core/events': coreEventFields,
  'events.k8s.io/events': eventsApiFields,
  'apps/replicasets': {
    accepted: ['metadata.name', 'metadata.namespace', 'status.replicas'],
    values: (replicaSet) => ({ 'status.replicas': scalar(replicaSet, 'status.replicas', '0') }),
  },
  'batch/jobs': {
    accepted: ['metadata.name', 'metadata.namespace', 'status.successful'],
    values: (job) => ({ 'status.successful': scalar(job, 'status.successful', '0') }),
  },
  'certificates.k8s.io/certificatesigningrequests': {
    accepted: ['metadata.name', 'spec.signerName'],
    values: (request) => ({ 'spec.signerName': text(request, 'spec.signerName') }),
  },
};

/** Options for resources the table does not know, such as custom resources. */
export interface SelectableFieldsOptions {
  /**
   * The `spec.selectableFields` of a CustomResourceDefinition version, e.g.
   * `[{ jsonPath: '.spec.color' }]`; each adds the field `spec.color`.
   */
  readonly selectableFields?: ReadonlyArray<{ readonly jsonPath: string }>;
}

const metadataFields = ['metadata.name', 'metadata.namespace'] as const;

const customFieldLabels = (options: SelectableFieldsOptions) =>
  (options.selectableFields ?? []).map((field) => field.jsonPath.replace(/^\./, ''));

/**
 * The field labels a resource can be selected by. Resources not in the table (ConfigMaps,
 * Deployments, custom resources, ...) support `metadata.name` and `metadata.namespace`, plus the
 * `selectableFields` of their CRD.
 */
export function selectableFieldsOf(
  resource: string,
  options: SelectableFieldsOptions = {},
): readonly string[] {
  const known = resourceFields[resource];
  if (known !== undefined) return known.accepted;
  return [...metadataFields, ...customFieldLabels(options)];
}

/**
 * Checks that every field of a selector is selectable for the resource and rewrites old spellings
 * (`spec.host` of pods becomes `spec.nodeName`). Call it before listing, so that a bad selector is
 * refused even when nothing would be listed.
 *
 * @throws {SelectorError} `KE_SELECTOR_UNSUPPORTED_FIELD` with Kubernetes' message, e.g.
 *   `field label not supported: spec.foo`; the HTTP layer answers `400 BadRequest`.
 */
export function validateFieldSelector(
  resource: string,
  selector: FieldSelector,
  options: SelectableFieldsOptions = {},
): FieldSelector {
  const known = resourceFields[resource];
  const custom = customFieldLabels(options);
  const requirements = selector.requirements.map((requirement) => {
    if (known !== undefined) {
      const field = known.aliases?.[requirement.field] ?? requirement.field;
      if (known.accepted.includes(field)) return { ...requirement, field };
      throw new SelectorError(
        'KE_SELECTOR_UNSUPPORTED_FIELD',
        `field label not supported: ${requirement.field}`,
        { selector: requirement.field },
      );
    }
    if ((metadataFields as readonly string[]).includes(requirement.field)) return requirement;
    if (custom.includes(requirement.field)) return requirement;
    // The two messages differ in Kubernetes too: a CRD with selectable fields has its own converter.
    const message =
      custom.length > 0
        ? `field label not supported: ${requirement.field}`
        : `${JSON.stringify(requirement.field)} is not a known field selector: only "metadata.name", "metadata.namespace"`;
    throw new SelectorError('KE_SELECTOR_UNSUPPORTED_FIELD', message, {
      selector: requirement.field,
    });
  });
  return { requirements };
}

/** The value of a CRD selectable field: strings as they are, integers and booleans printed. */
function customFieldValue(object: JsonObject, label: string): string | undefined {
  let current: unknown = object;
  for (const part of label.split('.')) current = asObject(current)[part];
  if (typeof current === 'string') return current;
  if (typeof current === 'boolean' || (typeof current === 'number' && Number.isInteger(current))) {
    return String(current);
  }
  return undefined;
}

/**
 * The selectable fields of one object of a resource with their values, for {@link matchesFields}:
 * `metadata.name`, `metadata.namespace` (for resources that have it) and the resource's own fields.
 * Absent fields get Kubernetes' zero values ("" , "false", "0").
 */
export function fieldsOf(
  resource: string,
  object: unknown,
  options: SelectableFieldsOptions = {},
): Record<string, string> {
  const source = asObject(object);
  const fields: Record<string, string> = { 'metadata.name': text(source, 'metadata.name') };
  const known = resourceFields[resource];
  if (known === undefined || known.accepted.includes('metadata.namespace')) {
    fields['metadata.namespace'] = text(source, 'metadata.namespace');
  }
  if (known !== undefined) return { ...fields, ...known.values(source) };
  for (const label of customFieldLabels(options)) {
    const value = customFieldValue(source, label);
    if (value !== undefined) fields[label] = value;
  }
  return fields;
}
