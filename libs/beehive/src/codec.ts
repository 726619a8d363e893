import { Buffer } from 'node:buffer';
import { BeehiveError, BeehiveErrorCode, describeType } from './errors';
import type { Message, MessageHeader, MessageRoute } from './message';

/**
 * Default upper bound for one encoded message: 8 MiB. A single Kubernetes object is capped
 * near 1.5 MiB by etcd's default request limit, but list responses (podlist, servicelist,
 * query replies) and JSON escaping can be several times that; 8 MiB leaves that headroom
 * while bounding what one WebSocket frame can make a process parse (JSON.parse allocates a
 * multiple of the input size).
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export interface CodecOptions {
  /** Largest accepted encoded size in bytes (UTF-8). Defaults to {@link DEFAULT_MAX_MESSAGE_BYTES}. */
  maxBytes?: number;
}

export type DecodeResult = { ok: true; message: Message } | { ok: false; error: BeehiveError };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses and validates one KubeEdge message. Throws only {@link BeehiveError}:
 * KE_MESSAGE_TOO_LARGE (checked before parsing), KE_MESSAGE_INVALID_JSON,
 * KE_MESSAGE_INVALID (with `path`), KE_INVALID_ARGUMENT (bad `maxBytes`).
 *
 * Unknown fields are dropped, as Go's encoding/json does. Absent optional header and route
 * fields stay absent, and an absent `content` stays `undefined`, so
 * `encodeMessage(decodeMessage(x))` reproduces `x`'s fields.
 */
export function decodeMessage(input: string | Uint8Array, options: CodecOptions = {}): Message {
  const maxBytes = resolveMaxBytes(options.maxBytes);
  let text: string;
  if (typeof input === 'string') {
    // Every UTF-16 unit becomes at least one UTF-8 byte, so this check needs no scan.
    if (input.length > maxBytes || Buffer.byteLength(input, 'utf8') > maxBytes) {
      throw tooLarge(input.length > maxBytes ? input.length : Buffer.byteLength(input), maxBytes);
    }
    text = input;
  } else if (input instanceof Uint8Array) {
    if (input.byteLength > maxBytes) throw tooLarge(input.byteLength, maxBytes);
    try {
      text = utf8.decode(input);
    } catch (cause) {
      throw invalidJson('the bytes are not valid UTF-8', cause);
    }
  } else {
    throw invalidJson(`expected a string or Uint8Array, got ${describeType(input)}`);
  }

  if (text.trim() === '') throw invalidJson('the input is empty');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw invalidJson(cause instanceof Error ? cause.message : String(cause), cause);
  }
  try {
    return toMessage(parsed);
  } catch (error) {
    if (error instanceof BeehiveError) throw error;
    throw invalid('', 'a KubeEdge message', 'the message could not be validated', error);
  }
}

/** Like {@link decodeMessage}, but returns the error instead of throwing it. */
export function tryDecodeMessage(input: string | Uint8Array, options?: CodecOptions): DecodeResult {
  try {
    return { ok: true, message: decodeMessage(input, options) };
  } catch (error) {
    if (error instanceof BeehiveError) return { ok: false, error };
    return {
      ok: false,
      error: invalid('', 'a KubeEdge message', 'the message could not be decoded', error),
    };
  }
}

/**
 * Serialises a message in KubeEdge's field order (`header`, `route`, `content`; header
 * `msg_id, parent_msg_id, timestamp, resourceversion, sync, type`; route
 * `source, destination, group, operation, resource`). Optional fields are written only when
 * present and `content` only when not `undefined`. Throws KE_MESSAGE_INVALID when the
 * message has the wrong shape or its content cannot be JSON-encoded (BigInt, cycles), and
 * KE_MESSAGE_TOO_LARGE when the result exceeds `maxBytes`.
 */
export function encodeMessage(message: Message, options: CodecOptions = {}): string {
  const maxBytes = resolveMaxBytes(options.maxBytes);
  const ordered = toMessage(message);
  let text: string;
  try {
    text = JSON.stringify(ordered);
  } catch (cause) {
    throw invalid(
      'content',
      'a JSON-serialisable value',
      cause instanceof Error ? cause.message : String(cause),
      cause,
    );
  }
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes) throw tooLarge(size, maxBytes);
  return text;
}

function resolveMaxBytes(maxBytes: number | undefined): number {
  if (maxBytes === undefined) return DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw new BeehiveError(
      BeehiveErrorCode.InvalidArgument,
      `maxBytes must be a positive integer, got ${String(maxBytes)}. Pass a byte count such as 8388608, or omit it for the 8 MiB default.`,
      { reason: `invalid maxBytes ${String(maxBytes)}`, expected: 'a positive integer' },
    );
  }
  return maxBytes;
}

/** Validates `value` and copies the known fields, in KubeEdge's order, into fresh objects. */
function toMessage(value: unknown): Message {
  const root = requireObject(value, '');
  const headerIn = requireObject(root.header, 'header');

  // Built field by field in Go's order so the encoded form matches what KubeEdge writes.
  const header: Partial<MessageHeader> = {};
  header.msg_id = requireNonEmptyString(headerIn.msg_id, 'header.msg_id');
  const parentId = optionalString(headerIn.parent_msg_id, 'header.parent_msg_id');
  if (parentId !== undefined) header.parent_msg_id = parentId;
  header.timestamp = requireTimestamp(headerIn.timestamp, 'header.timestamp');
  const resourceVersion = optionalString(headerIn.resourceversion, 'header.resourceversion');
  if (resourceVersion !== undefined) header.resourceversion = resourceVersion;
  if (hasOwn(headerIn, 'sync') && headerIn.sync !== undefined) {
    if (typeof headerIn.sync !== 'boolean') {
      throw invalid('header.sync', 'a boolean', `got ${describeType(headerIn.sync)}`);
    }
    header.sync = headerIn.sync;
  }
  const type = optionalString(headerIn.type, 'header.type');
  if (type !== undefined) header.type = type;

  const routeIn = requireObject(root.route, 'route');
  const source = optionalString(routeIn.source, 'route.source');
  const destination = optionalString(routeIn.destination, 'route.destination');
  const group = optionalString(routeIn.group, 'route.group');
  const operation = requireNonEmptyString(routeIn.operation, 'route.operation');
  const resource = requireNonEmptyString(routeIn.resource, 'route.resource');
  const route: Partial<MessageRoute> = {};
  if (source !== undefined) route.source = source;
  if (destination !== undefined) route.destination = destination;
  if (group !== undefined) route.group = group;
  route.operation = operation;
  route.resource = resource;

  // Absent content stays absent on re-encode (KubeEdge's Go decoder reads it as nil).
  const message = { header, route } as Message;
  if (hasOwn(root, 'content') && root.content !== undefined) message.content = root.content;
  return message;
}

type JsonObject = Record<string, unknown>;

function hasOwn(object: JsonObject, key: string): boolean {
  return Object.hasOwn(object, key);
}

function requireObject(value: unknown, path: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const what = path === '' ? 'the message' : path;
    throw invalid(path, 'a JSON object', `${what} is ${describeType(value)}`);
  }
  return value as JsonObject;
}

function requireNonEmptyString(value: unknown, path: string): string {
  if (typeof value !== 'string') {
    throw invalid(
      path,
      'a non-empty string',
      value === undefined ? 'missing' : `got ${describeType(value)}`,
    );
  }
  if (value === '') throw invalid(path, 'a non-empty string', 'empty string');
  return value;
}

function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(path, 'a string', `got ${describeType(value)}`);
  return value;
}

function requireTimestamp(value: unknown, path: string): number {
  if (value === undefined) throw invalid(path, TIMESTAMP_EXPECTED, 'missing');
  if (typeof value !== 'number')
    throw invalid(path, TIMESTAMP_EXPECTED, `got ${describeType(value)}`);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalid(path, TIMESTAMP_EXPECTED, `got ${value}`);
  }
  return value;
}

const TIMESTAMP_EXPECTED = 'a non-negative safe integer (milliseconds since the Unix epoch)';

function invalid(path: string, expected: string, reason: string, cause?: unknown): BeehiveError {
  const where = path === '' ? 'the message' : path;
  return new BeehiveError(
    BeehiveErrorCode.MessageInvalid,
    `Invalid KubeEdge message: ${where} must be ${expected} (${reason}). Fix the sender; the message was not processed.`,
    { reason, path, expected, cause },
  );
}

function invalidJson(reason: string, cause?: unknown): BeehiveError {
  return new BeehiveError(
    BeehiveErrorCode.MessageInvalidJson,
    `Invalid KubeEdge message: not JSON (${reason}). A message is one UTF-8 JSON object per frame.`,
    { reason, cause },
  );
}

function tooLarge(size: number, maxBytes: number): BeehiveError {
  return new BeehiveError(
    BeehiveErrorCode.MessageTooLarge,
    `KubeEdge message too large: ${size} bytes exceeds the limit of ${maxBytes}. Split the content, or raise maxBytes on both ends.`,
    { reason: `${size} bytes > ${maxBytes}`, expected: `at most ${maxBytes} bytes` },
  );
}
