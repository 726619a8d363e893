import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeError, KubeErrorCode } from './errors';

/** Where {@link loadKubeConfig} reads the configuration from; give at most one of the first three. */
export interface KubeConfigSource {
  /** Path of a kubeconfig file. Relative paths inside it are relative to its directory. */
  file?: string;
  /** The kubeconfig as YAML (or JSON) text. */
  yaml?: string;
  /** The pod's service account: `KUBERNETES_SERVICE_HOST`/`_PORT` and the mounted token. */
  inCluster?: boolean;
  /** Context to use instead of the configuration's `current-context`. */
  context?: string;
}

/** What {@link describeKubeConfig} reports: enough to say where a process connects, no secrets. */
export interface KubeConfigDescription {
  /** API server URL without any credentials, e.g. `https://127.0.0.1:6443`; '' if none. */
  server: string;
  /** Name of the context in use. */
  context: string;
  /** Name of the cluster entry of that context. */
  cluster: string;
  /** Name of the user entry of that context ('' for none). */
  user: string;
  /** Default namespace of the context, if it sets one. */
  namespace: string | undefined;
  /**
   * How requests authenticate: `token`, `token-file`, `client-certificate`, `basic`,
   * `exec:<command>`, `auth-provider:<name>` or `none`.
   */
  authMethod: string;
  /** TLS certificates are not verified (`insecure-skip-tls-verify`, or a plain `http://` server). */
  insecureSkipTlsVerify: boolean;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

function notFound(message: string, file?: string, cause?: unknown): KubeError {
  return new KubeError(KubeErrorCode.ConfigNotFound, message, {
    reason: 'kubeconfig not found',
    ...(file === undefined ? {} : { file }),
    cause,
  });
}

function invalid(origin: Origin, what: string, cause?: unknown): KubeError {
  return new KubeError(
    KubeErrorCode.ConfigInvalid,
    `${origin.label} is not a usable kubeconfig: ${what}`,
    { reason: what, ...(origin.file === undefined ? {} : { file: origin.file }), cause },
  );
}

/** Where configuration text came from, for messages. */
interface Origin {
  label: string;
  file?: string;
}

function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function parseInto(kc: KubeConfig, text: string, origin: Origin): void {
  if (text.trim() === '') throw invalid(origin, 'it is empty');
  try {
    kc.loadFromString(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw invalid(origin, detail ?? 'it cannot be parsed', error);
  }
  if (kc.clusters.length === 0 && kc.contexts.length === 0 && kc.users.length === 0) {
    throw invalid(origin, 'it has no clusters, contexts or users (expected a YAML mapping)');
  }
}

function loadFile(kc: KubeConfig, file: string, via = ''): void {
  const path = resolve(file);
  const origin = { label: path, file: path };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') {
      throw notFound(`kubeconfig file ${path}${via} does not exist`, path, error);
    }
    throw invalid(origin, `it cannot be read (${errnoCode(error) ?? String(error)})`, error);
  }
  parseInto(kc, text, origin);
  kc.makePathsAbsolute(dirname(path));
}

/** kubectl's merge of several KUBECONFIG files: the first file to define a name wins. */
function mergeFirstWins(into: KubeConfig, from: KubeConfig): void {
  if (!into.currentContext && from.currentContext) into.currentContext = from.currentContext;
  for (const cluster of from.clusters) {
    if (!into.getCluster(cluster.name)) into.addCluster(cluster);
  }
  for (const user of from.users) {
    if (!into.getUser(user.name)) into.addUser(user);
  }
  for (const context of from.contexts) {
    if (!into.getContextObject(context.name)) into.addContext(context);
  }
}

function loadInCluster(kc: KubeConfig): void {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw notFound(
      'in-cluster config needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, ' +
        'which are set only inside a pod',
    );
  }
  if (!existsSync(SERVICE_ACCOUNT_TOKEN)) {
    throw notFound(
      `in-cluster config needs the service account token at ${SERVICE_ACCOUNT_TOKEN}; ` +
        'is automountServiceAccountToken disabled?',
      SERVICE_ACCOUNT_TOKEN,
    );
  }
  kc.loadFromCluster();
}

/** KUBECONFIG, then ~/.kube/config, then the in-cluster service account, as kubectl looks. */
function loadDefault(kc: KubeConfig): Origin {
  const list = (process.env.KUBECONFIG ?? '').split(delimiter).filter((file) => file !== '');
  const [first, ...rest] = list;
  if (first !== undefined) {
    loadFile(kc, first, ' (from KUBECONFIG)');
    for (const file of rest) {
      const more = new KubeConfig();
      loadFile(more, file, ' (from KUBECONFIG)');
      mergeFirstWins(kc, more);
    }
    return { label: list.length === 1 ? resolve(first) : `KUBECONFIG (${list.join(delimiter)})` };
  }
  const home = process.env.HOME || homedir();
  const homeConfig = join(home, '.kube', 'config');
  if (existsSync(homeConfig)) {
    loadFile(kc, homeConfig);
    return { label: homeConfig, file: homeConfig };
  }
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    loadInCluster(kc);
    return { label: 'in-cluster config' };
  }
  throw notFound(
    `no kubeconfig found: KUBECONFIG is not set, ${homeConfig} does not exist and this is ` +
      'not a pod with a service account. Pass a kubeconfig file, or set KUBECONFIG.',
  );
}

/** Checks that the chosen context leads to a cluster with a usable server URL, and selects it. */
function selectContext(kc: KubeConfig, origin: Origin, wanted: string | undefined): void {
  const names = kc.contexts.map((context) => context.name);
  const known = names.length > 0 ? `; contexts: ${names.join(', ')}` : '; it defines no contexts';
  const name = wanted ?? kc.currentContext;
  if (!name) throw invalid(origin, `current-context is not set and no context was given${known}`);
  const context = kc.getContextObject(name);
  if (!context) throw invalid(origin, `context "${name}" is not defined${known}`);
  const cluster = kc.getCluster(context.cluster);
  if (!cluster) {
    throw invalid(
      origin,
      `context "${name}" names cluster "${context.cluster}", which is not defined`,
    );
  }
  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch (error) {
    throw invalid(
      origin,
      `cluster "${cluster.name}" has server "${cluster.server}", not a URL`,
      error,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalid(origin, `cluster "${cluster.name}" has server "${cluster.server}": not http(s)`);
  }
  if (url.protocol === 'http:' && !cluster.skipTLSVerify && !cluster.proxyUrl) {
    // kubectl talks plain HTTP as is; client-node 1.4 refuses unless the cluster skips TLS
    // verification, which means nothing without TLS. Mark it so, to behave as kubectl.
    kc.clusters = kc.clusters.map((entry) =>
      entry === cluster ? { ...entry, skipTLSVerify: true } : entry,
    );
  }
  if (context.user && !kc.getUser(context.user)) {
    throw invalid(origin, `context "${name}" names user "${context.user}", which is not defined`);
  }
  kc.setCurrentContext(name);
}

/**
 * Loads a kubeconfig the way kubectl finds one, and checks that it can be used: its context
 * exists and leads to a cluster with an http(s) server.
 *
 * - `{ file }`: that file; `{ yaml }`: that text; `{ inCluster: true }`: the pod's service account;
 * - nothing: `KUBECONFIG` (several files merge, the first to define a name wins), else
 *   `~/.kube/config`, else the in-cluster service account.
 *
 * @throws {KubeError} `KE_KUBE_CONFIG_NOT_FOUND` naming what was looked for, or
 *   `KE_KUBE_CONFIG_INVALID` naming the file and what is wrong with it.
 */
export function loadKubeConfig(source: KubeConfigSource = {}): KubeConfig {
  const given = [
    source.file !== undefined && 'file',
    source.yaml !== undefined && 'yaml',
    source.inCluster === true && 'inCluster',
  ].filter((name): name is string => typeof name === 'string');
  if (given.length > 1) {
    throw new KubeError(
      KubeErrorCode.InvalidArgument,
      `loadKubeConfig: give one of file, yaml and inCluster, not ${given.join(' and ')}`,
      { reason: 'more than one source' },
    );
  }
  const kc = new KubeConfig();
  let origin: Origin;
  if (source.file !== undefined) {
    loadFile(kc, source.file);
    origin = { label: resolve(source.file), file: resolve(source.file) };
  } else if (source.yaml !== undefined) {
    origin = { label: 'the kubeconfig text' };
    parseInto(kc, source.yaml, origin);
  } else if (source.inCluster === true) {
    loadInCluster(kc);
    origin = { label: 'the in-cluster config' };
  } else {
    origin = loadDefault(kc);
  }
  selectContext(kc, origin, source.context);
  return kc;
}

function describeAuth(user: ReturnType<KubeConfig['getCurrentUser']>): string {
  if (!user) return 'none';
  const exec = user.exec as { command?: unknown } | null | undefined;
  if (exec) return typeof exec.command === 'string' ? `exec:${basename(exec.command)}` : 'exec';
  const provider = user.authProvider as { name?: unknown } | null | undefined;
  if (provider) {
    if (provider.name === 'tokenFile') return 'token-file';
    return typeof provider.name === 'string' ? `auth-provider:${provider.name}` : 'auth-provider';
  }
  if (user.token) return 'token';
  if (user.certData || user.certFile) return 'client-certificate';
  if (user.username) return 'basic';
  return 'none';
}

function withoutCredentials(server: string): string {
  try {
    const url = new URL(server);
    if (!url.username && !url.password) return server;
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return server;
  }
}

/**
 * Where `kc` connects and how it authenticates, for a log line. Never contains a token,
 * password, key or certificate.
 */
export function describeKubeConfig(kc: KubeConfig): KubeConfigDescription {
  const contextName = kc.getCurrentContext() ?? '';
  const context = contextName ? kc.getContextObject(contextName) : null;
  const cluster = kc.getCurrentCluster();
  return {
    server: cluster ? withoutCredentials(cluster.server) : '',
    context: contextName,
    cluster: cluster?.name ?? '',
    user: context?.user ?? '',
    namespace: context?.namespace,
    authMethod: describeAuth(kc.getCurrentUser()),
    insecureSkipTlsVerify: cluster?.skipTLSVerify === true,
  };
}
