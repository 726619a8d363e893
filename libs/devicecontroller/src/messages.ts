import { randomUUID } from 'node:crypto';
import type { Device, DeviceModel, Twin, TwinProperty } from '@ke/apis';
import {
  buildCloudResource,
  cloudResourceNode,
  cloudToEdgeResource,
  createMessage,
  edgeToCloudResource,
  Group,
  type Message,
  ModuleName,
  Operation,
  ResourceType,
} from '@ke/beehive';
import { DeviceControllerError, DeviceControllerErrorCode } from './errors';

// ---------------------------------------------------------------------------------------------
// Cloud → edge (decision 0007)

/** The `resource` type segments of the objects sent down. */
export const DEVICE_TYPE = ResourceType.Device;
export const DEVICE_MODEL_TYPE = 'devicemodel';

/** One entry of `added_devices` / `removed_devices`: `id` is `<ns>/<name>`. */
export interface MembershipDevice {
  id: string;
  name: string;
}

/** The content of a `twin` `membership` update. */
export interface MembershipUpdate {
  event_id: string;
  timestamp: number;
  added_devices: MembershipDevice[];
  removed_devices: MembershipDevice[];
}

type DeviceObject = Device | DeviceModel;

/**
 * A `resource` message about a Device or DeviceModel for `node`:
 * `node/<node>/<ns>/<device|devicemodel>/<name>`, the object as content, its resourceVersion
 * in the header.
 */
export function objectMessage(
  node: string,
  type: typeof DEVICE_TYPE | typeof DEVICE_MODEL_TYPE,
  operation: string,
  object: DeviceObject,
): Message<DeviceObject> {
  const resourceVersion = object.metadata?.resourceVersion;
  return createMessage({
    source: ModuleName.DeviceController,
    group: Group.Resource,
    operation,
    resource: buildCloudResource({
      node,
      namespace: object.metadata?.namespace ?? 'default',
      type,
      name: object.metadata?.name ?? '',
    }),
    content: object,
    ...(resourceVersion ? { resourceVersion } : {}),
  });
}

/** The `twin` message `node/<node>/membership` (update) with the devices added and removed. */
export function membershipMessage(
  node: string,
  added: MembershipDevice[],
  removed: MembershipDevice[],
): Message<MembershipUpdate> {
  return createMessage({
    source: ModuleName.DeviceController,
    group: Group.Twin,
    operation: Operation.Update,
    resource: edgeToCloudResource(ResourceType.Membership, node),
    content: {
      event_id: randomUUID(),
      timestamp: Date.now(),
      added_devices: added,
      removed_devices: removed,
    },
  });
}

/** Throws (a BeehiveError) when `node` cannot name a node in a resource. */
export function checkNodeName(node: string): void {
  edgeToCloudResource(ResourceType.Membership, node);
}

// ---------------------------------------------------------------------------------------------
// Edge → cloud (decision 0007)

/** A value as the edge reports it: `{value, metadata: {timestamp}}`. */
interface ReportedValue {
  value: string;
  timestamp: string | undefined;
}

/** One property of a `twin/edge_updated` message, checked. */
export interface ReportedTwin {
  actual: ReportedValue | undefined;
  expected: ReportedValue | undefined;
  type: string | undefined;
}

/** An upstream device message, parsed and checked. */
export type UpstreamReport =
  | {
      kind: 'twin';
      namespace: string;
      name: string;
      /** By property name. */
      twins: Map<string, ReportedTwin>;
      /** The message's `timestamp` (ms), for values that carry none. */
      timestamp: string;
    }
  | {
      kind: 'state';
      namespace: string;
      name: string;
      state: string | undefined;
      lastOnlineTime: string | undefined;
    };

const unknownResource = (resource: string, why: string) =>
  new DeviceControllerError(
    DeviceControllerErrorCode.UnknownResource,
    `upstream resource ${JSON.stringify(resource)} ${why}; expected ` +
      'node/<node>/device/<ns>/<name>/twin/edge_updated or .../state/update',
  );

const malformed = (resource: string, why: string) =>
  new DeviceControllerError(
    DeviceControllerErrorCode.MalformedContent,
    `the content of ${resource} is malformed: ${why} (see docs/decisions/0007-device-messages.md)`,
  );

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Whether the resource is about a device at all (`node/<node>/device/...`). */
export function isDeviceResource(resource: string): boolean {
  return /^node\/[^/]+\/device\//.test(resource);
}

/**
 * Checks and parses an upstream message from `node` (resource in cloud form, as cloudhub emits
 * it). Throws a {@link DeviceControllerError}: `UnknownResource`, `WrongNode` (the resource
 * names another node) or `MalformedContent`.
 */
export function parseUpstream(node: string, message: Message): UpstreamReport {
  const resource = message.route?.resource;
  if (typeof resource !== 'string') throw unknownResource(String(resource), 'is not a string');
  let prefixNode: string;
  let rest: string;
  try {
    prefixNode = cloudResourceNode(resource);
    rest = cloudToEdgeResource(resource);
  } catch {
    throw unknownResource(resource, 'does not start with node/<node>/');
  }
  if (prefixNode !== node) {
    throw new DeviceControllerError(
      DeviceControllerErrorCode.WrongNode,
      `node ${node} sent ${resource}, which names node ${prefixNode}`,
    );
  }
  const segments = rest.split('/');
  const [type, namespace, name, what, operation] = segments;
  if (segments.length !== 5 || type !== DEVICE_TYPE || !namespace || !name) {
    throw unknownResource(resource, 'is not about a device');
  }
  const content = message.content;
  if (what === 'twin' && operation === 'edge_updated') {
    if (!isObject(content)) throw malformed(resource, 'it is not a JSON object');
    if (!isObject(content.twin)) throw malformed(resource, '`twin` is not an object');
    const twins = new Map<string, ReportedTwin>();
    for (const [property, entry] of Object.entries(content.twin)) {
      twins.set(property, reportedTwin(resource, property, entry));
    }
    return {
      kind: 'twin',
      namespace,
      name,
      twins,
      timestamp: timestampOf(content.timestamp) ?? String(Date.now()),
    };
  }
  if (what === 'state' && operation === 'update') {
    if (!isObject(content)) throw malformed(resource, 'it is not a JSON object');
    const device = content.device;
    if (!isObject(device)) throw malformed(resource, '`device` is not an object');
    const state = device.state;
    // KubeEdge's edgecore calls it `last_online`.
    const lastOnlineTime = device.lastOnlineTime ?? device.last_online;
    if (state !== undefined && typeof state !== 'string') {
      throw malformed(resource, '`device.state` is not a string');
    }
    if (lastOnlineTime !== undefined && typeof lastOnlineTime !== 'string') {
      throw malformed(resource, '`device.lastOnlineTime` is not an RFC 3339 string');
    }
    if (state === undefined && lastOnlineTime === undefined) {
      throw malformed(resource, '`device` has neither `state` nor `lastOnlineTime`');
    }
    return { kind: 'state', namespace, name, state, lastOnlineTime };
  }
  throw unknownResource(resource, `has an unknown operation ${what}/${operation}`);
}

function reportedTwin(resource: string, property: string, entry: unknown): ReportedTwin {
  if (!isObject(entry)) throw malformed(resource, `twin.${property} is not an object`);
  const type = isObject(entry.metadata) ? entry.metadata.type : undefined;
  if (entry.metadata !== undefined && entry.metadata !== null && !isObject(entry.metadata)) {
    throw malformed(resource, `twin.${property}.metadata is not an object`);
  }
  if (type !== undefined && typeof type !== 'string') {
    throw malformed(resource, `twin.${property}.metadata.type is not a string`);
  }
  return {
    actual: reportedValue(resource, `twin.${property}.actual`, entry.actual),
    expected: reportedValue(resource, `twin.${property}.expected`, entry.expected),
    type,
  };
}

function reportedValue(resource: string, path: string, value: unknown): ReportedValue | undefined {
  // KubeEdge's `*TwinValue` may be null: nothing reported.
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw malformed(resource, `${path} is not an object`);
  const raw = value.value;
  if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
    throw malformed(resource, `${path}.value is not a string`);
  }
  if (value.metadata !== undefined && value.metadata !== null && !isObject(value.metadata)) {
    throw malformed(resource, `${path}.metadata is not an object`);
  }
  const stamp = isObject(value.metadata) ? value.metadata.timestamp : undefined;
  const timestamp = timestampOf(stamp);
  if (stamp !== undefined && stamp !== null && timestamp === undefined) {
    throw malformed(resource, `${path}.metadata.timestamp is not milliseconds since the epoch`);
  }
  return { value: String(raw), timestamp };
}

function timestampOf(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(Math.trunc(value));
  if (typeof value === 'string' && /^\d+$/.test(value)) return value;
  return undefined;
}

/**
 * `status.twins` after a `twin/edge_updated` report: for each property the Device declares,
 * `reported` from `actual` and `observedDesired` from `expected` (a side not reported keeps its
 * value); other entries stay as they are. Undeclared properties are returned in `ignored`.
 */
export function mergeTwins(
  device: Device,
  report: Extract<UpstreamReport, { kind: 'twin' }>,
): { twins: Twin[]; ignored: string[] } {
  const declared = new Set(
    (device.spec?.properties ?? []).map((p) => p.name).filter((n): n is string => !!n),
  );
  const twins = (device.status?.twins ?? []).map((twin) => ({ ...twin }));
  const ignored: string[] = [];
  for (const [property, reported] of report.twins) {
    if (!declared.has(property)) {
      ignored.push(property);
      continue;
    }
    let twin = twins.find((t) => t.propertyName === property);
    if (!twin) {
      twin = { propertyName: property };
      twins.push(twin);
    }
    const toProperty = (value: ReportedValue): TwinProperty => ({
      value: value.value,
      metadata: {
        timestamp: value.timestamp ?? report.timestamp,
        ...(reported.type === undefined ? {} : { type: reported.type }),
      },
    });
    if (reported.actual) twin.reported = toProperty(reported.actual);
    if (reported.expected) twin.observedDesired = toProperty(reported.expected);
  }
  return { twins, ignored };
}
