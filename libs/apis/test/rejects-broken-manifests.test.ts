import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ApisError, assertValid, parseManifests, validate } from '../src/index';

const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** A fresh copy of document `index` of a fixture file. */
function fixture(file: string, index = 0): Record<string, unknown> {
  const object = parseManifests(readFileSync(join(fixturesDir, file), 'utf8'))[index];
  if (object === undefined) throw new Error(`${file} has no document ${index}`);
  return structuredClone(object);
}

const REMOVE = Symbol('remove');

/** Sets (or removes) the value at a dotted path such as `spec.properties.0.name`, creating objects on the way. */
function edit(object: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop() as string;
  let current = object as Record<string, unknown>;
  for (const key of keys) {
    if (current[key] === undefined) current[key] = {};
    current = current[key] as Record<string, unknown>;
  }
  if (value === REMOVE) delete current[last];
  else current[last] = value;
}

interface Variant {
  name: string;
  file: string;
  index?: number;
  changes: [path: string, value: unknown][];
  strict?: boolean;
  path: string;
  message: string;
}

const device = 'device.yaml';
const model = 'devicemodel.yaml';
const nodeGroup = 'nodegroup.yaml';
const app = 'edgeapplication.yaml';
const job = 'imagepulljob.yaml';
const nodeImage = 'nodeimage.yaml';
const objectSync = 'objectsync.yaml';
const imageKey = '127.0.0.1:5000/library/busybox';

const variants: Variant[] = [
  // Device
  {
    name: 'a visitor protocolName that is a number',
    file: device,
    changes: [['spec.properties.0.visitors.protocolName', 42]],
    path: 'spec.properties[0].visitors.protocolName',
    message: 'expected string, got number',
  },
  {
    name: 'a collectCycle that is a word',
    file: device,
    changes: [['spec.properties.0.collectCycle', 'often']],
    path: 'spec.properties[0].collectCycle',
    message: 'expected integer, got string',
  },
  {
    name: 'a fractional reportCycle',
    file: device,
    changes: [['spec.properties.0.reportCycle', 1.5]],
    path: 'spec.properties[0].reportCycle',
    message: 'expected integer, got 1.5',
  },
  {
    name: 'a desired value that is missing',
    file: device,
    changes: [['spec.properties.0.desired.value', REMOVE]],
    path: 'spec.properties[0].desired.value',
    message: 'required field is missing',
  },
  {
    name: 'an MQTT qos above 2',
    file: device,
    changes: [['spec.properties.0.pushMethod.mqtt.qos', 3]],
    path: 'spec.properties[0].pushMethod.mqtt.qos',
    message: 'must be <= 2, got 3',
  },
  {
    name: 'reportToCloud as a string',
    file: device,
    changes: [['spec.properties.0.reportToCloud', 'yes']],
    path: 'spec.properties[0].reportToCloud',
    message: 'expected boolean, got string',
  },
  {
    name: 'protocol configData that is not an object',
    file: device,
    changes: [['spec.protocol.configData', 'ip=127.0.0.1']],
    path: 'spec.protocol.configData',
    message: 'expected object, got string',
  },
  {
    name: 'properties that are not a list',
    file: device,
    changes: [['spec.properties', { name: 'temp' }]],
    path: 'spec.properties',
    message: 'expected array, got object',
  },
  {
    name: 'two properties with the same name',
    file: device,
    changes: [['spec.properties.1', { name: 'temp', visitors: { protocolName: 'modbus' } }]],
    path: 'spec.properties[1].name',
    message: 'duplicate property name "temp"',
  },
  {
    name: 'a twin without a reported value',
    file: device,
    changes: [
      ['status', { twins: [{ propertyName: 'temp', reported: { metadata: { type: 'int' } } }] }],
    ],
    path: 'status.twins[0].reported.value',
    message: 'required field is missing',
  },
  {
    name: 'no spec',
    file: device,
    changes: [['spec', REMOVE]],
    path: 'spec',
    message: 'required field is missing',
  },
  {
    name: 'no metadata.name',
    file: device,
    changes: [['metadata.name', REMOVE]],
    path: 'metadata.name',
    message: 'required field is missing',
  },
  {
    name: 'an upper-case name',
    file: device,
    changes: [['metadata.name', 'Beta1-Device']],
    path: 'metadata.name',
    message: 'is not a lowercase RFC 1123 subdomain',
  },
  {
    name: 'a namespace with a dot',
    file: device,
    changes: [['metadata.namespace', 'team.a']],
    path: 'metadata.namespace',
    message: 'is not a lowercase RFC 1123 label',
  },
  {
    name: 'a label value that is a number',
    file: device,
    changes: [['metadata.labels', { 'app.kubernetes.io/name': 7 }]],
    path: 'metadata.labels["app.kubernetes.io/name"]',
    message: 'expected string, got number',
  },
  // DeviceModel
  {
    name: 'a property type outside the enum',
    file: model,
    changes: [['spec.properties.0.type', 'INTEGER']],
    path: 'spec.properties[0].type',
    message:
      'unsupported value "INTEGER"; expected one of "INT", "FLOAT", "DOUBLE", "STRING", "BOOLEAN", "BYTES", "STREAM"',
  },
  {
    name: 'an access mode outside the enum',
    file: model,
    changes: [['spec.properties.0.accessMode', 'RW']],
    path: 'spec.properties[0].accessMode',
    message: 'unsupported value "RW"; expected one of "ReadWrite", "ReadOnly"',
  },
  {
    name: 'an unquoted maximum (a number, upstream wants a string)',
    file: model,
    changes: [['spec.properties.0.maximum', 100]],
    path: 'spec.properties[0].maximum',
    message: 'expected string, got number',
  },
  // NodeGroup
  {
    name: 'nodes given as one string',
    file: nodeGroup,
    index: 1,
    changes: [['spec.nodes', 'edge-node-3']],
    path: 'spec.nodes',
    message: 'expected array, got string',
  },
  {
    name: 'a matchLabels value that is a number',
    file: nodeGroup,
    changes: [['spec.matchLabels.zone', 3]],
    path: 'spec.matchLabels.zone',
    message: 'expected string, got number',
  },
  {
    name: 'a node status without nodeName',
    file: nodeGroup,
    changes: [
      ['status', { nodeStatuses: [{ readyStatus: 'Ready', selectionStatus: 'Succeeded' }] }],
    ],
    path: 'status.nodeStatuses[0].nodeName',
    message: 'required field is missing',
  },
  {
    name: 'a node status with an unknown readyStatus',
    file: nodeGroup,
    changes: [
      [
        'status',
        { nodeStatuses: [{ nodeName: 'n1', readyStatus: 'Up', selectionStatus: 'Succeeded' }] },
      ],
    ],
    path: 'status.nodeStatuses[0].readyStatus',
    message: 'unsupported value "Up"; expected one of "Ready", "NotReady", "Unknown"',
  },
  // EdgeApplication
  {
    name: 'no workloadScope',
    file: app,
    changes: [['spec.workloadScope', REMOVE]],
    path: 'spec.workloadScope',
    message: 'required field is missing',
  },
  {
    name: 'a target node group without a name',
    file: app,
    changes: [['spec.workloadScope.targetNodeGroups.0.name', REMOVE]],
    path: 'spec.workloadScope.targetNodeGroups[0].name',
    message: 'required field is missing',
  },
  {
    name: 'an image overrider component outside the enum',
    file: app,
    changes: [
      ['spec.workloadScope.targetNodeGroups.1.overriders.imageOverriders.0.component', 'Version'],
    ],
    path: 'spec.workloadScope.targetNodeGroups[1].overriders.imageOverriders[0].component',
    message: 'unsupported value "Version"; expected one of "Registry", "Repository", "Tag"',
  },
  {
    name: 'a replace image overrider without a value',
    file: app,
    changes: [['spec.workloadScope.targetNodeGroups.1.overriders.imageOverriders.0.value', REMOVE]],
    path: 'spec.workloadScope.targetNodeGroups[1].overriders.imageOverriders[0].value',
    message: 'must not be empty when operator is "replace"',
  },
  {
    name: 'negative replicas',
    file: app,
    changes: [['spec.workloadScope.targetNodeGroups.0.overriders.replicas', -1]],
    path: 'spec.workloadScope.targetNodeGroups[0].overriders.replicas',
    message: 'must be >= 0, got -1',
  },
  {
    name: 'a manifest without kind',
    file: app,
    changes: [['spec.workloadTemplate.manifests.0.kind', REMOVE]],
    path: 'spec.workloadTemplate.manifests[0].kind',
    message: 'required field is missing',
  },
  {
    name: 'a manifest that is a string',
    file: app,
    changes: [['spec.workloadTemplate.manifests.1', 'kind: Service']],
    path: 'spec.workloadTemplate.manifests[1]',
    message: 'expected object, got string',
  },
  {
    name: 'a node label selector with an unknown operator',
    file: app,
    changes: [
      [
        'spec.workloadScope.targetNodeLabels',
        [
          {
            labelSelector: {
              matchExpressions: [{ key: 'region', operator: 'Equals', values: ['hangzhou'] }],
            },
          },
        ],
      ],
    ],
    path: 'spec.workloadScope.targetNodeLabels[0].labelSelector.matchExpressions[0].operator',
    message: 'unsupported value "Equals"',
  },
  // ImagePullJob
  {
    name: 'negative parallelism',
    file: job,
    changes: [['spec.parallelism', -1]],
    path: 'spec.parallelism',
    message: 'must be >= 0, got -1',
  },
  {
    name: 'parallelism as a percentage',
    file: job,
    changes: [['spec.parallelism', '50%']],
    path: 'spec.parallelism',
    message: 'must be a non-negative integer, got "50%"',
  },
  {
    name: 'parallelism as a boolean',
    file: job,
    changes: [['spec.parallelism', true]],
    path: 'spec.parallelism',
    message: 'expected integer or string, got boolean',
  },
  {
    name: 'no image',
    file: job,
    changes: [['spec.image', REMOVE]],
    path: 'spec.image',
    message: 'required field is missing',
  },
  {
    name: 'an empty image',
    file: job,
    changes: [['spec.image', '']],
    path: 'spec.image',
    message: 'must not be empty',
  },
  {
    name: 'an image with an upper-case repository',
    file: job,
    changes: [['spec.image', '127.0.0.1:5000/Library/BusyBox:1.35']],
    path: 'spec.image',
    message: 'invalid image reference',
  },
  {
    name: 'no completionPolicy',
    file: job,
    changes: [['spec.completionPolicy', REMOVE]],
    path: 'spec.completionPolicy',
    message: 'required field is missing',
  },
  {
    name: 'a completion policy type outside the enum',
    file: job,
    changes: [['spec.completionPolicy.type', 'Sometimes']],
    path: 'spec.completionPolicy.type',
    message: 'unsupported value "Sometimes"; expected one of "Always", "Never"',
  },
  {
    name: 'a deadline on a Never job',
    file: job,
    changes: [['spec.completionPolicy.activeDeadlineSeconds', 3600]],
    path: 'spec.completionPolicy.activeDeadlineSeconds',
    message: 'only works with completionPolicy type "Always"',
  },
  {
    name: 'a deadline shorter than the pull timeout',
    file: job,
    index: 1,
    changes: [['spec.completionPolicy.activeDeadlineSeconds', 100]],
    path: 'spec.completionPolicy.activeDeadlineSeconds',
    message: 'must be at least pullPolicy.timeoutSeconds (300), got 100',
  },
  {
    name: 'a negative backoffLimit',
    file: job,
    changes: [['spec.pullPolicy.backoffLimit', -1]],
    path: 'spec.pullPolicy.backoffLimit',
    message: 'must be >= 0, got -1',
  },
  {
    name: 'a quoted timeoutSeconds',
    file: job,
    changes: [['spec.pullPolicy.timeoutSeconds', '300']],
    path: 'spec.pullPolicy.timeoutSeconds',
    message: 'expected integer, got string',
  },
  {
    name: 'a selector with both names and matchLabels',
    file: job,
    index: 1,
    changes: [['spec.selector.names', ['edge-node-1']]],
    path: 'spec.selector',
    message: 'can not set both names and matchLabels/matchExpressions',
  },
  {
    name: 'a selector and a podSelector',
    file: job,
    index: 1,
    changes: [['spec.podSelector', { matchLabels: { app: 'web' } }]],
    path: 'spec.podSelector',
    message: 'can not be set together with spec.selector',
  },
  {
    name: 'an In requirement without values',
    file: job,
    changes: [['spec.selector', { matchExpressions: [{ key: 'region', operator: 'In' }] }]],
    path: 'spec.selector.matchExpressions[0].values',
    message: 'must be non-empty when operator is "In"',
  },
  {
    name: 'an imagePullPolicy outside the enum',
    file: job,
    changes: [['spec.imagePullPolicy', 'Never']],
    path: 'spec.imagePullPolicy',
    message: 'unsupported value "Never"; expected one of "Always", "IfNotPresent"',
  },
  {
    name: 'a status without desired',
    file: job,
    changes: [['status', { active: 1 }]],
    path: 'status.desired',
    message: 'required field is missing',
  },
  {
    name: 'a status startTime that is not a date-time',
    file: job,
    changes: [['status', { desired: 1, startTime: 'yesterday' }]],
    path: 'status.startTime',
    message: 'expected an RFC 3339 date-time, got "yesterday"',
  },
  // NodeImage
  {
    name: 'an image without tags',
    file: nodeImage,
    changes: [['spec.images', { [imageKey]: {} }]],
    path: `spec.images["${imageKey}"].tags`,
    message: 'required field is missing',
  },
  {
    name: 'a tag status above 100 percent',
    file: nodeImage,
    changes: [
      [
        'status.imageStatuses',
        { [imageKey]: { tags: [{ tag: '1.35', phase: 'Pulling', progress: 120 }] } },
      ],
    ],
    path: `status.imageStatuses["${imageKey}"].tags[0].progress`,
    message: 'must be <= 100, got 120',
  },
  // ObjectSync
  {
    name: 'an objectName that is a number',
    file: objectSync,
    changes: [['spec.objectName', 12]],
    path: 'spec.objectName',
    message: 'expected string, got number',
  },
  // strict mode
  {
    name: 'a misspelt field in strict mode',
    file: device,
    strict: true,
    changes: [['spec.nodeNmae', 'edge-node-1']],
    path: 'spec.nodeNmae',
    message: 'unknown field',
  },
  {
    name: 'a misspelt metadata field in strict mode',
    file: nodeGroup,
    strict: true,
    changes: [['metadata.label', { a: 'b' }]],
    path: 'metadata.label',
    message: 'unknown field',
  },
  {
    name: 'a namespace on a cluster-scoped NodeGroup in strict mode',
    file: nodeGroup,
    strict: true,
    changes: [['metadata.namespace', 'default']],
    path: 'metadata.namespace',
    message: 'NodeGroup is cluster-scoped',
  },
];

describe('a broken manifest', () => {
  it.each(variants)(
    'is rejected: $name ($path)',
    ({ file, index, changes, strict, path, message }) => {
      const object = fixture(file, index);
      for (const [at, value] of changes) edit(object, at, value);
      const result = validate(object, { strict: strict === true });
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.code).toBe('KE_APIS_INVALID');
      const issue = result.issues.find((candidate) => candidate.path === path);
      expect(issue, `no issue at ${path}; got ${JSON.stringify(result.issues)}`).toBeDefined();
      expect(issue?.message).toContain(message);
      // One mistake, one issue: nothing else in the object is blamed.
      expect(result.issues).toHaveLength(1);
    },
  );

  it('lists every problem at once', () => {
    const object = fixture(job);
    edit(object, 'spec.image', 42);
    edit(object, 'spec.pullPolicy.backoffLimit', -2);
    edit(object, 'metadata.name', REMOVE);
    const result = validate(object);
    expect(result.ok ? [] : result.issues.map((issue) => issue.path).sort()).toEqual([
      'metadata.name',
      'spec.image',
      'spec.pullPolicy.backoffLimit',
    ]);
  });

  it('is thrown by assertValid as an ApisError naming each field', () => {
    const object = fixture(device);
    edit(object, 'spec.properties.0.visitors.protocolName', 42);
    let thrown: unknown;
    try {
      assertValid(object);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ApisError);
    const error = thrown as ApisError;
    expect(error.code).toBe('KE_APIS_INVALID');
    expect(error.message).toContain('Device default/beta1-device is invalid');
    expect(error.message).toContain(
      'spec.properties[0].visitors.protocolName: expected string, got number',
    );
    expect(error.issues).toEqual([
      { path: 'spec.properties[0].visitors.protocolName', message: 'expected string, got number' },
    ]);
  });
});

describe('an object of an unknown kind', () => {
  const cases: { name: string; object: unknown; path: string; message: string }[] = [
    {
      name: 'a misspelt kind',
      object: { ...fixture(device), kind: 'Devices' },
      path: 'kind',
      message:
        'unknown kind "Devices" in devices.kubeedge.io/v1beta1; known kinds: Device, DeviceModel',
    },
    {
      name: 'a version this package does not serve',
      object: { ...fixture(device), apiVersion: 'devices.kubeedge.io/v1alpha2' },
      path: 'apiVersion',
      message:
        'unknown apiVersion "devices.kubeedge.io/v1alpha2" for kind Device; supported: devices.kubeedge.io/v1beta1',
    },
    {
      name: 'a built-in Kubernetes kind',
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } },
      path: 'kind',
      message:
        'unknown apiVersion/kind "v1 Pod"; this package validates: devices.kubeedge.io/v1beta1 Device',
    },
    {
      name: 'no apiVersion',
      object: { kind: 'Device', metadata: { name: 'd' } },
      path: 'apiVersion',
      message: 'required field is missing',
    },
  ];

  it.each(cases)('is rejected with KE_APIS_UNKNOWN_KIND: $name', ({ object, path, message }) => {
    const result = validate(object);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe('KE_APIS_UNKNOWN_KIND');
    expect(result.issues[0]?.path).toBe(path);
    expect(result.issues[0]?.message).toContain(message);
    expect(() => assertValid(object)).toThrowError(
      expect.objectContaining({ code: 'KE_APIS_UNKNOWN_KIND' }),
    );
  });

  it.each([null, 'Device', [], 42])('or no object at all (%j) is rejected', (value) => {
    const result = validate(value);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([
      { path: '', message: expect.stringMatching(/^expected object, got /) },
    ]);
  });
});

describe('outside strict mode', () => {
  it('unknown fields pass, as the API server prunes them', () => {
    const object = fixture(device);
    edit(object, 'spec.nodeNmae', 'edge-node-1');
    edit(object, 'spec.properties.0.visitors.configData.anything', { goes: true });
    expect(validate(object).ok).toBe(true);
  });

  it('a namespace on a cluster-scoped kind is ignored', () => {
    const object = fixture(nodeGroup);
    edit(object, 'metadata.namespace', 'default');
    expect(validate(object).ok).toBe(true);
  });

  it('null in an optional field counts as absent and is dropped from the value', () => {
    const object = fixture(device);
    edit(object, 'metadata.creationTimestamp', null);
    edit(object, 'spec.nodeName', null);
    const result = validate(object, { strict: true });
    expect(result.ok ? [] : result.issues).toEqual([]);
    if (!result.ok || result.value.kind !== 'Device') throw new Error('expected a valid Device');
    expect(result.value.spec).not.toHaveProperty('nodeName');
    expect(result.value.metadata).not.toHaveProperty('creationTimestamp');
  });

  it('free-form configData keeps any content even in strict mode', () => {
    const object = fixture(device);
    edit(object, 'spec.protocol.configData.serialPort', '/dev/ttyS0');
    edit(object, 'spec.protocol.configData.nested', { baudRate: 9600, list: [1, 2] });
    expect(validate(object, { strict: true }).ok).toBe(true);
  });
});
