import { ApiError, badRequest } from '../errors';

/**
 * Reads the Kubernetes protobuf encoding (`application/vnd.kubernetes.protobuf`) of the few kinds
 * kubectl's generators send that way: `kubectl create namespace|configmap|secret|serviceaccount|service`
 * encode their object with client-go's typed clients, which always send protobuf for built-in
 * kinds and never fall back to JSON. Every other kind, and any field not listed here, is refused
 * with 415 so that nothing is silently dropped; such objects can be sent as JSON
 * (`kubectl create -f`, `kubectl apply -f`).
 *
 * The envelope is the magic `k8s\0` and a `runtime.Unknown` { typeMeta = 1 { apiVersion = 1,
 * kind = 2 }, raw = 2, contentEncoding = 3, contentType = 4 }; `raw` is the object's message as in
 * the `generated.proto` files of k8s.io/api and k8s.io/apimachinery.
 */

export const PROTOBUF_TYPE = 'application/vnd.kubernetes.protobuf';

type Scalar = 'string' | 'bytes' | 'int' | 'bool' | 'time' | 'intOrString';
interface MessageType {
  readonly name: string;
  readonly fields: Readonly<Record<number, Field>>;
}
interface Field {
  readonly name: string;
  readonly type: Scalar | MessageType | { readonly map: 'string' | 'bytes' };
  readonly repeated?: boolean;
}

const message = (name: string, fields: Record<number, Field>): MessageType => ({ name, fields });
const f = (name: string, type: Field['type'], repeated = false): Field => ({
  name,
  type,
  repeated,
});

// k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto
const OwnerReference = message('OwnerReference', {
  1: f('kind', 'string'),
  3: f('name', 'string'),
  4: f('uid', 'string'),
  5: f('apiVersion', 'string'),
  6: f('controller', 'bool'),
  7: f('blockOwnerDeletion', 'bool'),
});
const ObjectMeta = message('ObjectMeta', {
  1: f('name', 'string'),
  2: f('generateName', 'string'),
  3: f('namespace', 'string'),
  4: f('selfLink', 'string'),
  5: f('uid', 'string'),
  6: f('resourceVersion', 'string'),
  7: f('generation', 'int'),
  8: f('creationTimestamp', 'time'),
  9: f('deletionTimestamp', 'time'),
  10: f('deletionGracePeriodSeconds', 'int'),
  11: f('labels', { map: 'string' }),
  12: f('annotations', { map: 'string' }),
  13: f('ownerReferences', OwnerReference, true),
  14: f('finalizers', 'string', true),
});

// k8s.io/api/core/v1/generated.proto
const ObjectReference = message('ObjectReference', {
  1: f('kind', 'string'),
  2: f('namespace', 'string'),
  3: f('name', 'string'),
  4: f('uid', 'string'),
  5: f('apiVersion', 'string'),
  6: f('resourceVersion', 'string'),
  7: f('fieldPath', 'string'),
});
const ServicePort = message('ServicePort', {
  1: f('name', 'string'),
  2: f('protocol', 'string'),
  3: f('port', 'int'),
  4: f('targetPort', 'intOrString'),
  5: f('nodePort', 'int'),
  6: f('appProtocol', 'string'),
});
const ServiceSpec = message('ServiceSpec', {
  1: f('ports', ServicePort, true),
  2: f('selector', { map: 'string' }),
  3: f('clusterIP', 'string'),
  4: f('type', 'string'),
  5: f('externalIPs', 'string', true),
  7: f('sessionAffinity', 'string'),
  8: f('loadBalancerIP', 'string'),
  9: f('loadBalancerSourceRanges', 'string', true),
  10: f('externalName', 'string'),
  11: f('externalTrafficPolicy', 'string'),
  12: f('healthCheckNodePort', 'int'),
  13: f('publishNotReadyAddresses', 'bool'),
  14: f(
    'sessionAffinityConfig',
    message('SessionAffinityConfig', {
      1: f('clientIP', message('ClientIPConfig', { 1: f('timeoutSeconds', 'int') })),
    }),
  ),
  17: f('ipFamilyPolicy', 'string'),
  18: f('clusterIPs', 'string', true),
  19: f('ipFamilies', 'string', true),
  20: f('allocateLoadBalancerNodePorts', 'bool'),
  21: f('loadBalancerClass', 'string'),
  22: f('internalTrafficPolicy', 'string'),
});
// A new Service carries an empty status; load balancer ingress is read for completeness.
const ServiceStatus = message('ServiceStatus', {
  1: f(
    'loadBalancer',
    message('LoadBalancerStatus', {
      1: f(
        'ingress',
        message('LoadBalancerIngress', { 1: f('ip', 'string'), 2: f('hostname', 'string') }),
        true,
      ),
    }),
  ),
});

const KINDS: Readonly<Record<string, MessageType>> = {
  'v1/Namespace': message('Namespace', {
    1: f('metadata', ObjectMeta),
    2: f('spec', message('NamespaceSpec', { 1: f('finalizers', 'string', true) })),
    3: f('status', message('NamespaceStatus', { 1: f('phase', 'string') })),
  }),
  'v1/ConfigMap': message('ConfigMap', {
    1: f('metadata', ObjectMeta),
    2: f('data', { map: 'string' }),
    3: f('binaryData', { map: 'bytes' }),
    4: f('immutable', 'bool'),
  }),
  'v1/Secret': message('Secret', {
    1: f('metadata', ObjectMeta),
    2: f('data', { map: 'bytes' }),
    3: f('type', 'string'),
    4: f('stringData', { map: 'string' }),
    5: f('immutable', 'bool'),
  }),
  'v1/ServiceAccount': message('ServiceAccount', {
    1: f('metadata', ObjectMeta),
    2: f('secrets', ObjectReference, true),
    3: f('imagePullSecrets', message('LocalObjectReference', { 1: f('name', 'string') }), true),
    4: f('automountServiceAccountToken', 'bool'),
  }),
  'v1/Service': message('Service', {
    1: f('metadata', ObjectMeta),
    2: f('spec', ServiceSpec),
    3: f('status', ServiceStatus),
  }),
};

const MAGIC = Buffer.from('k8s\0', 'latin1');

const unsupported = (detail: string) =>
  new ApiError(
    'UnsupportedMediaType',
    `${detail}: this server reads protobuf only for ${Object.keys(KINDS).join(', ')}; send the object as JSON (e.g. kubectl create -f or kubectl apply -f)`,
  );

/** One field of the wire format: its number and its value (a number or the bytes). */
type WireValue = { readonly number: number } & (
  | { readonly wire: 'varint'; readonly value: bigint }
  | { readonly wire: 'bytes'; readonly value: Buffer }
);

function* wireFields(buffer: Buffer): Generator<WireValue> {
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (offset >= buffer.length) throw badRequest('truncated protobuf message');
      const byte = buffer[offset++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw badRequest('malformed protobuf varint');
    }
  };
  while (offset < buffer.length) {
    const tag = varint();
    const number = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) yield { number, wire: 'varint', value: varint() };
    else if (wire === 2) {
      const length = Number(varint());
      if (offset + length > buffer.length) throw badRequest('truncated protobuf message');
      yield { number, wire: 'bytes', value: buffer.subarray(offset, offset + length) };
      offset += length;
    } else {
      // The Kubernetes types use only varints and length-delimited fields.
      throw badRequest(`unexpected protobuf wire type ${wire} for field ${number}`);
    }
  }
}

/** Signed 64-bit two's complement, as int64/int32 varints carry negative numbers. */
const toNumber = (value: bigint) => Number(BigInt.asIntN(64, value));

function rfc3339(time: Buffer): string | undefined {
  let seconds = 0;
  for (const field of wireFields(time)) {
    if (field.number === 1 && field.wire === 'varint') seconds = toNumber(field.value);
  }
  // A zero Time is how Go encodes "unset" (JSON null).
  if (seconds === 0) return undefined;
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}Z`;
}

/** `IntOrString { type = 1 (0 int, 1 string); intVal = 2; strVal = 3 }` as its JSON: a number or a string. */
function intOrString(buffer: Buffer): number | string | undefined {
  let type = 0;
  let intVal = 0;
  let strVal = '';
  for (const field of wireFields(buffer)) {
    if (field.number === 1 && field.wire === 'varint') type = toNumber(field.value);
    else if (field.number === 2 && field.wire === 'varint') intVal = toNumber(field.value);
    else if (field.number === 3 && field.wire === 'bytes') strVal = field.value.toString('utf8');
  }
  return type === 1 ? strVal || undefined : intVal || undefined;
}

function mapEntry(entry: Buffer, valueType: 'string' | 'bytes'): [string, string] {
  let key = '';
  let value = '';
  for (const field of wireFields(entry)) {
    if (field.wire !== 'bytes') continue;
    if (field.number === 1) key = field.value.toString('utf8');
    else if (field.number === 2) {
      value = valueType === 'bytes' ? field.value.toString('base64') : field.value.toString('utf8');
    }
  }
  return [key, value];
}

/**
 * Decodes `buffer` as `type` into the object its JSON form would be. Zero values of scalar
 * fields are left out, as Go's `omitempty` leaves them out of JSON; map values are kept.
 */
function decodeMessage(buffer: Buffer, type: MessageType): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of wireFields(buffer)) {
    const spec = type.fields[field.number];
    if (!spec) throw unsupported(`field ${field.number} of ${type.name} is not supported`);
    const kind = spec.type;
    let value: unknown;
    if (typeof kind === 'object' && 'map' in kind) {
      if (field.wire !== 'bytes') throw badRequest(`${type.name}.${spec.name} must be a map`);
      const [key, entry] = mapEntry(field.value, kind.map);
      const map = (out[spec.name] ?? {}) as Record<string, string>;
      map[key] = entry;
      out[spec.name] = map;
      continue;
    }
    if (typeof kind === 'object') {
      if (field.wire !== 'bytes') throw badRequest(`${type.name}.${spec.name} must be a message`);
      value = decodeMessage(field.value, kind);
    } else if (field.wire === 'varint') {
      if (kind === 'int') value = toNumber(field.value);
      else if (kind === 'bool') value = field.value !== 0n;
      else throw badRequest(`${type.name}.${spec.name} must not be a number`);
    } else if (kind === 'string') value = field.value.toString('utf8');
    else if (kind === 'bytes') value = field.value.toString('base64');
    else if (kind === 'time') value = rfc3339(field.value);
    else if (kind === 'intOrString') value = intOrString(field.value);
    else throw badRequest(`${type.name}.${spec.name} must be a number`);
    if (spec.repeated) {
      out[spec.name] = [...((out[spec.name] as unknown[] | undefined) ?? []), value];
    } else if (value !== undefined && value !== '' && value !== 0 && value !== false) {
      out[spec.name] = value;
    }
  }
  return out;
}

/**
 * Decodes a request body sent as `application/vnd.kubernetes.protobuf` into the JSON object it
 * stands for. Refuses (415) kinds and fields it does not know.
 */
export function decodeProtobufObject(body: Buffer): Record<string, unknown> {
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw badRequest('the protobuf request body does not start with the Kubernetes magic "k8s\\0"');
  }
  let apiVersion = '';
  let kind = '';
  let raw: Buffer | undefined;
  for (const field of wireFields(body.subarray(MAGIC.length))) {
    if (field.wire !== 'bytes') continue;
    if (field.number === 1) {
      for (const meta of wireFields(field.value)) {
        if (meta.wire !== 'bytes') continue;
        if (meta.number === 1) apiVersion = meta.value.toString('utf8');
        if (meta.number === 2) kind = meta.value.toString('utf8');
      }
    } else if (field.number === 2) raw = field.value;
    else if (field.number === 3 && field.value.length > 0) {
      throw unsupported(`content encoding ${field.value.toString('utf8')} is not supported`);
    }
  }
  const type = KINDS[`${apiVersion}/${kind}`];
  if (!type) throw unsupported(`${kind || 'an object'} (${apiVersion || 'no apiVersion'})`);
  return { apiVersion, kind, ...decodeMessage(raw ?? Buffer.alloc(0), type) };
}
