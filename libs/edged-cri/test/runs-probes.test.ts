import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { Server as GrpcServer, status as grpcStatus, ServerCredentials } from '@grpc/grpc-js';
import { freePort, waitFor } from '@ke/testing';
import type { V1Probe } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createProbeWorker,
  type ProbeResult,
  type ProbeState,
  type ProbeTarget,
  runProbe,
} from '../src/pod/probes';

let http: HttpServer;
let httpPort: number;
let tcp: TcpServer;
let tcpPort: number;
let grpc: GrpcServer;
let grpcPort: number;
const seenHeaders: Record<string, string | string[] | undefined>[] = [];

beforeAll(async () => {
  http = createHttpServer((req, res) => {
    seenHeaders.push(req.headers);
    const path = req.url ?? '/';
    if (path === '/healthz') res.writeHead(200).end('ok');
    else if (path === '/teapot') res.writeHead(418).end();
    else if (path === '/error') res.writeHead(500).end('broken');
    else if (path === '/moved-away') {
      res.writeHead(302, { location: 'http://elsewhere.invalid/healthz' }).end('moved');
    } else if (path === '/moved-here') res.writeHead(301, { location: '/error' }).end();
    else if (path === '/moved-ok') res.writeHead(307, { location: '/healthz' }).end();
    else if (path === '/hang') {
      // Never answers; the probe's timeout must end it.
    } else res.writeHead(404).end();
  });
  httpPort = await freePort();
  await new Promise<void>((resolve) => http.listen(httpPort, '127.0.0.1', resolve));

  tcp = createTcpServer((socket) => socket.end());
  tcpPort = await freePort();
  await new Promise<void>((resolve) => tcp.listen(tcpPort, '127.0.0.1', resolve));

  // grpc.health.v1.Health with hand-written protobuf: `service` in, `status` out.
  const healthy = new Map([
    ['', 1],
    ['db', 2],
  ]);
  grpc = new GrpcServer();
  grpc.addService(
    {
      check: {
        path: '/grpc.health.v1.Health/Check',
        requestStream: false,
        responseStream: false,
        requestSerialize: (value: { service: string }) => Buffer.from(value.service),
        // An object, not a string: grpc-js takes an empty string for no message at all.
        requestDeserialize: (buffer: Buffer) => ({
          service: buffer.length > 2 ? buffer.subarray(2).toString('utf8') : '',
        }),
        responseSerialize: (value: number) => Buffer.from([0x08, value]),
        responseDeserialize: (buffer: Buffer) => buffer[1] ?? 0,
      },
    },
    {
      check: (
        call: { request: { service: string } },
        callback: (error: { code: number; details: string } | null, value?: number) => void,
      ) => {
        const value = healthy.get(call.request.service);
        if (value === undefined)
          callback({ code: grpcStatus.NOT_FOUND, details: 'unknown service' });
        else callback(null, value);
      },
    },
  );
  grpcPort = await new Promise<number>((resolve, reject) =>
    grpc.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );
});

afterAll(async () => {
  http?.closeAllConnections();
  await new Promise((resolve) => http?.close(resolve));
  await new Promise((resolve) => tcp?.close(resolve));
  await new Promise<void>((resolve) => (grpc ? grpc.tryShutdown(() => resolve()) : resolve()));
});

function target(overrides: Partial<ProbeTarget> = {}): ProbeTarget {
  return {
    podIP: '127.0.0.1',
    containerPorts: [
      { name: 'http', containerPort: httpPort },
      { name: 'tcp', containerPort: tcpPort },
    ],
    exec: async () => ({ exitCode: 0 }),
    ...overrides,
  };
}

describe('runProbe', () => {
  it('runs exec probes: exit 0 is success, anything else a failure with the output', async () => {
    const calls: [string[], number][] = [];
    const exec: ProbeTarget['exec'] = async (cmd, timeoutSec) => {
      calls.push([cmd, timeoutSec]);
      return cmd[1] === 'ok' ? { exitCode: 0, stdout: 'fine' } : { exitCode: 2, stderr: 'bad' };
    };
    expect(await runProbe({ exec: { command: ['check', 'ok'] } }, target({ exec }))).toEqual({
      result: 'success',
      message: 'fine',
    });
    const failed = await runProbe(
      { exec: { command: ['check', 'no'] }, timeoutSeconds: 5 },
      target({ exec }),
    );
    expect(failed.result).toBe('failure');
    expect(failed.message).toContain('bad');
    expect(calls).toEqual([
      [['check', 'ok'], 1],
      [['check', 'no'], 5],
    ]);

    const throwing = await runProbe(
      { exec: { command: ['x'] } },
      target({ exec: async () => Promise.reject(new Error('container not running')) }),
    );
    expect(throwing).toEqual({ result: 'failure', message: 'container not running' });
  });

  it('runs httpGet probes against named ports with headers; 2xx/3xx succeed', async () => {
    seenHeaders.length = 0;
    const ok = await runProbe(
      {
        httpGet: {
          path: '/healthz',
          port: 'http',
          httpHeaders: [{ name: 'X-Probe', value: 'edged' }],
        },
      },
      target(),
    );
    expect(ok).toEqual({ result: 'success', message: 'ok' });
    expect(seenHeaders[0]?.['x-probe']).toBe('edged');
    expect(seenHeaders[0]?.['user-agent']).toMatch(/^kube-probe\//);

    const byNumber = await runProbe({ httpGet: { path: '/healthz', port: httpPort } }, target());
    expect(byNumber.result).toBe('success');
    const byNumericString = await runProbe(
      { httpGet: { path: '/healthz', port: String(httpPort) } },
      target(),
    );
    expect(byNumericString.result).toBe('success');

    const hostNetwork = await runProbe(
      { httpGet: { path: '/healthz', port: httpPort } },
      target({ podIP: '192.0.2.1', hostNetwork: true }),
    );
    expect(hostNetwork.result).toBe('success');
  });

  it('fails httpGet probes on 4xx/5xx, unknown ports and refused connections', async () => {
    expect(await runProbe({ httpGet: { path: '/error', port: 'http' } }, target())).toEqual({
      result: 'failure',
      message: 'HTTP probe failed with statuscode: 500',
    });
    expect((await runProbe({ httpGet: { path: '/teapot', port: 'http' } }, target())).result).toBe(
      'failure',
    );
    const unknownPort = await runProbe({ httpGet: { path: '/', port: 'metrics' } }, target());
    expect(unknownPort.result).toBe('failure');
    expect(unknownPort.message).toContain('metrics');
    const refused = await runProbe({ httpGet: { path: '/', port: await freePort() } }, target());
    expect(refused.result).toBe('failure');
    expect(refused.message).toMatch(/ECONNREFUSED/);
  });

  it('treats a redirect to another host as success and follows one to the same host', async () => {
    const away = await runProbe({ httpGet: { path: '/moved-away', port: 'http' } }, target());
    expect(away.result).toBe('success');
    expect(away.message).toContain('Probe terminated redirects');
    expect(
      (await runProbe({ httpGet: { path: '/moved-here', port: 'http' } }, target())).result,
    ).toBe('failure');
    expect(
      (await runProbe({ httpGet: { path: '/moved-ok', port: 'http' } }, target())).result,
    ).toBe('success');
  });

  it('fails an httpGet probe that does not answer within timeoutSeconds', async () => {
    const started = Date.now();
    const result = await runProbe(
      { httpGet: { path: '/hang', port: 'http' }, timeoutSeconds: 1 },
      target(),
    );
    expect(result.result).toBe('failure');
    expect(result.message).toMatch(/deadline|timeout/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('runs tcpSocket probes: a connection is success, a refusal a failure', async () => {
    expect(await runProbe({ tcpSocket: { port: 'tcp' } }, target())).toEqual({ result: 'success' });
    expect(
      (await runProbe({ tcpSocket: { port: tcpPort, host: '127.0.0.1' } }, target())).result,
    ).toBe('success');
    const refused = await runProbe({ tcpSocket: { port: await freePort() } }, target());
    expect(refused.result).toBe('failure');
    expect(refused.message).toMatch(/dial tcp/);
  });

  it('runs grpc health probes', async () => {
    expect(await runProbe({ grpc: { port: grpcPort } }, target())).toMatchObject({
      result: 'success',
    });
    const notServing = await runProbe({ grpc: { port: grpcPort, service: 'db' } }, target());
    expect(notServing).toEqual({
      result: 'failure',
      message: 'service unhealthy (responded with "NOT_SERVING")',
    });
    const unknown = await runProbe({ grpc: { port: grpcPort, service: 'nope' } }, target());
    expect(unknown.result).toBe('failure');
    const refused = await runProbe({ grpc: { port: await freePort() } }, target());
    expect(refused.result).toBe('failure');
  });
});

describe('createProbeWorker', () => {
  // 1 probe second = 10 ms.
  const secondsToMs = 10;

  function scripted(results: ProbeResult['result'][]) {
    let calls = 0;
    return {
      get calls() {
        return calls;
      },
      run: async (): Promise<ProbeResult> => {
        const result = results[Math.min(calls, results.length - 1)]!;
        calls++;
        return { result, message: `check ${calls}` };
      },
    };
  }

  it('keeps liveness successful until failureThreshold failures in a row, then stops', async () => {
    const script = scripted(['failure', 'failure', 'success', 'failure', 'failure', 'failure']);
    const changes: ProbeState[] = [];
    const worker = createProbeWorker({
      probe: { periodSeconds: 1, failureThreshold: 3 },
      kind: 'liveness',
      secondsToMs,
      run: script.run,
      onChange: (state) => changes.push(state),
    });
    expect(worker.state).toBe('success');
    await waitFor('liveness failure', () => worker.state === 'failure');
    expect(changes).toEqual(['failure']);
    expect(script.calls).toBe(6);
    expect(worker.lastResult?.message).toBe('check 6');
    expect(worker.running).toBe(false);
    worker.stop();
  });

  it('makes readiness ready after successThreshold successes and unready after failures', async () => {
    const script = scripted(['success', 'failure', 'success', 'success', 'failure', 'failure']);
    const changes: ProbeState[] = [];
    const worker = createProbeWorker({
      probe: { periodSeconds: 1, successThreshold: 2, failureThreshold: 2 },
      kind: 'readiness',
      secondsToMs,
      run: script.run,
      onChange: (state) => changes.push(state),
    });
    expect(worker.state).toBe('failure');
    await waitFor('ready then unready', () => changes.length >= 2 && script.calls >= 6);
    worker.stop();
    expect(changes).toEqual(['success', 'failure']);
  });

  it('starts as unknown for startup probes and stops probing after success', async () => {
    const script = scripted(['failure', 'success']);
    const changes: ProbeState[] = [];
    const worker = createProbeWorker({
      probe: { periodSeconds: 1, failureThreshold: 5 },
      kind: 'startup',
      secondsToMs,
      run: script.run,
      onChange: (state) => changes.push(state),
    });
    expect(worker.state).toBe('unknown');
    await waitFor('started', () => worker.state === 'success');
    expect(changes).toEqual(['success']);
    expect(worker.running).toBe(false);
    expect(script.calls).toBe(2);
  });

  it('waits initialDelaySeconds before the first check', async () => {
    const script = scripted(['success']);
    const created = Date.now();
    let firstCheckAt = 0;
    const worker = createProbeWorker({
      probe: { initialDelaySeconds: 20, periodSeconds: 1 },
      kind: 'readiness',
      secondsToMs,
      run: async () => {
        firstCheckAt ||= Date.now();
        return script.run();
      },
      onChange: () => {},
    });
    await waitFor('first check', () => script.calls > 0);
    worker.stop();
    expect(firstCheckAt - created).toBeGreaterThanOrEqual(190);
  });

  it('counts a check that hangs past timeoutSeconds, or throws, as a failure', async () => {
    const changes: ProbeState[] = [];
    let calls = 0;
    const aborted: boolean[] = [];
    const worker = createProbeWorker({
      probe: { periodSeconds: 1, timeoutSeconds: 2, failureThreshold: 2 },
      kind: 'liveness',
      secondsToMs,
      run: (signal) => {
        calls++;
        if (calls === 1) return Promise.reject(new Error('exec failed'));
        return new Promise((resolve) => {
          signal.addEventListener('abort', () => {
            aborted.push(true);
            resolve({ result: 'success' });
          });
        });
      },
      onChange: (state) => changes.push(state),
    });
    await waitFor('liveness failure', () => worker.state === 'failure');
    expect(changes).toEqual(['failure']);
    expect(worker.lastResult?.message).toMatch(/did not finish/);
    expect(aborted).toEqual([true]);
    worker.stop();
  });

  it('stops: every timer cleared, no more checks', async () => {
    vi.useFakeTimers();
    try {
      const script = scripted(['success']);
      const worker = createProbeWorker({
        probe: { periodSeconds: 1 } satisfies V1Probe,
        kind: 'readiness',
        secondsToMs,
        run: script.run,
        onChange: () => {},
      });
      await vi.advanceTimersByTimeAsync(35);
      expect(script.calls).toBe(4);
      expect(worker.state).toBe('success');
      worker.stop();
      expect(vi.getTimerCount()).toBe(0);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(script.calls).toBe(4);
      expect(worker.running).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
