import type { EventEmitter } from 'node:events';
import { createMessage, type Message, Operation } from '@ke/beehive';
import { type CloudHub, type CloudHubOptions, createCloudHub } from '@ke/cloudhub';
import { type CertifiedKey, issueCertificate } from '@ke/pki';
import { createEdgeHub, type EdgeHub, type EdgeHubOptions, type TlsIdentity } from '../src/index';

/** A cloudhub on a free port of 127.0.0.1 (or `port`), started. */
export async function startCloudHub(
  ca: CertifiedKey,
  options: Omit<CloudHubOptions, 'ca'> = {},
): Promise<CloudHub> {
  const hub = createCloudHub({ ca, port: 0, ...options });
  await hub.start();
  return hub;
}

/** A client certificate `system:node:<certifiedNode>` from `issuer`, trusting `trustedCa`. */
export async function nodeIdentity(
  issuer: CertifiedKey,
  certifiedNode: string,
  trustedCa: CertifiedKey = issuer,
): Promise<TlsIdentity> {
  const certificate = await issueCertificate(issuer, {
    commonName: `system:node:${certifiedNode}`,
    organizations: ['system:nodes'],
    usage: 'client',
  });
  return {
    caPem: trustedCa.certificatePem,
    certificatePem: certificate.certificatePem,
    privateKeyPem: certificate.privateKeyPem,
  };
}

/** Fast heartbeat and back-off so a test sees several of each in well under a second. */
export const FAST = {
  heartbeatIntervalMs: 200,
  reconnect: { initialDelayMs: 50, maxDelayMs: 400 },
} as const;

/** EdgeHubs created through {@link edgeHubs}, stopped by `stopAll` in `afterEach`. */
export function edgeHubs() {
  const started: EdgeHub[] = [];
  return {
    create(options: Omit<EdgeHubOptions, 'handler'> & Partial<Pick<EdgeHubOptions, 'handler'>>) {
      const edge = createEdgeHub({ handler: () => undefined, ...FAST, ...options });
      started.push(edge);
      return edge;
    },
    async stopAll() {
      await Promise.all(started.splice(0).map((edge) => edge.stop()));
    },
  };
}

/**
 * The next `event` of `emitter` whose arguments pass `accept`, or a rejection after
 * `timeoutMs` naming what was awaited.
 */
export function nextEvent<T extends unknown[]>(
  emitter: EventEmitter,
  event: string,
  options: { timeoutMs?: number; accept?: (...args: T) => boolean } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  return new Promise<T>((resolve, reject) => {
    const listener = (...args: unknown[]) => {
      if (options.accept && !options.accept(...(args as T))) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args as T);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for '${event}'`));
    }, timeoutMs);
    emitter.on(event, listener);
  });
}

/** Every `event` of `emitter` from now on, first argument only. */
export function record<T>(emitter: EventEmitter, event: string): T[] {
  const seen: T[] = [];
  emitter.on(event, (value: T) => seen.push(value));
  return seen;
}

/** A ConfigMap change for `node`, in cloud form: delivered reliably and ACKed by the edge. */
export function configMapChange(
  node: string,
  name: string,
  resourceVersion = '1',
  operation: string = Operation.Insert,
): Message {
  return createMessage({
    source: 'edgecontroller',
    group: 'resource',
    operation,
    resource: `node/${node}/default/configmap/${name}`,
    resourceVersion,
    content: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: 'default', uid: `uid-${node}-${name}`, resourceVersion },
      data: { key: name },
    },
  });
}

/** An upstream message in edge form, as edged or metamanager would send it. */
export function upstream(resource: string, content: unknown, operation = 'update'): Message {
  return createMessage({ source: 'edged', group: 'resource', operation, resource, content });
}

/** The value of a counter (or gauge) in the hub's registry for the given labels; 0 if unset. */
export async function metricValue(
  hub: CloudHub,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = hub.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const match = values.find((value) =>
    Object.entries(labels).every(([key, wanted]) => String(value.labels[key]) === wanted),
  );
  return match?.value ?? 0;
}

/** Network handles open in this process (servers, sockets, TLS). */
export function networkHandles(): number {
  return process
    .getActiveResourcesInfo()
    .filter((kind) => kind === 'TCPServerWrap' || kind === 'TCPSocketWrap' || kind === 'TLSWrap')
    .length;
}

/** Timers keeping the process alive. */
export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}
