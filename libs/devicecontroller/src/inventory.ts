import type { Device, DeviceModel } from '@ke/apis';

/** An object handed to `dispatch` for a node, and what of it matters to the edge. */
export interface SentObject<T> {
  /** The last state sent (for the delete message's content). */
  readonly object: T;
  /**
   * uid, labels, annotations and spec: a change to anything else (status, resourceVersion)
   * is not sent. `undefined` when only known from an ObjectSync (sent before a restart).
   */
  readonly fingerprint: string | undefined;
}

/** What one node was sent: the controller's picture of the edge, diffed against the API's. */
export interface NodeInventory {
  /** By `<ns>/<name>`. */
  readonly devices: Map<string, SentObject<Device>>;
  /** By `<ns>/<name>`. */
  readonly models: Map<string, SentObject<DeviceModel>>;
  /** Devices a membership update announced (`<ns>/<name>`). */
  readonly members: Set<string>;
}

export function emptyInventory(): NodeInventory {
  return { devices: new Map(), models: new Map(), members: new Set() };
}

export function isEmpty(inventory: NodeInventory): boolean {
  return (
    inventory.devices.size === 0 && inventory.models.size === 0 && inventory.members.size === 0
  );
}

/** What the edge cares about in a Device or DeviceModel: not its status or resourceVersion. */
export function fingerprintOf(object: Device | DeviceModel): string {
  const metadata = object.metadata ?? {};
  return JSON.stringify([
    metadata.uid ?? '',
    metadata.labels ?? {},
    metadata.annotations ?? {},
    object.spec ?? {},
  ]);
}
