import type { Message } from '@ke/beehive';
import { createEdgeHub, type EdgeHub } from '@ke/edgehub';
import { type CertifiedKey, issueCertificate } from '@ke/pki';
import { compareResourceVersions } from '../../src/index';

/** One object as an edge node keeps it. */
export interface StoredObject {
  readonly resource: string;
  readonly resourceVersion: string;
  readonly content: unknown;
}

/** What a message says about the object it carries. */
export function objectKey(message: Message): { uid: string; resourceVersion: string } {
  const metadata = (message.content as { metadata?: { uid?: string; resourceVersion?: string } })
    ?.metadata;
  const uid = metadata?.uid;
  if (typeof uid !== 'string') throw new Error(`no metadata.uid in ${message.route.resource}`);
  return {
    uid,
    resourceVersion: message.header.resourceversion ?? metadata?.resourceVersion ?? '',
  };
}

function older(candidate: string, held: string): boolean {
  const order = compareResourceVersions(candidate, held);
  return order !== undefined && order < 0;
}

/**
 * An edge node's object store, as MetaManager keeps it: the latest content per UID. It applies
 * whatever the cloud sends, as a real edge does, and counts what a correct cloud never sends:
 * a version older than the one held, or a change to an object already deleted.
 */
export class EdgeStore {
  readonly objects = new Map<string, StoredObject>();
  /** Deleted UIDs, with the version of the delete. */
  readonly deleted = new Map<string, string>();
  /** Changes applied, duplicates included. */
  applied = 0;
  /** The same version applied again (a resend whose ACK was lost: harmless). */
  duplicates = 0;
  /** An older version applied over a newer one, or a deleted object brought back. */
  staleApplied = 0;
  /** Each stale application, for the failure message. */
  readonly staleLog: string[] = [];
  /** Versions received per UID, in order. */
  readonly received = new Map<string, string[]>();

  apply(message: Message): void {
    const { uid, resourceVersion } = objectKey(message);
    this.applied += 1;
    const seen = this.received.get(uid) ?? [];
    seen.push(`${message.route.operation}:${resourceVersion}`);
    this.received.set(uid, seen);
    const held = this.objects.get(uid);
    if (this.deleted.has(uid)) {
      if (message.route.operation !== 'delete') {
        this.staleApplied += 1;
        this.staleLog.push(`${message.route.resource} ${uid}: ${resourceVersion} after delete`);
      } else {
        this.duplicates += 1;
      }
    } else if (held && message.route.operation !== 'delete') {
      if (older(resourceVersion, held.resourceVersion)) {
        this.staleApplied += 1;
        this.staleLog.push(
          `${message.route.resource} ${uid}: ${resourceVersion} over ${held.resourceVersion}`,
        );
      } else if (resourceVersion === held.resourceVersion) {
        this.duplicates += 1;
      }
    }
    if (message.route.operation === 'delete') {
      this.objects.delete(uid);
      this.deleted.set(uid, resourceVersion);
      return;
    }
    this.deleted.delete(uid);
    this.objects.set(uid, {
      resource: message.route.resource,
      resourceVersion,
      content: message.content,
    });
  }

  /** `uid → resourceVersion` of every object held. */
  versions(): Map<string, string> {
    return new Map([...this.objects].map(([uid, stored]) => [uid, stored.resourceVersion]));
  }
}

/** What the handler should do with one message before storing it. */
export type Fault = { throw: string } | { delayMs: number } | { until: Promise<void> } | undefined;

export interface TestEdge {
  readonly name: string;
  readonly hub: EdgeHub;
  readonly store: EdgeStore;
  /** Handler calls, failures included. */
  readonly calls: Message[];
  /** Connections made so far. */
  connects: number;
  stop(): Promise<void>;
}

/** A `system:node:<name>` client certificate as edgehub takes it. */
export async function nodeIdentity(ca: CertifiedKey, name: string) {
  const issued = await issueCertificate(ca, { commonName: `system:node:${name}`, usage: 'client' });
  return {
    caPem: ca.certificatePem,
    certificatePem: issued.certificatePem,
    privateKeyPem: issued.privateKeyPem,
  };
}

/**
 * A real edgehub connected to `server` whose handler persists into an {@link EdgeStore}.
 * `fault` decides per message whether the handler fails or is slow first.
 */
export async function startEdge(options: {
  ca: CertifiedKey;
  name: string;
  server: string;
  fault?: (message: Message) => Fault;
}): Promise<TestEdge> {
  const store = new EdgeStore();
  const calls: Message[] = [];
  const hub = createEdgeHub({
    server: options.server,
    nodeName: options.name,
    identity: await nodeIdentity(options.ca, options.name),
    heartbeatIntervalMs: 2_000,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    handler: async (message) => {
      calls.push(message);
      const fault = options.fault?.(message);
      if (fault && 'throw' in fault) throw new Error(fault.throw);
      if (fault && 'until' in fault) await fault.until;
      // A slow disk, not synchronisation: the hub must cope with ACKs that come late.
      if (fault && 'delayMs' in fault) {
        await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      }
      store.apply(message);
    },
  });
  const edge: TestEdge = {
    name: options.name,
    hub,
    store,
    calls,
    connects: 0,
    stop: () => hub.stop(),
  };
  hub.on('connected', () => {
    edge.connects += 1;
  });
  await hub.start();
  return edge;
}
