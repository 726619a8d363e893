import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadKubeConfig } from '@ke/kube';
import { command, describeWithSystem, startSource } from '@ke/testing';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FREE_PORT_FLAGS } from './free-ports';

const run = promisify(execFile);
const main = new URL('../src/main.ts', import.meta.url);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ke-cloud-api-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function startCloud() {
  const proc = startSource(main, ['--data-dir', dir, ...FREE_PORT_FLAGS], {
    env: { KE_LOG_FORMAT: 'json' },
  });
  const ready = JSON.parse(await proc.waitForLine(/embedded API server ready/, 60_000));
  await proc.waitForLine(/ke-cloud running/);
  return { proc, url: ready.url as string, kubeconfig: ready.kubeconfig as string };
}

const kubectl = (kubeconfig: string, ...args: string[]) =>
  run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'kube-cache'), ...args], {
    timeout: 30_000,
  });

describeWithSystem('ke-cloud without a kubeconfig', [command('kubectl')], () => {
  it('serves HTTPS with client certificates and writes admin.kubeconfig for kubectl', async () => {
    const cloud = await startCloud();
    try {
      expect(cloud.kubeconfig).toBe(join(dir, 'admin.kubeconfig'));
      const { stdout } = await kubectl(cloud.kubeconfig, 'get', 'namespaces', '-o', 'name');
      expect(stdout.split('\n')).toContain('namespace/default');
      // `kubectl create configmap` sends protobuf, which this server does not read (see the
      // apiserver README); a manifest goes as JSON.
      const manifest = join(dir, 'kept.json');
      await writeFile(
        manifest,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'kept' },
          data: { a: '1' },
        }),
      );
      await kubectl(cloud.kubeconfig, 'apply', '-f', manifest);
      expect((await kubectl(cloud.kubeconfig, 'get', 'nodes')).stderr).toContain(
        'No resources found',
      );

      // Controllers load the same kubeconfig through @ke/kube (client-node, client certificate).
      const api = loadKubeConfig({ file: cloud.kubeconfig }).makeApiClient(CoreV1Api);
      const namespaces = await api.listNamespace();
      expect(namespaces.items.map((ns) => ns.metadata?.name)).toContain('kube-system');

      // No client certificate, no token: refused.
      const config = parse(await readFile(cloud.kubeconfig, 'utf8'));
      const ca = Buffer.from(config.clusters[0].cluster['certificate-authority-data'], 'base64');
      const status = await new Promise<number>((resolve, reject) => {
        request(`${cloud.url}/api/v1/namespaces`, { ca }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
      expect(status).toBe(401);
    } finally {
      expect(await cloud.proc.stop('SIGTERM')).toBe(0);
    }
  }, 120_000);

  it('keeps its CA and its objects across a restart', async () => {
    const caBefore = await readFile(join(dir, 'pki', 'ca.crt'), 'utf8');
    const cloud = await startCloud();
    try {
      expect(await readFile(join(dir, 'pki', 'ca.crt'), 'utf8')).toBe(caBefore);
      const { stdout } = await kubectl(
        cloud.kubeconfig,
        'get',
        'configmap',
        'kept',
        '-o',
        'jsonpath={.data.a}',
      );
      expect(stdout).toBe('1');
    } finally {
      expect(await cloud.proc.stop('SIGTERM')).toBe(0);
    }
  }, 120_000);
});
