import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { connect, type MqttClient } from 'mqtt';
import { DeviceTwinError } from './errors';

/** Where the MQTT event bus is: an embedded broker this process runs, or an external one. */
export type MqttOptions =
  | { embedded: { host?: string; port?: number } }
  | { url: string; username?: string; password?: string };

export interface MqttBus {
  /** The broker URL apps and mappers connect to (`mqtt://127.0.0.1:1883`). */
  readonly url: string;
  /** True while the twin's client is connected to the broker. */
  readonly connected: boolean;
  publish(topic: string, body: unknown): void;
  stop(): Promise<void>;
}

/**
 * Starts the bus: with `embedded`, an aedes broker on a TCP port (127.0.0.1:1883 by default);
 * then a client of the broker that subscribes to the twin's topics and keeps reconnecting.
 */
export async function startMqttBus(
  options: MqttOptions,
  topics: string[],
  clientId: string,
  onMessage: (topic: string, payload: Buffer) => void,
  logger: { warn?: (fields: object, message: string) => void },
): Promise<MqttBus> {
  let broker: Aedes | undefined;
  let server: Server | undefined;
  let url: string;
  if ('embedded' in options) {
    const host = options.embedded.host ?? '127.0.0.1';
    try {
      broker = await Aedes.createBroker();
      const tcp = createServer(broker.handle);
      server = tcp;
      tcp.listen(options.embedded.port ?? 1883, host);
      await once(tcp, 'listening');
    } catch (cause) {
      await closeBroker(broker, server);
      throw new DeviceTwinError(
        'KE_TWIN_BROKER_FAILED',
        `cannot run the MQTT broker on ${host}:${options.embedded.port ?? 1883}: ${(cause as Error).message}`,
        { cause },
      );
    }
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 1883;
    url = `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`;
  } else {
    url = options.url;
  }
  let client: MqttClient;
  try {
    client = connect(url, {
      clientId,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      ...('username' in options && options.username ? { username: options.username } : {}),
      ...('password' in options && options.password ? { password: options.password } : {}),
    });
  } catch (cause) {
    await closeBroker(broker, server);
    throw new DeviceTwinError('KE_TWIN_BROKER_FAILED', `bad MQTT URL ${url}`, { cause });
  }
  let reported = false;
  client.on('connect', () => {
    reported = false;
    client.subscribe(topics, { qos: 1 }, (error) => {
      if (error) logger.warn?.({ err: error, url }, 'MQTT subscribe failed');
    });
  });
  client.on('error', (error) => {
    if (!reported) logger.warn?.({ err: error, url }, 'MQTT broker unreachable; retrying');
    reported = true;
  });
  client.on('message', (topic, payload) => onMessage(topic, payload));
  // An embedded broker is up, so wait for the client; an external one may come later.
  if (broker) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no connection within 5 s')), 5000);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    }).catch(async (cause: Error) => {
      await client.endAsync(true).catch(() => undefined);
      await closeBroker(broker, server);
      throw new DeviceTwinError(
        'KE_TWIN_BROKER_FAILED',
        `embedded broker at ${url}: ${cause.message}`,
        {
          cause,
        },
      );
    });
  }
  return {
    url,
    get connected() {
      return client.connected;
    },
    publish(topic, body) {
      if (!client.connected) return; // QoS 0 semantics: no one is listening through a dead link
      client.publish(topic, JSON.stringify(body), { qos: 0 });
    },
    async stop() {
      await client.endAsync(true).catch(() => undefined);
      await closeBroker(broker, server);
    },
  };
}

async function closeBroker(broker: Aedes | undefined, server: Server | undefined): Promise<void> {
  // The broker first: it ends its clients' connections, which the server's close waits for.
  if (broker && !broker.closed) await new Promise<void>((resolve) => broker.close(() => resolve()));
  if (server?.listening) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
