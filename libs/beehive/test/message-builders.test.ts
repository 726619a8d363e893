import { describe, expect, it } from 'vitest';
import {
  ACK_CONTENT,
  createAck,
  createKeepalive,
  createMessage,
  createResponse,
  decodeMessage,
  encodeMessage,
  Group,
  isResponseTo,
  ModuleName,
  Operation,
  ResourceType,
} from '../src/index';
import { fixture } from './helpers';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('messages the package creates look like KubeEdge fixtures', () => {
  it('createMessage sets a fresh UUID, the time, and always parent_msg_id and sync', () => {
    const before = Date.now();
    const message = createMessage({
      source: ModuleName.EdgeController,
      group: Group.Resource,
      operation: Operation.Insert,
      resource: 'default/pod/nginx-edge-1',
      content: { kind: 'Pod' },
      resourceVersion: '5821',
    });
    expect(message.header.msg_id).toMatch(UUID);
    expect(message.header.timestamp).toBeGreaterThanOrEqual(before);
    expect(message.header.timestamp).toBeLessThanOrEqual(Date.now());
    const fixtureKeys = (name: string) => {
      const parsed = JSON.parse(fixture(name));
      return [Object.keys(parsed), Object.keys(parsed.header), Object.keys(parsed.route)];
    };
    const encoded = JSON.parse(encodeMessage(message));
    expect([Object.keys(encoded), Object.keys(encoded.header), Object.keys(encoded.route)]).toEqual(
      fixtureKeys('pod-insert.edge.json'),
    );
    expect(
      createMessage({ ...message.route, source: 's', group: 'g', content: 1 }).header.msg_id,
    ).not.toBe(message.header.msg_id);
  });

  it('createMessage omits resourceversion unless given, like the keepalive fixture', () => {
    const message = createMessage({
      source: 's',
      group: 'g',
      operation: 'o',
      resource: 'r',
      content: 1,
    });
    expect(Object.keys(message.header)).toEqual(['msg_id', 'parent_msg_id', 'timestamp', 'sync']);
    expect(message.header.parent_msg_id).toBe('');
    expect(message.header.sync).toBe(false);
    const child = createMessage({
      source: 's',
      group: 'g',
      operation: 'o',
      resource: 'r',
      content: 1,
      parentId: 'p1',
      sync: true,
    });
    expect(child.header).toMatchObject({ parent_msg_id: 'p1', sync: true });
  });

  it('createKeepalive matches the keepalive fixture apart from id and time', () => {
    const expected = decodeMessage(fixture('keepalive.json'));
    const keepalive = createKeepalive();
    expect(keepalive.route).toEqual(expected.route);
    expect(keepalive.content).toBe('ping');
    expect(Object.keys(keepalive.header)).toEqual(Object.keys(expected.header));
  });

  it('createAck answers a message the way the ack fixture answers the pod insert', () => {
    const insert = decodeMessage(fixture('pod-insert.edge.json'));
    const expected = decodeMessage(fixture('ack.json'));
    const ack = createAck(insert, ModuleName.MetaManager);
    expect(ack.route).toEqual(expected.route);
    expect(ack.content).toBe(ACK_CONTENT);
    expect(ack.header.parent_msg_id).toBe(insert.header.msg_id);
    expect(ack.header.sync).toBe(false);
    expect(isResponseTo(ack, insert)).toBe(true);
  });

  it('createResponse ties the reply to the request and copies group and resource', () => {
    const request = createMessage({
      source: ModuleName.Edged,
      group: Group.Resource,
      operation: Operation.Query,
      resource: `default/${ResourceType.ConfigMap}/cfg`,
      content: null,
    });
    const response = createResponse(request, { source: ModuleName.MetaManager, content: [1] });
    expect(response.header.parent_msg_id).toBe(request.header.msg_id);
    expect(response.route).toEqual({
      source: 'metamanager',
      group: 'resource',
      operation: 'response',
      resource: 'default/configmap/cfg',
    });
    const error = createResponse(request, {
      source: 'm',
      content: 'not found',
      operation: Operation.Error,
    });
    expect(error.route.operation).toBe('error');
    expect(isResponseTo(error, request)).toBe(true);
    expect(isResponseTo(request, response)).toBe(false);
  });

  it('createResponse keeps the beehive context type of the request', () => {
    const request = decodeMessage(
      '{"header":{"msg_id":"m","timestamp":1,"type":"unixsocket"},"route":{"operation":"query","resource":"r"}}',
    );
    expect(createResponse(request, { source: 's', content: 1 }).header.type).toBe('unixsocket');
  });

  it('isResponseTo ignores empty parent ids', () => {
    const a = createMessage({ source: 's', group: 'g', operation: 'o', resource: 'r', content: 1 });
    const b = { ...a, header: { ...a.header, msg_id: '' } };
    expect(isResponseTo(a, b)).toBe(false);
  });
});
