/**
 * Container probes as the kubelet runs them (`pkg/probe/*`, `pkg/kubelet/prober/worker.go`):
 * {@link runProbe} performs one exec, httpGet, tcpSocket or grpc check, and
 * {@link createProbeWorker} repeats it on the probe's schedule and turns results into the
 * liveness, readiness or startup state with the success and failure thresholds.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { credentials, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import type { IntOrString, V1ContainerPort, V1Probe } from '@kubernetes/client-node';

export interface ProbeResult {
  result: 'success' | 'failure';
  /** What the check saw: the command's output, the HTTP status, the connection error. */
  message?: string;
}

/** What a probe is run against. */
export interface ProbeTarget {
  /** The pod's IP: the default host of httpGet, tcpSocket and grpc checks. */
  podIP: string;
  /** A hostNetwork pod's checks go to 127.0.0.1 unless the probe names a host. */
  hostNetwork?: boolean;
  /** Runs a command in the container (CRI ExecSync) with a timeout in seconds. */
  exec(
    cmd: string[],
    timeoutSec: number,
  ): Promise<{ exitCode: number; stdout?: string; stderr?: string }>;
  /** The container's ports, to resolve a probe's named port. */
  containerPorts: V1ContainerPort[];
}

// The kubelet sends `kube-probe/<major>.<minor>`; we say which implementation probes.
const USER_AGENT = 'kube-probe/edged';
// The kubelet keeps at most 10 KiB of a response body for the probe's message.
const MAX_BODY = 10 * 1024;
const MAX_REDIRECTS = 10;

/** Runs one check of `probe`; never throws, every problem is a `failure` with a message. */
export async function runProbe(probe: V1Probe, target: ProbeTarget): Promise<ProbeResult> {
  const timeoutSec = probe.timeoutSeconds && probe.timeoutSeconds > 0 ? probe.timeoutSeconds : 1;
  const defaultHost = target.hostNetwork ? '127.0.0.1' : target.podIP;
  try {
    if (probe.exec) {
      const result = await target.exec(probe.exec.command ?? [], timeoutSec);
      const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
      return result.exitCode === 0
        ? { result: 'success', message: output }
        : {
            result: 'failure',
            message: `command exited with code ${result.exitCode}${output ? `: ${output}` : ''}`,
          };
    }
    if (probe.httpGet) {
      const action = probe.httpGet;
      const port = resolvePort(action.port, target.containerPorts);
      const scheme = (action.scheme ?? 'HTTP').toLowerCase() === 'https' ? 'https' : 'http';
      const host = action.host || defaultHost;
      const path = action.path
        ? action.path.startsWith('/')
          ? action.path
          : `/${action.path}`
        : '/';
      const url = new URL(`${scheme}://${formatHost(host)}:${port}${path}`);
      const headers: Record<string, string> = {};
      for (const header of action.httpHeaders ?? []) headers[header.name] = header.value;
      return await httpProbe(url, headers, timeoutSec * 1000);
    }
    if (probe.tcpSocket) {
      const port = resolvePort(probe.tcpSocket.port, target.containerPorts);
      return await tcpProbe(probe.tcpSocket.host || defaultHost, port, timeoutSec * 1000);
    }
    if (probe.grpc) {
      return await grpcProbe(defaultHost, probe.grpc.port, probe.grpc.service ?? '', timeoutSec);
    }
    return { result: 'failure', message: 'probe has no exec, httpGet, tcpSocket or grpc action' };
  } catch (error) {
    return { result: 'failure', message: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * `probe.ResolveContainerPort`: a number, a container port's name, or a number written as a
 * string; 1–65535.
 */
export function resolvePort(port: IntOrString, containerPorts: readonly V1ContainerPort[]): number {
  let value: number;
  if (typeof port === 'number') {
    value = port;
  } else {
    const named = containerPorts.find((p) => p.name === port);
    value = named ? named.containerPort : /^\d+$/.test(port) ? Number(port) : Number.NaN;
    if (Number.isNaN(value)) throw new Error(`couldn't find port ${port} in the container's ports`);
  }
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new Error(`invalid port number: ${value}`);
  }
  return value;
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * 200–399 is success. Like the kubelet, redirects to the same host are followed (at most 10);
 * a redirect to another host is not followed and counts as success, with a message.
 */
async function httpProbe(
  url: URL,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<ProbeResult> {
  const deadline = Date.now() + timeoutMs;
  let current = url;
  for (let redirects = 0; ; redirects++) {
    const response = await httpGet(current, headers, Math.max(1, deadline - Date.now()));
    const { status, body, location } = response;
    if (status >= 300 && status < 400 && location) {
      const next = new URL(location, current);
      if (next.hostname !== url.hostname) {
        return { result: 'success', message: `Probe terminated redirects, Response body: ${body}` };
      }
      if (redirects + 1 >= MAX_REDIRECTS) {
        return { result: 'failure', message: `Get "${url}": stopped after 10 redirects` };
      }
      current = next;
      continue;
    }
    if (status >= 200 && status < 400) return { result: 'success', message: body };
    return { result: 'failure', message: `HTTP probe failed with statuscode: ${status}` };
  }
}

function httpGet(
  url: URL,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<{ status: number; body: string; location?: string }> {
  return new Promise((resolve, reject) => {
    const names = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
    const allHeaders = {
      ...(names.has('user-agent') ? {} : { 'User-Agent': USER_AGENT }),
      ...(names.has('accept') ? {} : { Accept: '*/*' }),
      ...headers,
    };
    const options = {
      method: 'GET',
      headers: allHeaders,
      // The kubelet does not verify a probed container's certificate.
      rejectUnauthorized: false,
      agent: false as const,
    };
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options);
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      reject(
        error.message.startsWith('Get "') ? error : new Error(`Get "${url}": ${error.message}`),
      );
    };
    const timer = setTimeout(
      () => fail(new Error(`Get "${url}": context deadline exceeded (timeout ${timeoutMs} ms)`)),
      timeoutMs,
    );
    timer.unref();
    request.on('error', fail);
    request.on('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        if (size < MAX_BODY) chunks.push(chunk.subarray(0, MAX_BODY - size));
        size += chunk.length;
      });
      response.on('error', fail);
      response.on('close', () => {
        if (!response.complete) fail(new Error('connection closed before the response ended'));
      });
      response.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({
          status: response.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          location: response.headers.location,
        });
      });
    });
    request.end();
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (result: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ result: 'failure', message: `dial tcp ${host}:${port}: i/o timeout` }),
      timeoutMs,
    );
    timer.unref();
    socket.once('connect', () => finish({ result: 'success' }));
    socket.once('error', (error) =>
      finish({ result: 'failure', message: `dial tcp ${host}:${port}: ${error.message}` }),
    );
  });
}

// grpc.health.v1.Health/Check with hand-written protobuf: request field 1 `service` (string),
// response field 1 `status` (enum, 1 = SERVING).
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
const HealthClient = makeGenericClientConstructor(
  {
    check: {
      path: '/grpc.health.v1.Health/Check',
      requestStream: false,
      responseStream: false,
      requestSerialize: serializeHealthRequest,
      requestDeserialize: (buffer: Buffer) => buffer.toString('utf8'),
      responseSerialize: (status: number) => Buffer.concat([Buffer.from([0x08]), varint(status)]),
      responseDeserialize: (buffer: Buffer) => readStatus(buffer),
    },
  },
  'Health',
);

function serializeHealthRequest(service: string): Buffer {
  const bytes = Buffer.from(service, 'utf8');
  return bytes.length === 0
    ? Buffer.alloc(0)
    : Buffer.concat([Buffer.from([0x0a]), varint(bytes.length), bytes]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function readStatus(buffer: Buffer): number {
  // The only field we need is 1 (varint); a missing field is the default, UNKNOWN (0).
  let offset = 0;
  while (offset < buffer.length) {
    const key = buffer[offset++]!;
    const wireType = key & 7;
    if (wireType === 0) {
      let value = 0;
      let shift = 0;
      let byte: number;
      do {
        byte = buffer[offset++] ?? 0;
        value |= (byte & 0x7f) << shift;
        shift += 7;
      } while (byte & 0x80 && offset < buffer.length);
      if (key >> 3 === 1) return value;
    } else if (wireType === 2) {
      let length = 0;
      let shift = 0;
      let byte: number;
      do {
        byte = buffer[offset++] ?? 0;
        length |= (byte & 0x7f) << shift;
        shift += 7;
      } while (byte & 0x80 && offset < buffer.length);
      offset += length;
    } else {
      break;
    }
  }
  return 0;
}

function grpcProbe(
  host: string,
  port: number,
  service: string,
  timeoutSec: number,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const address = `${formatHost(host)}:${port}`;
    const client = new HealthClient(address, credentials.createInsecure());
    const deadline = new Date(Date.now() + timeoutSec * 1000);
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      serializeHealthRequest,
      readStatus,
      service,
      { deadline },
      (error: ServiceError | null, status?: number) => {
        client.close();
        if (error) {
          const code = error.code === 4 ? 'timeout' : 'error';
          resolve({
            result: 'failure',
            message: `${code}: health rpc to ${address} (service ${JSON.stringify(service)}) failed: ${error.details || error.message}`,
          });
          return;
        }
        const name = SERVING_STATUS[status ?? 0] ?? String(status);
        resolve(
          status === 1
            ? { result: 'success', message: 'service is healthy' }
            : { result: 'failure', message: `service unhealthy (responded with "${name}")` },
        );
      },
    );
  });
}

export type ProbeKind = 'liveness' | 'readiness' | 'startup';
export type ProbeState = 'success' | 'failure' | 'unknown';

export interface ProbeWorkerOptions {
  /** The container's probe: its delays, period, timeout and thresholds are applied. */
  probe: V1Probe;
  /** Which probe this is; it decides the state before the first result. */
  kind: ProbeKind;
  /** One check, usually `() => runProbe(probe, target)`. A rejection counts as a failure. */
  run: (signal: AbortSignal) => Promise<ProbeResult>;
  /** Told on every change of state, with the result that caused it. */
  onChange: (state: ProbeState, result: ProbeResult) => void;
  /** Milliseconds per probe second; tests pass e.g. 20 to run a 1 s period in 20 ms. */
  secondsToMs?: number;
}

export interface ProbeWorker {
  /** The current state: readiness starts `failure`, liveness `success`, startup `unknown`. */
  readonly state: ProbeState;
  /** The last result a check returned, if any check ran. */
  readonly lastResult: ProbeResult | undefined;
  /** Whether the worker still probes: it stops itself after a liveness or startup verdict. */
  readonly running: boolean;
  /** Stops probing and clears every timer; an in-flight check is aborted and ignored. */
  stop(): void;
}

/**
 * Probes a container on its schedule, as the kubelet's prober worker does: the first check
 * after `initialDelaySeconds` (counted from now, i.e. the container's start), then every
 * `periodSeconds` (default 10). A check still running after 1.25 × `timeoutSeconds` (default
 * 1) is aborted and counts as a failure (runProbe bounds itself at `timeoutSeconds`). The state
 * changes after `successThreshold` (default 1) successes or `failureThreshold` (default 3)
 * failures in a row, and `onChange` hears only changes.
 *
 * Like the kubelet: a liveness or startup failure stops the worker (the container will be
 * restarted; make a new worker for the new container), and a startup success stops it too.
 * Holding liveness and readiness back until startup succeeds is the caller's job: start
 * those workers from the startup worker's `onChange('success')`.
 */
export function createProbeWorker(options: ProbeWorkerOptions): ProbeWorker {
  const { probe, kind, run, onChange } = options;
  const scale = options.secondsToMs ?? 1000;
  const periodMs = positive(probe.periodSeconds, 10) * scale;
  // A backstop for checks that do not bound themselves; runProbe stops at timeoutSeconds, and
  // the grace lets its own, more telling, timeout message arrive first.
  const timeoutMs = positive(probe.timeoutSeconds, 1) * scale * 1.25;
  const successThreshold = positive(probe.successThreshold, 1);
  const failureThreshold = positive(probe.failureThreshold, 3);
  const initialDelayMs = Math.max(0, probe.initialDelaySeconds ?? 0) * scale;

  let state: ProbeState =
    kind === 'readiness' ? 'failure' : kind === 'liveness' ? 'success' : 'unknown';
  let lastResult: ProbeResult | undefined;
  let lastKind: ProbeResult['result'] | undefined;
  let streak = 0;
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: AbortController | undefined;

  const schedule = (delayMs: number) => {
    if (!running) return;
    timer = setTimeout(tick, delayMs);
    timer.unref();
  };

  const tick = async () => {
    timer = undefined;
    const started = Date.now();
    const controller = new AbortController();
    inFlight = controller;
    const result = await checkOnce(run, controller, timeoutMs);
    if (!running || inFlight !== controller) return;
    inFlight = undefined;
    lastResult = result;
    if (result.result === lastKind) streak++;
    else {
      lastKind = result.result;
      streak = 1;
    }
    const threshold = result.result === 'success' ? successThreshold : failureThreshold;
    if (streak >= threshold && state !== result.result) {
      state = result.result;
      onChange(state, result);
    }
    if (!running) return;
    if (
      (kind !== 'readiness' && state === 'failure') ||
      (kind === 'startup' && state === 'success')
    ) {
      running = false;
      return;
    }
    schedule(Math.max(0, periodMs - (Date.now() - started)));
  };

  schedule(initialDelayMs);

  return {
    get state() {
      return state;
    },
    get lastResult() {
      return lastResult;
    },
    get running() {
      return running;
    },
    stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      inFlight?.abort();
      inFlight = undefined;
    },
  };
}

async function checkOnce(
  run: (signal: AbortSignal) => Promise<ProbeResult>,
  controller: AbortController,
  timeoutMs: number,
): Promise<ProbeResult> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve({
        result: 'failure',
        message: `probe did not finish within ${Math.round(timeoutMs)} ms`,
      });
    }, timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([
      run(controller.signal).catch(
        (error: unknown): ProbeResult => ({
          result: 'failure',
          message: error instanceof Error ? error.message : String(error),
        }),
      ),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && value > 0 ? value : fallback;
}
