import type { V1ConfigMap, V1Container, V1Pod, V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { type ConfigLookup, containerEnv, expand, expandCommand } from '../src/pod/env';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

function lookupOf(configMaps: V1ConfigMap[], secrets: V1Secret[]): ConfigLookup {
  const find = <T extends { metadata?: { name?: string; namespace?: string } }>(
    items: T[],
    namespace: string,
    name: string,
  ) => items.find((item) => item.metadata?.namespace === namespace && item.metadata?.name === name);
  return {
    configMap: async (namespace, name) => find(configMaps, namespace, name),
    secret: async (namespace, name) => find(secrets, namespace, name),
  };
}

const lookup = lookupOf(
  [
    {
      metadata: { name: 'app-config', namespace: 'shop' },
      data: { LOG_LEVEL: 'debug', 'bad name': 'x', '1STARTS_WITH_DIGIT': 'y', MODE: 'edge' },
    },
    { metadata: { name: 'other', namespace: 'elsewhere' }, data: { SHOULD_NOT: 'leak' } },
  ],
  [
    {
      metadata: { name: 'db', namespace: 'shop' },
      data: { PASSWORD: b64('s3cret'), USER: b64('admin') },
    },
    { metadata: { name: 'typed', namespace: 'shop' }, stringData: { TOKEN: 'plain' } },
  ],
);

function podWith(container: V1Container, extra: Partial<V1Pod['spec']> = {}): V1Pod {
  return {
    metadata: {
      name: 'web-0',
      namespace: 'shop',
      uid: 'uid-123',
      labels: { app: 'web', tier: 'front' },
      annotations: { 'example.com/owner': 'team-a' },
    },
    spec: { nodeName: 'edge-1', serviceAccountName: 'web-sa', containers: [container], ...extra },
  };
}

async function envOf(container: V1Container, runtime = {}) {
  const pod = podWith(container);
  const env = await containerEnv(pod, container, lookup, runtime);
  return Object.fromEntries(env.map(({ name, value }) => [name, value]));
}

describe('containerEnv', () => {
  it('takes envFrom sources with prefixes, skipping invalid names and telling why', async () => {
    const warnings: string[] = [];
    const container: V1Container = {
      name: 'app',
      envFrom: [
        { configMapRef: { name: 'app-config' } },
        { secretRef: { name: 'db' }, prefix: 'DB_' },
        { configMapRef: { name: 'missing', optional: true } },
      ],
    };
    const env = await containerEnv(podWith(container), container, lookup, {
      onWarning: (message) => warnings.push(message),
    });
    expect(env).toEqual([
      { name: 'LOG_LEVEL', value: 'debug' },
      { name: 'MODE', value: 'edge' },
      { name: 'DB_PASSWORD', value: 's3cret' },
      { name: 'DB_USER', value: 'admin' },
    ]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('1STARTS_WITH_DIGIT');
    expect(warnings[0]).toContain('bad name');
  });

  it('lets env entries override envFrom, later entries win, and expands earlier variables', async () => {
    const env = await envOf({
      name: 'app',
      envFrom: [{ configMapRef: { name: 'app-config' } }],
      env: [
        { name: 'LOG_LEVEL', value: 'info' },
        { name: 'HOST', value: 'db.local' },
        { name: 'URL', value: 'postgres://$(HOST):5432/$(LOG_LEVEL)' },
        { name: 'LITERAL', value: '$$(HOST) and $(UNDEFINED) and $(LATER) and $$ and $(open' },
        { name: 'LATER', value: 'x' },
        { name: 'HOST', value: 'db2.local' },
        { name: 'EMPTY', value: '' },
      ],
    });
    expect(env.LOG_LEVEL).toBe('info');
    expect(env.URL).toBe('postgres://db.local:5432/info');
    expect(env.LITERAL).toBe('$(HOST) and $(UNDEFINED) and $(LATER) and $ and $(open');
    expect(env.HOST).toBe('db2.local');
    expect(env.EMPTY).toBe('');
  });

  it('follows Kubernetes expansion rules exactly', () => {
    const vars = new Map([
      ['VAR_A', 'A'],
      ['VAR_EMPTY', ''],
    ]);
    const cases: [string, string][] = [
      ['$(VAR_A)', 'A'],
      ['___$(VAR_A)___', '___A___'],
      ['$(VAR_A)$(VAR_A)', 'AA'],
      ['$(VAR_EMPTY)x', 'x'],
      ['$$(VAR_A)', '$(VAR_A)'],
      ['$$$(VAR_A)', '$A'],
      ['$$$$(VAR_A)', '$$(VAR_A)'],
      ['$(VAR_A', '$(VAR_A'],
      ['$VAR_A', '$VAR_A'],
      ['$', '$'],
      ['foo$', 'foo$'],
      ['$()', '$()'],
      ['$(NOPE)', '$(NOPE)'],
      ['$?_boo_$!', '$?_boo_$!'],
    ];
    for (const [input, output] of cases) expect(expand(input, vars), input).toBe(output);
  });

  it('reads configMapKeyRef and secretKeyRef, honouring optional', async () => {
    const env = await envOf({
      name: 'app',
      env: [
        { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'LOG_LEVEL' } } },
        { name: 'PASS', valueFrom: { secretKeyRef: { name: 'db', key: 'PASSWORD' } } },
        { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'typed', key: 'TOKEN' } } },
        {
          name: 'NOKEY',
          valueFrom: { configMapKeyRef: { name: 'app-config', key: 'nope', optional: true } },
        },
        {
          name: 'NOMAP',
          valueFrom: { secretKeyRef: { name: 'ghost', key: 'k', optional: true } },
        },
      ],
    });
    expect(env).toEqual({ LEVEL: 'debug', PASS: 's3cret', TOKEN: 'plain' });
  });

  it('fails with KE_EDGED_CONFIG_MISSING naming what is missing', async () => {
    const cases: [V1Container, RegExp][] = [
      [
        {
          name: 'a',
          env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'ghost', key: 'k' } } }],
        },
        /configmap "ghost" not found/,
      ],
      [
        {
          name: 'a',
          env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'nope' } } }],
        },
        /couldn't find key nope in ConfigMap shop\/app-config/,
      ],
      [
        {
          name: 'a',
          env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'db', key: 'nope' } } }],
        },
        /couldn't find key nope in Secret shop\/db/,
      ],
      [{ name: 'a', envFrom: [{ secretRef: { name: 'ghost' } }] }, /secret "ghost" not found/],
      // A ConfigMap in another namespace is not visible to the pod.
      [{ name: 'a', envFrom: [{ configMapRef: { name: 'other' } }] }, /configmap "other"/],
    ];
    for (const [container, message] of cases) {
      const error = await containerEnv(podWith(container), container, lookup).catch((e) => e);
      expect(error).toMatchObject({ code: 'KE_EDGED_CONFIG_MISSING' });
      expect(error.message).toMatch(message);
    }
  });

  it('resolves fieldRef paths from the pod and its runtime IPs', async () => {
    const field = (fieldPath: string) => ({ valueFrom: { fieldRef: { fieldPath } } });
    const env = await envOf(
      {
        name: 'app',
        env: [
          { name: 'NAME', ...field('metadata.name') },
          { name: 'NS', ...field('metadata.namespace') },
          { name: 'UID', ...field('metadata.uid') },
          { name: 'APP', ...field("metadata.labels['app']") },
          { name: 'NOLABEL', ...field("metadata.labels['nope']") },
          { name: 'OWNER', ...field("metadata.annotations['example.com/owner']") },
          { name: 'NODE', ...field('spec.nodeName') },
          { name: 'SA', ...field('spec.serviceAccountName') },
          { name: 'POD_IP', ...field('status.podIP') },
          { name: 'POD_IPS', ...field('status.podIPs') },
          { name: 'HOST_IP', ...field('status.hostIP') },
          { name: 'LABELS', ...field('metadata.labels') },
        ],
      },
      { podIP: '10.0.0.5', podIPs: ['10.0.0.5', 'fd00::5'], hostIP: '192.168.1.10' },
    );
    expect(env).toEqual({
      NAME: 'web-0',
      NS: 'shop',
      UID: 'uid-123',
      APP: 'web',
      NOLABEL: '',
      OWNER: 'team-a',
      NODE: 'edge-1',
      SA: 'web-sa',
      POD_IP: '10.0.0.5',
      POD_IPS: '10.0.0.5,fd00::5',
      HOST_IP: '192.168.1.10',
      LABELS: 'app="web"\ntier="front"',
    });
  });

  it('rejects an unknown fieldPath with KE_EDGED_CONFIG_INVALID', async () => {
    const container: V1Container = {
      name: 'a',
      env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.nope' } } }],
    };
    await expect(containerEnv(podWith(container), container, lookup)).rejects.toMatchObject({
      code: 'KE_EDGED_CONFIG_INVALID',
    });
  });

  it('computes resourceFieldRef values rounded up with a divisor', async () => {
    const resource = (name: string, divisor?: string) => ({
      valueFrom: { resourceFieldRef: { resource: name, ...(divisor ? { divisor } : {}) } },
    });
    const container: V1Container = {
      name: 'app',
      resources: {
        limits: { cpu: '1500m', memory: '256Mi' },
        requests: { cpu: '0.1', memory: '100M' },
      },
      env: [
        { name: 'CPU_LIMIT', ...resource('limits.cpu') },
        { name: 'CPU_LIMIT_M', ...resource('limits.cpu', '1m') },
        { name: 'CPU_REQUEST', ...resource('requests.cpu') },
        { name: 'CPU_REQUEST_M', ...resource('requests.cpu', '1m') },
        { name: 'MEM_LIMIT', ...resource('limits.memory') },
        { name: 'MEM_LIMIT_MI', ...resource('limits.memory', '1Mi') },
        { name: 'MEM_REQUEST_MI', ...resource('requests.memory', '1Mi') },
      ],
    };
    expect(await envOf(container)).toEqual({
      CPU_LIMIT: '2',
      CPU_LIMIT_M: '1500',
      CPU_REQUEST: '1',
      CPU_REQUEST_M: '100',
      MEM_LIMIT: String(256 * 1024 * 1024),
      MEM_LIMIT_MI: '256',
      MEM_REQUEST_MI: '96',
    });

    const unlimited: V1Container = { name: 'b', env: [{ name: 'CPU', ...resource('limits.cpu') }] };
    expect(await envOf(unlimited, { nodeAllocatable: { cpu: '4' } })).toEqual({ CPU: '4' });
    expect(await envOf(unlimited)).toEqual({ CPU: '0' });
  });

  it('expands command and args against the final environment', () => {
    const env = [
      { name: 'GREETING', value: 'hello' },
      { name: 'TARGET', value: 'edge' },
    ];
    expect(
      expandCommand(['sh', '-c', 'echo $(GREETING) $(TARGET) $$(GREETING) $(MISSING)'], env),
    ).toEqual(['sh', '-c', 'echo hello edge $(GREETING) $(MISSING)']);
    expect(expandCommand(undefined, env)).toEqual([]);
  });
});
