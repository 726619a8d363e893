import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1ConfigMap, V1Pod, V1Secret, V1Volume } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigLookup } from '../src/pod/env';
import { containerMounts, preparePodVolumes, removePodVolumes } from '../src/pod/volumes';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

let root: string;
let store: { configMaps: Map<string, V1ConfigMap>; secrets: Map<string, V1Secret> };
const lookup: ConfigLookup = {
  configMap: async (namespace, name) => store.configMaps.get(`${namespace}/${name}`),
  secret: async (namespace, name) => store.secrets.get(`${namespace}/${name}`),
};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'edged-volumes-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function resetStore() {
  store = { configMaps: new Map(), secrets: new Map() };
  store.configMaps.set('shop/app', {
    metadata: { name: 'app', namespace: 'shop' },
    data: { 'app.conf': 'level=debug\n', 'extra.txt': 'extra' },
    binaryData: { 'logo.bin': Buffer.from([0, 1, 2, 255]).toString('base64') },
  });
  store.secrets.set('shop/db', {
    metadata: { name: 'db', namespace: 'shop' },
    data: { password: b64('s3cret'), user: b64('admin') },
  });
}

function pod(volumes: V1Volume[]): V1Pod {
  return {
    metadata: {
      name: 'web-0',
      namespace: 'shop',
      uid: 'uid-1',
      labels: { app: 'web', tier: 'front' },
      annotations: { owner: 'team-a' },
    },
    spec: {
      containers: [{ name: 'app', resources: { limits: { memory: '64Mi' } } }],
      volumes,
    },
  };
}

async function newPodDir(): Promise<string> {
  return mkdtemp(join(root, 'pod-'));
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

describe('preparePodVolumes', () => {
  it('makes emptyDir directories writable by anyone, and removes them with the pod', async () => {
    resetStore();
    const podDir = await newPodDir();
    const volumes = await preparePodVolumes({
      pod: pod([
        { name: 'cache', emptyDir: {} },
        { name: 'shm', emptyDir: { medium: 'Memory' } },
      ]),
      podDir,
      lookup,
    });
    expect(volumes.get('cache')).toBe(join(podDir, 'volumes', 'empty-dir', 'cache'));
    expect((await stat(volumes.get('shm')!)).isDirectory()).toBe(true);
    expect(await modeOf(volumes.get('cache')!)).toBe(0o777);

    await removePodVolumes(podDir);
    await expect(stat(join(podDir, 'volumes'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('writes configMap keys as symlinks into an atomically flipped ..data directory', async () => {
    resetStore();
    const podDir = await newPodDir();
    const spec = pod([{ name: 'config', configMap: { name: 'app' } }]);
    const volumes = await preparePodVolumes({ pod: spec, podDir, lookup });
    const dir = volumes.get('config')!;
    expect(dir).toBe(join(podDir, 'volumes', 'configmap', 'config'));

    expect(await readFile(join(dir, 'app.conf'), 'utf8')).toBe('level=debug\n');
    expect([...(await readFile(join(dir, 'logo.bin')))]).toEqual([0, 1, 2, 255]);
    expect(await readlink(join(dir, 'app.conf'))).toBe('..data/app.conf');
    const firstVersion = await readlink(join(dir, '..data'));
    expect(firstVersion).toMatch(/^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\./);
    expect(await modeOf(join(dir, 'app.conf'))).toBe(0o644);

    // Unchanged data: nothing is rewritten.
    await preparePodVolumes({ pod: spec, podDir, lookup });
    expect(await readlink(join(dir, '..data'))).toBe(firstVersion);

    // A changed key is rewritten, a removed key disappears, a new key appears; the old
    // version directory is gone.
    store.configMaps.set('shop/app', {
      metadata: { name: 'app', namespace: 'shop' },
      data: { 'app.conf': 'level=info\n', 'new.txt': 'new' },
    });
    await preparePodVolumes({ pod: spec, podDir, lookup });
    const secondVersion = await readlink(join(dir, '..data'));
    expect(secondVersion).not.toBe(firstVersion);
    expect(await readFile(join(dir, 'app.conf'), 'utf8')).toBe('level=info\n');
    expect(await readFile(join(dir, 'new.txt'), 'utf8')).toBe('new');
    expect((await readdir(dir)).sort()).toEqual(
      ['..data', secondVersion, 'app.conf', 'new.txt'].sort(),
    );
  });

  it('writes only the items asked for, at their paths and modes, with defaultMode for the rest', async () => {
    resetStore();
    const podDir = await newPodDir();
    const volumes = await preparePodVolumes({
      pod: pod([
        {
          name: 'config',
          configMap: {
            name: 'app',
            defaultMode: 0o440,
            items: [
              { key: 'app.conf', path: 'conf/main.conf', mode: 0o600 },
              { key: 'extra.txt', path: 'extra' },
            ],
          },
        },
        {
          name: 'creds',
          secret: { secretName: 'db', items: [{ key: 'password', path: 'db-password' }] },
        },
      ]),
      podDir,
      lookup,
    });
    const config = volumes.get('config')!;
    expect((await readdir(config)).filter((e) => !e.startsWith('..')).sort()).toEqual([
      'conf',
      'extra',
    ]);
    expect(await readlink(join(config, 'conf'))).toBe('..data/conf');
    expect(await readFile(join(config, 'conf', 'main.conf'), 'utf8')).toBe('level=debug\n');
    expect(await modeOf(join(config, 'conf', 'main.conf'))).toBe(0o600);
    expect(await modeOf(join(config, 'extra'))).toBe(0o440);

    const creds = volumes.get('creds')!;
    expect(creds).toBe(join(podDir, 'volumes', 'secret', 'creds'));
    expect(await readFile(join(creds, 'db-password'), 'utf8')).toBe('s3cret');
    expect(await modeOf(join(creds, 'db-password'))).toBe(0o644);
    await expect(stat(join(creds, 'user'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('makes an optional missing source an empty directory and fails on a required one', async () => {
    resetStore();
    const podDir = await newPodDir();
    const volumes = await preparePodVolumes({
      pod: pod([
        { name: 'maybe', configMap: { name: 'ghost', optional: true } },
        { name: 'maybe-secret', secret: { secretName: 'ghost', optional: true } },
      ]),
      podDir,
      lookup,
    });
    expect(await readdir(volumes.get('maybe')!)).toHaveLength(2); // ..data and its target
    expect(await readdir(volumes.get('maybe-secret')!)).toHaveLength(2);

    for (const volume of [
      { name: 'must', configMap: { name: 'ghost' } },
      { name: 'must', secret: { secretName: 'ghost' } },
      { name: 'must', configMap: { name: 'app', items: [{ key: 'nope', path: 'x' }] } },
    ]) {
      const error = await preparePodVolumes({ pod: pod([volume]), podDir, lookup }).catch((e) => e);
      expect(error).toMatchObject({ code: 'KE_EDGED_CONFIG_MISSING' });
      expect(error.message).toMatch(/ghost|nope/);
    }
  });

  it('projects configMap, secret and downward API sources into one directory', async () => {
    resetStore();
    const podDir = await newPodDir();
    const spec = pod([
      {
        name: 'all-in-one',
        projected: {
          defaultMode: 0o400,
          sources: [
            { configMap: { name: 'app', items: [{ key: 'app.conf', path: 'app.conf' }] } },
            { secret: { name: 'db', items: [{ key: 'user', path: 'secrets/user', mode: 0o440 }] } },
            { secret: { name: 'ghost', optional: true } },
            { serviceAccountToken: { path: 'token' } },
            {
              downwardAPI: {
                items: [
                  { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
                  { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
                ],
              },
            },
          ],
        },
      },
      {
        name: 'podinfo',
        downwardAPI: {
          items: [
            { path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } },
            { path: 'owner', fieldRef: { fieldPath: "metadata.annotations['owner']" } },
            {
              path: 'mem',
              resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1Mi' },
            },
          ],
        },
      },
    ]);
    const volumes = await preparePodVolumes({ pod: spec, podDir, lookup });
    const projected = volumes.get('all-in-one')!;
    expect(await readFile(join(projected, 'app.conf'), 'utf8')).toBe('level=debug\n');
    expect(await modeOf(join(projected, 'app.conf'))).toBe(0o400);
    expect(await readFile(join(projected, 'secrets', 'user'), 'utf8')).toBe('admin');
    expect(await modeOf(join(projected, 'secrets', 'user'))).toBe(0o440);
    expect(await readFile(join(projected, 'name'), 'utf8')).toBe('web-0');
    expect(await readFile(join(projected, 'labels'), 'utf8')).toBe('app="web"\ntier="front"');
    await expect(stat(join(projected, 'token'))).rejects.toMatchObject({ code: 'ENOENT' });

    const podinfo = volumes.get('podinfo')!;
    expect(podinfo).toBe(join(podDir, 'volumes', 'downward-api', 'podinfo'));
    expect(await readFile(join(podinfo, 'namespace'), 'utf8')).toBe('shop');
    expect(await readFile(join(podinfo, 'owner'), 'utf8')).toBe('team-a');
    expect(await readFile(join(podinfo, 'mem'), 'utf8')).toBe('64');

    // Labels change: the downward API files follow on the next pass.
    spec.metadata!.labels = { app: 'web', tier: 'back' };
    await preparePodVolumes({ pod: spec, podDir, lookup });
    expect(await readFile(join(projected, 'labels'), 'utf8')).toBe('app="web"\ntier="back"');
  });

  describe('hostPath', () => {
    let socketServer: Server;
    let socketPath: string;

    beforeAll(async () => {
      socketPath = join(root, 'host.sock');
      socketServer = createServer();
      await new Promise<void>((resolve) => socketServer.listen(socketPath, resolve));
    });

    afterAll(async () => {
      await new Promise((resolve) => socketServer.close(resolve));
    });

    it('creates DirectoryOrCreate and FileOrCreate paths and checks the others', async () => {
      const host = await mkdtemp(join(root, 'host-'));
      await writeFile(join(host, 'file'), 'x');
      const podDir = await newPodDir();
      const volumes = await preparePodVolumes({
        pod: pod([
          { name: 'plain', hostPath: { path: join(host, 'anything') } },
          { name: 'dir', hostPath: { path: join(host, 'made', 'dir'), type: 'DirectoryOrCreate' } },
          { name: 'file', hostPath: { path: join(host, 'made-file'), type: 'FileOrCreate' } },
          { name: 'existing', hostPath: { path: join(host, 'file'), type: 'File' } },
          { name: 'sock', hostPath: { path: socketPath, type: 'Socket' } },
        ]),
        podDir,
        lookup,
      });
      expect(volumes.get('plain')).toBe(join(host, 'anything'));
      expect((await stat(join(host, 'made', 'dir'))).isDirectory()).toBe(true);
      expect((await stat(join(host, 'made-file'))).isFile()).toBe(true);
      expect(volumes.get('sock')).toBe(socketPath);

      for (const hostPath of [
        { path: join(host, 'file'), type: 'Directory' },
        { path: join(host, 'nope'), type: 'Directory' },
        { path: join(host, 'made'), type: 'File' },
        { path: join(host, 'file'), type: 'Socket' },
        { path: join(host, 'file'), type: 'DirectoryOrCreate' },
        { path: join(host, 'missing-parent', 'f'), type: 'FileOrCreate' },
      ]) {
        const error = await preparePodVolumes({
          pod: pod([{ name: 'bad', hostPath }]),
          podDir,
          lookup,
        }).catch((e) => e);
        expect(error, `${hostPath.type} ${hostPath.path}`).toMatchObject({
          code: 'KE_EDGED_VOLUME_FAILED',
        });
      }
    });
  });

  it('refuses unsupported volume types, naming the type', async () => {
    const error = await preparePodVolumes({
      pod: pod([{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }]),
      podDir: await newPodDir(),
      lookup,
    }).catch((e) => e);
    expect(error).toMatchObject({ code: 'KE_EDGED_VOLUME_UNSUPPORTED' });
    expect(error.message).toContain('persistentVolumeClaim');
  });
});

describe('containerMounts', () => {
  it('maps volumeMounts, joins subPath, and mounts API data volumes read-only', async () => {
    resetStore();
    const podDir = await newPodDir();
    const spec = pod([
      { name: 'cache', emptyDir: {} },
      { name: 'config', configMap: { name: 'app' } },
    ]);
    const volumes = await preparePodVolumes({ pod: spec, podDir, lookup });
    const mounts = containerMounts(
      {
        name: 'app',
        volumeMounts: [
          { name: 'cache', mountPath: '/cache' },
          { name: 'cache', mountPath: '/logs', subPath: 'logs/app', readOnly: true },
          { name: 'cache', mountPath: '/per-pod', subPathExpr: 'by-name/$(POD_NAME)' },
          { name: 'config', mountPath: '/etc/app' },
        ],
      },
      volumes,
      { env: [{ name: 'POD_NAME', value: 'web-0' }], podVolumes: spec.spec!.volumes! },
    );
    const cache = volumes.get('cache')!;
    expect(mounts).toEqual([
      { containerPath: '/cache', hostPath: cache, readonly: false, selinuxRelabel: false },
      {
        containerPath: '/logs',
        hostPath: join(cache, 'logs', 'app'),
        readonly: true,
        selinuxRelabel: false,
      },
      {
        containerPath: '/per-pod',
        hostPath: join(cache, 'by-name', 'web-0'),
        readonly: false,
        selinuxRelabel: false,
      },
      {
        containerPath: '/etc/app',
        hostPath: volumes.get('config'),
        readonly: true,
        selinuxRelabel: false,
      },
    ]);
    // A missing subPath is created, as the kubelet does.
    expect((await lstat(join(cache, 'logs', 'app'))).isDirectory()).toBe(true);
  });

  it('refuses subPaths that leave the volume, through .. or through a symlink', async () => {
    const podDir = await newPodDir();
    const outside = await mkdtemp(join(root, 'outside-'));
    const volumes = await preparePodVolumes({
      pod: pod([{ name: 'cache', emptyDir: {} }]),
      podDir,
      lookup,
    });
    const cache = volumes.get('cache')!;
    await symlink(outside, join(cache, 'escape'));
    await mkdir(join(cache, 'inner'));
    await symlink('inner', join(cache, 'fine-link'));

    for (const subPath of ['../../etc', 'a/../../b', '/etc', 'escape', 'escape/newdir']) {
      let error: unknown;
      try {
        containerMounts(
          { name: 'app', volumeMounts: [{ name: 'cache', mountPath: '/x', subPath }] },
          volumes,
        );
      } catch (e) {
        error = e;
      }
      expect(error, subPath).toMatchObject({ code: 'KE_EDGED_VOLUME_FAILED' });
    }
    // Nothing was created outside the volume.
    expect(await readdir(outside)).toEqual([]);

    // A symlink that stays inside the volume is fine.
    const [mount] = containerMounts(
      { name: 'app', volumeMounts: [{ name: 'cache', mountPath: '/x', subPath: 'fine-link' }] },
      volumes,
    );
    expect(mount?.hostPath).toBe(join(cache, 'inner'));

    expect(() =>
      containerMounts({ name: 'app', volumeMounts: [{ name: 'nope', mountPath: '/x' }] }, volumes),
    ).toThrow(expect.objectContaining({ code: 'KE_EDGED_VOLUME_FAILED' }));
  });
});
