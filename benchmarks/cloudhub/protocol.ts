/**
 * What `run.ts`, `server.ts` and `client.ts` share: node names, where the certificates are, and
 * the line protocol between the load generator and its children. A child reads one JSON request
 * per line on stdin (`{"id": 1, "cmd": "mem"}`) and writes one JSON reply per line on stdout
 * (`{"id": 1, "ok": true, "result": …}`); its first line is `{"ready": true, …}`. A child exits
 * when its stdin closes, so it never outlives the process that started it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The project ID edgehub uses by default (KubeEdge's); part of the URL path. */
export const PROJECT_ID = 'e632aba927ea4ac2b575ec1603d56f10';

/** Certificates are issued and stored in files of this many nodes each. */
export const CHUNK_SIZE = 500;

/** Node `i` of a run: `edge-0` … `edge-9999`. */
export function nodeName(index: number): string {
  return `edge-${index}`;
}

export function chunkFile(dir: string, chunk: number): string {
  return join(dir, `certs-${chunk}.json`);
}

/** One node's identity, as a certificate file holds it. */
export interface NodeIdentity {
  readonly node: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

/** The soft limit on open files of this process, from /proc/self/limits. */
export function openFileLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  if (!match) return Number.NaN;
  return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}

export interface Request {
  readonly id: number;
  readonly cmd: string;
  readonly [key: string]: unknown;
}

export type Handler = (request: Request) => Promise<unknown> | unknown;

function write(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * Child side: announces `ready`, then answers requests one by one with `handlers[cmd]`. When
 * stdin closes (the parent is gone or done), calls `onClose` and exits.
 */
export function serveRequests(
  ready: Record<string, unknown>,
  handlers: Record<string, Handler>,
  onClose: () => Promise<void> | void,
): void {
  let closing = false;
  const close = async (code: number) => {
    if (closing) return;
    closing = true;
    const force = setTimeout(() => process.exit(code), 5000);
    force.unref();
    try {
      await onClose();
    } finally {
      process.exit(code);
    }
  };
  const lines = createInterface({ input: process.stdin });
  let chain = Promise.resolve();
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    chain = chain.then(async () => {
      let request: Request;
      try {
        request = JSON.parse(line) as Request;
      } catch {
        write({ id: -1, ok: false, error: `not JSON: ${line.slice(0, 200)}` });
        return;
      }
      const handler = handlers[request.cmd];
      if (!handler) {
        write({ id: request.id, ok: false, error: `unknown command ${request.cmd}` });
        return;
      }
      try {
        write({ id: request.id, ok: true, result: (await handler(request)) ?? null });
      } catch (error) {
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        write({ id: request.id, ok: false, error: message });
      }
    });
  });
  lines.on('close', () => void close(0));
  process.on('SIGTERM', () => void close(0));
  process.on('SIGINT', () => void close(0));
  write({ ready: true, pid: process.pid, ...ready });
}
