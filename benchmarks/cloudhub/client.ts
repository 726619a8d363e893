/**
 * Simulated edge nodes, run as children of `run.ts`. Two modes:
 *
 *   client.ts issue <ca.json> <certDir> <nodes> <chunk,chunk,…>
 *     issues `system:node:<node>` client certificates (own key pair each, @ke/pki) for the
 *     given chunks of nodes and writes them to `<certDir>/certs-<chunk>.json`, then exits.
 *
 *   client.ts run <ca.json> <certDir> <from> <to>
 *     holds one raw `ws` connection per node `from` … `to - 1` (to the `url` of the `connect`
 *     request), speaking edgehub's protocol:
 *     mTLS with the node's certificate, `node_id` and `project_id` headers, path
 *     `/<project>/<node>/events`, an ACK (`createAck`) for each reliable message (an object
 *     change with a uid), a keepalive every 15 s. Requests on stdin: `connect`, `take`, `close`.
 *
 * A real `createEdgeHub` per node would also run its upstream buffer and reconnect logic;
 * 2,500 of them per process would measure the clients more than the server.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSecureContext, type SecureContext } from 'node:tls';
import {
  createAck,
  createKeepalive,
  encodeMessage,
  Operation,
  tryDecodeMessage,
} from '@ke/beehive';
import { type CertifiedKey, issueCertificate } from '@ke/pki';
import { type ClientOptions, type RawData, WebSocket } from 'ws';
import { percentile } from '../stats';
import {
  CHUNK_SIZE,
  chunkFile,
  type NodeIdentity,
  nodeName,
  PROJECT_ID,
  type Request,
  serveRequests,
} from './protocol';

const [mode, ...args] = process.argv.slice(2);
const KEEPALIVE_MS = 15_000;
const RELIABLE = new Set<string>([
  Operation.Insert,
  Operation.Update,
  Operation.Patch,
  Operation.Delete,
]);

async function issue(caFile: string, certDir: string, nodes: number, chunks: number[]) {
  const ca = JSON.parse(readFileSync(caFile, 'utf8')) as CertifiedKey;
  const t0 = performance.now();
  let count = 0;
  for (const chunk of chunks) {
    const identities: NodeIdentity[] = [];
    for (
      let index = chunk * CHUNK_SIZE;
      index < Math.min(nodes, (chunk + 1) * CHUNK_SIZE);
      index++
    ) {
      const node = nodeName(index);
      const issued = await issueCertificate(ca, {
        commonName: `system:node:${node}`,
        organizations: ['system:nodes'],
        usage: 'client',
      });
      identities.push({ node, ...issued });
      count++;
    }
    writeFileSync(chunkFile(certDir, chunk), JSON.stringify(identities), { mode: 0o600 });
  }
  process.stdout.write(
    `${JSON.stringify({ done: true, certs: count, ms: performance.now() - t0 })}\n`,
  );
}

interface Connection {
  readonly node: string;
  /** Made before `connect`, so the timed phase measures handshakes, not PEM parsing. */
  readonly secureContext: SecureContext;
  ws: WebSocket | undefined;
  nextKeepalive: number;
}

function run(caFile: string, certDir: string, from: number, to: number): void {
  let url = '';
  const caPem = (JSON.parse(readFileSync(caFile, 'utf8')) as CertifiedKey).certificatePem;
  const connections: Connection[] = [];
  const chunks = new Map<number, NodeIdentity[]>();
  for (let index = from; index < to; index++) {
    const chunk = Math.floor(index / CHUNK_SIZE);
    let identities = chunks.get(chunk);
    if (!identities) {
      identities = JSON.parse(readFileSync(chunkFile(certDir, chunk), 'utf8')) as NodeIdentity[];
      chunks.set(chunk, identities);
    }
    const identity = identities[index - chunk * CHUNK_SIZE];
    if (identity?.node !== nodeName(index))
      throw new Error(`no certificate for ${nodeName(index)}`);
    const secureContext = createSecureContext({
      ca: caPem,
      cert: identity.certificatePem,
      key: identity.privateKeyPem,
    });
    connections.push({ node: identity.node, secureContext, ws: undefined, nextKeepalive: 0 });
  }
  chunks.clear();

  let closing = false;
  let received = 0;
  let acks = 0;
  let malformed = 0;
  let closes = 0;
  let firstClose = '';
  let duplicates = 0;
  /**
   * ms from the message's header.timestamp (set by createMessage on the server) to its first
   * receipt; a resent copy (same msg_id) counts as a duplicate instead.
   */
  let receipts: number[] = [];
  let seen = new Set<string>();

  const wire = (connection: Connection, ws: WebSocket) => {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const text = isBinary ? (data as Buffer) : data.toString();
      const decoded = tryDecodeMessage(text);
      if (!decoded.ok) {
        malformed++;
        return;
      }
      const message = decoded.message;
      received++;
      const content = message.content as { metadata?: { uid?: unknown } } | undefined;
      if (RELIABLE.has(message.route.operation) && typeof content?.metadata?.uid === 'string') {
        ws.send(encodeMessage(createAck(message, 'edgehub')));
        acks++;
      }
      if (seen.has(message.header.msg_id)) {
        duplicates++;
      } else {
        seen.add(message.header.msg_id);
        if (message.route.resource.endsWith('/bench-fanout')) {
          receipts.push(Date.now() - message.header.timestamp);
        }
      }
    });
    ws.on('close', (code, reason) => {
      if (connection.ws === ws) connection.ws = undefined;
      if (closing) return;
      closes++;
      if (!firstClose) firstClose = `${connection.node}: ${code} ${reason.toString()}`;
    });
  };

  /** One attempt; resolves with an error message, or undefined once open. */
  const open = (connection: Connection): Promise<string | undefined> =>
    new Promise((resolve) => {
      const { node, secureContext } = connection;
      // ws hands its options to tls.connect, which uses `secureContext` when there is one.
      const options: ClientOptions & { secureContext: SecureContext } = {
        secureContext,
        headers: { node_id: node, project_id: PROJECT_ID },
        perMessageDeflate: false,
        handshakeTimeout: 30_000,
      };
      const ws = new WebSocket(`${url}/${PROJECT_ID}/${node}/events`, options);
      let settled = false;
      const settle = (error: string | undefined) => {
        if (settled) return;
        settled = true;
        resolve(error);
      };
      ws.once('open', () => {
        connection.ws = ws;
        connection.nextKeepalive = Date.now() + Math.random() * KEEPALIVE_MS;
        wire(connection, ws);
        settle(undefined);
      });
      ws.once('unexpected-response', (request, response) => {
        settle(`HTTP ${response.statusCode}`);
        request.destroy();
      });
      ws.on('error', (error) => settle(error.message));
    });

  const keepalives = setInterval(() => {
    const now = Date.now();
    for (const connection of connections) {
      if (!connection.ws || connection.nextKeepalive > now) continue;
      connection.nextKeepalive = now + KEEPALIVE_MS;
      connection.ws.send(encodeMessage(createKeepalive()));
    }
  }, 1000);

  serveRequests(
    { nodes: connections.length },
    {
      connect: async (request: Request) => {
        url = String(request.url);
        const concurrency = Math.max(1, Number(request.concurrency) || 16);
        const deadline = performance.now() + (Number(request.timeoutMs) || 120_000);
        const t0 = performance.now();
        const handshakes: number[] = [];
        const errors = new Map<string, number>();
        let next = 0;
        let failed = 0;
        const worker = async () => {
          while (next < connections.length && performance.now() < deadline) {
            const connection = connections[next++]!;
            let error: string | undefined;
            for (let attempt = 1; attempt <= 3; attempt++) {
              const start = performance.now();
              error = await open(connection);
              if (!error) {
                handshakes.push(performance.now() - start);
                break;
              }
              errors.set(error, (errors.get(error) ?? 0) + 1);
              if (performance.now() > deadline) break;
              await sleep(250 * attempt);
            }
            if (error) failed++;
          }
        };
        await Promise.all(Array.from({ length: concurrency }, () => worker()));
        handshakes.sort((a, b) => a - b);
        return {
          opened: connections.filter((connection) => connection.ws).length,
          failed,
          errors: Object.fromEntries(errors),
          ms: performance.now() - t0,
          handshakeP50: percentile(handshakes, 50),
          handshakeP99: percentile(handshakes, 99),
        };
      },
      take: () => {
        const result = {
          open: connections.filter((connection) => connection.ws).length,
          received,
          acks,
          malformed,
          duplicates,
          closes,
          firstClose,
          receipts,
        };
        receipts = [];
        seen = new Set();
        return result;
      },
      close: () => {
        closing = true;
        clearInterval(keepalives);
        for (const connection of connections) connection.ws?.terminate();
        return { closed: true };
      },
    },
    () => {
      closing = true;
      clearInterval(keepalives);
      for (const connection of connections) connection.ws?.terminate();
    },
  );
}

if (mode === 'issue' && args.length === 4) {
  const [caFile, certDir, nodes, chunks] = args as [string, string, string, string];
  await issue(caFile, certDir, Number(nodes), chunks.split(',').map(Number));
} else if (mode === 'run' && args.length === 4) {
  const [caFile, certDir, from, to] = args as [string, string, string, string];
  run(caFile, certDir, Number(from), Number(to));
} else {
  console.error(
    'usage: client.ts issue <ca.json> <certDir> <nodes> <chunks> | ' +
      'client.ts run <ca.json> <certDir> <from> <to>',
  );
  process.exit(2);
}
