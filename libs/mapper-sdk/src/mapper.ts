import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { resolve } from 'node:path';
import {
  createDeviceManagerClient,
  createDeviceMapperServer,
  type Device,
  type DeviceManagerClient,
  type DeviceModel,
  DmiError,
  type DmiInput,
  type DmiServer,
  type MapperRegisterResponse,
  type PushMethod,
  type ReportDeviceStatusRequest,
} from '@ke/dmi';
import { type DeviceSnapshot, RunningDevice } from './device';
import type { DeviceDriver, DeviceState } from './driver';
import { codeOf, MapperError, messageOf } from './errors';
import { startRestApi, stopRestApi } from './http-api';
import { log, type MapperLogger } from './logger';
import { type PushedValue, Pusher } from './push';
import { backoff, Timers } from './timers';

/** The DMI API version the mapper registers with. */
export const MAPPER_API_VERSION = 'v1.0.0';

/**
 * `ProtocolConfig` and `VisitorConfig` are the driver's own config types (the Modbus driver's,
 * say), inferred from `createDriver`; the driver gets the Device's `configData` as edgecore
 * sent it and validates it.
 */
export interface MapperOptions<
  ProtocolConfig = Record<string, unknown>,
  VisitorConfig = Record<string, unknown>,
> {
  /** The mapper's name, as it registers with edgecore. */
  name: string;
  /** The mapper's version. Default `v1.0.0`. */
  version?: string;
  /** The DMI API version it registers with. Default `MAPPER_API_VERSION` (`v1.0.0`). */
  apiVersion?: string;
  /** The protocol it speaks (`modbus`, ...): edgecore sends it the devices of that protocol. */
  protocol: string;
  /** A fresh driver; called once per device, and again when the device is updated. */
  createDriver: () => DeviceDriver<ProtocolConfig, VisitorConfig>;
  /**
   * Standalone mode: the devices to run, instead of asking edgecore for them. They are adopted
   * at start as a registration response is; the mapper never calls edgecore (twins and states
   * are not reported, `registered` stays false). `deviceFromV1beta1`/`modelFromV1beta1` from
   * `@ke/dmi` make them from v1beta1 manifests; `loadMapperConfig` does for `dev_init.mode: configmap`.
   */
  devices?: StandaloneDevices;
  /** How it talks DMI; may be left out with `devices`. */
  dmi?: {
    /** edgecore's DMI socket, like `unix:///etc/kubeedge/dmi.sock`; required unless `devices` is given. */
    edgeEndpoint?: string;
    /** The mapper's own socket, where edgecore pushes device changes; optional with `devices` (none: no DMI server). */
    socketPath?: string;
    /** Deadline of each call to edgecore. Default 10,000. */
    timeoutMs?: number;
  };
  /** The REST API (`/api/v1/ping`, `/api/v1/device/...`); `false` or unset: none. */
  http?: { port: number; host?: string } | false;
  /** Where the mapper logs; default: nowhere. */
  logger?: MapperLogger;
  /** How often each device's driver is asked for its state, in ms. Default 10,000. */
  stateIntervalMs?: number;
  /** Back-off between registration attempts. Default 1,000 doubling to 30,000. */
  registerRetry?: { initialMs?: number; maxMs?: number };
  /** Back-off between attempts to connect a device's driver. Default 500 doubling to 30,000. */
  driverRetry?: { initialMs?: number; maxMs?: number };
  /** Deadline of one push (MQTT publish or HTTP POST), in ms. Default 5,000. */
  pushTimeoutMs?: number;
}

/** The devices and models a standalone mapper runs, as a MapperRegister response carries them. */
export interface StandaloneDevices {
  devices: Device[];
  models: DeviceModel[];
}

/** Counters of what the mapper sent (a standalone mapper sends no reports: those stay 0). */
export interface MapperStats {
  registrations: number;
  statusReports: number;
  statusReportFailures: number;
  stateReports: number;
  pushes: number;
  pushFailures: number;
}

/** Events a mapper emits; all optional to listen to. */
export interface MapperEvents {
  /** Registered with edgecore (again, after it was unreachable), with what it answered. */
  registered: [response: MapperRegisterResponse];
  /** A device's state changed (and was reported to edgecore, unless the mapper is standalone). */
  state: [device: { name: string; namespace: string; state: DeviceState }];
  /** A push failed (also logged and counted). */
  pushFailed: [error: MapperError];
}

export interface Mapper {
  /** The mapper's DMI socket (absolute); `undefined` for a standalone mapper without one. */
  readonly socketPath: string | undefined;
  /** True when it runs the devices of its `devices` option and never calls edgecore. */
  readonly standalone: boolean;
  /** The REST API's port once started (useful with port 0), else `undefined`. */
  readonly httpPort: number | undefined;
  /** True while registered with edgecore. */
  readonly registered: boolean;
  /**
   * Serves DMI (and REST), then registers with edgecore (retrying in the background); a
   * standalone mapper starts its `devices` instead.
   */
  start(): Promise<void>;
  /** Stops every timer, driver, server and client; safe to call more than once. */
  stop(): Promise<void>;
  /** The devices as the mapper runs them. */
  devices(): DeviceSnapshot[];
  /** Counters of reports and pushes. */
  stats(): MapperStats;
  on<E extends keyof MapperEvents>(event: E, listener: (...args: MapperEvents[E]) => void): this;
  off<E extends keyof MapperEvents>(event: E, listener: (...args: MapperEvents[E]) => void): this;
}

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

/**
 * A KubeEdge device mapper's runtime (mapper-framework's): serves DeviceMapperService, registers
 * with edgecore, runs one driver per device, and reports twins and states.
 */
export function createMapper<
  ProtocolConfig = Record<string, unknown>,
  VisitorConfig = Record<string, unknown>,
>(options: MapperOptions<ProtocolConfig, VisitorConfig>): Mapper {
  if (!options.name) {
    throw new MapperError('KE_MAPPER_INVALID_OPTIONS', 'createMapper needs a `name`');
  }
  if (!options.protocol) {
    throw new MapperError('KE_MAPPER_INVALID_OPTIONS', 'createMapper needs a `protocol`');
  }
  if (options.devices !== undefined) {
    checkStandaloneDevices(options.devices);
    if (options.dmi?.edgeEndpoint) {
      throw new MapperError(
        'KE_MAPPER_INVALID_OPTIONS',
        'createMapper takes `devices` (standalone) or `dmi.edgeEndpoint` (devices from edgecore), not both',
      );
    }
  } else if (!options.dmi?.socketPath || !options.dmi.edgeEndpoint) {
    throw new MapperError(
      'KE_MAPPER_INVALID_OPTIONS',
      'createMapper needs `dmi.edgeEndpoint` (edgecore’s socket) and `dmi.socketPath` (its own), or `devices` to run without edgecore',
    );
  }
  // The driver's config types are its own claim: at run time it gets plain objects either way.
  return new MapperRuntime(options as unknown as MapperOptions);
}

function checkStandaloneDevices(devices: StandaloneDevices): void {
  const invalid = (message: string): never => {
    throw new MapperError('KE_MAPPER_INVALID_OPTIONS', `createMapper: ${message}`);
  };
  if (!Array.isArray(devices?.devices) || !Array.isArray(devices.models)) {
    invalid('`devices` must be `{ devices: Device[], models: DeviceModel[] }`');
  }
  const models = new Set(devices.models.map((m) => keyOf(m.namespace, m.name)));
  const seen = new Set<string>();
  for (const device of devices.devices) {
    if (!device?.name || !device.spec)
      invalid('every device in `devices.devices` needs a name and a spec');
    const key = keyOf(device.namespace, device.name);
    if (seen.has(key)) invalid(`device ${key} is given twice`);
    seen.add(key);
    const model = device.spec!.deviceModelReference;
    if (!models.has(keyOf(device.namespace, model))) {
      invalid(
        `device ${key} refers to model ${keyOf(device.namespace, model)}, which is not in \`devices.models\``,
      );
    }
  }
}

class MapperRuntime extends EventEmitter implements Mapper {
  readonly socketPath: string | undefined;
  readonly standalone: boolean;
  httpPort: number | undefined;
  registered = false;

  private readonly logger: MapperLogger;
  private readonly timers = new Timers();
  private readonly models = new Map<string, DeviceModel>();
  private readonly running = new Map<string, RunningDevice>();
  /** Desired values written, by device: kept when a device restarts so each is written once. */
  private readonly desiredWritten = new Map<string, Map<string, string>>();
  /** Device changes run one at a time, so a restart never overlaps another. */
  private changes: Promise<void> = Promise.resolve();
  private readonly pusher: Pusher;
  private readonly counters: MapperStats = {
    registrations: 0,
    statusReports: 0,
    statusReportFailures: 0,
    stateReports: 0,
    pushes: 0,
    pushFailures: 0,
  };
  private dmiServer: DmiServer | undefined;
  private edge: DeviceManagerClient | undefined;
  private http: Server | undefined;
  private registering: Promise<void> | undefined;
  private started = false;
  private stopped = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: MapperOptions) {
    super();
    this.socketPath = options.dmi?.socketPath ? resolve(options.dmi.socketPath) : undefined;
    this.standalone = options.devices !== undefined;
    this.logger = options.logger ?? {};
    this.pusher = new Pusher(options.pushTimeoutMs ?? 5000);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const registerRetry = {
      initialMs: this.options.registerRetry?.initialMs ?? 1000,
      maxMs: this.options.registerRetry?.maxMs ?? 30_000,
    };
    if (!this.standalone) {
      this.edge = createDeviceManagerClient({
        endpoint: this.options.dmi!.edgeEndpoint!,
        timeoutMs: this.options.dmi!.timeoutMs,
        maxReconnectBackoffMs: Math.min(registerRetry.maxMs, 5000),
      });
    }
    if (this.socketPath) await this.serveDmi(this.socketPath);
    if (this.options.http) {
      const { server, port } = await startRestApi(
        {
          property: (namespace, name, property) => {
            const device = this.running.get(keyOf(namespace, name));
            if (!device) return undefined;
            return device.latest(property) ?? null;
          },
        },
        this.options.http.port,
        this.options.http.host ?? '127.0.0.1',
      );
      this.http = server;
      this.httpPort = port;
    }
    log(
      this.logger,
      'info',
      { socketPath: this.socketPath, httpPort: this.httpPort },
      'mapper serving',
    );
    if (this.options.devices) {
      const { devices, models } = this.options.devices;
      // The same path as a registration response: start() resolves with the devices running.
      await this.adopt({ deviceList: devices, modelList: models });
      log(
        this.logger,
        'info',
        { devices: devices.length, models: models.length },
        'running devices standalone',
      );
      return;
    }
    // The first attempt is awaited: when edgecore is there, start() resolves with its devices running.
    await this.register(registerRetry, true);
  }

  private async serveDmi(socketPath: string): Promise<void> {
    this.dmiServer = createDeviceMapperServer({
      socketPath,
      handlers: {
        registerDevice: async ({ device }) => {
          if (!device)
            throw new DmiError('KE_DMI_INVALID_ARGUMENT', 'RegisterDevice without a device');
          await this.upsert(device);
          return { deviceName: device.name, deviceNamespace: device.namespace };
        },
        updateDevice: async ({ device }) => {
          if (!device)
            throw new DmiError('KE_DMI_INVALID_ARGUMENT', 'UpdateDevice without a device');
          await this.upsert(device);
        },
        removeDevice: async ({ deviceName, deviceNamespace }) => {
          await this.remove(keyOf(deviceNamespace, deviceName));
        },
        createDeviceModel: async ({ model }) => {
          if (!model)
            throw new DmiError('KE_DMI_INVALID_ARGUMENT', 'CreateDeviceModel without a model');
          this.models.set(keyOf(model.namespace, model.name), model);
          return { deviceModelName: model.name, deviceModelNamespace: model.namespace };
        },
        updateDeviceModel: async ({ model }) => {
          if (!model)
            throw new DmiError('KE_DMI_INVALID_ARGUMENT', 'UpdateDeviceModel without a model');
          this.models.set(keyOf(model.namespace, model.name), model);
        },
        removeDeviceModel: async ({ modelName, modelNamespace }) => {
          this.models.delete(keyOf(modelNamespace, modelName));
        },
        getDevice: async ({ deviceName, deviceNamespace }) => {
          const device = this.running.get(keyOf(deviceNamespace, deviceName));
          if (!device) {
            throw new DmiError(
              'KE_DMI_NOT_FOUND',
              `no device ${deviceNamespace}/${deviceName} on mapper ${this.options.name}`,
            );
          }
          return { device: this.withStatus(device) };
        },
      },
    });
    await this.dmiServer.start();
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    this.timers.clear();
    await this.registering?.catch(() => undefined);
    await this.changes.catch(() => undefined);
    const devices = [...this.running.values()];
    this.running.clear();
    await Promise.all(devices.map((device) => device.stop()));
    await this.pusher.close();
    if (this.http) await stopRestApi(this.http);
    this.http = undefined;
    await this.dmiServer?.stop();
    this.edge?.close();
    this.registered = false;
    log(this.logger, 'info', {}, 'mapper stopped');
  }

  devices(): DeviceSnapshot[] {
    return [...this.running.values()].map((device) => device.snapshot());
  }

  stats(): MapperStats {
    return { ...this.counters };
  }

  /** Registers, retrying with back-off in the background until it succeeds or the mapper stops. */
  private register(
    retry: { initialMs: number; maxMs: number } = {
      initialMs: this.options.registerRetry?.initialMs ?? 1000,
      maxMs: this.options.registerRetry?.maxMs ?? 30_000,
    },
    awaitFirstAttempt = false,
  ): Promise<void> {
    if (this.registering || this.stopped) return Promise.resolve();
    let firstAttempt!: () => void;
    const firstAttemptDone = new Promise<void>((r) => {
      firstAttempt = r;
    });
    this.registering = (async () => {
      const nextDelay = backoff(retry.initialMs, retry.maxMs);
      // Bounded by stop(): it sets `stopped` and cuts the sleep short.
      while (!this.stopped) {
        try {
          const response = await this.edge!.mapperRegister({
            withData: true,
            mapper: {
              name: this.options.name,
              version: this.options.version ?? 'v1.0.0',
              apiVersion: this.options.apiVersion ?? MAPPER_API_VERSION,
              protocol: this.options.protocol,
              address: this.socketPath,
              state: 'ok',
            },
          });
          if (this.stopped) break;
          this.counters.registrations++;
          this.registered = true;
          log(
            this.logger,
            'info',
            { devices: response.deviceList.length, models: response.modelList.length },
            'registered with edgecore',
          );
          await this.adopt(response);
          this.emit('registered', response);
          break;
        } catch (error) {
          firstAttempt();
          if (this.stopped) break;
          const delay = nextDelay();
          log(
            this.logger,
            'warn',
            { error: messageOf(error), code: codeOf(error), retryInMs: delay },
            'could not register with edgecore',
          );
          await this.timers.sleep(delay);
        }
      }
    })().finally(() => {
      firstAttempt();
      this.registering = undefined;
    });
    return awaitFirstAttempt ? firstAttemptDone : Promise.resolve();
  }

  /** What edgecore answered becomes the device set: new and changed devices (re)start, others stop. */
  private async adopt(response: MapperRegisterResponse): Promise<void> {
    for (const model of response.modelList) {
      this.models.set(keyOf(model.namespace, model.name), model);
    }
    const wanted = new Set(response.deviceList.map((d) => keyOf(d.namespace, d.name)));
    for (const key of [...this.running.keys()]) {
      if (!wanted.has(key)) await this.remove(key);
    }
    for (const device of response.deviceList) {
      const current = this.running.get(keyOf(device.namespace, device.name));
      if (current && sameSpec(current.device, device)) continue;
      await this.upsert(device);
    }
  }

  private enqueue(change: () => Promise<void>): Promise<void> {
    const next = this.changes.then(change, change);
    this.changes = next.catch(() => undefined);
    return next;
  }

  private upsert(device: Device): Promise<void> {
    return this.enqueue(async () => {
      if (this.stopped) return;
      const key = keyOf(device.namespace, device.name);
      const previous = this.running.get(key);
      if (previous) await previous.stop();
      const modelName = device.spec?.deviceModelReference ?? '';
      const model =
        this.models.get(keyOf(device.namespace, modelName)) ??
        [...this.models.values()].find((m) => m.name === modelName);
      let desiredWritten = this.desiredWritten.get(key);
      if (!desiredWritten) {
        desiredWritten = new Map();
        this.desiredWritten.set(key, desiredWritten);
      }
      const running = new RunningDevice(device, model, {
        createDriver: this.options.createDriver,
        logger: this.logger,
        stateIntervalMs: this.options.stateIntervalMs ?? 10_000,
        driverRetry: {
          initialMs: this.options.driverRetry?.initialMs ?? 500,
          maxMs: this.options.driverRetry?.maxMs ?? 30_000,
        },
        desiredWritten,
        reportStatus: (request) => this.reportStatus(request),
        reportState: (d, state) => this.reportState(d, state),
        push: (pushMethod, data) => this.push(pushMethod, data),
      });
      this.running.set(key, running);
      running.start();
      log(this.logger, 'info', { device: key, restarted: Boolean(previous) }, 'device added');
    });
  }

  private remove(key: string): Promise<void> {
    return this.enqueue(async () => {
      const device = this.running.get(key);
      this.running.delete(key);
      this.desiredWritten.delete(key);
      if (device) {
        await device.stop();
        log(this.logger, 'info', { device: key }, 'device removed');
      }
    });
  }

  private withStatus(device: RunningDevice): Device {
    const snapshot = device.snapshot();
    return {
      ...device.device,
      status: {
        reportToCloud: device.device.status?.reportToCloud ?? false,
        reportCycle: device.device.status?.reportCycle ?? '0',
        twins: snapshot.properties.map((p) => ({
          propertyName: p.name,
          reported: p.latest
            ? {
                value: p.latest.value,
                metadata: { timestamp: String(p.latest.timestamp), type: p.latest.type },
              }
            : null,
          observedDesired:
            p.desiredWritten === undefined
              ? null
              : { value: p.desiredWritten, metadata: { type: p.type } },
        })),
      },
    };
  }

  /** A call to edgecore failed: if it is gone, register again once it is back. */
  private edgeFailed(error: unknown, what: string): void {
    log(this.logger, 'warn', { error: messageOf(error), code: codeOf(error) }, `${what} failed`);
    if (codeOf(error) === 'KE_DMI_UNAVAILABLE' && this.registered && !this.stopped) {
      this.registered = false;
      log(this.logger, 'warn', {}, 'edgecore is unreachable; registering again');
      void this.register();
    }
  }

  private async reportStatus(request: DmiInput<ReportDeviceStatusRequest>): Promise<void> {
    // Standalone, there is no edgecore to report to: never registered, nothing sent or counted.
    if (!this.registered || this.stopped) return;
    try {
      await this.edge!.reportDeviceStatus(request);
      this.counters.statusReports++;
    } catch (error) {
      this.counters.statusReportFailures++;
      this.edgeFailed(error, 'ReportDeviceStatus');
    }
  }

  private async reportState(device: Device, state: DeviceState): Promise<void> {
    if (this.stopped) throw new Error('mapper stopped');
    if (this.standalone) {
      // Nobody to report to; the change is still an event (not counted: nothing was sent).
      this.emit('state', { name: device.name, namespace: device.namespace, state });
      return;
    }
    if (!this.registered) throw new Error('not registered with edgecore');
    try {
      await this.edge!.reportDeviceStates({
        deviceName: device.name,
        deviceNamespace: device.namespace,
        state,
      });
      this.counters.stateReports++;
      this.emit('state', { name: device.name, namespace: device.namespace, state });
    } catch (error) {
      this.edgeFailed(error, 'ReportDeviceStates');
      throw error;
    }
  }

  private async push(pushMethod: PushMethod, data: PushedValue): Promise<void> {
    try {
      await this.pusher.push(pushMethod, data);
      this.counters.pushes++;
    } catch (error) {
      this.counters.pushFailures++;
      const failure =
        error instanceof MapperError
          ? error
          : new MapperError('KE_MAPPER_PUSH_FAILED', messageOf(error), { cause: error });
      log(this.logger, 'warn', { code: failure.code }, failure.message);
      this.emit('pushFailed', failure);
    }
  }
}

function sameSpec(a: Device, b: Device): boolean {
  return JSON.stringify(a.spec) === JSON.stringify(b.spec);
}
