import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startSource, type TestProcess } from '@ke/testing';

const run = promisify(execFile);
const cloudMain = new URL('../../apps/reference-cloud/src/main.ts', import.meta.url);
const edgeMain = new URL('../../apps/reference-edge/src/main.ts', import.meta.url);
const env = { KE_LOG_FORMAT: 'json' };
const STARTUP_MS = 60_000;

/** A running ke-cloud, and the API it uses (its embedded one, or another ke-cloud's). */
export interface Cloud {
  readonly process: TestProcess;
  /** `admin.kubeconfig` of the API; the same file across restarts (the port may change). */
  readonly kubeconfig: string;
  /** The API server, `https://127.0.0.1:<port>`. */
  readonly apiUrl: string;
}

/** A running ke-edge. */
export interface Edge {
  readonly process: TestProcess;
  readonly node: string;
  readonly dataDir: string;
  /** Its MetaServer, `http://127.0.0.1:<port>` (a new port on every start). */
  readonly metaServer: string;
  /** Its SQLite store. */
  readonly database: string;
  /** The network namespace it runs in; undefined: the cluster's. */
  readonly netns: string | undefined;
}

/** A JSON client of the embedded API server, as the admin, over keep-alive connections. */
export interface ApiClient {
  request<T = unknown>(method: string, path: string, body?: unknown, type?: string): Promise<T>;
  /**
   * Watches the collection `path` from now on: resolves once the server has answered, with a
   * function that ends the watch; every event goes to `onEvent`.
   */
  watch(
    path: string,
    onEvent: (event: { type: string; object: unknown }) => void,
  ): Promise<() => void>;
  close(): void;
}

/**
 * ke-cloud and ke-edge processes run from source in one temporary directory, on ports picked
 * once so a restarted cloud listens where its edges look for it. {@link stopAll} stops every
 * process it started, and nothing else.
 */
export class TestCluster {
  readonly dir: string;
  readonly ports: { readonly websocket: number; readonly https: number };
  /** The network namespace every process (and kubectl) runs in; undefined: the test's own. */
  readonly netns: string | undefined;
  /** Where cloudhub listens and edges find it. */
  readonly cloudAddress: string;
  cloud: Cloud | undefined;
  /** The API-only ke-cloud, when {@link startApiServer} started one. */
  apiServer: Cloud | undefined;
  /** Where the API's CA and admin certificate are. */
  #pkiDir = '';
  readonly #started: TestProcess[] = [];

  private constructor(
    dir: string,
    ports: { websocket: number; https: number },
    netns: string | undefined,
    cloudAddress: string,
  ) {
    this.dir = dir;
    this.ports = ports;
    this.netns = netns;
    this.cloudAddress = cloudAddress;
  }

  /**
   * With `netns`, the cloud, the edges and kubectl run in that namespace (it must exist); an
   * edge can run in another one (`startEdge(..., { netns })`) that reaches `cloudAddress`
   * (default 127.0.0.1), where cloudhub then listens.
   */
  static async create(
    prefix: string,
    options: { netns?: string; cloudAddress?: string } = {},
  ): Promise<TestCluster> {
    const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
    return new TestCluster(
      dir,
      { websocket: await freePort(), https: await freePort() },
      options.netns,
      options.cloudAddress ?? '127.0.0.1',
    );
  }

  get cloudDataDir(): string {
    return join(this.dir, 'cloud');
  }

  /**
   * Starts ke-cloud (again, on the same data directory and hub ports) and waits until it runs.
   * With `kubeconfig` it is the cloud core of that API (see {@link startApiServer}); without,
   * it runs its own embedded API server.
   */
  async startCloud(
    options: { kubeconfig?: string; args?: readonly string[] } = {},
  ): Promise<Cloud> {
    const proc = this.#track(
      startSource(
        cloudMain,
        [
          '--data-dir',
          this.cloudDataDir,
          ...(options.kubeconfig
            ? ['--kubeAPIConfig.kubeConfig', options.kubeconfig]
            : ['--embeddedAPIServer.port', '0']),
          '--commonConfig.monitorServer.bindAddress',
          '127.0.0.1:0',
          '--modules.cloudHub.websocket.address',
          this.cloudAddress,
          '--modules.cloudHub.websocket.port',
          String(this.ports.websocket),
          '--modules.cloudHub.https.address',
          this.cloudAddress,
          '--modules.cloudHub.https.port',
          String(this.ports.https),
          '--modules.edgeController.nodeMonitorGracePeriod',
          '3',
          ...(options.args ?? []),
        ],
        { env, netns: this.netns },
      ),
    );
    if (options.kubeconfig) {
      await proc.waitForLine(/ke-cloud running/, STARTUP_MS);
      this.cloud = {
        process: proc,
        kubeconfig: options.kubeconfig,
        apiUrl: this.apiServer!.apiUrl,
      };
      return this.cloud;
    }
    const ready = JSON.parse(await proc.waitForLine(/embedded API server ready/, STARTUP_MS));
    await proc.waitForLine(/ke-cloud running/, STARTUP_MS);
    this.cloud = { process: proc, kubeconfig: ready.kubeconfig, apiUrl: ready.url };
    this.#pkiDir = join(this.cloudDataDir, 'pki');
    return this.cloud;
  }

  /**
   * Starts a ke-cloud that runs only its embedded API server (no cloudhub, no controllers): a
   * cluster that stays up while the cloud core ({@link startCloud} with its kubeconfig) stops.
   */
  async startApiServer(): Promise<Cloud> {
    const dataDir = join(this.dir, 'api');
    const proc = this.#track(
      startSource(
        cloudMain,
        [
          '--data-dir',
          dataDir,
          '--embeddedAPIServer.port',
          '0',
          '--commonConfig.monitorServer.bindAddress',
          '127.0.0.1:0',
          '--modules.cloudHub.enable',
          'false',
          '--modules.edgeController.enable',
          'false',
        ],
        { env, netns: this.netns },
      ),
    );
    const ready = JSON.parse(await proc.waitForLine(/embedded API server ready/, STARTUP_MS));
    await proc.waitForLine(/ke-cloud running/, STARTUP_MS);
    this.apiServer = { process: proc, kubeconfig: ready.kubeconfig, apiUrl: ready.url };
    this.#pkiDir = join(dataDir, 'pki');
    return this.apiServer;
  }

  /** A bootstrap token from `ke-cloud token create`. */
  async token(): Promise<string> {
    const proc = this.#track(
      startSource(cloudMain, ['token', 'create', '--data-dir', this.cloudDataDir], {
        netns: this.netns,
      }),
    );
    const code = await proc.exited(STARTUP_MS);
    if (code !== 0) throw new Error(`token create exited ${code}:\n${proc.lines.join('\n')}`);
    return proc.lines.join('').trim();
  }

  /**
   * Starts ke-edge for `node` (on its data directory, so a second start is a restart) and waits
   * for its MetaServer. Without `token` it uses the certificate it got before.
   */
  async startEdge(
    node: string,
    options: { token?: string; args?: readonly string[]; netns?: string } = {},
  ): Promise<Edge> {
    const dataDir = join(this.dir, node);
    const netns = options.netns ?? this.netns;
    const proc = this.#track(
      startSource(
        edgeMain,
        [
          '--data-dir',
          dataDir,
          '--node-name',
          node,
          ...(options.token ? ['--token', options.token] : []),
          '--modules.edgeHub.websocket.server',
          `${this.cloudAddress}:${this.ports.websocket}`,
          '--modules.edgeHub.httpServer',
          `https://${this.cloudAddress}:${this.ports.https}`,
          '--modules.eventBus.mqttServerInternal',
          'tcp://127.0.0.1:0',
          '--modules.metaManager.metaServer.server',
          '127.0.0.1:0',
          '--modules.edged.nodeStatusUpdateFrequency',
          '1',
          ...(options.args ?? []),
        ],
        { env, netns },
      ),
    );
    const ready = JSON.parse(await proc.waitForLine(/metadata store ready/, STARTUP_MS));
    return {
      process: proc,
      node,
      dataDir,
      metaServer: ready.metaServer,
      database: ready.database,
      netns,
    };
  }

  /** kubectl against the cloud's API. */
  kubectl(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    const api = this.apiServer ?? this.cloud;
    if (!api) throw new Error('no API server started');
    return this.#kubectl(['--kubeconfig', api.kubeconfig, ...args]);
  }

  /** kubectl against an edge's MetaServer. */
  atEdge(edge: Edge, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return this.#kubectl(['--server', edge.metaServer, ...args], edge.netns);
  }

  /** `kubectl apply` of a JSON manifest (kubectl's own generators need protobuf). */
  async apply(manifest: object): Promise<void> {
    const file = join(this.dir, `manifest-${Date.now()}-${Math.random()}.json`);
    await writeFile(file, JSON.stringify(manifest));
    await this.kubectl('apply', '-f', file);
  }

  /** A client of the current cloud's API with the admin certificate. */
  api(): ApiClient {
    if (this.netns) throw new Error('api() reaches the API from the test process: not in a netns');
    const api = this.apiServer ?? this.cloud;
    if (!api) throw new Error('no API server started');
    const pki = this.#pkiDir;
    const agent = new Agent({
      ca: readFileSync(join(pki, 'ca.crt')),
      cert: readFileSync(join(pki, 'admin.crt')),
      key: readFileSync(join(pki, 'admin.key')),
      keepAlive: true,
      maxSockets: 16,
    });
    const base = api.apiUrl;
    return {
      request<T>(method: string, path: string, body?: unknown, type = 'application/json') {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        return new Promise<T>((resolve, reject) => {
          const req = request(
            new URL(path, base),
            {
              method,
              agent,
              timeout: 30_000,
              headers: {
                accept: 'application/json',
                ...(payload === undefined ? {} : { 'content-type': type }),
              },
            },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (chunk: Buffer) => chunks.push(chunk));
              res.on('error', reject);
              res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                if ((res.statusCode ?? 500) >= 400) {
                  reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
                } else {
                  resolve(JSON.parse(text) as T);
                }
              });
            },
          );
          req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
          req.on('error', reject);
          req.end(payload);
        });
      },
      watch(path: string, onEvent: (event: { type: string; object: unknown }) => void) {
        return new Promise<() => void>((resolve, reject) => {
          const req = request(
            new URL(`${path}?watch=true`, base),
            { method: 'GET', agent, headers: { accept: 'application/json' } },
            (res) => {
              if ((res.statusCode ?? 500) >= 400) {
                reject(new Error(`watch ${path}: ${res.statusCode}`));
                res.resume();
                return;
              }
              let buffered = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => {
                buffered += chunk;
                for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
                  const line = buffered.slice(0, end).trim();
                  buffered = buffered.slice(end + 1);
                  if (line) onEvent(JSON.parse(line));
                }
              });
              res.on('error', () => {});
              resolve(() => req.destroy());
            },
          );
          req.on('error', (error) => reject(error));
          req.end();
        });
      },
      close: () => agent.destroy(),
    };
  }

  /** Stops what is still running, newest first, then removes the directory. */
  async stopAll(): Promise<void> {
    for (const proc of this.#started.reverse()) {
      await proc.stop('SIGTERM', 20_000).catch(() => proc.stop('SIGKILL', 5_000).catch(() => 0));
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  #kubectl(args: string[], netns = this.netns): Promise<{ stdout: string; stderr: string }> {
    const kubectl = ['kubectl', '--cache-dir', join(this.dir, 'kubectl-cache'), ...args];
    const [command, ...rest] = netns
      ? ['nsenter', `--net=/run/netns/${netns}`, ...kubectl]
      : kubectl;
    return run(command!, rest, { timeout: 30_000 });
  }

  #track(proc: TestProcess): TestProcess {
    this.#started.push(proc);
    return proc;
  }
}

/** The Ready condition of a Node, as `kubectl get node -o json` shows it. */
export interface ReadyCondition {
  status: string;
  lastHeartbeatTime?: string;
}

/** `Ready` of `node` in the cloud's API. */
export async function readyOf(
  cluster: TestCluster,
  node: string,
): Promise<ReadyCondition | undefined> {
  const { stdout } = await cluster.kubectl('get', 'node', node, '-o', 'json');
  const conditions = (JSON.parse(stdout).status?.conditions ?? []) as ({
    type: string;
  } & ReadyCondition)[];
  return conditions.find((c) => c.type === 'Ready');
}
