import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  cloudToEdgeResource,
  decodeMessage,
  encodeMessage,
  parseCloudResource,
  tryDecodeMessage,
} from '../src/index';
import { fixture, normalised } from './helpers';

const MESSAGE_FIXTURES = [
  'ack.json',
  'keepalive.json',
  'node-status-upload.edge.json',
  'pod-insert.edge.json',
];

describe('KubeEdge fixtures decode and re-encode unchanged', () => {
  for (const name of MESSAGE_FIXTURES) {
    it(`${name} round-trips after key normalisation`, () => {
      const raw = fixture(name);
      expect(normalised(encodeMessage(decodeMessage(raw)))).toBe(normalised(raw));
    });

    it(`${name} re-encodes byte for byte in Go's field order`, () => {
      const raw = fixture(name);
      expect(encodeMessage(decodeMessage(raw))).toBe(JSON.stringify(JSON.parse(raw)));
    });

    it(`${name} decodes the same from bytes as from text`, () => {
      const raw = fixture(name);
      const fromBytes = decodeMessage(new TextEncoder().encode(raw));
      expect(fromBytes).toEqual(decodeMessage(raw));
      const result = tryDecodeMessage(raw);
      expect(result.ok).toBe(true);
    });
  }

  it('keeps parent_msg_id "" and sync false, and resourceversion only where it was', () => {
    const insert = decodeMessage(fixture('pod-insert.edge.json'));
    expect(insert.header).toEqual({
      msg_id: '4d2b9a5e-6f1c-4f43-9d6e-1f6f3d9c2a10',
      parent_msg_id: '',
      timestamp: 1732872000123,
      resourceversion: '5821',
      sync: false,
    });
    const keepalive = decodeMessage(fixture('keepalive.json'));
    expect(Object.keys(keepalive.header)).toEqual(['msg_id', 'parent_msg_id', 'timestamp', 'sync']);
    const ack = decodeMessage(fixture('ack.json'));
    expect(ack.header.parent_msg_id).toBe(insert.header.msg_id);
    expect(ack.content).toBe('OK');
  });

  it('keeps the optional Go fields header.type and route.destination when present', () => {
    const raw = JSON.stringify({
      header: { msg_id: 'm1', timestamp: 1, sync: true, type: 'channel' },
      route: { source: 'a', destination: 'b', group: 'g', operation: 'query', resource: 'r' },
      content: { x: 1 },
    });
    const message = decodeMessage(raw);
    expect(message.header.type).toBe('channel');
    expect(message.route.destination).toBe('b');
    expect(encodeMessage(message)).toBe(raw);
  });

  it('leaves absent optional fields and absent content absent', () => {
    const raw =
      '{"header":{"msg_id":"m1","timestamp":0},"route":{"operation":"query","resource":"r"}}';
    const message = decodeMessage(raw);
    expect(message.content).toBeUndefined();
    expect('content' in message).toBe(false);
    expect(message.route).toEqual({ operation: 'query', resource: 'r' });
    expect(encodeMessage(message)).toBe(raw);
  });

  it('keeps null content as null', () => {
    const raw =
      '{"header":{"msg_id":"m1","timestamp":0},"route":{"operation":"query","resource":"r"},"content":null}';
    expect(decodeMessage(raw).content).toBeNull();
    expect(encodeMessage(decodeMessage(raw))).toBe(raw);
  });

  it('drops unknown fields, as Go encoding/json does', () => {
    const raw = JSON.stringify({
      extra: 1,
      header: { msg_id: 'm1', timestamp: 5, tag: 'x' },
      route: { operation: 'insert', resource: 'r', target: 'y' },
      content: 'c',
    });
    expect(JSON.parse(encodeMessage(decodeMessage(raw)))).toEqual({
      header: { msg_id: 'm1', timestamp: 5 },
      route: { operation: 'insert', resource: 'r' },
      content: 'c',
    });
  });

  it('the cloud resource of the pod fixture becomes the edge resource cloudhub sends', () => {
    const cloud = readFileSync(
      new URL('./fixtures/pod-insert.cloud-resource.txt', import.meta.url),
      'utf8',
    ).trim();
    const edge = decodeMessage(fixture('pod-insert.edge.json'));
    expect(cloudToEdgeResource(cloud)).toBe(edge.route.resource);
    expect(parseCloudResource(cloud)).toEqual({
      node: 'edge-node-1',
      namespace: 'default',
      type: 'pod',
      name: 'nginx-edge-1',
    });
  });
});
