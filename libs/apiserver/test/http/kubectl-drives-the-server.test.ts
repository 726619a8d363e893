import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { command, describeWithSystem, startProcess } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Json, startServer, type TestServer, uniqueName } from './helpers';

// The real kubectl against the server: the everyday commands of a user, each checked by what
// kubectl prints. kubectl gets its own kubeconfig (no credentials: the server lets anonymous
// requests in) and cache directory in a temporary directory, so ~/.kube is never touched.

const REPO = resolve(import.meta.dirname, '../../../..');
const CRDS = join(REPO, 'libs/apis/crds');
const EXAMPLES = join(REPO, 'examples');
const KUBECTL_TIMEOUT_MS = 30_000;

interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describeWithSystem('kubectl drives the API server', [command('kubectl')], () => {
  let api: TestServer;
  let dir: string;
  let kubeconfig: string;
  let cacheDir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    api = await startServer();
    dir = await mkdtemp(join(tmpdir(), 'ke-apiserver-kubectl-'));
    kubeconfig = join(dir, 'kubeconfig');
    cacheDir = join(dir, 'cache');
    await writeFile(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: test',
        `  cluster: { server: "${api.url}" }`,
        'users:',
        '- name: anonymous',
        '  user: {}',
        'contexts:',
        '- name: test',
        '  context: { cluster: test, user: anonymous, namespace: default }',
        'current-context: test',
        '',
      ].join('\n'),
    );
    // HOME too, so nothing kubectl might write by default lands in the real home directory.
    env = { ...process.env, HOME: dir, KUBECONFIG: kubeconfig };
  });

  afterAll(async () => {
    await api?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const baseArgs = (cache = cacheDir) => ['--kubeconfig', kubeconfig, '--cache-dir', cache];

  /** Runs kubectl to completion; resolves with its exit code and output (never rejects). */
  function kubectl(args: readonly string[], options: { cache?: string } = {}) {
    return new Promise<KubectlResult>((done) => {
      execFile(
        'kubectl',
        [...baseArgs(options.cache), ...args],
        { env, timeout: KUBECTL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          done({ code, stdout, stderr });
        },
      );
    });
  }

  /** Runs kubectl and fails the test with its output unless it exits 0; returns stdout. */
  async function ok(...args: string[]): Promise<string> {
    const result = await kubectl(args);
    expect(result.code, `kubectl ${args.join(' ')}\n${result.stdout}${result.stderr}`).toBe(0);
    return result.stdout;
  }

  async function json(...args: string[]): Promise<Json> {
    return JSON.parse(await ok(...args, '-o', 'json'));
  }

  async function manifest(name: string, text: string): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  }

  async function namespace(prefix: string): Promise<string> {
    const name = uniqueName(prefix);
    await ok('create', 'namespace', name);
    return name;
  }

  it('creates a ConfigMap from a file and shows it with the server-set fields', async () => {
    const name = uniqueName('settings');
    const file = await manifest(
      `${name}.yaml`,
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  mode: fast\n`,
    );
    expect(await ok('create', '-f', file)).toContain(`configmap/${name} created`);
    const yaml = await ok('get', 'configmap', name, '-o', 'yaml');
    expect(yaml).toMatch(/^ {2}uid: [0-9a-f-]{36}$/m);
    expect(yaml).toMatch(/^ {2}creationTimestamp: "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"$/m);
    expect(yaml).toMatch(/^ {2}resourceVersion: "\d+"$/m);
    expect(yaml).toMatch(/^ {2}mode: fast$/m);
    const again = await kubectl(['create', '-f', file]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('AlreadyExists');
  });

  it('applies a Pod: created, unchanged, then configured with a new generation', async () => {
    const pod = join(EXAMPLES, 'pod.yaml');
    expect(await ok('apply', '-f', pod)).toContain('pod/nginx-edge-1 created');
    expect(await ok('apply', '-f', pod)).toContain('pod/nginx-edge-1 unchanged');
    const before = await json('get', 'pod', 'nginx-edge-1');
    expect(before.metadata.generation).toBe(1);

    const edited = await manifest(
      'pod-edited.yaml',
      (await readFile(pod, 'utf8')).replace('busybox:1.35', 'busybox:1.36'),
    );
    expect(await ok('apply', '-f', edited)).toContain('pod/nginx-edge-1 configured');
    const after = await json('get', 'pod', 'nginx-edge-1');
    expect(after.metadata.generation).toBe(2);
    expect(after.spec.containers[0].image).toBe('127.0.0.1:5000/library/busybox:1.36');
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(Number(after.metadata.resourceVersion)).toBeGreaterThan(
      Number(before.metadata.resourceVersion),
    );
    expect(await ok('delete', '-f', edited)).toContain('pod "nginx-edge-1" deleted');
  });

  it('labels, annotates, patches (strategic, merge, json) and deletes a Pod', async () => {
    const ns = await namespace('patching');
    const name = uniqueName('web');
    const file = await manifest(
      `${name}.yaml`,
      [
        'apiVersion: v1',
        'kind: Pod',
        `metadata: { name: ${name}, namespace: ${ns} }`,
        'spec:',
        '  containers:',
        '  - { name: app, image: app:1 }',
        '  - { name: sidecar, image: sidecar:1 }',
        '',
      ].join('\n'),
    );
    await ok('apply', '-f', file);
    expect(await ok('-n', ns, 'label', 'pod', name, 'tier=web')).toContain(`pod/${name} labeled`);
    expect(await ok('-n', ns, 'annotate', 'pod', name, 'owner=team-a')).toContain(
      `pod/${name} annotated`,
    );
    // Strategic merge: the container is found by name, its sibling stays.
    expect(
      await ok(
        '-n',
        ns,
        'patch',
        'pod',
        name,
        '-p',
        '{"spec":{"containers":[{"name":"sidecar","image":"sidecar:2"}]}}',
      ),
    ).toContain(`pod/${name} patched`);
    await ok(
      '-n',
      ns,
      'patch',
      'pod',
      name,
      '--type',
      'merge',
      '-p',
      '{"metadata":{"labels":{"merged":"yes"}}}',
    );
    await ok(
      '-n',
      ns,
      'patch',
      'pod',
      name,
      '--type',
      'json',
      '-p',
      '[{"op":"replace","path":"/spec/containers/0/image","value":"app:2"}]',
    );
    const pod = await json('-n', ns, 'get', 'pod', name);
    expect(pod.metadata.labels).toEqual({ tier: 'web', merged: 'yes' });
    expect(pod.metadata.annotations.owner).toBe('team-a');
    expect(pod.spec.containers).toEqual([
      { name: 'app', image: 'app:2' },
      { name: 'sidecar', image: 'sidecar:2' },
    ]);
    const failed = await kubectl([
      '-n',
      ns,
      'patch',
      'pod',
      name,
      '--type',
      'json',
      '-p',
      '[{"op":"test","path":"/metadata/labels/tier","value":"db"}]',
    ]);
    expect(failed.code).not.toBe(0);

    expect(await ok('-n', ns, 'delete', 'pod', name)).toContain(`pod "${name}" deleted`);
    const gone = await kubectl(['-n', ns, 'get', 'pod', name]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain('NotFound');
  });

  it('watches with get -w and sees a change made afterwards', async () => {
    const ns = await namespace('watching');
    const name = uniqueName('watched');
    await ok('-n', ns, 'create', 'configmap', name, '--from-literal=a=1');
    const watcher = startProcess(
      'kubectl',
      [...baseArgs(), '-n', ns, 'get', 'configmap', name, '-w', '--output-watch-events'],
      { env },
    );
    try {
      await watcher.waitForLine(new RegExp(`^ADDED\\s+${name}\\s+1\\s`));
      await ok('-n', ns, 'label', 'configmap', name, 'step=two');
      await watcher.waitForLine(new RegExp(`^MODIFIED\\s+${name}\\s+1\\s`));
      await ok('-n', ns, 'delete', 'configmap', name);
      await watcher.waitForLine(new RegExp(`^DELETED\\s+${name}\\s`));
    } finally {
      await watcher.stop();
    }
  });

  it('applies the CRDs and the example Device and DeviceModel, and lists them', async () => {
    const applied = await ok('apply', '-f', CRDS);
    expect(applied).toMatch(
      /customresourcedefinition\.apiextensions\.k8s\.io\/devices\.devices\.kubeedge\.io (created|unchanged)/,
    );
    expect(await ok('apply', '-f', join(EXAMPLES, 'devicemodel.yaml'))).toContain(
      'devicemodel.devices.kubeedge.io/beta1-model',
    );
    expect(await ok('apply', '-f', join(EXAMPLES, 'device.yaml'))).toContain(
      'device.devices.kubeedge.io/beta1-device',
    );
    expect(await ok('get', 'devices')).toMatch(/^beta1-device\s+\d+s$/m);
    expect(await ok('get', 'devicemodels')).toMatch(/^beta1-model\s/m);
    const device = await json('get', 'device', 'beta1-device');
    expect(device.spec.properties[0]).toMatchObject({ name: 'temp', collectCycle: 2000 });

    // A cluster-scoped custom kind with nothing in it.
    const nodeGroups = await kubectl(['get', 'nodegroups']);
    expect(nodeGroups.code).toBe(0);
    expect(nodeGroups.stderr).toContain('No resources found');

    const crds = await ok('get', 'crd');
    expect(crds).toMatch(/^NAME\s+CREATED AT$/m);
    for (const crd of [
      'devices.devices.kubeedge.io',
      'devicemodels.devices.kubeedge.io',
      'nodegroups.apps.kubeedge.io',
    ]) {
      expect(crds).toMatch(new RegExp(`^${crd.replace(/\./g, '\\.')}\\s+\\d{4}-`, 'm'));
    }
  });

  it('refuses a Device with a field of the wrong type, naming the field', async () => {
    await ok('apply', '-f', CRDS);
    const bad = await manifest(
      'bad-device.yaml',
      (await readFile(join(EXAMPLES, 'device.yaml'), 'utf8'))
        .replace('name: beta1-device', 'name: bad-device')
        .replace(/collectCycle: 2000.*/, 'collectCycle: often'),
    );
    const refused = await kubectl(['apply', '-f', bad]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('spec.properties[0].collectCycle');
    expect(refused.stderr).toContain('is invalid');
    expect((await kubectl(['get', 'device', 'bad-device'])).stderr).toContain('NotFound');
  });

  it('refuses a Device with a field its schema does not know, unless told not to validate', async () => {
    await ok('apply', '-f', CRDS);
    const ns = await namespace('strict');
    const unknown = await manifest(
      'unknown-field-device.yaml',
      (await readFile(join(EXAMPLES, 'device.yaml'), 'utf8'))
        .replace('namespace: default', `namespace: ${ns}`)
        .replace('  nodeName: edge-node-1', '  nodeName: edge-node-1\n  colour: blue'),
    );
    // kubectl validates strictly by default and leaves it to the server (fieldValidation=Strict).
    const refused = await kubectl(['apply', '-f', unknown]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('unknown field "spec.colour"');
    // Without validation the field is pruned, as the schema says.
    await ok('apply', '--validate=false', '-f', unknown);
    const device = await json('-n', ns, 'get', 'device', 'beta1-device');
    expect(device.spec.nodeName).toBe('edge-node-1');
    expect(device.spec).not.toHaveProperty('colour');
  });

  it('explains a custom kind from the schema of its CRD', async () => {
    await ok('apply', '-f', CRDS);
    const explained = await ok('explain', 'device.spec');
    expect(explained).toContain('KIND:       Device');
    expect(explained).toMatch(/deviceModelRef\s+<Object>/);
    expect(explained).toMatch(/properties\s+<\[\]Object>/);
  });

  it('stops serving a deleted CRD and deletes its objects', async () => {
    await ok('apply', '-f', CRDS);
    const ns = await namespace('devices');
    const device = await manifest(
      'device-in-ns.yaml',
      (await readFile(join(EXAMPLES, 'device.yaml'), 'utf8')).replace(
        'namespace: default',
        `namespace: ${ns}`,
      ),
    );
    await ok('apply', '-f', device);
    expect(await ok('-n', ns, 'get', 'devices')).toContain('beta1-device');

    expect(await ok('delete', 'crd', 'devices.devices.kubeedge.io')).toContain('deleted');
    // A fresh discovery no longer has the resource. (kubectl caches discovery for hours, so a
    // kubectl with the older cache gets a NotFound from the list instead, as with Kubernetes.)
    const fresh = await kubectl(['-n', ns, 'get', 'devices'], {
      cache: join(dir, uniqueName('cache')),
    });
    expect(fresh.code).not.toBe(0);
    expect(fresh.stderr).toContain(`the server doesn't have a resource type "devices"`);
    const stale = await kubectl(['-n', ns, 'get', 'devices']);
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toMatch(/NotFound|doesn't have a resource type/);

    // Created again, the CRD starts empty: its objects went with it.
    await ok('apply', '-f', join(CRDS, 'devices_v1beta1_device.yaml'));
    const empty = await kubectl(['-n', ns, 'get', 'devices']);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stderr).toContain('No resources found');
  });

  it('creates a namespace with things in it, and deleting it removes them all', async () => {
    expect(await ok('get', 'ns')).toMatch(/^default\s+Active\s/m);
    const ns = uniqueName('team');
    // `kubectl create <kind>` sends protobuf (client-go's typed clients do for built-in kinds).
    expect(await ok('create', 'namespace', ns)).toContain(`namespace/${ns} created`);
    expect(await ok('-n', ns, 'create', 'configmap', 'conf', '--from-literal=k=v')).toContain(
      'configmap/conf created',
    );
    expect(
      await ok('-n', ns, 'create', 'secret', 'generic', 'creds', '--from-literal=p=s3cret'),
    ).toContain('secret/creds created');
    expect(await ok('-n', ns, 'create', 'serviceaccount', 'robot')).toContain(
      'serviceaccount/robot created',
    );
    const secret = await json('-n', ns, 'get', 'secret', 'creds');
    expect(secret.data).toEqual({ p: Buffer.from('s3cret').toString('base64') });
    expect(await ok('get', 'ns', ns)).toMatch(new RegExp(`^${ns}\\s+Active\\s`, 'm'));

    // kubectl delete waits until the namespace is gone.
    expect(await ok('delete', 'namespace', ns)).toContain(`namespace "${ns}" deleted`);
    const namespaceGone = await kubectl(['get', 'namespace', ns]);
    expect(namespaceGone.stderr).toContain('NotFound');
    const contents = await kubectl(['-n', ns, 'get', 'configmaps,secrets,serviceaccounts']);
    expect(contents.stdout).toBe('');
    expect(contents.stderr).toContain('No resources found');
  });

  it('tells which kinds it cannot read from kubectl create', async () => {
    const refused = await kubectl(['create', 'deployment', uniqueName('d'), '--image=nginx']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('kubectl apply -f');
  });

  it('lists with -l and --field-selector, and shows pods -o wide', async () => {
    const ns = await namespace('selecting');
    const pod = (name: string, labels: string, node: string) =>
      [
        'apiVersion: v1',
        'kind: Pod',
        `metadata: { name: ${name}, namespace: ${ns}, labels: { ${labels} } }`,
        `spec: { nodeName: ${node}, containers: [ { name: c, image: c:1 } ] }`,
      ].join('\n');
    const file = await manifest(
      `${ns}.yaml`,
      [
        pod('web-1', 'app: web, tier: front', 'edge-a'),
        pod('web-2', 'app: web, tier: front, canary: "true"', 'edge-b'),
        pod('db-1', 'app: db, tier: back', 'edge-a'),
      ].join('\n---\n'),
    );
    await ok('apply', '-f', file);
    const names = (output: string) =>
      output
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.split(/\s+/)[0]);

    expect(names(await ok('-n', ns, 'get', 'pods', '-l', 'app=web'))).toEqual(['web-1', 'web-2']);
    expect(names(await ok('-n', ns, 'get', 'pods', '-l', 'app=web,!canary'))).toEqual(['web-1']);
    expect(names(await ok('-n', ns, 'get', 'pods', '-l', 'tier in (back)'))).toEqual(['db-1']);
    expect(
      names(await ok('-n', ns, 'get', 'pods', '--field-selector', 'spec.nodeName=edge-a')),
    ).toEqual(['db-1', 'web-1']);
    expect(
      names(
        await ok(
          '-n',
          ns,
          'get',
          'pods',
          '--field-selector',
          'metadata.name!=db-1',
          '-l',
          'tier=front',
        ),
      ),
    ).toEqual(['web-1', 'web-2']);
    const none = await kubectl(['-n', ns, 'get', 'pods', '-l', 'app=nothing']);
    expect(none.stderr).toContain('No resources found');
    const badSelector = await kubectl(['-n', ns, 'get', 'pods', '--field-selector', 'spec.nope=1']);
    expect(badSelector.code).not.toBe(0);

    const wide = await ok('-n', ns, 'get', 'pods', '-o', 'wide');
    expect(wide).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE/m);
    expect(wide).toMatch(/^web-2\s+0\/1\s+Pending\s+0\s+\S+\s+<none>\s+edge-b/m);
    const all = await ok('get', 'pods', '-A', '-l', 'app=db');
    expect(all).toMatch(new RegExp(`^${ns}\\s+db-1\\s`, 'm'));
  });
});
