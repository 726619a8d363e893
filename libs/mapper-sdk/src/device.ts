import {
  type Device,
  type DeviceModel,
  type DeviceProperty,
  type DmiInput,
  type PushMethod,
  type ReportDeviceStatusRequest,
  unpackConfigData,
} from '@ke/dmi';
import type { DeviceDriver, DeviceState, PropertyType } from './driver';
import { MapperError, messageOf } from './errors';
import { log, type MapperLogger } from './logger';
import type { PushedValue } from './push';
import { backoff, Timers } from './timers';

/** The latest value read from a property. */
export interface PropertyValue {
  value: string;
  /** When it was read, in milliseconds since the epoch. */
  timestamp: number;
  type: PropertyType;
}

/** A property as the mapper runs it. */
export interface PropertySnapshot {
  name: string;
  type: PropertyType;
  collectCycleMs: number;
  reportCycleMs: number;
  reportToCloud: boolean;
  /** The latest value read, if any. */
  latest: PropertyValue | undefined;
  /** The last desired value written to the device, if any. */
  desiredWritten: string | undefined;
}

/** A device as the mapper runs it. */
export interface DeviceSnapshot {
  name: string;
  namespace: string;
  /** The name of its DeviceModel. */
  model: string;
  /** The state last seen from its driver (`disconnected` while its driver cannot connect). */
  state: DeviceState | undefined;
  properties: PropertySnapshot[];
}

/** What a running device needs from the mapper. */
export interface DeviceContext {
  createDriver(): DeviceDriver;
  logger: MapperLogger;
  stateIntervalMs: number;
  driverRetry: { initialMs: number; maxMs: number };
  /** The desired values written so far, by property; kept across restarts of the device. */
  desiredWritten: Map<string, string>;
  reportStatus(request: DmiInput<ReportDeviceStatusRequest>): Promise<void>;
  reportState(device: Device, state: DeviceState): Promise<void>;
  push(pushMethod: PushMethod, data: PushedValue): Promise<void>;
}

const PROPERTY_TYPES: readonly string[] = ['int', 'float', 'double', 'boolean', 'string', 'bytes'];
const DEFAULT_COLLECT_CYCLE_MS = 1000;

interface RunningProperty {
  spec: DeviceProperty;
  type: PropertyType;
  visitor: Record<string, unknown>;
  collectCycleMs: number;
  reportCycleMs: number;
  latest: PropertyValue | undefined;
  reading: boolean;
  /** Ends the driver's subscription to this property; set while it is subscribed. */
  unsubscribe: (() => Promise<void>) | undefined;
  subscribing: boolean;
  /** The value last sent to edgecore or pushed, so that a subscription reports only changes. */
  reportedValue: string | undefined;
  /** When the property was last reported (ms since the epoch; 0: never). */
  reportedAt: number;
}

function cycle(value: string | number | undefined, fallback: number): number {
  const ms = Number(value);
  return Number.isFinite(ms) && ms > 0 ? ms : fallback;
}

/** One device: its driver, its collect and report timers, its state checks. */
export class RunningDevice {
  readonly name: string;
  readonly namespace: string;
  private readonly properties = new Map<string, RunningProperty>();
  private readonly timers = new Timers();
  private readonly abort = new AbortController();
  private driver: DeviceDriver | undefined;
  private state: DeviceState | undefined;
  private reportedState: DeviceState | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    readonly device: Device,
    model: DeviceModel | undefined,
    private readonly context: DeviceContext,
  ) {
    this.name = device.name;
    this.namespace = device.namespace;
    const modelTypes = new Map(
      (model?.spec?.properties ?? []).map((p) => [p.name, p.type.toLowerCase()]),
    );
    for (const spec of device.spec?.properties ?? []) {
      const modelType = modelTypes.get(spec.name) ?? 'string';
      const type = (PROPERTY_TYPES.includes(modelType) ? modelType : 'string') as PropertyType;
      const collectCycleMs = cycle(spec.collectCycle, DEFAULT_COLLECT_CYCLE_MS);
      this.properties.set(spec.name, {
        spec,
        type,
        visitor: unpackConfigData(spec.visitors?.configData),
        collectCycleMs,
        reportCycleMs: cycle(spec.reportCycle, collectCycleMs),
        latest: undefined,
        reading: false,
        unsubscribe: undefined,
        subscribing: false,
        reportedValue: undefined,
        reportedAt: 0,
      });
    }
  }

  /** Connects (retrying with back-off until stopped) and starts the timers; does not wait. */
  start(): void {
    this.running ??= this.run().catch((error) => {
      log(this.context.logger, 'error', this.fields({ error: messageOf(error) }), 'device failed');
    });
  }

  /** Stops the timers and the driver; safe to call more than once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.timers.clear();
    await this.running;
    await this.unsubscribeAll();
    const driver = this.driver;
    this.driver = undefined;
    if (driver) {
      await driver.stop().catch((error) => {
        log(
          this.context.logger,
          'warn',
          this.fields({ error: messageOf(error) }),
          'driver stop failed',
        );
      });
    }
  }

  /** The latest value of a property, if one was read. */
  latest(property: string): PropertyValue | undefined {
    return this.properties.get(property)?.latest;
  }

  hasProperty(property: string): boolean {
    return this.properties.has(property);
  }

  snapshot(): DeviceSnapshot {
    return {
      name: this.name,
      namespace: this.namespace,
      model: this.device.spec?.deviceModelReference ?? '',
      state: this.state,
      properties: [...this.properties.values()].map((p) => ({
        name: p.spec.name,
        type: p.type,
        collectCycleMs: p.collectCycleMs,
        reportCycleMs: p.reportCycleMs,
        reportToCloud: p.spec.reportToCloud,
        latest: p.latest && { ...p.latest },
        desiredWritten: this.context.desiredWritten.get(p.spec.name),
      })),
    };
  }

  private fields(extra: object = {}): object {
    return { device: `${this.namespace}/${this.name}`, ...extra };
  }

  private async run(): Promise<void> {
    const protocol = unpackConfigData(this.device.spec?.protocol?.configData);
    const nextDelay = backoff(this.context.driverRetry.initialMs, this.context.driverRetry.maxMs);
    // Bounded by stop(): every pass checks `stopped`, and stop() cuts the sleep short.
    while (!this.stopped) {
      const driver = this.context.createDriver();
      try {
        await driver.init(protocol, { signal: this.abort.signal });
        this.driver = driver;
        break;
      } catch (error) {
        await driver.stop().catch(() => undefined);
        if (this.stopped) return;
        const delay = nextDelay();
        log(
          this.context.logger,
          'warn',
          this.fields({ error: messageOf(error), retryInMs: delay }),
          'driver could not connect',
        );
        await this.setState('disconnected');
        await this.timers.sleep(delay);
      }
    }
    if (this.stopped) return;
    log(this.context.logger, 'info', this.fields(), 'device connected');
    await this.checkState();
    await this.writeDesired();
    if (this.stopped) return;
    for (const property of this.properties.values()) {
      this.timers.every(property.collectCycleMs, () => void this.collect(property));
      if (property.spec.reportToCloud || hasPush(property.spec.pushMethod)) {
        this.timers.every(property.reportCycleMs, () => {
          if (!this.reportsAfterReads(property)) void this.report(property);
        });
      }
      void this.collect(property);
    }
    this.timers.every(this.context.stateIntervalMs, () => void this.checkState());
    await this.subscribeAll(false);
  }

  /**
   * Subscribes every property not subscribed yet (all of them again when `renew`) with a
   * driver that can. A subscribed property is not read on its collect timer: the driver
   * pushes its changes, and each change is reported at once. A property whose subscription
   * fails is collected on its timer, and subscribed again at the next state check.
   */
  private async subscribeAll(renew: boolean): Promise<void> {
    if (!this.driver?.subscribe) return;
    await Promise.all([...this.properties.values()].map((p) => this.subscribe(p, renew)));
  }

  private async subscribe(property: RunningProperty, renew: boolean): Promise<void> {
    const driver = this.driver;
    if (!driver?.subscribe || this.stopped || property.subscribing) return;
    if (property.unsubscribe && !renew) return;
    property.subscribing = true;
    const name = property.spec.name;
    try {
      const previous = property.unsubscribe;
      property.unsubscribe = undefined;
      await previous?.().catch(() => undefined);
      const unsubscribe = await driver.subscribe(
        property.visitor,
        { name, type: property.type },
        (value) => this.record(property, value, true),
        { samplingIntervalMs: property.collectCycleMs, signal: this.abort.signal },
      );
      if (this.stopped || this.driver !== driver) {
        await unsubscribe().catch(() => undefined);
        return;
      }
      property.unsubscribe = unsubscribe;
      log(this.context.logger, 'info', this.fields({ property: name }), 'property subscribed');
    } catch (error) {
      if (!this.stopped) {
        log(
          this.context.logger,
          'warn',
          this.fields({ property: name, error: messageOf(error) }),
          'subscribe failed; collecting on the timer until a later subscribe works',
        );
      }
    } finally {
      property.subscribing = false;
    }
  }

  private async unsubscribeAll(): Promise<void> {
    await Promise.all(
      [...this.properties.values()].map(async (property) => {
        const unsubscribe = property.unsubscribe;
        property.unsubscribe = undefined;
        await unsubscribe?.().catch((error) => {
          log(
            this.context.logger,
            'warn',
            this.fields({ property: property.spec.name, error: messageOf(error) }),
            'unsubscribe failed',
          );
        });
      }),
    );
  }

  /**
   * Keeps a value read or pushed. A pushed value that differs from the one last reported
   * (or the first one) is reported, and pushed, at once.
   */
  private record(property: RunningProperty, value: string, pushed: boolean): void {
    if (this.stopped) return;
    const text = String(value);
    property.latest = { value: text, timestamp: Date.now(), type: property.type };
    const reported = property.spec.reportToCloud || hasPush(property.spec.pushMethod);
    if (pushed && reported && property.reportedValue !== text) {
      void this.report(property).catch((error) => {
        log(
          this.context.logger,
          'warn',
          this.fields({ property: property.spec.name, error: messageOf(error) }),
          'report of a subscribed change failed',
        );
      });
    }
  }

  private async collect(property: RunningProperty): Promise<void> {
    const driver = this.driver;
    // A subscribed property is read once at start; after that the driver pushes its changes.
    if (!driver || this.stopped || property.reading) return;
    if (property.unsubscribe && property.latest) return;
    property.reading = true;
    let read = false;
    try {
      const value = await driver.readProperty(
        property.visitor,
        { name: property.spec.name, type: property.type },
        { signal: this.abort.signal },
      );
      this.record(property, value, false);
      read = true;
    } catch (error) {
      if (!this.stopped) {
        log(
          this.context.logger,
          'warn',
          this.fields({ property: property.spec.name, error: messageOf(error) }),
          'read failed',
        );
      }
    } finally {
      property.reading = false;
    }
    // A value fresh from the device goes out now rather than at a report tick that may come
    // just before the next read (which would make every report one collect cycle old).
    const due =
      Date.now() - property.reportedAt >= property.reportCycleMs - property.collectCycleMs / 2;
    if (read && due && this.reportsAfterReads(property)) await this.report(property);
  }

  /**
   * Whether the property is reported right after its reads (read on its own timer at least as
   * often as it is reported) rather than on its report timer (subscribed, or read less often).
   */
  private reportsAfterReads(property: RunningProperty): boolean {
    const reported = property.spec.reportToCloud || hasPush(property.spec.pushMethod);
    return reported && !property.unsubscribe && property.collectCycleMs <= property.reportCycleMs;
  }

  private async report(property: RunningProperty): Promise<void> {
    const latest = property.latest;
    if (!latest || this.stopped) return;
    property.reportedValue = latest.value;
    property.reportedAt = Date.now();
    const metadata = { timestamp: String(latest.timestamp), type: latest.type };
    const tasks: Promise<void>[] = [];
    if (property.spec.reportToCloud) {
      const desired = this.context.desiredWritten.get(property.spec.name);
      tasks.push(
        this.context.reportStatus({
          deviceName: this.name,
          deviceNamespace: this.namespace,
          reportedDevice: {
            twins: [
              {
                propertyName: property.spec.name,
                reported: { value: latest.value, metadata },
                observedDesired:
                  desired === undefined
                    ? null
                    : { value: desired, metadata: { type: latest.type } },
              },
            ],
            reportToCloud: true,
            reportCycle: property.reportCycleMs,
          },
        }),
      );
    }
    const pushMethod = property.spec.pushMethod;
    if (pushMethod && hasPush(pushMethod)) {
      tasks.push(
        this.context.push(pushMethod, {
          deviceName: this.name,
          deviceNamespace: this.namespace,
          propertyName: property.spec.name,
          value: latest.value,
          type: latest.type,
          timestamp: latest.timestamp,
        }),
      );
    }
    await Promise.all(tasks);
  }

  private async writeDesired(): Promise<void> {
    const twins = new Map((this.device.status?.twins ?? []).map((t) => [t.propertyName, t]));
    for (const property of this.properties.values()) {
      const name = property.spec.name;
      const desired = property.spec.desired?.value || twins.get(name)?.observedDesired?.value;
      if (!desired || this.context.desiredWritten.get(name) === desired) continue;
      const driver = this.driver;
      if (!driver || this.stopped) return;
      try {
        await driver.writeProperty(property.visitor, { name, type: property.type }, desired, {
          signal: this.abort.signal,
        });
        this.context.desiredWritten.set(name, desired);
        log(
          this.context.logger,
          'info',
          this.fields({ property: name, value: desired }),
          'desired value written',
        );
      } catch (error) {
        const failure = new MapperError(
          'KE_MAPPER_DRIVER_FAILED',
          `could not write ${desired} to ${this.namespace}/${this.name} ${name}: ${messageOf(error)}; it is written again when the device is next updated`,
          { cause: error },
        );
        log(
          this.context.logger,
          'warn',
          this.fields({ property: name, code: failure.code }),
          failure.message,
        );
      }
    }
  }

  private async checkState(): Promise<void> {
    const driver = this.driver;
    if (!driver || this.stopped) return;
    let state: DeviceState;
    try {
      state = await driver.deviceState();
    } catch (error) {
      log(
        this.context.logger,
        'warn',
        this.fields({ error: messageOf(error) }),
        'deviceState failed',
      );
      state = 'unknown';
    }
    const previous = this.state;
    await this.setState(state);
    if (state !== 'ok' || this.stopped) return;
    // Back after an outage: the driver may have lost its subscriptions with its connection.
    const recovered = previous !== undefined && previous !== 'ok';
    await this.subscribeAll(recovered);
  }

  private async setState(state: DeviceState): Promise<void> {
    this.state = state;
    if (this.reportedState === state || this.stopped) return;
    try {
      await this.context.reportState(this.device, state);
      this.reportedState = state;
    } catch {
      // Reported again on the next check.
    }
  }
}

function hasPush(pushMethod: PushMethod | null): pushMethod is PushMethod {
  return Boolean(pushMethod?.mqtt?.address || pushMethod?.http?.hostname);
}
