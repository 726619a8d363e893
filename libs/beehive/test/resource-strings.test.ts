import { describe, expect, it } from 'vitest';
import {
  buildCloudResource,
  buildEdgeResource,
  cloudResourceNode,
  cloudToEdgeResource,
  edgeToCloudResource,
  kindOfResourceType,
  parseCloudResource,
  parseEdgeResource,
  ResourceType,
  resourceTypeOfKind,
  splitCloudResource,
} from '../src/index';
import { caught } from './helpers';

describe('resource strings', () => {
  it('builds and parses the cloud form', () => {
    const resource = buildCloudResource({
      node: 'edge-node-1',
      namespace: 'default',
      type: ResourceType.Pod,
      name: 'nginx-edge-1',
    });
    expect(resource).toBe('node/edge-node-1/default/pod/nginx-edge-1');
    expect(parseCloudResource(resource)).toEqual({
      node: 'edge-node-1',
      namespace: 'default',
      type: 'pod',
      name: 'nginx-edge-1',
    });
  });

  it('builds and parses the edge form', () => {
    expect(buildEdgeResource({ namespace: 'kube-system', type: 'configmap', name: 'cfg' })).toBe(
      'kube-system/configmap/cfg',
    );
    expect(parseEdgeResource('kube-system/configmap/cfg')).toEqual({
      namespace: 'kube-system',
      type: 'configmap',
      name: 'cfg',
    });
  });

  it('writes cluster-scoped objects with the namespace "null" and reads it back as null', () => {
    expect(
      buildEdgeResource({ namespace: null, type: ResourceType.NodeStatus, name: 'edge-node-1' }),
    ).toBe('null/nodestatus/edge-node-1');
    expect(parseEdgeResource('null/nodestatus/edge-node-1')).toEqual({
      namespace: null,
      type: 'nodestatus',
      name: 'edge-node-1',
    });
    expect(buildCloudResource({ node: 'n1', namespace: null, type: 'node', name: 'n1' })).toBe(
      'node/n1/null/node/n1',
    );
    expect(parseCloudResource('node/n1/null/node/n1').namespace).toBeNull();
  });

  it('allows resources without a name (lists, KubeEdge omits an empty resource ID)', () => {
    expect(buildEdgeResource({ namespace: 'default', type: 'podlist' })).toBe('default/podlist');
    expect(buildEdgeResource({ namespace: 'default', type: 'podlist', name: '' })).toBe(
      'default/podlist',
    );
    expect(parseEdgeResource('default/podlist')).toEqual({ namespace: 'default', type: 'podlist' });
    expect(parseCloudResource('node/n1/default/podlist')).toEqual({
      node: 'n1',
      namespace: 'default',
      type: 'podlist',
    });
  });

  it('keeps every segment after the type in the name, so build(parse(s)) === s', () => {
    expect(parseEdgeResource('default/pod/nginx/status')).toEqual({
      namespace: 'default',
      type: 'pod',
      name: 'nginx/status',
    });
    for (const resource of [
      'node/edge-node-1/default/pod/nginx-edge-1',
      'node/n.example.com/null/nodestatus/n',
      'node/n1/default/pod/nginx/status',
      'node/n1/default/podlist',
    ]) {
      expect(buildCloudResource(parseCloudResource(resource))).toBe(resource);
      const edge = cloudToEdgeResource(resource);
      expect(buildEdgeResource(parseEdgeResource(edge))).toBe(edge);
    }
  });

  it('converts between the forms as cloudhub does', () => {
    expect(cloudToEdgeResource('node/edge-node-1/default/pod/nginx-edge-1')).toBe(
      'default/pod/nginx-edge-1',
    );
    expect(edgeToCloudResource('null/nodestatus/edge-node-1', 'edge-node-1')).toBe(
      'node/edge-node-1/null/nodestatus/edge-node-1',
    );
    // Device resources do not follow <ns>/<type>/<name> but convert the same way.
    expect(cloudToEdgeResource('node/n1/membership/detail')).toBe('membership/detail');
    expect(edgeToCloudResource('device/d1/twin/edge_updated', 'n1')).toBe(
      'node/n1/device/d1/twin/edge_updated',
    );
    expect(cloudResourceNode('node/n1/membership/detail')).toBe('n1');
    expect(splitCloudResource('node/n1/membership/detail')).toEqual({
      node: 'n1',
      edgeResource: 'membership/detail',
    });
    expect(() => splitCloudResource('default/pod/x')).toThrow(
      expect.objectContaining({ code: 'KE_RESOURCE_INVALID' }),
    );
    const resource = 'default/configmap/cfg';
    expect(cloudToEdgeResource(edgeToCloudResource(resource, 'edge-node-1'))).toBe(resource);
  });

  it.each([
    [''],
    ['node'],
    ['node/'],
    ['node/n1'],
    ['node/n1/'],
    ['node//default/pod/x'],
    ['nodes/n1/default/pod/x'],
    ['default/pod/x'],
    ['node/Edge_Node/default/pod/x'],
    ['node/-n1/default/pod/x'],
    [`node/${'a'.repeat(254)}/default/pod/x`],
    ['node/n1/default//x'],
    ['node/n1/default/pod/'],
  ])('cloud resource %j → KE_RESOURCE_INVALID', (resource) => {
    const error = caught(() => cloudToEdgeResource(resource));
    expect(error.code).toBe('KE_RESOURCE_INVALID');
    expect(error.message).toContain('Invalid resource');
    expect(caught(() => parseCloudResource(resource)).code).toBe('KE_RESOURCE_INVALID');
  });

  it('maps resource types to kinds and back, and nothing else', () => {
    expect(kindOfResourceType('configmap')).toBe('ConfigMap');
    expect(kindOfResourceType('endpointslice')).toBe('EndpointSlice');
    expect(kindOfResourceType('serviceaccounttoken')).toBe('ServiceAccountToken');
    expect(resourceTypeOfKind('PersistentVolumeClaim')).toBe('persistentvolumeclaim');
    for (const type of ['pod', 'secret', 'service', 'endpoints', 'node', 'lease', 'device']) {
      expect(resourceTypeOfKind(kindOfResourceType(type)!)).toBe(type);
    }
    // Not objects, or not known, or inherited names: no answer rather than a guess.
    for (const name of ['podstatus', 'membership', 'nosuchtype', 'constructor', '__proto__']) {
      expect(kindOfResourceType(name)).toBeUndefined();
    }
    for (const name of ['Deployment', 'configmap', 'toString', '__proto__']) {
      expect(resourceTypeOfKind(name)).toBeUndefined();
    }
  });

  it('parseCloudResource needs a namespace and a type after the node', () => {
    expect(caught(() => parseCloudResource('node/n1/default')).code).toBe('KE_RESOURCE_INVALID');
    expect(cloudToEdgeResource('node/n1/default')).toBe('default');
  });

  it.each([[''], ['default'], ['/pod/x'], ['default//x'], ['default/pod/'], ['default/pod/a//b']])(
    'edge resource %j → KE_RESOURCE_INVALID',
    (resource) => {
      expect(caught(() => parseEdgeResource(resource)).code).toBe('KE_RESOURCE_INVALID');
    },
  );

  it('rejects bad segments when building', () => {
    const cases: Array<() => unknown> = [
      () => buildEdgeResource({ namespace: '', type: 'pod', name: 'x' }),
      () => buildEdgeResource({ namespace: 'a/b', type: 'pod', name: 'x' }),
      () => buildEdgeResource({ namespace: 'default', type: '', name: 'x' }),
      () => buildEdgeResource({ namespace: 'default', type: 'po/d', name: 'x' }),
      () => buildEdgeResource({ namespace: 'default', type: 'pod', name: '/x' }),
      () => buildEdgeResource({ namespace: 'default', type: 'pod', name: 'x/' }),
      () => buildCloudResource({ node: '', namespace: 'default', type: 'pod' }),
      () => buildCloudResource({ node: 'UPPER', namespace: 'default', type: 'pod' }),
      () => buildCloudResource({ node: 'a/b', namespace: 'default', type: 'pod' }),
      () => edgeToCloudResource('default/pod/x', 'bad node'),
      () => edgeToCloudResource('', 'n1'),
      () => edgeToCloudResource('default//x', 'n1'),
      () => parseEdgeResource(42 as unknown as string),
      () => cloudToEdgeResource(undefined as unknown as string),
    ];
    for (const build of cases) expect(caught(build).code).toBe('KE_RESOURCE_INVALID');
  });
});
