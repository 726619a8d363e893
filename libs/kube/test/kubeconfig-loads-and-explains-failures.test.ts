import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  describeKubeConfig,
  isKubeError,
  KubeError,
  KubeErrorCode,
  loadKubeConfig,
} from '../src/index';

const SECRET_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2Vu.c2ln';
const SECRET_KEY = 'LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tc2VjcmV0';

const kubeconfig = `
apiVersion: v1
kind: Config
current-context: edge-admin
clusters:
  - name: edge
    cluster:
      server: https://127.0.0.1:6443
      certificate-authority-data: Q0EgREFUQQ==
  - name: other
    cluster:
      server: http://127.0.0.1:8080
contexts:
  - name: edge-admin
    context: { cluster: edge, user: admin, namespace: kubeedge }
  - name: other-viewer
    context: { cluster: other, user: viewer }
users:
  - name: admin
    user: { token: ${SECRET_TOKEN} }
  - name: viewer
    user:
      client-certificate: certs/viewer.crt
      client-key-data: ${SECRET_KEY}
`;

const dir = mkdtempSync(join(tmpdir(), 'ke-kube-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function failure(load: () => unknown): KubeError {
  try {
    load();
  } catch (error) {
    if (error instanceof KubeError) return error;
    throw error;
  }
  throw new Error('expected loadKubeConfig to throw');
}

describe('loadKubeConfig', () => {
  it('loads YAML text and uses its current context', () => {
    const kc = loadKubeConfig({ yaml: kubeconfig });
    expect(kc.getCurrentContext()).toBe('edge-admin');
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
  });

  it('loads a file and resolves relative paths in it against its directory', () => {
    const path = file('config.yaml', kubeconfig);
    const kc = loadKubeConfig({ file: path, context: 'other-viewer' });
    expect(kc.getCurrentContext()).toBe('other-viewer');
    expect(kc.getCurrentUser()?.certFile).toBe(join(dir, 'certs', 'viewer.crt'));
  });

  it('reports a missing file as KE_KUBE_CONFIG_NOT_FOUND, naming it', () => {
    const path = join(dir, 'nope', 'kubeconfig');
    const error = failure(() => loadKubeConfig({ file: path }));
    expect(error.code).toBe(KubeErrorCode.ConfigNotFound);
    expect(error.file).toBe(path);
    expect(error.message).toContain(path);
  });

  it.each([
    ['broken YAML', 'clusters: [\n  - name: x\n  cluster: {', /missed comma.*\(2:3\)/],
    ['plain words', 'just some words', /no clusters, contexts or users/],
    ['an empty file', '\n\n', /empty/],
    ['a cluster without server', 'clusters:\n  - name: c\n    cluster: {}\n', /server is missing/],
  ])(
    'reports %s as KE_KUBE_CONFIG_INVALID, naming the file and the problem',
    (_, text, problem) => {
      const path = file(`garbage-${Math.random().toString(36).slice(2)}.yaml`, text);
      const error = failure(() => loadKubeConfig({ file: path }));
      expect(error.code).toBe(KubeErrorCode.ConfigInvalid);
      expect(error.file).toBe(path);
      expect(error.message).toContain(path);
      expect(error.message).toMatch(problem);
    },
  );

  it('names the known contexts when the wanted one does not exist', () => {
    const error = failure(() => loadKubeConfig({ yaml: kubeconfig, context: 'prod' }));
    expect(error.code).toBe(KubeErrorCode.ConfigInvalid);
    expect(error.message).toContain('context "prod" is not defined');
    expect(error.message).toContain('edge-admin, other-viewer');
  });

  it('rejects a context without current-context, or naming a missing cluster or user', () => {
    const noCurrent = kubeconfig.replace('current-context: edge-admin', '');
    expect(failure(() => loadKubeConfig({ yaml: noCurrent })).message).toMatch(
      /current-context is not set/,
    );
    const badCluster = kubeconfig.replace('cluster: edge, user', 'cluster: gone, user');
    expect(failure(() => loadKubeConfig({ yaml: badCluster })).message).toMatch(
      /cluster "gone", which is not defined/,
    );
    const badUser = kubeconfig.replace('user: admin, namespace', 'user: ghost, namespace');
    expect(failure(() => loadKubeConfig({ yaml: badUser })).message).toMatch(
      /user "ghost", which is not defined/,
    );
    const badServer = kubeconfig.replace('https://127.0.0.1:6443', 'ftp://127.0.0.1');
    expect(failure(() => loadKubeConfig({ yaml: badServer })).message).toMatch(/not http\(s\)/);
  });

  it('takes one source at a time', () => {
    const error = failure(() => loadKubeConfig({ yaml: kubeconfig, file: '/x' }));
    expect(error.code).toBe(KubeErrorCode.InvalidArgument);
  });

  it('outside a pod, in-cluster config is KE_KUBE_CONFIG_NOT_FOUND and says why', () => {
    const saved = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      const error = failure(() => loadKubeConfig({ inCluster: true }));
      expect(error.code).toBe(KubeErrorCode.ConfigNotFound);
      expect(error.message).toContain('KUBERNETES_SERVICE_HOST');
    } finally {
      if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
    }
  });
});

describe('loadKubeConfig without a source, as kubectl looks', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    delete process.env.KUBECONFIG;
    delete process.env.KUBERNETES_SERVICE_HOST;
  });
  afterEach(() => {
    for (const key of ['KUBECONFIG', 'HOME', 'KUBERNETES_SERVICE_HOST']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  it('merges the KUBECONFIG files, the first to define a name winning', () => {
    const first = file('first.yaml', kubeconfig);
    const second = file(
      'second.yaml',
      `current-context: extra
clusters:
  - { name: edge, cluster: { server: https://should-not-win:1 } }
  - { name: extra, cluster: { server: https://extra:6443 } }
contexts:
  - { name: extra, context: { cluster: extra, user: admin } }
users: []
`,
    );
    process.env.KUBECONFIG = [first, second].join(delimiter);
    const kc = loadKubeConfig();
    expect(kc.getCurrentContext()).toBe('edge-admin');
    expect(kc.getCluster('edge')?.server).toBe('https://127.0.0.1:6443');
    expect(kc.getCluster('extra')?.server).toBe('https://extra:6443');
    expect(loadKubeConfig({ context: 'extra' }).getCurrentCluster()?.name).toBe('extra');
  });

  it('names a KUBECONFIG entry that does not exist', () => {
    const missing = join(dir, 'missing.yaml');
    process.env.KUBECONFIG = missing;
    const error = failure(() => loadKubeConfig());
    expect(error.code).toBe(KubeErrorCode.ConfigNotFound);
    expect(error.message).toContain(`${missing} (from KUBECONFIG)`);
  });

  it('falls back to ~/.kube/config', () => {
    const home = mkdtempSync(join(dir, 'home-'));
    mkdirSync(join(home, '.kube'));
    writeFileSync(join(home, '.kube', 'config'), kubeconfig);
    process.env.HOME = home;
    expect(loadKubeConfig().getCurrentContext()).toBe('edge-admin');
  });

  it('says where it looked when there is no kubeconfig at all', () => {
    process.env.HOME = mkdtempSync(join(dir, 'empty-home-'));
    const error = failure(() => loadKubeConfig());
    expect(isKubeError(error, KubeErrorCode.ConfigNotFound)).toBe(true);
    expect(error.message).toContain('KUBECONFIG is not set');
    expect(error.message).toContain(join(process.env.HOME, '.kube', 'config'));
  });
});

describe('describeKubeConfig', () => {
  it('tells server, context, user and auth method, and no secret', () => {
    const kc = loadKubeConfig({ yaml: kubeconfig });
    const description = describeKubeConfig(kc);
    expect(description).toEqual({
      server: 'https://127.0.0.1:6443',
      context: 'edge-admin',
      cluster: 'edge',
      user: 'admin',
      namespace: 'kubeedge',
      authMethod: 'token',
      insecureSkipTlsVerify: false,
    });
    expect(JSON.stringify(description)).not.toContain(SECRET_TOKEN);

    const viewer = describeKubeConfig(
      loadKubeConfig({ yaml: kubeconfig, context: 'other-viewer' }),
    );
    expect(viewer.authMethod).toBe('client-certificate');
    expect(JSON.stringify(viewer)).not.toContain(SECRET_KEY);
  });

  it('names exec plugins and auth providers, and strips credentials from the server URL', () => {
    const yaml = `
current-context: a
clusters:
  - { name: c, cluster: { server: 'https://admin:hunter2@api.example:6443/', insecure-skip-tls-verify: true } }
contexts:
  - { name: a, context: { cluster: c, user: e } }
  - { name: b, context: { cluster: c, user: p } }
  - { name: d, context: { cluster: c, user: basic } }
  - { name: n, context: { cluster: c } }
users:
  - name: e
    user:
      exec: { apiVersion: client.authentication.k8s.io/v1, command: /usr/local/bin/aws, args: [eks, get-token] }
  - { name: p, user: { auth-provider: { name: oidc, config: { id-token: secret-id-token } } } }
  - { name: basic, user: { username: admin, password: hunter2 } }
`;
    const exec = describeKubeConfig(loadKubeConfig({ yaml }));
    expect(exec.authMethod).toBe('exec:aws');
    expect(exec.server).toBe('https://api.example:6443');
    expect(exec.insecureSkipTlsVerify).toBe(true);
    expect(JSON.stringify(exec)).not.toContain('hunter2');
    const oidc = describeKubeConfig(loadKubeConfig({ yaml, context: 'b' }));
    expect(oidc.authMethod).toBe('auth-provider:oidc');
    expect(JSON.stringify(oidc)).not.toContain('secret-id-token');
    const basic = describeKubeConfig(loadKubeConfig({ yaml, context: 'd' }));
    expect(basic.authMethod).toBe('basic');
    expect(JSON.stringify(basic)).not.toContain('hunter2');
    expect(describeKubeConfig(loadKubeConfig({ yaml, context: 'n' })).authMethod).toBe('none');
  });
});
