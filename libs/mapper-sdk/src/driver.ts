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
  /** The device's state as the mapper reports it. */
  deviceState(): Promise<DeviceState>;
  /** Closes connections and timers. */
  stop(): Promise<void>;
}
export type PropertyType = 'int' | 'float' | 'double' | 'boolean' | 'string' | 'bytes';
export type DeviceState = 'ok' | 'online' | 'offline' | 'disconnected' | 'unhealthy' | 'unknown';
