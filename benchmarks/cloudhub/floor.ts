/**
 * Where the memory of an idle connection goes in Node, below cloudhub: a bare server in a child
 * process holds N idle connections from this process, over plain TCP, TLS in several settings,
 * and WebSocket over HTTP or HTTPS; the table gives the server's RSS and V8 heap per connection
 * (after forced GC). It explains the "RSS per idle node" row of `run.ts`; it is a diagnostic,
 * not a side-by-side benchmark. Loopback only; bounded in count and time; stops only its child.
 *
 *   npx tsx --conditions=@ke/source benchmarks/cloudhub/floor.ts [--connections=5000] [--runs=1]
 *     [--variants=tcp,ws,tls-nocert,tls,tls-noticket,tls12,wss,wss-noticket]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import { createServer as createNetServer, connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createSecureContext,
  createServer as createTlsServer,
  connect as tlsConnect,
} from 'node:tls';
import { fileURLToPath } from 'node:url';
import { type CertifiedKey, createCertificateAuthority, issueCertificate } from '@ke/pki';
import { type ClientOptions, WebSocket, WebSocketServer } from 'ws';
import { median } from '../stats';
import { openFileLimit, type Request, serveRequests } from './protocol';

const VARIANTS: Record<string, string> = {
  tcp: 'plain TCP (net.Server)',
  ws: 'WebSocket over plain HTTP (`ws`)',
  'tls-nocert': 'TLS 1.3, no client certificate',
  tls: 'TLS 1.3, client certificate required (mTLS), Node defaults',
  'tls-noticket': 'TLS 1.3 mTLS with `SSL_OP_NO_TICKET` (no session tickets)',
  tls12: 'TLS 1.2 mTLS (`maxVersion: TLSv1.2`)',
  wss: 'WebSocket over HTTPS, mTLS (what the peer and cloudhub run)',
  'wss-noticket': 'WebSocket over HTTPS, mTLS, `SSL_OP_NO_TICKET`',
};

/** The size of the one message each connection is sent after the idle reading (a fan-out's). */
const MESSAGE_BYTES = 1300;

interface Pems {
  ca: CertifiedKey;
  server: CertifiedKey;
  client: CertifiedKey;
}

// ---------------------------------------------------------------------------------------------
// Child: `floor.ts serve <variant> <pems.json>`

async function serve(variant: string, pemFile: string): Promise<void> {
  const pems = JSON.parse(readFileSync(pemFile, 'utf8')) as Pems;
  const held = new Set<unknown>();
  /** How to send one message on each held connection (ws frame or raw bytes). */
  const senders = new Map<unknown, (payload: Buffer) => void>();
  const tls: ServerOptions = {
    key: pems.server.privateKeyPem,
    cert: pems.server.certificatePem,
    ca: pems.ca.certificatePem,
    requestCert: true,
    rejectUnauthorized: true,
  };
  const noTicket = { secureOptions: constants.SSL_OP_NO_TICKET };
  const hold = (socket: Socket) => {
    held.add(socket);
    senders.set(socket, (payload) => socket.write(payload));
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => {
      held.delete(socket);
      senders.delete(socket);
    });
  };
  const upgradeTo = (server: ReturnType<typeof createHttpServer>) => {
    const wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      clientTracking: false,
    });
    server.on('upgrade', (request, socket, head) =>
      wss.handleUpgrade(request, socket as Socket, head, (ws) => {
        held.add(ws);
        senders.set(ws, (payload) => ws.send(payload, { binary: false }));
        ws.on('message', () => {});
        ws.on('error', () => {});
        ws.on('close', () => {
          held.delete(ws);
          senders.delete(ws);
        });
      }),
    );
    return server;
  };
  const servers = {
    tcp: () => createNetServer(hold),
    ws: () => upgradeTo(createHttpServer()),
    'tls-nocert': () =>
      createTlsServer({ ...tls, requestCert: false, rejectUnauthorized: false }, hold),
    tls: () => createTlsServer(tls, hold),
    'tls-noticket': () => createTlsServer({ ...tls, ...noTicket }, hold),
    tls12: () => createTlsServer({ ...tls, maxVersion: 'TLSv1.2' }, hold),
    wss: () => upgradeTo(createHttpsServer(tls)),
    'wss-noticket': () => upgradeTo(createHttpsServer({ ...tls, ...noTicket })),
  } as const;
  const make = servers[variant as keyof typeof servers];
  if (!make) throw new Error(`unknown variant ${variant}`);
  const server = make();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('start with --expose-gc');
  serveRequests(
    { port },
    {
      mem: async () => {
        let last = Number.NaN;
        for (let round = 0; round < 12; round++) {
          gc();
          await sleep(250);
          const rss = process.memoryUsage().rss;
          if (Math.abs(rss - last) < 256 * 1024) break;
          last = rss;
        }
        const usage = process.memoryUsage();
        return { rss: usage.rss, heapUsed: usage.heapUsed, held: held.size };
      },
      /** One message of `bytes` bytes (JSON-like text) on every held connection. */
      send: (request: Request) => {
        const payload = Buffer.alloc(Number(request.bytes) || 1300, 'x');
        for (const send of senders.values()) send(payload);
        return { sent: senders.size };
      },
    },
    () => {
      server.close();
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Parent

interface Memory {
  rss: number;
  heapUsed: number;
  held: number;
}

function startServer(variant: string, pemFile: string) {
  const script = fileURLToPath(import.meta.url);
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--conditions=@ke/source',
      '--import',
      'tsx',
      script,
      'serve',
      variant,
      pemFile,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'], detached: true },
  );
  const lines = createInterface({ input: child.stdout! });
  const queue: string[] = [];
  let wake: () => void = () => {};
  lines.on('line', (line) => {
    queue.push(line);
    wake();
  });
  const next = async (timeoutMs: number): Promise<Record<string, unknown>> => {
    const deadline = performance.now() + timeoutMs;
    while (queue.length === 0) {
      if (child.exitCode !== null) throw new Error(`${variant} server exited (${child.exitCode})`);
      if (performance.now() > deadline) throw new Error(`${variant} server did not answer`);
      await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(200)]);
    }
    return JSON.parse(queue.shift()!) as Record<string, unknown>;
  };
  let id = 0;
  const call = async (request: Record<string, unknown>) => {
    child.stdin!.write(`${JSON.stringify({ id: ++id, ...request })}\n`);
    const reply = (await next(30_000)) as { ok: boolean; result: unknown; error?: string };
    if (!reply.ok) throw new Error(reply.error);
    return reply.result;
  };
  const mem = async () => (await call({ cmd: 'mem' })) as Memory;
  const send = async (bytes: number) => (await call({ cmd: 'send', bytes })) as { sent: number };
  return { child, next, mem, send };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin?.end();
  const kill = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }, 10_000);
  await exited;
  clearTimeout(kill);
}

async function measure(variant: string, pems: Pems, pemFile: string, count: number) {
  const server = startServer(variant, pemFile);
  const opened: Array<{ destroy(): void }> = [];
  try {
    const ready = (await server.next(60_000)) as { port: number };
    const base = await server.mem();
    const context = createSecureContext({
      ca: pems.ca.certificatePem,
      cert: pems.client.certificatePem,
      key: pems.client.privateKeyPem,
    });
    const open = () =>
      new Promise<void>((resolve, reject) => {
        const port = ready.port;
        if (variant === 'tcp') {
          const socket = netConnect(port, '127.0.0.1', () => resolve());
          socket.on('error', reject);
          opened.push(socket);
        } else if (variant.startsWith('tls')) {
          const options = { port, host: '127.0.0.1', secureContext: context, servername: '' };
          const socket = tlsConnect(options, () => resolve());
          socket.on('error', reject);
          opened.push(socket);
        } else {
          const scheme = variant === 'ws' ? 'ws' : 'wss';
          const options: ClientOptions & { secureContext: unknown } = {
            secureContext: context,
            perMessageDeflate: false,
          };
          const ws = new WebSocket(`${scheme}://127.0.0.1:${port}/idle`, options);
          ws.on('open', () => resolve());
          ws.on('error', reject);
          opened.push({ destroy: () => ws.terminate() });
        }
      });
    const deadline = performance.now() + 120_000;
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < count) {
          if (performance.now() > deadline) throw new Error(`${variant}: connecting took > 120 s`);
          next++;
          await open();
        }
      }),
    );
    await sleep(1000);
    const idle = await server.mem();
    if (idle.held !== count) throw new Error(`${variant}: server holds ${idle.held} of ${count}`);
    // Then one message on each connection (what the first fan-out does), and idle again.
    const { sent } = await server.send(MESSAGE_BYTES);
    if (sent !== count) throw new Error(`${variant}: sent on ${sent} of ${count} connections`);
    await sleep(1000);
    const after = await server.mem();
    return {
      rss: (idle.rss - base.rss) / count / 1024,
      heap: (idle.heapUsed - base.heapUsed) / count / 1024,
      rssAfter: (after.rss - base.rss) / count / 1024,
    };
  } finally {
    for (const socket of opened) socket.destroy();
    await stop(server.child);
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string) =>
    args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
  const count = Number(option('connections') ?? 5000);
  const runs = Math.max(1, Number(option('runs')) || 1);
  const variants = (option('variants') ?? Object.keys(VARIANTS).join(',')).split(',');
  for (const variant of variants) {
    if (!VARIANTS[variant]) throw new Error(`unknown variant ${variant}`);
  }
  if (!(openFileLimit() > count + 256)) {
    throw new Error(`the open-file limit ${openFileLimit()} is too low for ${count} connections`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'ke-cloudhub-floor-'));
  try {
    const ca = await createCertificateAuthority({ commonName: 'floor-ca' });
    const server = await issueCertificate(ca, {
      commonName: 'floor-server',
      altNames: ['127.0.0.1'],
      usage: 'server',
    });
    const client = await issueCertificate(ca, {
      commonName: 'system:node:floor',
      usage: 'client',
    });
    const pems: Pems = { ca, server, client };
    const pemFile = join(dir, 'pems.json');
    writeFileSync(pemFile, JSON.stringify(pems), { mode: 0o600 });
    const lines = [
      `| Server holding ${count.toLocaleString('en-US')} idle connections ` +
        '| RSS per connection (KB) | V8 heap per connection (KB) ' +
        `| RSS per connection after one ${MESSAGE_BYTES.toLocaleString('en-US')}-byte message each (KB) |`,
      '|---|---:|---:|---:|',
    ];
    for (const variant of variants) {
      const results = [];
      for (let run = 0; run < runs; run++)
        results.push(await measure(variant, pems, pemFile, count));
      const rss = median(results.map((result) => result.rss));
      const heap = median(results.map((result) => result.heap));
      const rssAfter = median(results.map((result) => result.rssAfter));
      console.error(
        `${variant}: ${rss.toFixed(1)} KB RSS, ${heap.toFixed(1)} KB heap; ` +
          `${rssAfter.toFixed(1)} KB RSS after one message each`,
      );
      lines.push(
        `| ${VARIANTS[variant]} | ${rss.toFixed(1)} | ${heap.toFixed(1)} | ${rssAfter.toFixed(1)} |`,
      );
    }
    console.log(
      `Node ${process.version}, OpenSSL ${process.versions.openssl}; ECDSA P-256 certificates; ` +
        `median of ${runs} run${runs > 1 ? 's' : ''}.\n\n${lines.join('\n')}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'serve') {
  await serve(process.argv[3]!, process.argv[4]!);
} else {
  try {
    await main();
  } catch (error) {
    console.error(`floor failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
