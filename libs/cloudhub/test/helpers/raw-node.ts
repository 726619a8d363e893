import { createAck, decodeMessage, encodeMessage, type Message } from '@ke/beehive';
import type { CertifiedKey } from '@ke/pki';
import { WebSocket } from 'ws';
import { nodeIdentity } from './edge-node';

/**
 * A node speaking the wire protocol by hand over a plain `ws` client with a valid node
 * certificate: it can send what edgehub never would, and it ACKs only when told to.
 */
export interface RawNode {
  readonly ws: WebSocket;
  /** Every message received, in order, with when it arrived. */
  readonly received: { at: number; message: Message }[];
  /** Resolves with the first message received (already or later) that `match` accepts. */
  next(match: (message: Message) => boolean, timeoutMs?: number): Promise<Message>;
  /** Resolves with the close code once the hub has closed the connection. */
  closed(timeoutMs?: number): Promise<number>;
  send(frame: string | Message): void;
  ack(message: Message): void;
  close(): Promise<void>;
}

export async function connectRawNode(
  hubUrl: string,
  ca: CertifiedKey,
  name: string,
): Promise<RawNode> {
  const identity = await nodeIdentity(ca, name);
  const ws = new WebSocket(`${hubUrl}/e632aba927ea4ac2b575ec1603d56f10/${name}/events`, {
    ca: identity.caPem,
    cert: identity.certificatePem,
    key: identity.privateKeyPem,
    headers: { node_id: name, project_id: 'e632aba927ea4ac2b575ec1603d56f10' },
    perMessageDeflate: false,
  });
  const received: { at: number; message: Message }[] = [];
  const waiters = new Set<() => void>();
  let closeCode: number | undefined;
  ws.on('message', (data) => {
    received.push({ at: performance.now(), message: decodeMessage(data.toString()) });
    for (const wake of [...waiters]) wake();
  });
  ws.on('close', (code) => {
    closeCode = code;
    for (const wake of [...waiters]) wake();
  });
  ws.on('error', () => {
    // the close event reports it
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const until = <T>(what: string, probe: () => T | undefined, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (value === undefined) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${name}: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return {
    ws,
    received,
    next: (match, timeoutMs = 5_000) =>
      until('a matching message', () => received.find((r) => match(r.message))?.message, timeoutMs),
    closed: (timeoutMs = 5_000) => until('the connection to close', () => closeCode, timeoutMs),
    send(frame) {
      ws.send(typeof frame === 'string' ? frame : encodeMessage(frame));
    },
    ack(message) {
      ws.send(encodeMessage(createAck(message, 'edgehub')));
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      const done = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.terminate();
      await done;
    },
  };
}
