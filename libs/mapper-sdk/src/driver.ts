/** A device's protocol settings and one property's visitor settings, as in a v1beta1 Device. */
export interface DeviceDriver<
  ProtocolConfig = Record<string, unknown>,
  VisitorConfig = Record<string, unknown>,
> {
  /** Connects to the device (or checks it can); throws a coded error when it cannot. */
  init(protocol: ProtocolConfig, options?: { signal?: AbortSignal }): Promise<void>;
  /** Reads one property; the value as KubeEdge twins carry it: a string ("23", "true", "1.5"). */
  readProperty(
    visitor: VisitorConfig,
    property: { name: string; type: PropertyType },
    options?: { signal?: AbortSignal },
  ): Promise<string>;
  /** Writes a desired value (a string in the property's type). */
  writeProperty(
    visitor: VisitorConfig,
    property: { name: string; type: PropertyType },
    value: string,
    options?: { signal?: AbortSignal },
  ): Promise<void>;
  /**
   * Optional: calls `onValue` whenever the device reports a new value of the property
   * (OPC UA monitored items, MQTT topics, ...), so the mapper can report a change at once
   * instead of at its next collect. Resolves, once the subscription is made, with a function
   * that ends it. Throws a coded error when the property cannot be subscribed; the mapper
   * then collects it on its timer and tries again at its next state check. The mapper
   * subscribes again (ending the old subscription first) when the device state returns to
   * `ok` after an outage, and ends every subscription before it stops the driver.
   */
  subscribe?(
    visitor: VisitorConfig,
    property: { name: string; type: PropertyType },
    onValue: (value: string) => void,
    options?: SubscribeOptions,
  ): Promise<() => Promise<void>>;
  /** The device's state as the mapper reports it. */
  deviceState(): Promise<DeviceState>;
  /** Closes connections and timers. */
  stop(): Promise<void>;
}
export type PropertyType = 'int' | 'float' | 'double' | 'boolean' | 'string' | 'bytes';
export type DeviceState = 'ok' | 'online' | 'offline' | 'disconnected' | 'unhealthy' | 'unknown';

/** How a driver's `subscribe` is asked to watch a property. */
export interface SubscribeOptions {
  /** How often the device should sample the value, in ms: the property's `collectCycle`. */
  samplingIntervalMs?: number;
  /** Aborted when the mapper stops the device while the subscription is being made. */
  signal?: AbortSignal;
}
