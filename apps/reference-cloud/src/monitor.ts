import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MonitorServer {
  readonly url: string;
  stop(): Promise<void>;
}

/** Splits `host:port` (`[::1]:9091` for IPv6); port 0 picks a free one. */
export function parseBindAddress(bindAddress: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(bindAddress);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new Error(`bind address ${JSON.stringify(bindAddress)} is not host:port`);
  }
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

/**
 * cloudcore's monitor server (`commonConfig.monitorServer.bindAddress`, 127.0.0.1:9091):
 * Prometheus metrics at `/metrics`, and `/healthz` answering 200 `ok` while every part runs,
 * 503 with the failing parts otherwise.
 */
export async function startMonitorServer(options: {
  bindAddress: string;
  registry: Registry;
  problems: () => string[];
}): Promise<MonitorServer> {
  const { host, port } = parseBindAddress(options.bindAddress);
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'Content-Type': options.registry.contentType }).end(text);
        },
        (error: Error) => {
          response.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${error.message}\n`);
        },
      );
    } else if (path === '/healthz' || path === '/readyz' || path === '/livez') {
      const problems = options.problems();
      const text = problems.length === 0 ? 'ok\n' : `${problems.join('\n')}\n`;
      response
        .writeHead(problems.length === 0 ? 200 : 503, { 'Content-Type': 'text/plain' })
        .end(text);
    } else {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('try /metrics or /healthz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown === '0.0.0.0' ? '127.0.0.1' : shown}:${address.port}`,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
