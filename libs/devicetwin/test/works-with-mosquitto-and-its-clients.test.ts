import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { command, describeWithSystem, freePort, startProcess, type TestProcess } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { device, model, startTwin } from './fixtures';

const run = promisify(execFile);
type Twin = Awaited<ReturnType<typeof startTwin>>;

describeWithSystem(
  'devicetwin on an external mosquitto broker, driven by mosquitto_sub and mosquitto_pub',
  [command('mosquitto'), command('mosquitto_sub'), command('mosquitto_pub'), command('stdbuf')],
  () => {
    let broker: TestProcess;
    let edge: Twin;
    let port: number;
    const subscribers: TestProcess[] = [];

    /** mosquitto_sub on `topic`, once its subscription is acknowledged. */
    async function subscribe(topic: string, count = 1): Promise<TestProcess> {
      // Line-buffered: mosquitto_sub's stdio holds a pipe's output until it exits otherwise.
      const sub = startProcess('stdbuf', [
        '-oL',
        'mosquitto_sub',
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-t',
        topic,
        '-v',
        '-d',
        '-C',
        String(count),
        '-W',
        '20',
      ]);
      subscribers.push(sub);
      await sub.waitForLine(/received SUBACK/);
      return sub;
    }

    const publish = (topic: string, message: string) =>
      run('mosquitto_pub', [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-t',
        topic,
        '-m',
        message,
        '-q',
        '1',
      ]);

    /** The JSON body of the first line `sub` printed for `topic`. */
    async function bodyOn(sub: TestProcess, topic: string): Promise<Record<string, unknown>> {
      const escaped = topic.replace(/[$+/]/g, (c) => `\\${c}`);
      const line = await sub.waitForLine(new RegExp(`^${escaped} \\{`));
      return JSON.parse(line.slice(topic.length + 1)) as Record<string, unknown>;
    }

    beforeAll(async () => {
      port = await freePort();
      edge = await startTwin({ mqtt: false });
      await edge.stop();
      const config = join(edge.dir, 'mosquitto.conf');
      await writeFile(
        config,
        `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`,
      );
      broker = startProcess('mosquitto', ['-c', config, '-v']);
      await broker.waitForLine(/listen socket on port/);
      edge = await startTwin({ dir: edge.dir, mqtt: { url: `mqtt://127.0.0.1:${port}` } });
      await edge.fromCloud('resource', 'insert', 'default/devicemodel/thermo-model', model());
    });

    afterAll(async () => {
      for (const sub of subscribers) await sub.stop('SIGKILL').catch(() => undefined);
      await edge?.stop();
      await broker?.stop();
      await edge?.remove();
    });

    it('mosquitto_sub on $hw/events/device/+/+/twin/update/delta sees the desired value', async () => {
      const sub = await subscribe('$hw/events/device/+/+/twin/update/delta');
      await edge.fromCloud(
        'resource',
        'insert',
        'default/device/thermo',
        device({ desired: '30' }),
        '11',
      );
      const delta = await bodyOn(sub, '$hw/events/device/default/thermo/twin/update/delta');
      expect(delta.delta).toEqual({ temp: '30' });
    });

    it('a reported value from mosquitto_pub is stored and answered on the result topic', async () => {
      const topic = '$hw/events/device/default/thermo/twin/update';
      const sub = await subscribe(`${topic}/result`);
      await publish(
        topic,
        JSON.stringify({ event_id: 'pub-1', twin: { temp: { actual: { value: '23' } } } }),
      );
      const result = await bodyOn(sub, `${topic}/result`);
      expect(result.event_id).toBe('pub-1');
      expect(result.code).toBeUndefined();
      expect(edge.twin.devices()[0]?.twin.temp?.actual?.value).toBe('23');
    });

    it('a malformed twin update gets code 400, an unknown device 404', async () => {
      const topic = '$hw/events/device/default/thermo/twin/update';
      const sub = await subscribe(`${topic}/result`);
      await publish(topic, '{"twin": {"temp": ');
      expect((await bodyOn(sub, `${topic}/result`)).code).toBe(400);

      const unknown = '$hw/events/device/default/ghost/twin/update';
      const ghost = await subscribe(`${unknown}/result`);
      await publish(
        unknown,
        JSON.stringify({ event_id: 'g', twin: { temp: { actual: { value: '1' } } } }),
      );
      expect((await bodyOn(ghost, `${unknown}/result`)).code).toBe(404);
    });

    it('keeps serving after the broker restarts', async () => {
      await broker.stop();
      await edge.fromCloud(
        'resource',
        'update',
        'default/device/thermo',
        device({ desired: '31', rv: '12' }),
        '12',
      );
      broker = startProcess('mosquitto', ['-c', join(edge.dir, 'mosquitto.conf'), '-v']);
      await broker.waitForLine(/listen socket on port/);
      const topic = '$hw/events/device/default/thermo/twin/get';
      const sub = await subscribe(`${topic}/result`);
      // The twin's client reconnects within a second or so; ask until it answers.
      for (
        let attempt = 0;
        attempt < 40 && sub.lines.every((l) => !l.startsWith(`${topic}/result`));
        attempt++
      ) {
        await publish(topic, JSON.stringify({ event_id: `get-${attempt}` }));
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const result = await bodyOn(sub, `${topic}/result`);
      const twin = result.twin as Record<string, { expected?: { value: string } }>;
      expect(twin.temp?.expected?.value).toBe('31');
    });
  },
);
