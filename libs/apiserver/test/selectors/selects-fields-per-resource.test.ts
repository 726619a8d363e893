import { describe, expect, it } from 'vitest';
import {
  fieldsOf,
  matchesFields,
  parseFieldSelector,
  SelectorError,
  selectableFieldsOf,
  validateFieldSelector,
} from '../../src/selectors';

const pod = {
  metadata: { name: 'web-0', namespace: 'shop', labels: { app: 'web' } },
  spec: {
    nodeName: 'edge-1',
    restartPolicy: 'Always',
    schedulerName: 'default-scheduler',
    serviceAccountName: 'web',
    hostNetwork: true,
  },
  status: {
    phase: 'Running',
    podIP: '10.1.0.5',
    podIPs: [{ ip: '10.1.0.5' }, { ip: 'fd00::5' }],
    nominatedNodeName: 'edge-2',
  },
};

const event = {
  metadata: { name: 'web-0.17a', namespace: 'shop' },
  involvedObject: {
    kind: 'Pod',
    namespace: 'shop',
    name: 'web-0',
    uid: 'u-1',
    apiVersion: 'v1',
    resourceVersion: '42',
    fieldPath: 'spec.containers{app}',
  },
  reason: 'Pulled',
  source: { component: 'kubelet', host: 'edge-1' },
  reportingComponent: 'kubelet',
  type: 'Normal',
};

/** Parses, validates for the resource and matches, as the list handler does. */
const selects = (resource: string, text: string, object: unknown) =>
  matchesFields(
    validateFieldSelector(resource, parseFieldSelector(text)),
    fieldsOf(resource, object),
  );

describe('fieldsOf', () => {
  it('gives the selectable fields of a pod', () => {
    expect(fieldsOf('core/pods', pod)).toEqual({
      'metadata.name': 'web-0',
      'metadata.namespace': 'shop',
      'spec.nodeName': 'edge-1',
      'spec.restartPolicy': 'Always',
      'spec.schedulerName': 'default-scheduler',
      'spec.serviceAccountName': 'web',
      'spec.hostNetwork': 'true',
      'status.phase': 'Running',
      'status.podIP': '10.1.0.5',
      'status.nominatedNodeName': 'edge-2',
    });
  });

  it('uses zero values for absent fields', () => {
    expect(fieldsOf('core/pods', { metadata: { name: 'p' } })).toMatchObject({
      'metadata.namespace': '',
      'spec.nodeName': '',
      'spec.hostNetwork': 'false',
      'status.podIP': '',
    });
    expect(fieldsOf('core/nodes', { metadata: { name: 'n' } })).toEqual({
      'metadata.name': 'n',
      'spec.unschedulable': 'false',
    });
    expect(fieldsOf('apps/replicasets', { metadata: { name: 'r' } })).toMatchObject({
      'status.replicas': '0',
    });
  });

  it('gives the selectable fields of an event', () => {
    expect(fieldsOf('core/events', event)).toEqual({
      'metadata.name': 'web-0.17a',
      'metadata.namespace': 'shop',
      'involvedObject.kind': 'Pod',
      'involvedObject.namespace': 'shop',
      'involvedObject.name': 'web-0',
      'involvedObject.uid': 'u-1',
      'involvedObject.apiVersion': 'v1',
      'involvedObject.resourceVersion': '42',
      'involvedObject.fieldPath': 'spec.containers{app}',
      reason: 'Pulled',
      reportingComponent: 'kubelet',
      source: 'kubelet',
      type: 'Normal',
    });
  });

  it('gives metadata fields and CRD selectable fields for other resources', () => {
    const widget = { metadata: { name: 'w', namespace: 'ns' }, spec: { color: 'red', size: 3 } };
    expect(fieldsOf('example.com/widgets', widget)).toEqual({
      'metadata.name': 'w',
      'metadata.namespace': 'ns',
    });
    expect(
      fieldsOf('example.com/widgets', widget, {
        selectableFields: [{ jsonPath: '.spec.color' }, { jsonPath: '.spec.size' }],
      }),
    ).toEqual({
      'metadata.name': 'w',
      'metadata.namespace': 'ns',
      'spec.color': 'red',
      'spec.size': '3',
    });
  });
});

describe('field selectors per resource', () => {
  it.each([
    ['core/pods', 'spec.nodeName=edge-1', pod, true],
    ['core/pods', 'spec.nodeName=edge-2', pod, false],
    ['core/pods', 'spec.host=edge-1', pod, true],
    ['core/pods', 'status.phase!=Succeeded,status.phase!=Failed', pod, true],
    ['core/pods', 'spec.hostNetwork=true', pod, true],
    ['core/pods', 'metadata.namespace=shop,metadata.name=web-0', pod, true],
    ['core/events', 'involvedObject.name=web-0', event, true],
    ['core/events', 'involvedObject.kind=Pod,involvedObject.name=web-1', event, false],
    ['core/events', 'source=kubelet,type=Normal', event, true],
    ['core/secrets', 'type=kubernetes.io/tls', { type: 'kubernetes.io/tls' }, true],
    ['core/nodes', 'spec.unschedulable=false', { spec: {} }, true],
    ['core/namespaces', 'status.phase=Active', { status: { phase: 'Active' } }, true],
    ['apps/replicasets', 'status.replicas=0', { status: { replicas: 0 } }, true],
    ['core/configmaps', 'metadata.name=cfg', { metadata: { name: 'cfg' } }, true],
    [
      'events.k8s.io/events',
      'regarding.name=web-0,reportingController=kubelet',
      { regarding: { name: 'web-0' }, reportingController: 'kubelet' },
      true,
    ],
  ])('%s %j', (resource, text, object, expected) => {
    expect(selects(resource, text, object)).toBe(expected);
  });

  it.each([
    ['core/pods', 'spec.foo=x', 'field label not supported: spec.foo'],
    ['core/events', 'involvedObject.foo=x', 'field label not supported: involvedObject.foo'],
    ['core/nodes', 'metadata.namespace=x', 'field label not supported: metadata.namespace'],
    [
      'core/configmaps',
      'data.key=x',
      '"data.key" is not a known field selector: only "metadata.name", "metadata.namespace"',
    ],
  ])('refuses %s %j', (resource, text, message) => {
    let thrown: unknown;
    try {
      validateFieldSelector(resource, parseFieldSelector(text));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SelectorError);
    expect(thrown).toMatchObject({ code: 'KE_SELECTOR_UNSUPPORTED_FIELD', message });
  });

  it('accepts the selectable fields of a CRD', () => {
    const options = { selectableFields: [{ jsonPath: '.spec.color' }] };
    const selector = validateFieldSelector(
      'example.com/widgets',
      parseFieldSelector('spec.color=red'),
      options,
    );
    expect(
      matchesFields(selector, fieldsOf('example.com/widgets', { spec: { color: 'red' } }, options)),
    ).toBe(true);
    expect(() =>
      validateFieldSelector('example.com/widgets', parseFieldSelector('spec.size=1'), options),
    ).toThrow('field label not supported: spec.size');
    expect(selectableFieldsOf('example.com/widgets', options)).toEqual([
      'metadata.name',
      'metadata.namespace',
      'spec.color',
    ]);
  });

  it('rewrites old field spellings', () => {
    expect(validateFieldSelector('core/pods', parseFieldSelector('spec.host=a'))).toEqual({
      requirements: [{ field: 'spec.nodeName', operator: '=', value: 'a' }],
    });
  });
});
