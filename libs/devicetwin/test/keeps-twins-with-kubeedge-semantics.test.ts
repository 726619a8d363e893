import type { Message } from '@ke/beehive';
import { waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { device, model, NODE, startApp, startTwin } from './fixtures';

type Twin = Awaited<ReturnType<typeof startTwin>>;
type App = Awaited<ReturnType<typeof startApp>>;

const TOPIC = '$hw/events/device/default/thermo';
const twinUpdates = (upstream: Message[]) =>
  upstream.filter(
    (message) => message.route.resource === 'device/default/thermo/twin/edge_updated',
  );

describe('devicetwin keeps twins with KubeEdge semantics', () => {
  let edge: Twin;
  let app: App;

  beforeAll(async () => {
    edge = await startTwin();
    app = await startApp(edge.twin.mqttUrl!);
    for (const suffix of ['update/result', 'update/delta', 'update/document', 'get/result']) {
      await app.subscribe(`${TOPIC}/twin/${suffix}`);
    }
    await app.subscribe(`${TOPIC}/state/update/result`);
    await app.subscribe(`$hw/events/node/${NODE}/membership/+`);
    await app.subscribe(`$hw/events/node/${NODE}/membership/get/result`);
  });

  afterAll(async () => {
    await app?.stop();
    await edge?.stop();
    await edge?.remove();
  });

  it('stores a model and a device from the cloud, ACKs them, and publishes the desired value as a delta', async () => {
    const modelReply = await edge.fromCloud(
      'resource',
      'insert',
      'default/devicemodel/thermo-model',
      model(),
    );
    expect(modelReply.content).toBe('OK');
    const from = app.received.length;
    const reply = await edge.fromCloud(
      'resource',
      'insert',
      'default/device/thermo',
      device({ desired: '30' }),
      '11',
    );
    expect(reply.route.operation).toBe('response');
    expect(reply.content).toBe('OK');

    const delta = await app.next(`${TOPIC}/twin/update/delta`, () => true, from);
    expect(delta.delta).toEqual({ temp: '30' });
    const temp = (delta.twin as Record<string, Record<string, unknown>>).temp;
    expect(temp?.expected).toMatchObject({ value: '30' });
    expect(temp?.metadata).toEqual({ type: 'int' });
    expect(temp?.expected_version).toEqual({ cloud: 1, edge: 0 });
    const membership = await app.next(
      `$hw/events/node/${NODE}/membership/updated`,
      () => true,
      from,
    );
    expect(membership.added_devices).toEqual([
      { id: 'default/thermo', name: 'thermo', state: 'unknown' },
    ]);

    const views = edge.twin.devices();
    expect(views.map((view) => view.id)).toEqual(['default/thermo']);
    expect(Object.keys(views[0]?.twin ?? {}).sort()).toEqual(['label', 'temp']);
  });

  it('answers membership/get and twin/get', async () => {
    const from = app.received.length;
    await app.publish(`$hw/events/node/${NODE}/membership/get`, { event_id: 'm1' });
    const members = await app.next(
      `$hw/events/node/${NODE}/membership/get/result`,
      (b) => b.event_id === 'm1',
      from,
    );
    expect((members.devices as { id: string }[]).map((entry) => entry.id)).toEqual([
      'default/thermo',
    ]);

    await app.publish(`${TOPIC}/twin/get`, { event_id: 'g1' });
    const got = await app.next(`${TOPIC}/twin/get/result`, (b) => b.event_id === 'g1', from);
    expect(
      (got.twin as Record<string, { expected?: { value: string } }>).temp?.expected?.value,
    ).toBe('30');
  });

  it('applies a reported value: result, document, delta while it differs, and an edge_updated to the cloud', async () => {
    const from = app.received.length;
    const sent = twinUpdates(edge.upstream).length;
    await app.publish(`${TOPIC}/twin/update`, {
      event_id: 'u1',
      timestamp: Date.now(),
      twin: { temp: { actual: { value: '23' }, metadata: { type: 'int' } } },
    });
    const result = await app.next(`${TOPIC}/twin/update/result`, (b) => b.event_id === 'u1', from);
    expect(result.code).toBeUndefined();
    const temp = (result.twin as Record<string, Record<string, unknown>>).temp;
    expect(temp?.actual).toMatchObject({ value: '23' });
    expect(temp?.actual_version).toEqual({ cloud: 0, edge: 1 });
    const document = await app.next(
      `${TOPIC}/twin/update/document`,
      (b) => b.event_id === 'u1',
      from,
    );
    expect(
      (document.twin as Record<string, { last: unknown; current: unknown }>).temp?.current,
    ).toMatchObject({
      actual: { value: '23' },
    });
    const delta = await app.next(`${TOPIC}/twin/update/delta`, (b) => b.event_id === 'u1', from);
    expect(delta.delta).toEqual({ temp: '30' });

    const [message] = await waitFor('edge_updated upstream', () => {
      const messages = twinUpdates(edge.upstream).slice(sent);
      return messages.length > 0 && messages;
    });
    expect(message?.route).toMatchObject({ group: 'twin', operation: 'update', source: 'twin' });
    const content = message?.content as {
      event_id: string;
      timestamp: number;
      twin: Record<string, unknown>;
    };
    expect(typeof content.event_id).toBe('string');
    expect(content.twin.temp).toMatchObject({
      actual: { value: '23' },
      expected: { value: '30' },
      metadata: { type: 'int' },
    });
  });

  it('answers 400 to malformed updates, 404 to unknown devices and 409 to stale versions', async () => {
    const from = app.received.length;
    await app.publish(`${TOPIC}/twin/update`, '{"event_id": "bad-json", ');
    const badJson = await app.next(`${TOPIC}/twin/update/result`, (b) => b.code === 400, from);
    expect(badJson.reason).toMatch(/not JSON/);

    await app.publish(`${TOPIC}/twin/update`, {
      event_id: 'bad-shape',
      twin: { temp: { actual: { value: 23 } } },
    });
    const badShape = await app.next(
      `${TOPIC}/twin/update/result`,
      (b) => b.event_id === 'bad-shape',
      from,
    );
    expect(badShape.code).toBe(400);
    expect(badShape.reason).toMatch(/must be a string/);

    const unknown = '$hw/events/device/default/nobody/twin/update';
    await app.subscribe(`${unknown}/result`);
    await app.publish(unknown, { event_id: 'who', twin: { temp: { actual: { value: '1' } } } });
    const missing = await app.next(`${unknown}/result`, (b) => b.event_id === 'who', from);
    expect(missing.code).toBe(404);

    await app.publish(`${TOPIC}/twin/update`, {
      event_id: 'old',
      twin: { temp: { actual: { value: '5' }, actual_version: { cloud: 0, edge: 0 } } },
    });
    const stale = await app.next(`${TOPIC}/twin/update/result`, (b) => b.event_id === 'old', from);
    expect(stale.code).toBe(409);
    expect(edge.twin.devices()[0]?.twin.temp?.actual?.value).toBe('23');
  });

  it('sends a property to the cloud no more often than its report cycle, the last value winning', async () => {
    const sent = twinUpdates(edge.upstream).length;
    const started = Date.now();
    for (let value = 40; value < 50; value++) {
      await app.publish(`${TOPIC}/twin/update`, {
        event_id: `burst-${value}`,
        twin: { temp: { actual: { value: String(value) } } },
      });
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    const elapsed = Date.now() - started;
    const last = await waitFor('the last value upstream', () => {
      const messages = twinUpdates(edge.upstream).slice(sent);
      const latest = messages.at(-1)?.content as {
        twin: Record<string, { actual: { value: string } }>;
      };
      return latest?.twin.temp?.actual.value === '49' && messages;
    });
    // 10 updates over `elapsed` ms with a 300 ms cycle: at most one send per cycle, plus the first.
    expect(last.length).toBeLessThanOrEqual(Math.ceil(elapsed / 300) + 2);
    expect(last.length).toBeLessThan(10);
  });

  it('takes state updates and reports state changes to the cloud', async () => {
    const from = app.received.length;
    await app.publish(`${TOPIC}/state/update`, { event_id: 's1', state: 'online' });
    const result = await app.next(`${TOPIC}/state/update/result`, (b) => b.event_id === 's1', from);
    expect((result.device as { state: string }).state).toBe('online');
    const message = await waitFor('state upstream', () =>
      edge.upstream.find((entry) => entry.route.resource === 'device/default/thermo/state/update'),
    );
    const content = message.content as { device: { state: string; lastOnlineTime: string } };
    expect(content.device.state).toBe('online');
    expect(Number.isNaN(Date.parse(content.device.lastOnlineTime))).toBe(false);

    await app.publish(`${TOPIC}/state/update`, { event_id: 's2', state: 'sleeping' });
    const bad = await app.next(`${TOPIC}/state/update/result`, (b) => b.event_id === 's2', from);
    expect(bad.code).toBe(400);
  });

  it('turns a changed desired value from the cloud into a new delta, and ignores a stale device', async () => {
    const from = app.received.length;
    await edge.fromCloud(
      'resource',
      'update',
      'default/device/thermo',
      device({ desired: '35', rv: '20' }),
      '20',
    );
    const delta = await app.next(
      `${TOPIC}/twin/update/delta`,
      (b) => (b.delta as Record<string, string>)?.temp === '35',
      from,
    );
    const temp = (delta.twin as Record<string, { expected_version: unknown }>).temp;
    expect(temp?.expected_version).toEqual({ cloud: 2, edge: 0 });

    const stale = await edge.fromCloud(
      'resource',
      'update',
      'default/device/thermo',
      device({ desired: '1', rv: '15' }),
      '15',
    );
    expect(stale.content).toBe('OK');
    expect(edge.twin.devices()[0]?.twin.temp?.expected?.value).toBe('35');
  });

  it('gives the twins the property types of an updated model', async () => {
    const reply = await edge.fromCloud(
      'resource',
      'update',
      'default/devicemodel/thermo-model',
      model({ rv: '21', type: 'FLOAT' }),
      '21',
    );
    expect(reply.content).toBe('OK');
    const [view] = edge.twin.devices();
    expect(view?.twin.temp?.metadata).toEqual({ type: 'float' });
    expect(view?.twin.label?.metadata).toEqual({ type: 'string' });
  });

  it('refuses malformed cloud messages with a coded error and stores nothing', async () => {
    const cases: [string, string, unknown][] = [
      [
        'resource',
        'default/device/other',
        { metadata: { name: 'thermo', namespace: 'default' }, spec: {} },
      ],
      ['resource', 'default/device/x', { kind: 'Pod', metadata: { name: 'x' }, spec: {} }],
      [
        'resource',
        'default/device/y',
        { metadata: { name: 'y' }, spec: { properties: [{ name: 'a' }, { name: 'a' }] } },
      ],
      ['resource', 'default/pod/z', { metadata: { name: 'z' }, spec: {} }],
      ['twin', 'membership', { added_devices: [{ name: 'no-id' }] }],
      ['resource', 'default/device/w', 'not json'],
    ];
    for (const [group, resource, content] of cases) {
      const reply = await edge.fromCloud(group, 'insert', resource, content);
      expect(reply.route.operation, resource).toBe('error');
      expect(reply.content).toMatchObject({ code: 'KE_TWIN_INVALID', retryable: false });
    }
    expect(edge.twin.devices().map((view) => view.id)).toEqual(['default/thermo']);
  });

  it('keeps twins and states across a restart, and forgets a deleted device', async () => {
    await edge.twin.stop();
    await edge.twin.start();
    const [view] = edge.twin.devices();
    expect(view?.state).toBe('online');
    expect(view?.twin.temp?.actual?.value).toBe('49');
    expect(view?.twin.temp?.expected?.value).toBe('35');

    const reconnected = await startApp(edge.twin.mqttUrl!);
    await reconnected.subscribe(`$hw/events/node/${NODE}/membership/updated`);
    const reply = await edge.fromCloud('resource', 'delete', 'default/device/thermo', null, '30');
    expect(reply.content).toBe('OK');
    const removed = await reconnected.next(`$hw/events/node/${NODE}/membership/updated`);
    expect(removed.removed_devices).toEqual([{ id: 'default/thermo', name: 'thermo' }]);
    expect(edge.twin.devices()).toEqual([]);
    await reconnected.stop();
  });
});
