import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import { waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ContainerConfig,
  type CriClient,
  CriError,
  createCriClient,
  createFakeCriServer,
  type FakeCriServer,
  nanosToDate,
  type PodSandboxConfig,
} from '../src/index';

let dir: string;
let runtime: FakeCriServer;
let cri: CriClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edged-cri-test-'));
  runtime = createFakeCriServer({
    socketPath: join(dir, 'cri.sock'),
    images: [
      'registry.k8s.io/pause:3.10',
      'busybox:1.36',
      'nginx:1.27',
      'registry.example/private:1',
    ],
    privateImages: { 'registry.example/private:1': { username: 'edge', password: 's3cret' } },
  });
  await runtime.start();
  cri = createCriClient({ endpoint: runtime.endpoint, timeoutMs: 5_000 });
});

afterAll(async () => {
  cri?.close();
  await runtime?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

let pods = 0;
function podConfig(name: string, extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
  pods += 1;
  const uid = `uid-${pods}`;
  return {
    metadata: { name, namespace: 'default', uid, attempt: 0 },
    hostname: name,
    logDirectory: join(dir, 'pods', `default_${name}_${uid}`),
    labels: { 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.uid': uid },
    annotations: { 'kubernetes.io/config.source': 'api' },
    ...extra,
  };
}

function containerConfig(name: string, image: string, attempt = 0): ContainerConfig {
  return {
    metadata: { name, attempt },
    image: { image },
    command: ['sh', '-c'],
    args: [`echo ${name}`],
    envs: [{ key: 'GREETING', value: 'hello' }],
    labels: { 'io.kubernetes.container.name': name },
    annotations: { 'io.kubernetes.container.restartCount': String(attempt) },
    logPath: `${name}/${attempt}.log`,
  };
}

async function expectCriError(promise: Promise<unknown>, code: string, grpcCode?: number) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CriError);
  expect((error as CriError).code).toBe(code);
  if (grpcCode !== undefined) expect((error as CriError).grpcCode).toBe(grpcCode);
  return error as CriError;
}

describe('the CRI client against the simulated runtime', () => {
  it('reports the runtime version and ready conditions', async () => {
    const version = await cri.version();
    expect(version).toEqual({
      version: '0.1.0',
      runtimeName: 'simulated',
      runtimeVersion: '0.1.0',
      runtimeApiVersion: 'v1',
    });
    const { status } = await cri.status();
    expect(status?.conditions.map((c) => [c.type, c.status])).toEqual([
      ['RuntimeReady', true],
      ['NetworkReady', true],
    ]);
    runtime.setCondition(
      'NetworkReady',
      false,
      'NetworkPluginNotReady',
      'cni config uninitialized',
    );
    const degraded = await cri.status();
    expect(degraded.status?.conditions[1]).toEqual({
      type: 'NetworkReady',
      status: false,
      reason: 'NetworkPluginNotReady',
      message: 'cni config uninitialized',
    });
    runtime.setCondition('NetworkReady', true);
  });

  it('runs a pod through its whole lifecycle', async () => {
    const sandboxConfig = podConfig('web');
    const before = Date.now();
    const sandboxId = await cri.runPodSandbox(sandboxConfig);
    const sandbox = await cri.podSandboxStatus(sandboxId);
    expect(sandbox.state).toBe('SANDBOX_READY');
    expect(sandbox.metadata).toEqual(sandboxConfig.metadata);
    expect(sandbox.network?.ip).toMatch(/^10\.88\.\d+\.\d+$/);
    expect(sandbox.labels).toEqual(sandboxConfig.labels);
    expect(sandbox.annotations).toEqual(sandboxConfig.annotations);
    expect(nanosToDate(sandbox.createdAt)!.getTime()).toBeGreaterThanOrEqual(before - 1);

    const imageRef = await cri.pullImage('busybox:1.36');
    expect(imageRef).toMatch(/^sha256:[0-9a-f]{64}$/);
    const image = await cri.imageStatus('docker.io/library/busybox:1.36');
    expect(image?.id).toBe(imageRef);
    expect(image?.repoTags).toEqual(['docker.io/library/busybox:1.36']);
    expect(Number(image?.size)).toBeGreaterThan(0);

    const config = containerConfig('app', 'busybox:1.36');
    const containerId = await cri.createContainer(sandboxId, config, sandboxConfig);
    let status = await cri.containerStatus(containerId);
    expect(status.state).toBe('CONTAINER_CREATED');
    expect(status.startedAt).toBe('0');
    expect(nanosToDate(status.startedAt)).toBeNull();
    expect(status.imageRef).toBe(imageRef);
    expect(status.logPath).toBe(join(sandboxConfig.logDirectory!, 'app', '0.log'));

    await cri.startContainer(containerId);
    status = await cri.containerStatus(containerId);
    expect(status.state).toBe('CONTAINER_RUNNING');
    expect(BigInt(status.startedAt)).toBeGreaterThan(BigInt(status.createdAt));
    const log = await readFile(status.logPath, 'utf8');
    expect(log).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z stdout F simulated app: sh -c echo app\n$/,
    );

    // Starting twice is an error, as it is in containerd.
    await expectCriError(cri.startContainer(containerId), 'KE_EDGED_CRI_FAILED');

    await cri.stopContainer(containerId, 10);
    status = await cri.containerStatus(containerId);
    expect(status).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 0, reason: 'Completed' });
    expect(BigInt(status.finishedAt)).toBeGreaterThan(BigInt(status.startedAt));
    await cri.stopContainer(containerId, 10); // idempotent

    await cri.removeContainer(containerId);
    await cri.removeContainer(containerId); // idempotent
    await expectCriError(
      cri.containerStatus(containerId),
      'KE_EDGED_CRI_NOT_FOUND',
      grpcStatus.NOT_FOUND,
    );

    await cri.stopPodSandbox(sandboxId);
    expect((await cri.podSandboxStatus(sandboxId)).state).toBe('SANDBOX_NOTREADY');
    await cri.stopPodSandbox(sandboxId); // idempotent
    await cri.removePodSandbox(sandboxId);
    await cri.removePodSandbox(sandboxId); // idempotent
    await expectCriError(cri.podSandboxStatus(sandboxId), 'KE_EDGED_CRI_NOT_FOUND');
    expect(runtime.sandboxes().find((s) => s.id === sandboxId)).toBeUndefined();
  });

  it('kills without a grace period, and a crash is an exit the runtime reports', async () => {
    const sandboxConfig = podConfig('crashy');
    const sandboxId = await cri.runPodSandbox(sandboxConfig);
    await cri.pullImage('busybox:1.36');
    const [first, second] = await Promise.all(
      ['first', 'second'].map((name) =>
        cri.createContainer(sandboxId, containerConfig(name, 'busybox:1.36'), sandboxConfig),
      ),
    );
    await cri.startContainer(first!);
    await cri.startContainer(second!);

    await cri.stopContainer(first!, 0);
    expect(await cri.containerStatus(first!)).toMatchObject({ exitCode: 137, reason: 'Error' });

    runtime.exitContainer(second!, 1);
    const crashed = await cri.containerStatus(second!);
    expect(crashed).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 1, reason: 'Error' });

    // A restarted container is a new one with the next attempt; the old name stays taken.
    await expectCriError(
      cri.createContainer(sandboxId, containerConfig('second', 'busybox:1.36'), sandboxConfig),
      'KE_EDGED_CRI_FAILED',
      grpcStatus.ALREADY_EXISTS,
    );
    const restarted = await cri.createContainer(
      sandboxId,
      containerConfig('second', 'busybox:1.36', 1),
      sandboxConfig,
    );
    await cri.startContainer(restarted);
    expect((await cri.containerStatus(restarted)).metadata).toEqual({ name: 'second', attempt: 1 });

    // Stopping the sandbox kills what still runs.
    await cri.stopPodSandbox(sandboxId);
    expect(await cri.containerStatus(restarted)).toMatchObject({
      state: 'CONTAINER_EXITED',
      exitCode: 137,
    });
    expect((await cri.podSandboxStatus(sandboxId)).network?.ip).toBe('');
    await expectCriError(
      cri.createContainer(sandboxId, containerConfig('late', 'busybox:1.36'), sandboxConfig),
      'KE_EDGED_CRI_FAILED',
      grpcStatus.FAILED_PRECONDITION,
    );
    await cri.removePodSandbox(sandboxId);
    expect(await cri.listContainers({ podSandboxId: sandboxId })).toEqual([]);
  });

  it('filters sandboxes and containers by id, state and every label of the selector', async () => {
    const a = podConfig('filter-a', { labels: { app: 'shop', tier: 'web' } });
    const b = podConfig('filter-b', { labels: { app: 'shop', tier: 'db' } });
    const [sandboxA, sandboxB] = [await cri.runPodSandbox(a), await cri.runPodSandbox(b)];
    await cri.stopPodSandbox(sandboxB);

    const names = (items: { metadata: { name: string } }[]) =>
      items.map((item) => item.metadata.name).sort();
    expect(names(await cri.listPodSandbox({ labelSelector: { app: 'shop' } }))).toEqual([
      'filter-a',
      'filter-b',
    ]);
    expect(names(await cri.listPodSandbox({ labelSelector: { app: 'shop', tier: 'db' } }))).toEqual(
      ['filter-b'],
    );
    expect(names(await cri.listPodSandbox({ labelSelector: { app: 'shop', tier: 'x' } }))).toEqual(
      [],
    );
    expect(
      names(await cri.listPodSandbox({ labelSelector: { app: 'shop' }, state: 'SANDBOX_READY' })),
    ).toEqual(['filter-a']);
    // SANDBOX_READY is the enum's zero value: the filter still applies (it is wrapped).
    expect(
      names(
        await cri.listPodSandbox({ labelSelector: { app: 'shop' }, state: 'SANDBOX_NOTREADY' }),
      ),
    ).toEqual(['filter-b']);
    expect(names(await cri.listPodSandbox({ id: sandboxA }))).toEqual(['filter-a']);
    expect(names(await cri.listPodSandbox({ id: sandboxA.slice(0, 12) }))).toEqual(['filter-a']);

    await cri.pullImage('nginx:1.27');
    const created = await cri.createContainer(sandboxA, containerConfig('c1', 'nginx:1.27'), a);
    const running = await cri.createContainer(
      sandboxA,
      {
        ...containerConfig('c2', 'nginx:1.27'),
        labels: { role: 'main', 'io.kubernetes.container.name': 'c2' },
      },
      a,
    );
    await cri.startContainer(running);

    expect(names(await cri.listContainers({ podSandboxId: sandboxA }))).toEqual(['c1', 'c2']);
    expect(names(await cri.listContainers({ podSandboxId: sandboxB }))).toEqual([]);
    expect(
      names(await cri.listContainers({ state: 'CONTAINER_CREATED', podSandboxId: sandboxA })),
    ).toEqual(['c1']);
    expect(
      names(await cri.listContainers({ state: 'CONTAINER_RUNNING', podSandboxId: sandboxA })),
    ).toEqual(['c2']);
    expect(names(await cri.listContainers({ labelSelector: { role: 'main' } }))).toEqual(['c2']);
    expect(
      names(
        await cri.listContainers({
          labelSelector: { role: 'main', 'io.kubernetes.container.name': 'c1' },
        }),
      ),
    ).toEqual([]);
    const [listed] = await cri.listContainers({ id: created });
    expect(listed).toMatchObject({
      id: created,
      podSandboxId: sandboxA,
      state: 'CONTAINER_CREATED',
      labels: { 'io.kubernetes.container.name': 'c1' },
      annotations: { 'io.kubernetes.container.restartCount': '0' },
      image: { image: 'nginx:1.27' },
    });
    expect(listed?.imageRef).toBe(listed?.imageId);

    await cri.removePodSandbox(sandboxA);
    await cri.removePodSandbox(sandboxB);
  });

  it('gives a hostNetwork sandbox no pod IP, and pods distinct IPs', async () => {
    const host = podConfig('host', {
      hostname: '',
      linux: { securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER' } } },
    });
    const hostId = await cri.runPodSandbox(host);
    const status = await cri.podSandboxStatus(hostId);
    expect(status.network?.ip).toBe('');
    expect(status.linux?.namespaces?.options).toMatchObject({ network: 'NODE', pid: 'CONTAINER' });

    const ids = await Promise.all(
      ['ip-1', 'ip-2', 'ip-3'].map((n) => cri.runPodSandbox(podConfig(n))),
    );
    const ips = await Promise.all(
      ids.map(async (id) => (await cri.podSandboxStatus(id)).network?.ip),
    );
    expect(new Set(ips).size).toBe(3);
    for (const id of [hostId, ...ids]) await cri.removePodSandbox(id);
  });

  it('runs exec through the handler, and refuses exec in a container that is not running', async () => {
    const sandboxConfig = podConfig('probe');
    const sandboxId = await cri.runPodSandbox(sandboxConfig);
    await cri.pullImage('busybox:1.36');
    const id = await cri.createContainer(
      sandboxId,
      containerConfig('app', 'busybox:1.36'),
      sandboxConfig,
    );
    await expectCriError(cri.execSync(id, ['true'], 1), 'KE_EDGED_CRI_FAILED', grpcStatus.UNKNOWN);
    await cri.startContainer(id);

    const quiet = await cri.execSync(id, ['cat', '/tmp/healthy'], 1);
    expect(quiet).toEqual({ stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0 });

    const seen: string[][] = [];
    runtime.setExecHandler(({ cmd, container }) => {
      seen.push(cmd);
      return cmd[1] === '/tmp/healthy'
        ? { exitCode: 1, stderr: `cat: can't open '/tmp/healthy' in ${container.metadata.name}` }
        : { stdout: 'ok\n' };
    });
    const failing = await cri.execSync(id, ['cat', '/tmp/healthy'], 1);
    expect(failing.exitCode).toBe(1);
    expect(failing.stderr.toString()).toBe("cat: can't open '/tmp/healthy' in app");
    expect((await cri.execSync(id, ['echo', 'ok'])).stdout.toString()).toBe('ok\n');
    expect(seen).toEqual([
      ['cat', '/tmp/healthy'],
      ['echo', 'ok'],
    ]);
    runtime.setExecHandler(undefined);
    await cri.removePodSandbox(sandboxId);
  });

  it('pulls known images, refuses unknown ones with NOT_FOUND, and needs credentials for private ones', async () => {
    const error = await expectCriError(
      cri.pullImage('docker.io/library/does-not-exist:1'),
      'KE_EDGED_CRI_NOT_FOUND',
      grpcStatus.NOT_FOUND,
    );
    expect(error.details).toContain('not found');
    expect(error.method).toBe('ImageService/PullImage');
    expect(await cri.imageStatus('does-not-exist:1')).toBeNull();

    const sandboxConfig = podConfig('no-image');
    const sandboxId = await cri.runPodSandbox(sandboxConfig);
    await expectCriError(
      cri.createContainer(sandboxId, containerConfig('app', 'alpine:3.20'), sandboxConfig),
      'KE_EDGED_CRI_NOT_FOUND',
    );
    await cri.removePodSandbox(sandboxId);

    const denied = await expectCriError(
      cri.pullImage('registry.example/private:1'),
      'KE_EDGED_CRI_FAILED',
      grpcStatus.UNKNOWN,
    );
    expect(denied.details).toContain('401 Unauthorized');
    await expectCriError(
      cri.pullImage('registry.example/private:1', { username: 'edge', password: 'wrong' }),
      'KE_EDGED_CRI_FAILED',
    );
    const auth = Buffer.from('edge:s3cret').toString('base64');
    const ref = await cri.pullImage('registry.example/private:1', {
      auth,
      serverAddress: 'registry.example',
    });
    expect(runtime.pulls().at(-1)).toMatchObject({
      image: 'registry.example/private:1',
      auth: { auth, serverAddress: 'registry.example', username: '' },
    });
    expect((await cri.listImages()).map((i) => i.id)).toContain(ref);
    expect(await cri.listImages('registry.example/private:1')).toHaveLength(1);

    const fs = await cri.imageFsInfo();
    expect(Number(fs.imageFilesystems[0]?.usedBytes?.value)).toBeGreaterThan(0);

    await cri.removeImage(ref);
    await cri.removeImage(ref); // idempotent
    expect(await cri.imageStatus('registry.example/private:1')).toBeNull();
  });

  it('maps an injected failure and an unavailable runtime to codes, keeping the gRPC status', async () => {
    runtime.failNext('Version', grpcStatus.RESOURCE_EXHAUSTED, 'too busy');
    const failed = await expectCriError(cri.version(), 'KE_EDGED_CRI_FAILED');
    expect(failed).toMatchObject({
      grpcCode: grpcStatus.RESOURCE_EXHAUSTED,
      details: 'too busy',
      method: 'RuntimeService/Version',
    });
    expect((await cri.version()).runtimeName).toBe('simulated');

    runtime.setUnavailable(true);
    await expectCriError(cri.listContainers(), 'KE_EDGED_CRI_UNAVAILABLE', grpcStatus.UNAVAILABLE);
    runtime.setUnavailable(false);
    expect(Array.isArray(await cri.listContainers())).toBe(true);
  });

  it('keeps pods across a runtime restart and reconnects', async () => {
    const sandboxConfig = podConfig('survivor');
    const sandboxId = await cri.runPodSandbox(sandboxConfig);
    await runtime.stop();
    await expectCriError(cri.listPodSandbox(), 'KE_EDGED_CRI_UNAVAILABLE', grpcStatus.UNAVAILABLE);
    await runtime.start();
    // The channel reconnects with a short back-off; a kubelet's next relist succeeds.
    const found = await waitFor('the restarted runtime to answer', async () =>
      (await cri.listPodSandbox({ id: sandboxId })).map((s) => s.id),
    );
    expect(found).toEqual([sandboxId]);
    await cri.removePodSandbox(sandboxId);
  });
});

describe('the CRI client without a runtime', () => {
  it('rejects with KE_EDGED_CRI_UNAVAILABLE when the socket does not exist', async () => {
    const missing = createCriClient({
      endpoint: join(tmpdir(), 'edged-cri-no-such-dir', 'containerd.sock'),
      timeoutMs: 5_000,
    });
    const started = Date.now();
    const error = await expectCriError(
      missing.version(),
      'KE_EDGED_CRI_UNAVAILABLE',
      grpcStatus.UNAVAILABLE,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.message).toContain('edged-cri-no-such-dir');
    missing.close();
    await expect(missing.version()).rejects.toMatchObject({ code: 'KE_EDGED_CRI_UNAVAILABLE' });
  });

  it('rejects with KE_EDGED_CRI_TIMEOUT when the runtime does not answer in time', async () => {
    const slow = createFakeCriServer({
      socketPath: join(dir, 'slow.sock'),
      exec: () => new Promise((resolve) => setTimeout(() => resolve({}), 2_000)),
    });
    await slow.start();
    const client = createCriClient({ endpoint: slow.endpoint, timeoutMs: 200 });
    try {
      const config = podConfig('slow');
      const sandboxId = await client.runPodSandbox(config);
      await client.pullImage('busybox');
      const id = await client.createContainer(sandboxId, containerConfig('app', 'busybox'), config);
      await client.startContainer(id);
      // The deadline is timeoutMs plus the exec timeout: 0 s here, so 200 ms.
      await expectCriError(
        client.execSync(id, ['sleep', '2']),
        'KE_EDGED_CRI_TIMEOUT',
        grpcStatus.DEADLINE_EXCEEDED,
      );
    } finally {
      client.close();
      await slow.stop();
    }
  });

  it('rejects with the signal reason when aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('node shutting down');
    controller.abort(reason);
    await expect(cri.version({ signal: controller.signal })).rejects.toBe(reason);
    const pending = new AbortController();
    const slowExec = createFakeCriServer({
      socketPath: join(dir, 'abort.sock'),
      exec: () => new Promise((resolve) => setTimeout(() => resolve({}), 1_000)),
    });
    await slowExec.start();
    const client = createCriClient({ endpoint: slowExec.endpoint });
    try {
      const config = podConfig('abort');
      const sandboxId = await client.runPodSandbox(config);
      await client.pullImage('busybox');
      const id = await client.createContainer(sandboxId, containerConfig('app', 'busybox'), config);
      await client.startContainer(id);
      const running = client.execSync(id, ['sleep', '1'], 0, { signal: pending.signal });
      setTimeout(() => pending.abort(reason), 50);
      await expect(running).rejects.toBe(reason);
    } finally {
      client.close();
      await slowExec.stop();
    }
  });

  it('refuses an empty endpoint', () => {
    expect(() => createCriClient({ endpoint: '' })).toThrow(
      expect.objectContaining({ code: 'KE_EDGED_INVALID_ARGUMENT' }),
    );
  });
});
