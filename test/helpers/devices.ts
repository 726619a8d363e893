import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startSource, type TestProcess, waitFor } from '@ke/testing';
import type { Edge, TestCluster } from './cluster';

/** What `kubectl get device -o json` shows of a Device's status. */
export interface DeviceStatus {
  state?: string;
  lastOnlineTime?: string;
  twins?: {
    propertyName: string;
    reported?: { value: string; metadata?: Record<string, string> };
    observedDesired?: { value: string };
  }[];
}

/** An edge node joined to the cluster, with its device twin's DMI socket and MQTT broker. */
export interface DeviceEdge {
  edge: Edge;
  /** `unix://<dataDir>/dmi.sock`: where mappers register. */
  dmi: string;
  /** `mqtt://127.0.0.1:<port>`: the edge's embedded broker. */
  mqtt: string;
}

/** Starts ke-cloud and a ke-edge for `node`, and waits until the edge's twin and link are up. */
export async function startDeviceCluster(cluster: TestCluster, node: string): Promise<DeviceEdge> {
  await cluster.startCloud();
  const edge = await cluster.startEdge(node, { token: await cluster.token() });
  const ready = JSON.parse(await edge.process.waitForLine(/device twin ready/, 60_000)) as {
    dmi: string;
    mqtt: string;
  };
  await edge.process.waitForLine(/connected to the cloud/, 60_000);
  return { edge, dmi: ready.dmi, mqtt: ready.mqtt };
}

/**
 * A mapper command (`apps/reference-mappers/src/<protocol>.ts`) with a mapper-framework config
 * in `dir`; `start()` runs it (again) and waits until it registered with the edge.
 */
export async function mapperProcess(options: {
  dir: string;
  protocol: 'modbus' | 'opcua';
  edgecoreSock: string;
  env?: Record<string, string>;
}): Promise<{ start(): Promise<TestProcess> }> {
  const { dir, protocol } = options;
  const config = join(dir, `${protocol}-mapper.yaml`);
  await writeFile(
    config,
    [
      'grpc_server:',
      `  socket_path: ${join(dir, `${protocol}.sock`)}`,
      'common:',
      `  name: ${protocol}-mapper`,
      '  version: v1.0.0',
      '  api_version: v1.0.0',
      `  protocol: ${protocol}`,
      '  address: 127.0.0.1',
      `  edgecore_sock: ${options.edgecoreSock}`,
      '',
    ].join('\n'),
  );
  const main = new URL(`../../apps/reference-mappers/src/${protocol}.ts`, import.meta.url);
  return {
    async start() {
      const mapper = startSource(main, ['--config', config], {
        env: { KE_LOG_FORMAT: 'json', ...options.env },
      });
      await mapper.waitForLine(/registered with edgecore/, 60_000);
      return mapper;
    },
  };
}

/** The status of Device `name` (namespace default) as kubectl shows it. */
export function deviceStatus(cluster: TestCluster, name: string): () => Promise<DeviceStatus> {
  return async () => {
    const { stdout } = await cluster.kubectl('get', 'device', name, '-n', 'default', '-o', 'json');
    return (JSON.parse(stdout) as { status?: DeviceStatus }).status ?? {};
  };
}

/** Polls the Device's status until `probe` returns something, as tests wait for the cloud. */
export function untilStatus<T>(
  status: () => Promise<DeviceStatus>,
  what: string,
  probe: (status: DeviceStatus) => T | undefined | false,
  timeoutMs = 30_000,
): Promise<T> {
  return waitFor(what, async () => probe(await status()), { timeoutMs, intervalMs: 250 });
}

/**
 * Switches the device off and on (`off`/`on`) and waits for the cloud to show a state other
 * than ok, then ok again; resolves with the state seen while it was off.
 */
export async function stateCycle(
  status: () => Promise<DeviceStatus>,
  off: () => Promise<void>,
  on: () => Promise<void>,
): Promise<string> {
  await off();
  const seen = await untilStatus(
    status,
    'a state other than ok',
    (s) => s.state !== undefined && s.state !== 'ok' && s.state,
    60_000,
  );
  await on();
  await untilStatus(status, 'state ok again', (s) => s.state === 'ok', 60_000);
  return seen;
}
