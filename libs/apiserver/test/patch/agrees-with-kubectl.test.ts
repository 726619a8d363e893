import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyStrategicMergePatch, builtinPatchSchemas } from '../../src/patch';

// `kubectl patch --local` applies a strategic merge patch with the apimachinery code of its own
// Kubernetes version, without a server: the reference the results here are compared with. Skipped
// where kubectl is not installed.
const run = promisify(execFile);
const kubectlAvailable = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const container = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  image: `${name}:1`,
  ...extra,
});
const pod = (containers: unknown[], spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', labels: { a: '1', b: '2' }, finalizers: ['f1', 'f2', 'f3'] },
  spec: { containers, ...spec },
});
const deployment = (
  spec: Record<string, unknown>,
  metadata: Record<string, unknown> = {},
  status: Record<string, unknown> = {},
) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'd', ...metadata },
  spec: {
    selector: { matchLabels: { a: 'b' } },
    template: { metadata: { labels: { a: 'b' } }, spec: { containers: [container('c')] } },
    ...spec,
  },
  status,
});
const name = (value: string) => ({ name: value });
const gone = (value: string) => ({ name: value, $patch: 'delete' });

const cases: Array<{ title: string; kind: string; object: unknown; patch: unknown }> = [
  {
    title: 'a new container',
    kind: 'Pod',
    object: pod([container('a'), container('b')]),
    patch: { spec: { containers: [container('x')] } },
  },
  {
    title: 'items in the order of the patch',
    kind: 'Pod',
    object: pod([container('a'), container('b'), container('d')]),
    patch: {
      spec: { containers: [container('d', { image: 'd:2' }), container('a', { image: 'a:2' })] },
    },
  },
  {
    title: '$setElementOrder with an added and a deleted container',
    kind: 'Pod',
    object: pod([container('a'), container('b'), container('d')]),
    patch: {
      spec: {
        '$setElementOrder/containers': [name('b'), name('c')],
        containers: [container('c'), gone('a')],
      },
    },
  },
  {
    title: '$setElementOrder adding at the end with a server-only container',
    kind: 'Pod',
    object: pod([container('a'), container('b'), container('d')]),
    patch: {
      spec: {
        '$setElementOrder/containers': [name('a'), name('b'), name('c')],
        containers: [container('c')],
      },
    },
  },
  {
    title: '$setElementOrder adding two and deleting one',
    kind: 'Pod',
    object: pod([container('a'), container('b'), container('d'), container('e')]),
    patch: {
      spec: {
        '$setElementOrder/containers': [name('b'), name('x'), name('y')],
        containers: [container('x'), container('y'), gone('a')],
      },
    },
  },
  {
    title: '$setElementOrder adding one and deleting two',
    kind: 'Pod',
    object: pod([container('a'), container('b'), container('d'), container('e')]),
    patch: {
      spec: {
        '$setElementOrder/containers': [name('x'), name('d')],
        containers: [container('x'), gone('a'), gone('b')],
      },
    },
  },
  {
    title: '$setElementOrder alone',
    kind: 'Pod',
    object: pod([container('a'), container('b'), container('d')]),
    patch: { spec: { '$setElementOrder/containers': [name('d'), name('a')] } },
  },
  {
    title: 'finalizers added',
    kind: 'Pod',
    object: pod([container('a')]),
    patch: { metadata: { finalizers: ['f4', 'f2'] } },
  },
  {
    title: 'finalizers ordered, added and deleted',
    kind: 'Pod',
    object: pod([container('a')]),
    patch: {
      metadata: {
        '$setElementOrder/finalizers': ['f1', 'f9', 'f3'],
        finalizers: ['f9'],
        '$deleteFromPrimitiveList/finalizers': ['f2'],
      },
    },
  },
  {
    title: 'a $patch: replace list',
    kind: 'Pod',
    object: pod([container('a'), container('b')]),
    patch: { spec: { containers: [{ $patch: 'replace' }, container('z')] } },
  },
  {
    title: 'env of a container with order and deletion',
    kind: 'Pod',
    object: pod([
      container('a', {
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
      }),
    ]),
    patch: {
      spec: {
        containers: [
          {
            name: 'a',
            '$setElementOrder/env': [name('C'), name('A')],
            env: [{ name: 'C', value: '3' }, gone('B')],
          },
        ],
      },
    },
  },
  {
    title: 'a volume switching source with $retainKeys',
    kind: 'Pod',
    object: pod([container('a')], {
      volumes: [
        { name: 'v', emptyDir: {} },
        { name: 'w', hostPath: { path: '/x' } },
      ],
    }),
    patch: {
      spec: {
        '$setElementOrder/volumes': [name('v'), name('w')],
        volumes: [{ $retainKeys: ['configMap', 'name'], name: 'v', configMap: { name: 'cm' } }],
      },
    },
  },
  {
    title: 'labels replaced with $patch: replace',
    kind: 'Pod',
    object: pod([container('a')]),
    patch: { metadata: { labels: { $patch: 'replace', c: '3' } } },
  },
  {
    title: 'tolerations replaced',
    kind: 'Pod',
    object: pod([container('a')], { tolerations: [{ key: 'a', operator: 'Exists' }] }),
    patch: { spec: { tolerations: [{ key: 'b', operator: 'Exists' }] } },
  },
  {
    title: 'ports merged by containerPort',
    kind: 'Pod',
    object: pod([
      container('a', { ports: [{ containerPort: 80 }, { containerPort: 443, name: 's' }] }),
    ]),
    patch: {
      spec: {
        containers: [
          { name: 'a', ports: [{ containerPort: 443, protocol: 'TCP' }, { containerPort: 8080 }] },
        ],
      },
    },
  },
  {
    title: 'a field deleted with null and a new map with nulls',
    kind: 'Pod',
    object: pod([container('a', { workingDir: '/x' })]),
    patch: {
      spec: {
        containers: [{ name: 'a', workingDir: null }],
        securityContext: { runAsUser: 1, runAsGroup: null },
      },
    },
  },
  {
    title: 'the deployment strategy with $retainKeys',
    kind: 'Deployment',
    object: deployment({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } }),
    patch: { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } },
  },
  {
    title: 'template containers and env',
    kind: 'Deployment',
    object: deployment({}),
    patch: {
      spec: {
        template: {
          spec: {
            containers: [{ name: 'c', env: [{ name: 'X', value: 'y' }] }, container('d')],
          },
        },
      },
    },
  },
  {
    title: 'owner references by uid',
    kind: 'Deployment',
    object: deployment(
      {},
      { ownerReferences: [{ apiVersion: 'v1', kind: 'A', name: 'a', uid: '1' }] },
    ),
    patch: {
      metadata: {
        ownerReferences: [
          { apiVersion: 'v1', kind: 'B', name: 'b', uid: '2' },
          { uid: '1', $patch: 'delete' },
        ],
      },
    },
  },
  {
    title: 'deployment conditions by type',
    kind: 'Deployment',
    object: deployment(
      {},
      {},
      {
        conditions: [
          { type: 'Available', status: 'True' },
          { type: 'Progressing', status: 'True' },
        ],
      },
    ),
    patch: { status: { conditions: [{ type: 'Progressing', status: 'False', reason: 'X' }] } },
  },
  {
    title: 'node conditions and addresses by type',
    kind: 'Node',
    object: {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n' },
      spec: { podCIDRs: ['10.0.0.0/24'], taints: [{ key: 'a', effect: 'NoSchedule' }] },
      status: {
        conditions: [
          { type: 'Ready', status: 'True' },
          { type: 'DiskPressure', status: 'False' },
        ],
        addresses: [{ type: 'InternalIP', address: '10.0.0.1' }],
      },
    },
    patch: {
      spec: { podCIDRs: ['10.1.0.0/24'], taints: [{ key: 'b', effect: 'NoSchedule' }] },
      status: {
        conditions: [{ type: 'Ready', status: 'False' }],
        addresses: [{ type: 'Hostname', address: 'n' }],
      },
    },
  },
  {
    title: 'service ports by port',
    kind: 'Service',
    object: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's' },
      spec: {
        ports: [
          { port: 80, name: 'h' },
          { port: 443, name: 's' },
        ],
      },
    },
    patch: {
      spec: {
        '$setElementOrder/ports': [{ port: 443 }, { port: 80 }, { port: 53 }],
        ports: [
          { port: 443, targetPort: 8443 },
          { port: 53, protocol: 'UDP' },
        ],
      },
    },
  },
];

/** Key order does not matter; list order does. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

describe.skipIf(!kubectlAvailable)(
  'strategic merge patch agrees with kubectl patch --local',
  () => {
    let directory = '';
    beforeAll(async () => {
      directory = await mkdtemp(join(tmpdir(), 'smp-kubectl-'));
    });
    afterAll(async () => {
      if (directory) await rm(directory, { recursive: true, force: true });
    });

    it.each(cases.map((entry, index) => ({ ...entry, index })))(
      '$kind: $title',
      async ({ kind, object, patch, index }) => {
        const file = join(directory, `object-${index}.json`);
        await writeFile(file, JSON.stringify(object));
        const { stdout } = await run('kubectl', [
          'patch',
          '--local',
          '-f',
          file,
          '--type',
          'strategic',
          '-p',
          JSON.stringify(patch),
          '-o',
          'json',
        ]);
        const schema = builtinPatchSchemas[kind] ?? {};
        expect(canonical(applyStrategicMergePatch(object, patch, schema))).toBe(
          canonical(JSON.parse(stdout)),
        );
      },
    );
  },
);
