import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startProcess, type TestProcess } from '@ke/testing';

const run = promisify(execFile);

/** Runs the real `dig` against 127.0.0.1:`port`; returns its full output. */
export async function dig(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run(
    'dig',
    ['-p', String(port), '@127.0.0.1', '+time=2', '+tries=1', ...args],
    {
      timeout: 15_000,
    },
  );
  return stdout;
}

/** `dig +short`: the answers' data, one per line, sorted. */
export async function digShort(port: number, ...args: string[]): Promise<string[]> {
  const out = await dig(port, '+short', ...args);
  return out
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith(';'))
    .sort();
}

/** The `status:` of dig's header line (NOERROR, NXDOMAIN, ...). */
export function status(output: string): string | undefined {
  return /status: (\w+)/.exec(output)?.[1];
}

/** The flags of dig's header line (`qr aa rd ra`, `tc`, ...). */
export function flags(output: string): string[] {
  return (/;; flags: ([^;]*);/.exec(output)?.[1] ?? '').trim().split(/\s+/);
}

/** Answer lines of dig's output: `[name, ttl, class, type, data...]`. */
export function answers(output: string): string[][] {
  const section = /;; ANSWER SECTION:\n([\s\S]*?)\n\n/.exec(output)?.[1] ?? '';
  return section
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => line.split(/\s+/));
}

/** Sends one datagram to 127.0.0.1:`port` and waits for one reply (undefined after `timeoutMs`). */
export async function exchangeUdp(
  port: number,
  message: Buffer,
  timeoutMs = 1000,
): Promise<Buffer | undefined> {
  const socket = createSocket('udp4');
  try {
    return await new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      socket.once('message', (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      socket.send(message, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

/** A dnsmasq on 127.0.0.1, started by the test, stopped by its PID. */
export interface Dnsmasq {
  port: number;
  process: TestProcess;
  /** How many queries for `name` dnsmasq has logged (`--log-queries`). */
  queriesFor(name: string): number;
  stop(): Promise<void>;
}

export async function startDnsmasq(extraArgs: string[]): Promise<Dnsmasq> {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-dns-dnsmasq-'));
  const port = await freePort();
  const child = startProcess('dnsmasq', [
    '--no-resolv',
    '--no-hosts',
    `--port=${port}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    '--keep-in-foreground',
    `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    '--log-queries',
    '--log-facility=-',
    '--user=root',
    ...extraArgs,
  ]);
  await child.waitForLine(/started, version/);
  return {
    port,
    process: child,
    queriesFor: (name) =>
      child.lines.filter((line) =>
        new RegExp(`query\\[\\w+\\] ${name.replace(/\./g, '\\.')} from`).test(line),
      ).length,
    async stop() {
      await child.stop('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
