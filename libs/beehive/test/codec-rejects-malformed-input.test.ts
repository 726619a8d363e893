import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BeehiveError,
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeMessage,
  encodeMessage,
  type Message,
  tryDecodeMessage,
} from '../src/index';
import { caught, fixture } from './helpers';

const header = { msg_id: 'm1', parent_msg_id: '', timestamp: 1732872000123, sync: false };
const route = {
  source: 'edged',
  group: 'resource',
  operation: 'update',
  resource: 'default/pod/p',
};

/** A valid message with `patch` applied at `path` (undefined deletes the field). */
function withField(path: string, value: unknown): string {
  const message: Record<string, unknown> = {
    header: { ...header },
    route: { ...route },
    content: { a: 1 },
  };
  const [section, field] = path.split('.') as [string, string | undefined];
  if (field === undefined) {
    if (value === undefined) delete message[section];
    else message[section] = value;
  } else {
    const object = message[section] as Record<string, unknown>;
    if (value === undefined) delete object[field];
    else object[field] = value;
  }
  return JSON.stringify(message);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('decodeMessage rejects malformed input with typed errors', () => {
  it.each([
    ['truncated JSON', '{"header":'],
    ['trailing garbage', '{"header":{}} x'],
    ['single quotes', "{'header':{}}"],
    ['empty string', ''],
    ['only whitespace', '  \n\t '],
    ['a UTF-8 byte-order mark', '\uFEFF{}'],
  ])('%s → KE_MESSAGE_INVALID_JSON', (_, input) => {
    const error = caught(() => decodeMessage(input));
    expect(error.code).toBe('KE_MESSAGE_INVALID_JSON');
    expect(error.message).toMatch(/not JSON/);
  });

  it('binary garbage → KE_MESSAGE_INVALID_JSON (not UTF-8)', () => {
    const error = caught(() => decodeMessage(new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0xc3])));
    expect(error.code).toBe('KE_MESSAGE_INVALID_JSON');
    expect(error.reason).toMatch(/UTF-8/);
  });

  it('empty bytes → KE_MESSAGE_INVALID_JSON', () => {
    expect(caught(() => decodeMessage(new Uint8Array())).code).toBe('KE_MESSAGE_INVALID_JSON');
  });

  it.each([
    ['an array', '[]'],
    ['null', 'null'],
    ['a number', '42'],
    ['a string', '"message"'],
    ['a boolean', 'true'],
  ])('top level %s → KE_MESSAGE_INVALID at the root', (_, input) => {
    const error = caught(() => decodeMessage(input));
    expect(error.code).toBe('KE_MESSAGE_INVALID');
    expect(error.path).toBe('');
    expect(error.expected).toBe('a JSON object');
  });

  it.each([
    ['header', undefined],
    ['header', []],
    ['header', 'h'],
    ['header', null],
    ['route', undefined],
    ['route', ['query']],
    ['route', 7],
    ['header.msg_id', undefined],
    ['header.msg_id', 42],
    ['header.msg_id', ''],
    ['header.msg_id', null],
    ['header.parent_msg_id', 1],
    ['header.parent_msg_id', null],
    ['header.timestamp', undefined],
    ['header.timestamp', '1732872000123'],
    ['header.timestamp', -1],
    ['header.timestamp', 1.5],
    ['header.timestamp', 2 ** 53],
    ['header.timestamp', null],
    ['header.resourceversion', 5821],
    ['header.sync', 'false'],
    ['header.sync', 0],
    ['header.type', 1],
    ['route.source', 1],
    ['route.destination', []],
    ['route.group', {}],
    ['route.operation', undefined],
    ['route.operation', ''],
    ['route.operation', 1],
    ['route.resource', undefined],
    ['route.resource', ''],
    ['route.resource', null],
  ])('%s = %j → KE_MESSAGE_INVALID with that path', (path, value) => {
    const error = caught(() => decodeMessage(withField(path, value)));
    expect(error.code).toBe('KE_MESSAGE_INVALID');
    expect(error.path).toBe(path);
    expect(error.expected).toBeTruthy();
    expect(error.message).toContain(path);
    const result = tryDecodeMessage(withField(path, value));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.path).toBe(path);
  });

  it('accepts any JSON value as content', () => {
    for (const content of [null, 0, 'x', true, [1, 2], { a: { b: [] } }]) {
      expect(decodeMessage(withField('content', content)).content).toEqual(content);
    }
  });

  it('rejects a 10 MB string before parsing it, quickly', () => {
    const parse = vi.spyOn(JSON, 'parse');
    const huge = `{"header":{"msg_id":"m1","timestamp":1},"content":"${'x'.repeat(10_000_000)}"}`;
    const started = performance.now();
    const error = caught(() => decodeMessage(huge));
    const elapsed = performance.now() - started;
    expect(error.code).toBe('KE_MESSAGE_TOO_LARGE');
    expect(parse).not.toHaveBeenCalled();
    expect(elapsed).toBeLessThan(100);
  });

  it('rejects 10 MB of bytes before decoding them', () => {
    const error = caught(() => decodeMessage(new Uint8Array(10_000_000)));
    expect(error.code).toBe('KE_MESSAGE_TOO_LARGE');
  });

  it('counts UTF-8 bytes, not characters', () => {
    // 3 million 'é' are 3 M characters but 6 MB of UTF-8: over a 4 MB limit.
    const text = `{"header":{"msg_id":"m","timestamp":1},"route":{"operation":"q","resource":"r"},"content":"${'é'.repeat(3_000_000)}"}`;
    expect(caught(() => decodeMessage(text, { maxBytes: 4_000_000 })).code).toBe(
      'KE_MESSAGE_TOO_LARGE',
    );
    expect(decodeMessage(text, { maxBytes: 7_000_000 }).route.resource).toBe('r');
  });

  it('honours maxBytes and defaults to 8 MiB', () => {
    expect(DEFAULT_MAX_MESSAGE_BYTES).toBe(8 * 1024 * 1024);
    const raw = fixture('ack.json');
    expect(caught(() => decodeMessage(raw, { maxBytes: 100 })).code).toBe('KE_MESSAGE_TOO_LARGE');
    expect(decodeMessage(raw, { maxBytes: Buffer.byteLength(raw) }).content).toBe('OK');
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'maxBytes %s → KE_INVALID_ARGUMENT',
    (maxBytes) => {
      expect(caught(() => decodeMessage('{}', { maxBytes })).code).toBe('KE_INVALID_ARGUMENT');
    },
  );

  it('rejects inputs that are neither string nor bytes', () => {
    for (const input of [42, null, undefined, {}, ['{}']]) {
      const error = caught(() => decodeMessage(input as unknown as string));
      expect(error.code).toBe('KE_MESSAGE_INVALID_JSON');
    }
  });

  it('__proto__ keys never change a prototype and are not read as fields', () => {
    const raw =
      '{"__proto__":{"polluted":true},' +
      '"header":{"msg_id":"m1","timestamp":1},' +
      '"route":{"operation":"q","resource":"r"},' +
      '"content":{"__proto__":{"polluted":true},"a":1}}';
    const message = decodeMessage(raw);
    expect(Object.getPrototypeOf(message)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(message.content)).toBe(Object.prototype);
    expect((message.content as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.hasOwn(message.content as object, '__proto__')).toBe(true);

    const inherited =
      '{"header":{"__proto__":{"msg_id":"m1"},"timestamp":1},"route":{"operation":"q","resource":"r"}}';
    expect(caught(() => decodeMessage(inherited)).path).toBe('header.msg_id');
  });

  it('never throws anything but BeehiveError on random bytes', () => {
    // Seeded linear congruential generator: the same 2 000 inputs every run.
    let seed = 0x2545f491;
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 16;
    };
    const alphabet = '{}[]":,0123456789.-eE tfnrul\\header msg_id timestamp route';
    for (let i = 0; i < 2_000; i += 1) {
      const length = next() % 64;
      const bytes = new Uint8Array(length);
      for (let j = 0; j < length; j += 1) bytes[j] = next() & 0xff;
      const text = Array.from({ length }, () => alphabet[next() % alphabet.length]).join('');
      for (const input of [bytes, text]) {
        const result = tryDecodeMessage(input);
        if (!result.ok) expect(result.error).toBeInstanceOf(BeehiveError);
      }
    }
  });

  it('decodes deeply nested content without a stack overflow', () => {
    const depth = 100_000;
    const raw = `{"header":{"msg_id":"m","timestamp":1},"route":{"operation":"q","resource":"r"},"content":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    expect(Array.isArray(decodeMessage(raw).content)).toBe(true);
  });
});

describe('encodeMessage refuses what it cannot write', () => {
  const valid = (): Message => ({
    header: { msg_id: 'm1', parent_msg_id: '', timestamp: 1, sync: false },
    route: { source: 's', group: 'g', operation: 'q', resource: 'r' },
    content: null,
  });

  it('BigInt content → KE_MESSAGE_INVALID at content', () => {
    const error = caught(() => encodeMessage({ ...valid(), content: 1n }));
    expect(error.code).toBe('KE_MESSAGE_INVALID');
    expect(error.path).toBe('content');
  });

  it('cyclic content → KE_MESSAGE_INVALID at content', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(caught(() => encodeMessage({ ...valid(), content: cyclic })).path).toBe('content');
  });

  it('a wrongly shaped message → KE_MESSAGE_INVALID with the path', () => {
    const broken = { ...valid(), route: undefined } as unknown as Message;
    expect(caught(() => encodeMessage(broken)).path).toBe('route');
    const badTimestamp = { ...valid(), header: { ...valid().header, timestamp: Date.now() + 0.5 } };
    expect(caught(() => encodeMessage(badTimestamp)).path).toBe('header.timestamp');
  });

  it('content nested too deeply to serialise → KE_MESSAGE_INVALID at content', () => {
    const depth = 100_000;
    const raw = `{"header":{"msg_id":"m","timestamp":1},"route":{"operation":"q","resource":"r"},"content":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const error = caught(() => encodeMessage(decodeMessage(raw)));
    expect(error.code).toBe('KE_MESSAGE_INVALID');
    expect(error.path).toBe('content');
  });

  it('more than maxBytes → KE_MESSAGE_TOO_LARGE', () => {
    const error = caught(() =>
      encodeMessage({ ...valid(), content: 'x'.repeat(200) }, { maxBytes: 100 }),
    );
    expect(error.code).toBe('KE_MESSAGE_TOO_LARGE');
  });
});
