import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@ke/testing';
import type { V1ConfigMap, V1Pod, V1PodStatus, V1Secret } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CriClient,
  createCriClient,
  createEdged,
  createFakeCriServer,
  type Edged,
  type EdgedOptions,
  type FakeCriServer,
} from '../src/index';

const NODE = 'edge-sim';
let dir: string;
let fake: FakeCriServer;
let client: CriClient;
const configMaps = new Map<string, V1ConfigMap>();
const secrets = new Map<string, V1Secret>();
const running: Edged[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ke-edged-sim-'));
  fake = createFakeCriServer({ socketPath: join(dir, 'cri.sock'), images: ['busybox:1.35'] });
  await fake.start();
  client = createCriClient({ endpoint: fake.endpoint, timeoutMs: 5_000 });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((edged) => edged.stop()));
});

afterAll(async () => {
  client?.close();
  await fake?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function startEdged(options: Partial<EdgedOptions> = {}): Edged {
  const edged = createEdged({
    nodeName: NODE,
    runtime: client,
    rootDir: join(dir, 'root'),
    lookup: {
      configMap: async (ns, name) => configMaps.get(`${ns}/${name}`),
      secret: async (ns, name) => secrets.get(`${ns}/${name}`),
    },
    relistPeriodMs: 100,
    crashBackoff: { initialMs: 1_500, maxMs: 6_000 },
    imageBackoff: { initialMs: 1_500, maxMs: 6_000 },
    probeSecondsToMs: 100,
    nodeIP: '127.0.0.1',
    ...options,
  });
  running.push(edged);
  return edged;
}

let uids = 0;
function pod(name: string, spec: Partial<V1Pod['spec']> = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}-${++uids}` },
    spec: {
      nodeName: NODE,
      containers: [{ name: 'main', image: 'busybox:1.35' }],
      ...spec,
    },
  };
}

/** The statuses edged reported for `name`, in order. */
function statuses(edged: Edged, name: string): V1PodStatus[] {
  const seen: V1PodStatus[] = [];
  edged.on('podStatus', ({ pod, status }) => {
    if (pod.metadata?.name === name) seen.push(status);
  });
  return seen;
}

const containersOf = (uid: string) =>
  fake.containers().filter((c) => c.labels['io.kubernetes.pod.uid'] === uid);
const sandboxesOf = (uid: string) =>
  fake.sandboxes().filter((s) => s.labels['io.kubernetes.pod.uid'] === uid);

async function until(edged: Edged, name: string, what: string, test: (s: V1PodStatus) => boolean) {
  return waitFor(
    what,
    () => {
      const status = edged.podStatus('default', name);
      return status && test(status) ? status : undefined;
    },
    { timeoutMs: 10_000 },
  );
}

describe('edged on the simulated runtime', () => {
  it('runs a pod: sandbox with an IP, container running, Ready, status reported once per change', async () => {
    const edged = startEdged();
    const reported = statuses(edged, 'web');
    await edged.start();
    const web = pod('web', {
      containers: [{ name: 'main', image: 'busybox:1.35', ports: [{ containerPort: 80 }] }],
    });
    edged.setPods([web]);
    const status = await until(
      edged,
      'web',
      'web Running and Ready',
      (s) => s.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
    );
    expect(status.phase).toBe('Running');
    expect(status.podIP).toMatch(/^10\.88\./);
    expect(status.hostIP).toBe('127.0.0.1');
    const [container] = status.containerStatuses ?? [];
    expect(container).toMatchObject({ name: 'main', ready: true, started: true, restartCount: 0 });
    expect(container?.state?.running).toBeDefined();
    expect(container?.containerID).toMatch(/^simulated:\/\//);
    expect(container?.imageID).toMatch(/^sha256:/);
    expect(sandboxesOf(web.metadata!.uid!)).toHaveLength(1);
    // Several relists later, nothing new is reported.
    const count = reported.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(reported.length).toBe(count);
    expect(edged.nodeStatus().nodeInfo?.containerRuntimeVersion).toBe('simulated://0.1.0');
  });

  it('restarts a crashed container with back-off: restartCount, lastState, CrashLoopBackOff', async () => {
    const edged = startEdged();
    const events: string[] = [];
    edged.on('event', ({ pod, type, reason, fieldPath }) => {
      if (pod.metadata?.name === 'crashy') events.push(`${type} ${reason} ${fieldPath}`);
    });
    await edged.start();
    const crashy = pod('crashy');
    edged.setPods([crashy]);
    await until(
      edged,
      'crashy',
      'running',
      (s) => s.phase === 'Running' && !!s.containerStatuses?.[0]?.state?.running,
    );
    const first = containersOf(crashy.metadata!.uid!)[0]!;
    fake.exitContainer(first.id, 2);
    const restarted = await until(
      edged,
      'crashy',
      'restartCount 1',
      (s) =>
        s.containerStatuses?.[0]?.restartCount === 1 && !!s.containerStatuses[0].state?.running,
    );
    expect(restarted.containerStatuses?.[0]?.lastState?.terminated).toMatchObject({ exitCode: 2 });
    // A second crash within the back-off: kubelet waits and says so.
    const second = containersOf(crashy.metadata!.uid!).find(
      (c) => c.state === 'CONTAINER_RUNNING',
    )!;
    fake.exitContainer(second.id, 2);
    const waiting = await until(
      edged,
      'crashy',
      'CrashLoopBackOff',
      (s) => s.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff',
    );
    expect(waiting.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(2);
    await until(
      edged,
      'crashy',
      'restartCount 2 after the back-off',
      (s) =>
        s.containerStatuses?.[0]?.restartCount === 2 && !!s.containerStatuses[0].state?.running,
    );
    // kubelet's events, one per happening: no BackOff per sync while waiting.
    // (Pulled each time: the image is already present, as kubelet says on every start.)
    expect(events).toEqual([
      'Normal Pulled spec.containers{main}',
      'Normal Started spec.containers{main}',
      'Normal Pulled spec.containers{main}',
      'Normal Started spec.containers{main}',
      'Warning BackOff spec.containers{main}',
      'Normal Pulled spec.containers{main}',
      'Normal Started spec.containers{main}',
    ]);
    edged.deletePod('default', 'crashy');
    await waitFor('Killing', () => events.includes('Normal Killing spec.containers{main}'), {
      timeoutMs: 10_000,
    });
  });

  it('reads container logs, the previous instance too, and keeps only two instances per container', async () => {
    const edged = startEdged({ crashBackoff: { initialMs: 50, maxMs: 100 } });
    await edged.start();
    const logged = pod('logged', {
      containers: [{ name: 'main', image: 'busybox:1.35', command: ['echo', 'hi'] }],
    });
    edged.setPods([logged]);
    const uid = logged.metadata!.uid!;
    for (let crash = 1; crash <= 3; crash++) {
      const current = await waitFor(
        `instance ${crash} running`,
        () => containersOf(uid).find((c) => c.state === 'CONTAINER_RUNNING'),
        { timeoutMs: 10_000 },
      );
      await fake.writeLog(current.id, `line from instance ${crash}`);
      fake.exitContainer(current.id, 1);
    }
    await until(
      edged,
      'logged',
      'restartCount 3',
      (s) => s.containerStatuses?.[0]?.restartCount === 3,
    );
    await waitFor('old instances collected', () => containersOf(uid).length === 2, {
      timeoutMs: 10_000,
    });
    expect(await edged.containerLogs('default', 'logged', 'main', { previous: true })).toContain(
      'line from instance 3',
    );
    const current = await edged.containerLogs('default', 'logged', 'main');
    expect(current).toContain('simulated main: echo hi');
    expect(current).not.toContain('line from instance');
    await expect(edged.containerLogs('default', 'nope', 'main')).rejects.toMatchObject({
      code: 'KE_EDGED_POD_NOT_FOUND',
    });
  });

  it('reports ErrImagePull, then ImagePullBackOff, for an image the registry lacks', async () => {
    const edged = startEdged();
    const reported = statuses(edged, 'noimage');
    await edged.start();
    edged.setPods([
      pod('noimage', { containers: [{ name: 'main', image: 'example.invalid/none:1' }] }),
    ]);
    await until(
      edged,
      'noimage',
      'ImagePullBackOff',
      (s) => s.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff',
    );
    const reasons = reported.map((s) => s.containerStatuses?.[0]?.state?.waiting?.reason);
    expect(reasons).toContain('ErrImagePull');
    expect(reasons.indexOf('ErrImagePull')).toBeLessThan(reasons.indexOf('ImagePullBackOff'));
    expect(edged.podStatus('default', 'noimage')?.phase).toBe('Pending');
  });

  it("pulls a private image with the pod's image pull secret", async () => {
    const registry = createFakeCriServer({
      socketPath: join(dir, 'private.sock'),
      images: ['registry.example:5000/team/app:1.0'],
      privateImages: {
        'registry.example:5000/team/app:1.0': { username: 'robot', password: 'pw' },
      },
    });
    await registry.start();
    const privateClient = createCriClient({ endpoint: registry.endpoint, timeoutMs: 5_000 });
    try {
      const dockerConfig = {
        auths: { 'registry.example:5000': { auth: Buffer.from('robot:pw').toString('base64') } },
      };
      secrets.set('default/pull', {
        metadata: { name: 'pull', namespace: 'default' },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': Buffer.from(JSON.stringify(dockerConfig)).toString('base64') },
      });
      const edged = startEdged({ runtime: privateClient });
      await edged.start();
      const image = 'registry.example:5000/team/app:1.0';
      edged.setPods([
        pod('with-secret', {
          imagePullSecrets: [{ name: 'pull' }],
          containers: [{ name: 'main', image }],
        }),
        // Always: a cached copy of a private image must not serve a pod without the secret.
        pod('without-secret', { containers: [{ name: 'main', image, imagePullPolicy: 'Always' }] }),
      ]);
      await until(edged, 'with-secret', 'Running', (s) => s.phase === 'Running');
      await until(edged, 'without-secret', 'ErrImagePull', (s) =>
        /ErrImagePull|ImagePullBackOff/.test(
          s.containerStatuses?.[0]?.state?.waiting?.reason ?? '',
        ),
      );
      const pulled = registry.pulls().find((p) => p.auth !== null);
      expect(pulled?.auth?.auth).toBe(Buffer.from('robot:pw').toString('base64'));
    } finally {
      privateClient.close();
      await registry.stop();
    }
  });

  it('runs init containers in order before the app, and finishes pods by restart policy', async () => {
    const edged = startEdged();
    await edged.start();
    const job = pod('job', {
      restartPolicy: 'Never',
      initContainers: [
        { name: 'init-a', image: 'busybox:1.35' },
        { name: 'init-b', image: 'busybox:1.35' },
      ],
    });
    edged.setPods([job]);
    const uid = job.metadata!.uid!;
    const runningOf = (name: string) =>
      containersOf(uid).find((c) => c.metadata.name === name && c.state === 'CONTAINER_RUNNING');
    await waitFor('init-a running', () => runningOf('init-a'), { timeoutMs: 10_000 });
    expect(containersOf(uid).map((c) => c.metadata.name)).toEqual(['init-a']);
    fake.exitContainer(runningOf('init-a')!.id, 0);
    await waitFor('init-b running', () => runningOf('init-b'), { timeoutMs: 10_000 });
    expect(containersOf(uid).some((c) => c.metadata.name === 'main')).toBe(false);
    fake.exitContainer(runningOf('init-b')!.id, 0);
    await waitFor('main running', () => runningOf('main'), { timeoutMs: 10_000 });
    fake.exitContainer(runningOf('main')!.id, 0);
    const done = await until(edged, 'job', 'Succeeded', (s) => s.phase === 'Succeeded');
    expect(done.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 0,
      reason: 'Completed',
    });
    // Not restarted: restartPolicy Never.
    expect(containersOf(uid).filter((c) => c.metadata.name === 'main')).toHaveLength(1);
  });

  it('passes env from values, ConfigMaps, Secrets and fields, and mounts a ConfigMap volume', async () => {
    configMaps.set('default/settings', {
      metadata: { name: 'settings', namespace: 'default' },
      data: { greeting: 'hello', 'app.conf': 'port=80\n' },
    });
    secrets.set('default/creds', {
      metadata: { name: 'creds', namespace: 'default' },
      data: { password: Buffer.from('s3cret').toString('base64') },
    });
    const edged = startEdged();
    await edged.start();
    const configured = pod('configured', {
      volumes: [{ name: 'conf', configMap: { name: 'settings' } }],
      containers: [
        {
          name: 'main',
          image: 'busybox:1.35',
          command: ['echo', '$(GREETING)'],
          env: [
            { name: 'PLAIN', value: 'v' },
            {
              name: 'GREETING',
              valueFrom: { configMapKeyRef: { name: 'settings', key: 'greeting' } },
            },
            { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
          volumeMounts: [{ name: 'conf', mountPath: '/etc/app' }],
        },
      ],
    });
    edged.setPods([configured]);
    await until(edged, 'configured', 'running', (s) => s.phase === 'Running');
    const [container] = containersOf(configured.metadata!.uid!);
    const env = Object.fromEntries(container!.envs.map((e) => [e.key, e.value]));
    expect(env).toMatchObject({
      PLAIN: 'v',
      GREETING: 'hello',
      PASSWORD: 's3cret',
      POD_NAME: 'configured',
    });
    expect(container!.command).toEqual(['echo', 'hello']);
    const mount = container!.mounts.find((m) => m.containerPath === '/etc/app');
    expect(mount?.hostPath).toBeTruthy();
    expect(await readFile(join(mount!.hostPath!, 'app.conf'), 'utf8')).toBe('port=80\n');
  });

  it('reports CreateContainerConfigError when a referenced ConfigMap is missing', async () => {
    const edged = startEdged();
    await edged.start();
    edged.setPods([
      pod('misconfigured', {
        containers: [
          {
            name: 'main',
            image: 'busybox:1.35',
            env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'absent', key: 'x' } } }],
          },
        ],
      }),
    ]);
    const status = await until(
      edged,
      'misconfigured',
      'CreateContainerConfigError',
      (s) => s.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError',
    );
    expect(status.containerStatuses?.[0]?.state?.waiting?.message).toContain('absent');
  });

  it('marks a container ready only when its readiness probe passes, and restarts it when liveness fails', async () => {
    let healthy = false;
    let alive = true;
    fake.setExecHandler(({ cmd }) => {
      if (cmd[0] === 'ready') return { exitCode: healthy ? 0 : 1 };
      if (cmd[0] === 'alive') return { exitCode: alive ? 0 : 1 };
      return { exitCode: 0 };
    });
    try {
      const edged = startEdged();
      await edged.start();
      edged.setPods([
        pod('probed', {
          containers: [
            {
              name: 'main',
              image: 'busybox:1.35',
              readinessProbe: {
                exec: { command: ['ready'] },
                periodSeconds: 1,
                failureThreshold: 1,
              },
              livenessProbe: {
                exec: { command: ['alive'] },
                periodSeconds: 1,
                failureThreshold: 2,
              },
            },
          ],
        }),
      ]);
      const notReady = await until(
        edged,
        'probed',
        'running, not ready',
        (s) => !!s.containerStatuses?.[0]?.state?.running,
      );
      expect(notReady.containerStatuses?.[0]?.ready).toBe(false);
      healthy = true;
      await until(edged, 'probed', 'ready', (s) => s.containerStatuses?.[0]?.ready === true);
      alive = false;
      await until(
        edged,
        'probed',
        'restarted after the liveness failure',
        (s) => (s.containerStatuses?.[0]?.restartCount ?? 0) >= 1,
      );
      alive = true;
    } finally {
      fake.setExecHandler(undefined);
    }
  });

  it('stops and removes a deleted pod, and says so', async () => {
    const edged = startEdged();
    await edged.start();
    const doomed = pod('doomed');
    edged.setPods([doomed]);
    await until(edged, 'doomed', 'running', (s) => s.phase === 'Running');
    const removed = new Promise((resolve) => edged.once('podRemoved', resolve));
    edged.deletePod('default', 'doomed');
    expect(await removed).toMatchObject({
      namespace: 'default',
      name: 'doomed',
      uid: doomed.metadata!.uid,
    });
    expect(sandboxesOf(doomed.metadata!.uid!)).toEqual([]);
    expect(containersOf(doomed.metadata!.uid!)).toEqual([]);
    expect(edged.podStatus('default', 'doomed')).toBeUndefined();
  });

  it('adopts running containers after a restart, and removes those of pods no longer desired', async () => {
    const first = startEdged();
    await first.start();
    const kept = pod('kept');
    const gone = pod('gone');
    first.setPods([kept, gone]);
    await until(first, 'kept', 'kept running', (s) => s.phase === 'Running');
    await until(first, 'gone', 'gone running', (s) => s.phase === 'Running');
    const before = containersOf(kept.metadata!.uid!).map((c) => c.id);
    const created = fake.calls('CreateContainer');
    await first.stop();

    const second = startEdged();
    await second.start();
    second.setPods([kept]);
    const status = await until(second, 'kept', 'kept adopted', (s) => s.phase === 'Running');
    expect(status.containerStatuses?.[0]?.restartCount).toBe(0);
    expect(containersOf(kept.metadata!.uid!).map((c) => c.id)).toEqual(before);
    await waitFor(
      'the undesired pod removed',
      () => sandboxesOf(gone.metadata!.uid!).length === 0,
      {
        timeoutMs: 10_000,
      },
    );
    expect(containersOf(gone.metadata!.uid!)).toEqual([]);
    expect(fake.calls('CreateContainer')).toBe(created);
  });

  it('turns the node NotReady while the runtime is down, and recovers', async () => {
    const edged = startEdged();
    await edged.start();
    const ready = () => edged.nodeStatus().conditions?.find((c) => c.type === 'Ready');
    expect(ready()?.status).toBe('True');
    fake.setUnavailable(true);
    try {
      await waitFor('NotReady', () => ready()?.status === 'False', { timeoutMs: 10_000 });
      expect(ready()?.message).toContain('container runtime is down');
      expect(edged.runtimeHealth().error?.code).toBe('KE_EDGED_CRI_UNAVAILABLE');
    } finally {
      fake.setUnavailable(false);
    }
    await waitFor('Ready again', () => ready()?.status === 'True', { timeoutMs: 10_000 });
  });
});
