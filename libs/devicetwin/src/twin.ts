import { DeviceTwinError, invalid } from './errors';

// KubeEdge's DeviceTwin JSON (edge/pkg/devicetwin/dttype): snake_case on the wire.

/** A value with the time it was set, in ms since the epoch. */
export interface TwinValue {
  value?: string | null;
  metadata?: { timestamp?: number };
}

/** How many times the cloud and the edge have changed a value. */
export interface TwinVersion {
  cloud: number;
  edge: number;
}

/** One property's twin: what the cloud (or an app) wants, what the device has. */
export interface MsgTwin {
  expected?: TwinValue;
  actual?: TwinValue;
  optional?: boolean;
  metadata?: { type?: string };
  expected_version?: TwinVersion;
  actual_version?: TwinVersion;
}

/** The twins of one device by property name. */
export type Twins = Record<string, MsgTwin>;

/** A twin update as apps publish it on `$hw/events/device/<ns>/<name>/twin/update`. */
export interface TwinUpdate {
  event_id: string;
  timestamp: number;
  twin: Twins;
}

const MAX_VALUE_BYTES = 64 * 1024;
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,251}[A-Za-z0-9])?$/;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Parses an MQTT/DMI payload (bytes or an object) into a twin update; 400 when malformed. */
export function parseTwinUpdate(payload: unknown): TwinUpdate {
  const body = parseJson(payload);
  if (!isObject(body)) throw invalid('a twin update is a JSON object');
  if (!isObject(body.twin)) throw invalid('a twin update needs a "twin" object');
  const twin: Twins = {};
  for (const [name, entry] of Object.entries(body.twin)) {
    if (!NAME.test(name)) throw invalid(`${JSON.stringify(name)} is not a property name`);
    if (entry === null) continue; // KubeEdge: a null twin deletes it; we keep properties from the spec
    if (!isObject(entry)) throw invalid(`twin.${name} must be an object`);
    twin[name] = parseTwin(name, entry);
  }
  return {
    event_id: typeof body.event_id === 'string' ? body.event_id : '',
    timestamp: typeof body.timestamp === 'number' ? body.timestamp : Date.now(),
    twin,
  };
}

function parseTwin(name: string, entry: Record<string, unknown>): MsgTwin {
  const twin: MsgTwin = {};
  for (const side of ['expected', 'actual'] as const) {
    const value = entry[side];
    if (value === undefined || value === null) continue;
    if (!isObject(value)) throw invalid(`twin.${name}.${side} must be an object`);
    if (value.value !== undefined && value.value !== null && typeof value.value !== 'string') {
      throw invalid(
        `twin.${name}.${side}.value must be a string (KubeEdge carries values as text)`,
      );
    }
    if (typeof value.value === 'string' && Buffer.byteLength(value.value) > MAX_VALUE_BYTES) {
      throw invalid(`twin.${name}.${side}.value is over ${MAX_VALUE_BYTES} bytes`);
    }
    twin[side] = { value: (value.value as string | null | undefined) ?? null };
  }
  for (const side of ['expected_version', 'actual_version'] as const) {
    const version = entry[side];
    if (version === undefined || version === null) continue;
    if (!isObject(version) || !isCount(version.cloud) || !isCount(version.edge)) {
      throw invalid(`twin.${name}.${side} must be {cloud, edge} with whole numbers`);
    }
    twin[side] = { cloud: version.cloud, edge: version.edge };
  }
  if (entry.metadata !== undefined && entry.metadata !== null) {
    if (!isObject(entry.metadata)) throw invalid(`twin.${name}.metadata must be an object`);
    const type = entry.metadata.type;
    if (type !== undefined && typeof type !== 'string') {
      throw invalid(`twin.${name}.metadata.type must be a string`);
    }
    if (type !== undefined) twin.metadata = { type };
  }
  if (typeof entry.optional === 'boolean') twin.optional = entry.optional;
  if (!twin.expected && !twin.actual) {
    throw invalid(`twin.${name} changes nothing: it needs "expected" or "actual"`);
  }
  return twin;
}

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** Bytes, a string or an already-parsed object → a JSON value; 400 when not JSON. */
export function parseJson(payload: unknown): unknown {
  if (typeof payload === 'string' || payload instanceof Uint8Array) {
    const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8');
    try {
      return JSON.parse(text);
    } catch {
      throw invalid('the payload is not JSON');
    }
  }
  return payload;
}

/**
 * Applies an update from the edge (an app over MQTT or a mapper over DMI) to stored twins, the
 * way KubeEdge's DeviceTwin does: each side that changes gets its edge version bumped; a
 * version in the update older than the stored one is a conflict (409) and nothing is applied.
 */
export function applyEdgeUpdate(
  stored: Twins,
  update: Twins,
  now: number,
): { twins: Twins; changed: Twins } {
  for (const [name, incoming] of Object.entries(update)) {
    const current = stored[name];
    for (const [side, versionKey] of [
      ['expected', 'expected_version'],
      ['actual', 'actual_version'],
    ] as const) {
      const given = incoming[versionKey];
      const have = current?.[versionKey];
      if (incoming[side] && given && have && given.edge < have.edge) {
        throw new DeviceTwinError(
          'KE_TWIN_VERSION_CONFLICT',
          `twin.${name}.${side}: version edge ${given.edge} is older than the stored ${have.edge}`,
        );
      }
    }
  }
  const twins: Twins = { ...stored };
  const changed: Twins = {};
  for (const [name, incoming] of Object.entries(update)) {
    const next: MsgTwin = { ...stored[name] };
    for (const [side, versionKey] of [
      ['expected', 'expected_version'],
      ['actual', 'actual_version'],
    ] as const) {
      const value = incoming[side];
      if (!value) continue;
      next[side] = { value: value.value ?? null, metadata: { timestamp: now } };
      const version = next[versionKey] ?? { cloud: 0, edge: 0 };
      next[versionKey] = { cloud: version.cloud, edge: version.edge + 1 };
    }
    if (incoming.metadata?.type && !next.metadata?.type) next.metadata = { ...incoming.metadata };
    if (incoming.optional !== undefined) next.optional = incoming.optional;
    twins[name] = next;
    changed[name] = next;
  }
  return { twins, changed };
}

/** Sets the cloud's desired value of one property (a cloud version bump when it changes). */
export function applyDesired(
  current: MsgTwin | undefined,
  desired: string | undefined,
  type: string,
  now: number,
): MsgTwin {
  const next: MsgTwin = { ...current, metadata: { type } };
  if (desired === undefined || current?.expected?.value === desired) return next;
  next.expected = { value: desired, metadata: { timestamp: now } };
  const version = current?.expected_version ?? { cloud: 0, edge: 0 };
  next.expected_version = { cloud: version.cloud + 1, edge: version.edge };
  return next;
}

/** Properties whose expected value differs from the actual one, with the expected value. */
export function deltaOf(twins: Twins): Record<string, string> {
  const delta: Record<string, string> = {};
  for (const [name, twin] of Object.entries(twins)) {
    const expected = twin.expected?.value;
    if (typeof expected === 'string' && expected !== twin.actual?.value) delta[name] = expected;
  }
  return delta;
}
