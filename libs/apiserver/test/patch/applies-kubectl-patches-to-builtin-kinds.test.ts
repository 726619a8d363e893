import { describe, expect, it } from 'vitest';
import {
  applyStrategicMergePatch,
  builtinPatchSchemas,
  objectMetaPatchSchema,
  type PatchSchema,
  patchSchemaForKind,
} from '../../src/patch';

const schemaOf = (kind: string): PatchSchema => {
  const schema = builtinPatchSchemas[kind];
  if (schema === undefined) throw new Error(`no schema for ${kind}`);
  return schema;
};

/** A pod as the API server stores it: with the defaults the server filled in. */
function livePod() {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: 'u-1',
      labels: { app: 'web' },
      finalizers: ['example.com/cleanup'],
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'shop/app:1',
          env: [
            { name: 'MODE', value: 'prod' },
            { name: 'LEVEL', value: 'info' },
          ],
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          terminationMessagePath: '/dev/termination-log',
        },
        { name: 'log', image: 'shop/log:1', terminationMessagePath: '/dev/termination-log' },
      ],
      volumes: [{ name: 'data', emptyDir: {} }],
      tolerations: [{ key: 'a', operator: 'Exists' }],
      restartPolicy: 'Always',
    },
    status: {
      phase: 'Running',
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'PodScheduled', status: 'True' },
      ],
    },
  };
}

describe('strategic merge patches of kubectl on built-in kinds', () => {
  it('kubectl patch merges one container by name', () => {
    const patched = applyStrategicMergePatch(
      livePod(),
      { spec: { containers: [{ name: 'app', image: 'shop/app:2' }] } },
      schemaOf('Pod'),
    );
    expect(patched.spec).toMatchObject({
      containers: [
        {
          name: 'app',
          image: 'shop/app:2',
          env: [
            { name: 'MODE', value: 'prod' },
            { name: 'LEVEL', value: 'info' },
          ],
          terminationMessagePath: '/dev/termination-log',
        },
        { name: 'log', image: 'shop/log:1' },
      ],
    });
  });

  it('merges env by name and ports by containerPort', () => {
    const patched = applyStrategicMergePatch(
      livePod(),
      {
        spec: {
          containers: [
            {
              name: 'app',
              env: [{ name: 'LEVEL', value: 'debug' }],
              ports: [{ containerPort: 8080, name: 'http' }],
            },
          ],
        },
      },
      schemaOf('Pod'),
    );
    const app = (patched.spec as { containers: Array<Record<string, unknown>> }).containers[0];
    expect(app?.env).toEqual([
      { name: 'MODE', value: 'prod' },
      { name: 'LEVEL', value: 'debug' },
    ]);
    expect(app?.ports).toEqual([{ containerPort: 8080, protocol: 'TCP', name: 'http' }]);
  });

  it('deletes a container with $patch: delete', () => {
    const patched = applyStrategicMergePatch(
      livePod(),
      { spec: { containers: [{ name: 'log', $patch: 'delete' }] } },
      schemaOf('Pod'),
    );
    expect(
      (patched.spec as { containers: Array<{ name: string }> }).containers.map((c) => c.name),
    ).toEqual(['app']);
  });

  it('applies the three-way patch of a second kubectl apply', () => {
    // The manifest was applied with containers [app, log]; it now has [app (new image), sidecar]
    // and a changed env. kubectl sends what it computed from last-applied, manifest and live.
    const lastApplied =
      '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop"},"spec":{"containers":[{"name":"app","image":"shop/app:3"},{"name":"sidecar","image":"shop/sidecar:1"}]}}';
    const patch = {
      metadata: {
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied },
      },
      spec: {
        '$setElementOrder/containers': [{ name: 'app' }, { name: 'sidecar' }],
        containers: [
          {
            name: 'app',
            image: 'shop/app:3',
            '$setElementOrder/env': [{ name: 'LEVEL' }, { name: 'MODE' }],
            env: [{ name: 'LEVEL', value: 'warn' }],
          },
          { name: 'sidecar', image: 'shop/sidecar:1' },
          { name: 'log', $patch: 'delete' },
        ],
      },
    };
    const patched = applyStrategicMergePatch(livePod(), patch, schemaOf('Pod'));
    expect(patched.metadata).toMatchObject({
      labels: { app: 'web' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied },
    });
    expect(patched.spec).toMatchObject({
      containers: [
        {
          name: 'app',
          image: 'shop/app:3',
          env: [
            { name: 'LEVEL', value: 'warn' },
            { name: 'MODE', value: 'prod' },
          ],
          // Server defaults the manifest does not mention stay.
          terminationMessagePath: '/dev/termination-log',
        },
        { name: 'sidecar', image: 'shop/sidecar:1' },
      ],
      restartPolicy: 'Always',
    });
    expect(JSON.stringify(patched)).not.toContain('$setElementOrder');
  });

  it('$retainKeys on a volume switches its source, as kubectl apply does', () => {
    const patched = applyStrategicMergePatch(
      livePod(),
      {
        spec: {
          '$setElementOrder/volumes': [{ name: 'data' }],
          volumes: [
            { $retainKeys: ['configMap', 'name'], name: 'data', configMap: { name: 'cfg' } },
          ],
        },
      },
      schemaOf('Pod'),
    );
    expect((patched.spec as { volumes: unknown }).volumes).toEqual([
      { name: 'data', configMap: { name: 'cfg' } },
    ]);
  });

  it('merges finalizers as a set and removes them with $deleteFromPrimitiveList', () => {
    const added = applyStrategicMergePatch(
      livePod(),
      { metadata: { finalizers: ['example.com/audit', 'example.com/cleanup'] } },
      schemaOf('Pod'),
    );
    expect((added.metadata as { finalizers: string[] }).finalizers).toEqual([
      'example.com/audit',
      'example.com/cleanup',
    ]);
    const removed = applyStrategicMergePatch(
      added,
      { metadata: { '$deleteFromPrimitiveList/finalizers': ['example.com/cleanup'] } },
      schemaOf('Pod'),
    );
    expect((removed.metadata as { finalizers: string[] }).finalizers).toEqual([
      'example.com/audit',
    ]);
  });

  it('merges pod and node conditions by type and node addresses by type', () => {
    const pod = applyStrategicMergePatch(
      livePod(),
      { status: { conditions: [{ type: 'Ready', status: 'False', reason: 'Probe' }] } },
      schemaOf('Pod'),
    );
    expect((pod.status as { conditions: unknown }).conditions).toEqual([
      { type: 'Ready', status: 'False', reason: 'Probe' },
      { type: 'PodScheduled', status: 'True' },
    ]);

    const node = {
      metadata: { name: 'edge-1' },
      status: {
        conditions: [
          { type: 'MemoryPressure', status: 'False' },
          { type: 'Ready', status: 'True' },
        ],
        addresses: [
          { type: 'InternalIP', address: '10.0.0.1' },
          { type: 'Hostname', address: 'edge-1' },
        ],
      },
    };
    const patchedNode = applyStrategicMergePatch(
      node,
      {
        status: {
          conditions: [{ type: 'Ready', status: 'Unknown' }],
          addresses: [{ type: 'InternalIP', address: '10.0.0.2' }],
        },
      },
      schemaOf('Node'),
    );
    expect(patchedNode.status).toEqual({
      conditions: [
        { type: 'MemoryPressure', status: 'False' },
        { type: 'Ready', status: 'Unknown' },
      ],
      addresses: [
        { type: 'InternalIP', address: '10.0.0.2' },
        { type: 'Hostname', address: 'edge-1' },
      ],
    });
  });

  it('replaces a map with $patch: replace and lists without strategy (tolerations)', () => {
    const patched = applyStrategicMergePatch(
      livePod(),
      {
        metadata: { labels: { $patch: 'replace', tier: 'front' } },
        spec: { tolerations: [{ key: 'b', operator: 'Exists' }] },
      },
      schemaOf('Pod'),
    );
    expect((patched.metadata as { labels: unknown }).labels).toEqual({ tier: 'front' });
    expect((patched.spec as { tolerations: unknown }).tolerations).toEqual([
      { key: 'b', operator: 'Exists' },
    ]);
  });

  it('patches the pod template of a Deployment like a pod, and its strategy', () => {
    const deployment = {
      metadata: { name: 'web', ownerReferences: [{ uid: 'a', kind: 'X', name: 'x' }] },
      spec: {
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'app', image: 'a:1', env: [{ name: 'A', value: '1' }] }] },
        },
      },
      status: { conditions: [{ type: 'Available', status: 'True' }] },
    };
    const patched = applyStrategicMergePatch(
      deployment,
      {
        metadata: { ownerReferences: [{ uid: 'b', kind: 'Y', name: 'y' }] },
        spec: {
          strategy: { $retainKeys: ['type'], type: 'Recreate' },
          template: { spec: { containers: [{ name: 'app', env: [{ name: 'B', value: '2' }] }] } },
        },
        status: { conditions: [{ type: 'Progressing', status: 'True' }] },
      },
      schemaOf('Deployment'),
    );
    expect(patched).toEqual({
      metadata: {
        name: 'web',
        ownerReferences: [
          { uid: 'b', kind: 'Y', name: 'y' },
          { uid: 'a', kind: 'X', name: 'x' },
        ],
      },
      spec: {
        strategy: { type: 'Recreate' },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [
              {
                name: 'app',
                image: 'a:1',
                env: [
                  { name: 'B', value: '2' },
                  { name: 'A', value: '1' },
                ],
              },
            ],
          },
        },
      },
      status: {
        conditions: [
          { type: 'Progressing', status: 'True' },
          { type: 'Available', status: 'True' },
        ],
      },
    });
  });

  it('merges service ports by port and replaces endpoint subsets', () => {
    const service = {
      spec: {
        ports: [
          { port: 80, targetPort: 8080, name: 'http' },
          { port: 443, targetPort: 8443, name: 'https' },
        ],
      },
    };
    const patched = applyStrategicMergePatch(
      service,
      { spec: { ports: [{ port: 443, targetPort: 9443 }] } },
      schemaOf('Service'),
    );
    expect((patched.spec as { ports: unknown }).ports).toEqual([
      { port: 80, targetPort: 8080, name: 'http' },
      { port: 443, targetPort: 9443, name: 'https' },
    ]);

    const endpoints = { subsets: [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80 }] }] };
    const replaced = applyStrategicMergePatch(
      endpoints,
      { subsets: [{ addresses: [{ ip: '10.0.0.2' }] }] },
      schemaOf('Endpoints'),
    );
    expect(replaced).toEqual({ subsets: [{ addresses: [{ ip: '10.0.0.2' }] }] });
  });

  it('falls back to metadata-only patch metadata for other kinds and unknown fields', () => {
    expect(patchSchemaForKind('Widget')).toBe(objectMetaPatchSchema);
    expect(patchSchemaForKind('Pod')).toBe(builtinPatchSchemas.Pod);
    const patched = applyStrategicMergePatch(
      { metadata: { finalizers: ['a'] }, spec: { items: [{ name: 'x', a: 1 }], map: { a: 1 } } },
      {
        metadata: { finalizers: ['b'] },
        spec: { items: [{ name: 'x', b: 2 }], map: { b: 2 } },
      },
      patchSchemaForKind('Widget'),
    );
    expect(patched).toEqual({
      metadata: { finalizers: ['b', 'a'] },
      spec: { items: [{ name: 'x', b: 2 }], map: { a: 1, b: 2 } },
    });
  });

  it('covers the kinds the API server serves', () => {
    for (const kind of [
      'Pod',
      'Deployment',
      'Node',
      'Service',
      'ConfigMap',
      'Secret',
      'Namespace',
      'Endpoints',
      'EndpointSlice',
      'Event',
      'ServiceAccount',
      'Lease',
      'ReplicaSet',
      'DaemonSet',
    ]) {
      expect(builtinPatchSchemas[kind]?.['metadata.finalizers'], kind).toEqual({
        patchStrategy: 'merge',
      });
    }
    expect(builtinPatchSchemas.DaemonSet?.['spec.template.spec.containers[].env']).toEqual({
      patchStrategy: 'merge',
      patchMergeKey: 'name',
    });
    expect(builtinPatchSchemas.Pod?.['spec.volumes']).toEqual({
      patchStrategy: 'merge,retainKeys',
      patchMergeKey: 'name',
    });
  });
});
