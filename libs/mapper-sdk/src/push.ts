import type { PushMethod } from '@ke/dmi';
import { connect, type MqttClient } from 'mqtt';
import { MapperError, messageOf } from './errors';

/** One property value as the mapper pushes it (JSON over MQTT and HTTP). */
export interface PushedValue {
  deviceName: string;
  deviceNamespace: string;
  propertyName: string;
  /** The value as a string, as KubeEdge twins carry it. */
  value: string;
  /** The property's type from its model (`int`, `float`, ...). */
  type: string;
  /** When the value was read, in milliseconds since the epoch. */
  timestamp: number;
}

/** Sends values by a property's `pushMethod`; shares one MQTT connection per broker. */
export class Pusher {
  private readonly brokers = new Map<string, MqttClient>();

  constructor(private readonly timeoutMs: number) {}

  /** Pushes `data` by every method `pushMethod` sets; rejects with `KE_MAPPER_PUSH_FAILED`. */
  async push(pushMethod: PushMethod, data: PushedValue): Promise<void> {
    const body = JSON.stringify(data);
    const failures: string[] = [];
    if (pushMethod.mqtt?.address) {
      await this.publish(pushMethod.mqtt, body).catch((e) => failures.push(messageOf(e)));
    }
    if (pushMethod.http?.hostname) {
      await this.post(pushMethod.http, body).catch((e) => failures.push(messageOf(e)));
    }
    if (failures.length > 0) {
      throw new MapperError(
        'KE_MAPPER_PUSH_FAILED',
        `could not push ${data.deviceNamespace}/${data.deviceName} ${data.propertyName}: ${failures.join('; ')}`,
      );
    }
  }

  private async publish(config: NonNullable<PushMethod['mqtt']>, body: string): Promise<void> {
    let client = this.brokers.get(config.address);
    if (!client) {
      client = connect(config.address, {
        reconnectPeriod: 1000,
        connectTimeout: this.timeoutMs,
      });
      // Connection errors surface as publish timeouts; mqtt.js reconnects by itself.
      client.on('error', () => {});
      this.brokers.set(config.address, client);
    }
    const qos = ([0, 1, 2] as const).find((q) => q === config.qos) ?? 0;
    await withTimeout(
      client.publishAsync(config.topic, body, { qos, retain: config.retained }),
      this.timeoutMs,
      `MQTT publish to ${config.address} topic ${config.topic}`,
    );
  }

  private async post(config: NonNullable<PushMethod['http']>, body: string): Promise<void> {
    const base = /^https?:\/\//.test(config.hostname)
      ? config.hostname
      : `http://${config.hostname}`;
    const path = config.requestpath.startsWith('/') ? config.requestpath : `/${config.requestpath}`;
    const port = Number(config.port);
    const url = `${base}${port > 0 ? `:${port}` : ''}${path}`;
    const timeout = Number(config.timeout) > 0 ? Number(config.timeout) : this.timeoutMs;
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(timeout),
    });
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) throw new Error(`POST ${url} answered ${response.status}`);
  }

  /** Disconnects from every broker. */
  async close(): Promise<void> {
    const clients = [...this.brokers.values()];
    this.brokers.clear();
    await Promise.all(clients.map((client) => client.endAsync(true).catch(() => undefined)));
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
