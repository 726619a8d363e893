import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  createMessage,
  createResponse,
  Group,
  isNewerResourceVersion,
  type Message,
  ModuleName,
  Operation,
  parseEdgeResource,
  type Router,
} from '@ke/beehive';
import {
  createDeviceManagerServer,
  createDeviceMapperClient,
  type DeviceMapperClient,
  DmiError,
  type DmiServer,
  deviceFromV1beta1,
  type MapperRegisterRequest,
  modelFromV1beta1,
  type ReportDeviceStatesRequest,
  type ReportDeviceStatusRequest,
} from '@ke/dmi';
import { DeviceTwinError, invalid } from './errors';
import { type MqttBus, type MqttOptions, startMqttBus } from './mqtt-bus';
import {
  type DeviceModelObject,
  type DeviceObject,
  type StoredDevice,
  type StoredModel,
  TwinStore,
} from './store';
import {
  applyDesired,
  applyEdgeUpdate,
  deltaOf,
  type MsgTwin,
  parseJson,
  parseTwinUpdate,
  type Twins,
} from './twin';

/** Device states a mapper or an app may report (mapper-framework's, plus KubeEdge's online/offline). */
export const DEVICE_STATES = [
  'ok',
  'online',
  'offline',
  'disconnected',
  'unhealthy',
  'unknown',
] as const;

export interface DeviceTwinLogger {
  debug?(fields: object, message: string): void;
  info?(fields: object, message: string): void;
  warn?(fields: object, message: string): void;
}

export interface DeviceTwinOptions {
  /** This edge node's name: devices are bound to it, and it names the membership topics. */
  nodeName: string;
  /** The SQLite file of devices, models and twins (may be the edge's main database file). */
  databasePath: string;
  /** The edge's beehive router: the twin registers as module `twin` (group `twin`). */
  router: Router;
  /** The module upstream messages go to. Default `edgehub`. */
  cloudModule?: string;
  /** The MQTT bus: `{ embedded: { host, port } }` (default 127.0.0.1:1883), `{ url }`, or `false`. */
  mqtt?: MqttOptions | false;
  /** The DMI socket mappers register on (KubeEdge: `/etc/kubeedge/dmi.sock`), or `false`. */
  dmi?: { socketPath: string } | false;
  /** Report cycle of a property that sets none, in ms. Default 1,000. */
  defaultReportCycleMs?: number;
  /** Deadline of each call to a mapper, in ms. Default 5,000. */
  mapperTimeoutMs?: number;
  logger?: DeviceTwinLogger;
}

/** A device as apps see it (`membership/get/result`, `devices()`). */
export interface DeviceView {
  id: string;
  namespace: string;
  name: string;
  description: string;
  state: string;
  lastOnline: string;
  /** The protocol its mapper speaks, from the Device spec (empty until the spec arrives). */
  protocol: string;
  twin: Twins;
}

/** A registered mapper. */
export interface MapperView {
  name: string;
  protocol: string;
  /** Its DMI socket. */
  address: string;
}

export interface DeviceTwinEvents {
  /** Twins of a device changed (from the cloud, an app, or a mapper). */
  twin: [event: { id: string; source: 'cloud' | 'mqtt' | 'dmi'; changed: Twins }];
  /** A device's state changed. */
  state: [event: { id: string; state: string; lastOnline: string }];
  /** Devices were added to or removed from this node. */
  membership: [event: { added: string[]; removed: string[] }];
  /** A mapper registered over DMI. */
  mapper: [mapper: MapperView];
  /** A message to the cloud left for edgehub. */
  upstream: [message: Message];
}

export interface DeviceTwin {
  /** The MQTT broker's URL once started (apps and mappers connect there), else undefined. */
  readonly mqttUrl: string | undefined;
  /** `unix://<socket>` of the DMI server once started, else undefined. */
  readonly dmiEndpoint: string | undefined;
  /** Opens the store, starts the broker (or connects to it), serves DMI, joins the router. */
  start(): Promise<void>;
  /** Stops everything it started; safe to call twice. */
  stop(): Promise<void>;
  /** Devices on this node with their twins. */
  devices(): DeviceView[];
  /** Mappers registered since start. */
  mappers(): MapperView[];
  on<E extends keyof DeviceTwinEvents>(
    event: E,
    listener: (...args: DeviceTwinEvents[E]) => void,
  ): this;
  off<E extends keyof DeviceTwinEvents>(
    event: E,
    listener: (...args: DeviceTwinEvents[E]) => void,
  ): this;
}

/**
 * KubeEdge's DeviceTwin: devices bound to this node and their twins in SQLite, cloud changes
 * applied and ACKed once stored, KubeEdge's MQTT topics for apps, the DMI server for mappers,
 * and reported values sent to the cloud no more often than each property's report cycle.
 */
export function createDeviceTwin(options: DeviceTwinOptions): DeviceTwin {
  if (!options.nodeName) {
    throw new DeviceTwinError('KE_TWIN_INVALID_OPTIONS', 'createDeviceTwin needs a `nodeName`');
  }
  if (!options.databasePath) {
    throw new DeviceTwinError('KE_TWIN_INVALID_OPTIONS', 'createDeviceTwin needs a `databasePath`');
  }
  if (!options.router) {
    throw new DeviceTwinError('KE_TWIN_INVALID_OPTIONS', 'createDeviceTwin needs a `router`');
  }
  return new DeviceTwinImpl(options);
}

const DEVICE_TOPIC =
  /^\$hw\/events\/device\/([^/]+)\/([^/]+)\/(twin\/update|twin\/get|state\/update)$/;
const idOf = (namespace: string, name: string) => `${namespace}/${name}`;
const ONLINE = new Set(['ok', 'online']);

interface Mapper extends MapperView {
  client: DeviceMapperClient;
}

class DeviceTwinImpl extends EventEmitter implements DeviceTwin {
  readonly #options: DeviceTwinOptions;
  readonly #logger: DeviceTwinLogger;
  readonly #cloudModule: string;
  readonly #defaultReportCycleMs: number;
  #store: TwinStore | undefined;
  #bus: MqttBus | undefined;
  #dmi: DmiServer | undefined;
  #registered = false;
  readonly #mappers = new Map<string, Mapper>();
  /** Per device: properties waiting for their report cycle, and the timer that sends them. */
  readonly #pending = new Map<string, { names: Set<string>; timer?: NodeJS.Timeout }>();
  /** When each `<device>\0<property>` was last sent to the cloud. */
  readonly #lastSent = new Map<string, number>();

  constructor(options: DeviceTwinOptions) {
    super();
    this.#options = options;
    this.#logger = options.logger ?? {};
    this.#cloudModule = options.cloudModule ?? ModuleName.EdgeHub;
    this.#defaultReportCycleMs = options.defaultReportCycleMs ?? 1000;
  }

  get mqttUrl() {
    return this.#bus?.url;
  }

  get dmiEndpoint() {
    return this.#dmi?.endpoint;
  }

  async start(): Promise<void> {
    if (this.#store) return;
    this.#store = new TwinStore(this.#options.databasePath);
    try {
      if (this.#options.mqtt !== false) {
        const node = this.#options.nodeName;
        this.#bus = await startMqttBus(
          this.#options.mqtt ?? { embedded: {} },
          [
            '$hw/events/device/+/+/twin/update',
            '$hw/events/device/+/+/twin/get',
            '$hw/events/device/+/+/state/update',
            `$hw/events/node/${node}/membership/get`,
          ],
          `ke-devicetwin-${node}`,
          (topic, payload) => this.#onMqtt(topic, payload),
          this.#logger,
        );
      }
      if (this.#options.dmi) {
        this.#dmi = createDeviceManagerServer({
          socketPath: this.#options.dmi.socketPath,
          handlers: {
            mapperRegister: (request) => this.#mapperRegister(request),
            reportDeviceStatus: (request) => this.#reportDeviceStatus(request),
            reportDeviceStates: (request) => this.#reportDeviceStates(request),
          },
        });
        try {
          await this.#dmi.start();
        } catch (cause) {
          throw new DeviceTwinError(
            'KE_TWIN_DMI_FAILED',
            `cannot serve DMI on ${this.#options.dmi.socketPath}: ${(cause as Error).message}`,
            { cause },
          );
        }
      }
      this.#options.router.register({
        name: ModuleName.DeviceTwin,
        group: Group.Twin,
        handler: (message) => this.#onCloud(message),
      });
      this.#registered = true;
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    if (this.#registered) {
      this.#registered = false;
      if (!this.#options.router.stopped) {
        await this.#options.router.unregister(ModuleName.DeviceTwin);
      }
    }
    for (const pending of this.#pending.values()) clearTimeout(pending.timer);
    this.#pending.clear();
    for (const mapper of this.#mappers.values()) mapper.client.close();
    this.#mappers.clear();
    await this.#dmi?.stop();
    this.#dmi = undefined;
    await this.#bus?.stop();
    this.#bus = undefined;
    this.#store?.close();
    this.#store = undefined;
  }

  devices(): DeviceView[] {
    const store = this.#requireStore();
    return store.devices().map((device) => this.#view(device, store.twins(device.id)));
  }

  mappers(): MapperView[] {
    return [...this.#mappers.values()].map(({ name, protocol, address }) => ({
      name,
      protocol,
      address,
    }));
  }

  // --- From the cloud ---

  async #onCloud(message: Message): Promise<void> {
    let response: Message;
    try {
      this.#applyCloud(message);
      response = createResponse(message, { source: ModuleName.DeviceTwin, content: 'OK' });
    } catch (error) {
      const failure = asTwinError(error);
      this.#logger.warn?.(
        { resource: message.route.resource, code: failure.code, err: failure.message },
        'cloud message refused',
      );
      response = createResponse(message, {
        source: ModuleName.DeviceTwin,
        operation: Operation.Error,
        content: { code: failure.code, message: failure.message, retryable: failure.retryable },
      });
    }
    if (message.header.sync) this.#options.router.sendResponse(response);
  }

  #applyCloud(message: Message): void {
    const { group, resource, operation } = message.route;
    if (group === Group.Twin) {
      if (resource === 'membership') {
        this.#membership(message.content);
        return;
      }
      const twin = /^device\/([^/]+)\/([^/]+)\/twin\/cloud_updated$/.exec(resource);
      if (twin?.[1] && twin[2]) {
        this.#cloudUpdated(idOf(twin[1], twin[2]), message.content);
        return;
      }
      throw invalid(`the twin module does not handle ${JSON.stringify(resource)}`);
    }
    let parts: ReturnType<typeof parseEdgeResource>;
    try {
      parts = parseEdgeResource(resource);
    } catch (cause) {
      throw invalid(`bad resource ${JSON.stringify(resource)}: ${(cause as Error).message}`);
    }
    const { namespace, type, name } = parts;
    if (!name || !namespace || namespace === 'null') {
      throw invalid(`${JSON.stringify(resource)} must be <namespace>/${type}/<name>`);
    }
    const version = message.header.resourceversion || undefined;
    const deleting = operation === Operation.Delete;
    if (!deleting && operation !== Operation.Insert && operation !== Operation.Update) {
      throw invalid(`operation ${JSON.stringify(operation)} does not change ${type}s`);
    }
    if (type === 'device') {
      if (deleting) this.#deleteDevice(namespace, name, version);
      else this.#putDevice(namespace, name, message.content, version);
    } else if (type === 'devicemodel') {
      if (deleting) this.#deleteModel(namespace, name, version);
      else this.#putModel(namespace, name, message.content, version);
    } else {
      throw invalid(`the twin module does not store ${JSON.stringify(type)}`);
    }
  }

  #putDevice(namespace: string, name: string, content: unknown, version?: string): void {
    const device = checkDevice(content, namespace, name);
    const id = idOf(namespace, name);
    const rv = version ?? device.metadata.resourceVersion;
    const store = this.#requireStore();
    const now = Date.now();
    const result = store.transaction(() => {
      const existing = store.device(id);
      if (
        existing?.resourceVersion &&
        rv &&
        !isNewerResourceVersion(rv, existing.resourceVersion)
      ) {
        return undefined; // stale: already have this or a newer one
      }
      store.putDevice({
        id,
        namespace,
        name,
        description: device.metadata.labels?.description ?? existing?.description ?? '',
        state: existing?.state ?? 'unknown',
        lastOnline: existing?.lastOnline ?? '',
        object: device,
        resourceVersion: rv,
      });
      const model = store.model(idOf(namespace, device.spec.deviceModelRef?.name ?? ''));
      const twins = store.twins(id);
      const changed: Twins = {};
      const declared = new Set<string>();
      for (const property of device.spec.properties ?? []) {
        declared.add(property.name);
        const type = typeOf(model?.object, property.name, twins[property.name]);
        const next = applyDesired(twins[property.name], property.desired?.value, type, now);
        if (JSON.stringify(next) !== JSON.stringify(twins[property.name])) {
          store.putTwin(id, property.name, next);
          twins[property.name] = next;
          changed[property.name] = next;
        }
      }
      for (const property of Object.keys(twins)) {
        if (!declared.has(property)) {
          store.deleteTwin(id, property);
          delete twins[property];
        }
      }
      return { isNew: !existing?.object, known: existing !== undefined, twins, changed };
    });
    if (!result) return;
    this.#logger.debug?.({ id, rv }, result.isNew ? 'device added' : 'device updated');
    if (!result.known) this.#membershipChanged([id], []);
    if (Object.keys(result.changed).length > 0) {
      this.emit('twin', { id, source: 'cloud', changed: result.changed });
      this.#publishTwinChange(namespace, name, result.twins, result.changed, {});
    }
    void this.#toMappers(device.spec.protocol?.protocolName, (mapper) =>
      result.isNew
        ? mapper.client.registerDevice(deviceFromV1beta1(device), this.#call())
        : mapper.client.updateDevice(deviceFromV1beta1(device), this.#call()),
    );
  }

  #deleteDevice(namespace: string, name: string, version?: string): void {
    const id = idOf(namespace, name);
    const store = this.#requireStore();
    const removed = store.transaction(() => {
      const existing = store.device(id);
      if (!existing) return undefined;
      if (
        version &&
        existing.resourceVersion &&
        isNewerResourceVersion(existing.resourceVersion, version)
      ) {
        return undefined; // a delete older than what we hold
      }
      store.deleteDevice(id);
      return existing;
    });
    if (!removed) return;
    this.#forget(id);
    this.#membershipChanged([], [id]);
    void this.#toMappers(removed.object?.spec.protocol?.protocolName, (mapper) =>
      mapper.client.removeDevice(name, namespace, this.#call()),
    );
  }

  #putModel(namespace: string, name: string, content: unknown, version?: string): void {
    const model = checkModel(content, namespace, name);
    const id = idOf(namespace, name);
    const rv = version ?? model.metadata.resourceVersion;
    const store = this.#requireStore();
    const isNew = store.transaction(() => {
      const existing = store.model(id);
      if (
        existing?.resourceVersion &&
        rv &&
        !isNewerResourceVersion(rv, existing.resourceVersion)
      ) {
        return undefined;
      }
      store.putModel({ id, object: model, resourceVersion: rv });
      // The twins of the devices using the model take its (new) property types.
      for (const device of store.devices()) {
        if (device.namespace !== namespace || device.object?.spec.deviceModelRef?.name !== name) {
          continue;
        }
        const twins = store.twins(device.id);
        for (const [property, twin] of Object.entries(twins)) {
          const type = typeOf(model, property, twin);
          if (twin.metadata?.type !== type) {
            store.putTwin(device.id, property, { ...twin, metadata: { ...twin.metadata, type } });
          }
        }
      }
      return !existing;
    });
    if (isNew === undefined) return;
    void this.#toMappers(model.spec.protocol, (mapper) =>
      isNew
        ? mapper.client.createDeviceModel(modelFromV1beta1(model), this.#call())
        : mapper.client.updateDeviceModel(modelFromV1beta1(model), this.#call()),
    );
  }

  #deleteModel(namespace: string, name: string, version?: string): void {
    const id = idOf(namespace, name);
    const store = this.#requireStore();
    const removed: StoredModel | undefined = store.transaction(() => {
      const existing = store.model(id);
      if (!existing) return undefined;
      if (
        version &&
        existing.resourceVersion &&
        isNewerResourceVersion(existing.resourceVersion, version)
      ) {
        return undefined;
      }
      store.deleteModel(id);
      return existing;
    });
    if (!removed) return;
    void this.#toMappers(removed.object.spec.protocol, (mapper) =>
      mapper.client.removeDeviceModel(name, namespace, this.#call()),
    );
  }

  /**
   * KubeEdge's membership message: which devices are bound here. The Device objects that come
   * with it carry everything; a device named here first gets a row without a spec.
   */
  #membership(content: unknown): void {
    const body = parseJson(content);
    if (!isObject(body)) throw invalid('a membership update is a JSON object');
    const list = (key: string) => {
      const value = body[key];
      if (value === undefined || value === null) return [];
      if (!Array.isArray(value)) throw invalid(`membership ${key} must be a list`);
      return value.map((entry) => {
        const id = isObject(entry) ? entry.id : undefined;
        if (typeof id !== 'string' || !/^[^/]+\/[^/]+$/.test(id)) {
          throw invalid(`membership ${key}: each device needs an id "<namespace>/<name>"`);
        }
        return { id, description: isObject(entry) ? String(entry.description ?? '') : '' };
      });
    };
    const added = list('added_devices');
    const removedIds = list('removed_devices').map((entry) => entry.id);
    const store = this.#requireStore();
    const result = store.transaction(() => {
      const newIds: string[] = [];
      for (const { id, description } of added) {
        if (store.device(id)) continue;
        const [namespace = '', name = ''] = id.split('/');
        store.putDevice({
          id,
          namespace,
          name,
          description,
          state: 'unknown',
          lastOnline: '',
          object: undefined,
          resourceVersion: undefined,
        });
        newIds.push(id);
      }
      const gone = removedIds.filter((id) => store.deleteDevice(id));
      return { newIds, gone };
    });
    for (const id of result.gone) this.#forget(id);
    if (result.newIds.length > 0 || result.gone.length > 0) {
      this.#membershipChanged(result.newIds, result.gone);
    }
  }

  /** Older KubeEdge clouds send desired values as `device/<ns>/<name>/twin/cloud_updated`. */
  #cloudUpdated(id: string, content: unknown): void {
    const update = parseTwinUpdate(content);
    const store = this.#requireStore();
    const now = Date.now();
    const result = store.transaction(() => {
      const device = store.device(id);
      if (!device) throw new DeviceTwinError('KE_TWIN_NOT_FOUND', `no device ${id} on this node`);
      const twins = store.twins(id);
      const changed: Twins = {};
      for (const [name, twin] of Object.entries(update.twin)) {
        const type = twin.metadata?.type ?? twins[name]?.metadata?.type ?? 'string';
        const next = applyDesired(twins[name], twin.expected?.value ?? undefined, type, now);
        store.putTwin(id, name, next);
        twins[name] = next;
        changed[name] = next;
      }
      return { device, twins, changed };
    });
    this.emit('twin', { id, source: 'cloud', changed: result.changed });
    this.#publishTwinChange(
      result.device.namespace,
      result.device.name,
      result.twins,
      result.changed,
      {},
    );
  }

  // --- From apps over MQTT ---

  #onMqtt(topic: string, payload: Buffer): void {
    if (topic === `$hw/events/node/${this.#options.nodeName}/membership/get`) {
      const request = safeJson(payload);
      this.#publish(`${topic}/result`, {
        event_id: eventIdOf(request),
        timestamp: Date.now(),
        devices: this.devices().map(({ id, name, description, state, lastOnline, twin }) => ({
          id,
          name,
          description,
          state,
          lastOnline,
          twin,
        })),
      });
      return;
    }
    const match = DEVICE_TOPIC.exec(topic);
    if (!match?.[1] || !match[2] || !match[3]) return;
    const [, namespace, name, action] = match;
    const id = idOf(namespace, name);
    const resultTopic = `${topic}/result`;
    let eventId = eventIdOf(safeJson(payload));
    try {
      if (action === 'twin/update') {
        const update = parseTwinUpdate(payload);
        eventId = update.event_id;
        const changed = this.#edgeUpdate(id, update.twin, 'mqtt', eventId);
        this.#publish(resultTopic, { event_id: eventId, timestamp: Date.now(), twin: changed });
      } else if (action === 'twin/get') {
        const body = parseJson(payload);
        if (!isObject(body)) throw invalid('a twin get is a JSON object');
        const store = this.#requireStore();
        if (!store.device(id)) throw notFound(id);
        this.#publish(resultTopic, {
          event_id: eventId,
          timestamp: Date.now(),
          twin: store.twins(id),
        });
      } else {
        const body = parseJson(payload);
        if (!isObject(body) || typeof body.state !== 'string') {
          throw invalid('a state update is a JSON object with a "state" string');
        }
        const device = this.#stateUpdate(id, body.state);
        this.#publish(resultTopic, {
          event_id: eventId,
          timestamp: Date.now(),
          device: { state: device.state, lastOnlineTime: device.lastOnline },
        });
      }
    } catch (error) {
      const failure = asTwinError(error);
      this.#logger.debug?.(
        { topic, code: failure.code, err: failure.message },
        'MQTT request refused',
      );
      this.#publish(resultTopic, {
        event_id: eventId,
        timestamp: Date.now(),
        code: failure.resultCode,
        reason: failure.message,
      });
    }
  }

  // --- From mappers over DMI ---

  async #mapperRegister(request: MapperRegisterRequest) {
    const info = request.mapper;
    if (!info?.name || !info.protocol) {
      throw new DmiError(
        'KE_DMI_INVALID_ARGUMENT',
        'MapperRegister needs mapper.name and mapper.protocol',
      );
    }
    const address = Buffer.from(info.address ?? []).toString('utf8');
    const previous = this.#mappers.get(info.name);
    if (previous?.address !== address) {
      previous?.client.close();
      if (address) {
        this.#mappers.set(info.name, {
          name: info.name,
          protocol: info.protocol,
          address,
          client: createDeviceMapperClient({
            endpoint: address,
            timeoutMs: this.#options.mapperTimeoutMs ?? 5000,
          }),
        });
      }
    }
    this.#logger.info?.(
      { mapper: info.name, protocol: info.protocol, address },
      'mapper registered',
    );
    this.emit('mapper', { name: info.name, protocol: info.protocol, address });
    if (!request.withData) return {};
    const store = this.#requireStore();
    const devices = store
      .devices()
      .flatMap((device) =>
        device.object?.spec.protocol?.protocolName === info.protocol ? [device.object] : [],
      );
    const modelIds = new Set(
      devices.map((device) =>
        idOf(device.metadata.namespace, device.spec.deviceModelRef?.name ?? ''),
      ),
    );
    const models = store.models().filter((model) => modelIds.has(model.id));
    return {
      deviceList: devices.map(deviceFromV1beta1),
      modelList: models.map((model) => modelFromV1beta1(model.object)),
    };
  }

  async #reportDeviceStatus(request: ReportDeviceStatusRequest): Promise<void> {
    const id = idOf(request.deviceNamespace || 'default', request.deviceName);
    const twin: Twins = {};
    for (const reported of request.reportedDevice?.twins ?? []) {
      if (!reported.propertyName || !reported.reported) continue;
      twin[reported.propertyName] = {
        actual: { value: reported.reported.value },
        ...(reported.reported.metadata?.type
          ? { metadata: { type: reported.reported.metadata.type } }
          : {}),
      };
    }
    try {
      this.#edgeUpdate(id, twin, 'dmi', randomUUID());
    } catch (error) {
      throw toDmiError(error);
    }
  }

  async #reportDeviceStates(request: ReportDeviceStatesRequest): Promise<void> {
    const id = idOf(request.deviceNamespace || 'default', request.deviceName);
    try {
      this.#stateUpdate(id, request.state);
    } catch (error) {
      throw toDmiError(error);
    }
  }

  // --- Twin semantics shared by MQTT and DMI ---

  /** Applies a twin update from the edge; returns the changed twins. */
  #edgeUpdate(id: string, update: Twins, source: 'mqtt' | 'dmi', eventId: string): Twins {
    const store = this.#requireStore();
    const now = Date.now();
    const result = store.transaction(() => {
      const device = store.device(id);
      if (!device) throw notFound(id);
      const stored = store.twins(id);
      const { twins, changed } = applyEdgeUpdate(stored, update, now);
      for (const [name, twin] of Object.entries(changed)) store.putTwin(id, name, twin);
      return { device, stored, twins, changed };
    });
    const { device, stored, twins, changed } = result;
    if (Object.keys(changed).length === 0) return changed;
    this.emit('twin', { id, source, changed });
    this.#publishTwinChange(device.namespace, device.name, twins, changed, stored, eventId);
    this.#queueUpstream(device, Object.keys(changed));
    return changed;
  }

  #stateUpdate(id: string, state: string): StoredDevice {
    if (!(DEVICE_STATES as readonly string[]).includes(state)) {
      throw invalid(`state ${JSON.stringify(state)} is not one of ${DEVICE_STATES.join(', ')}`);
    }
    const store = this.#requireStore();
    const { device, changed } = store.transaction(() => {
      const existing = store.device(id);
      if (!existing) throw notFound(id);
      const next: StoredDevice = {
        ...existing,
        state,
        lastOnline: ONLINE.has(state) ? new Date().toISOString() : existing.lastOnline,
      };
      store.putDevice(next);
      return { device: next, changed: existing.state !== state };
    });
    if (changed) {
      this.emit('state', { id, state, lastOnline: device.lastOnline });
      this.#upstream(`device/${device.namespace}/${device.name}/state/update`, {
        event_id: randomUUID(),
        timestamp: Date.now(),
        device: { state, lastOnlineTime: device.lastOnline },
      });
    }
    return device;
  }

  /** `twin/update/document` always, and `twin/update/delta` while expected ≠ actual. */
  #publishTwinChange(
    namespace: string,
    name: string,
    twins: Twins,
    changed: Twins,
    before: Twins,
    eventId: string = randomUUID(),
  ): void {
    const base = `$hw/events/device/${namespace}/${name}/twin/update`;
    const timestamp = Date.now();
    const document: Record<string, { last: MsgTwin | null; current: MsgTwin }> = {};
    for (const [property, twin] of Object.entries(changed)) {
      document[property] = { last: before[property] ?? null, current: twin };
    }
    this.#publish(`${base}/document`, { event_id: eventId, timestamp, twin: document });
    const delta = deltaOf(twins);
    if (Object.keys(delta).length > 0) {
      this.#publish(`${base}/delta`, { event_id: eventId, timestamp, twin: twins, delta });
    }
  }

  #membershipChanged(added: string[], removed: string[]): void {
    this.emit('membership', { added, removed });
    const store = this.#requireStore();
    const describe = (id: string) => {
      const device = store.device(id);
      const [, name = id] = id.split('/');
      return { id, name: device?.name ?? name, state: device?.state ?? 'unknown' };
    };
    this.#publish(`$hw/events/node/${this.#options.nodeName}/membership/updated`, {
      event_id: randomUUID(),
      timestamp: Date.now(),
      added_devices: added.map(describe),
      removed_devices: removed.map((id) => ({ id, name: id.split('/')[1] ?? id })),
    });
  }

  #publish(topic: string, body: unknown): void {
    this.#bus?.publish(topic, body);
  }

  // --- To the cloud, throttled by report cycle ---

  #queueUpstream(device: StoredDevice, names: string[]): void {
    const pending = this.#pending.get(device.id) ?? { names: new Set<string>() };
    this.#pending.set(device.id, pending);
    for (const name of names) pending.names.add(name);
    if (!pending.timer) this.#flush(device.id);
  }

  /** Sends the properties whose report cycle has passed; schedules the rest. */
  #flush(id: string): void {
    const pending = this.#pending.get(id);
    if (!pending || !this.#store) return;
    pending.timer = undefined;
    const device = this.#store.device(id);
    if (!device) {
      this.#pending.delete(id);
      return;
    }
    const now = Date.now();
    const due: string[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const name of pending.names) {
      const at = (this.#lastSent.get(`${id}\0${name}`) ?? 0) + this.#reportCycleOf(device, name);
      if (at <= now) due.push(name);
      else next = Math.min(next, at);
    }
    if (due.length > 0) {
      const twins = this.#store.twins(id);
      const twin: Twins = {};
      for (const name of due) {
        pending.names.delete(name);
        this.#lastSent.set(`${id}\0${name}`, now);
        const current = twins[name];
        if (!current) continue;
        twin[name] = {
          ...(current.actual ? { actual: current.actual } : {}),
          ...(current.expected ? { expected: current.expected } : {}),
          metadata: { type: current.metadata?.type ?? 'string' },
        };
      }
      if (Object.keys(twin).length > 0) {
        this.#upstream(`device/${device.namespace}/${device.name}/twin/edge_updated`, {
          event_id: randomUUID(),
          timestamp: now,
          twin,
        });
      }
    }
    if (pending.names.size === 0) {
      this.#pending.delete(id);
    } else {
      pending.timer = setTimeout(() => this.#flush(id), Math.max(1, next - now));
      pending.timer.unref();
    }
  }

  #reportCycleOf(device: StoredDevice, name: string): number {
    const property = device.object?.spec.properties?.find((entry) => entry.name === name);
    const cycle = Number(property?.reportCycle);
    return Number.isFinite(cycle) && cycle > 0 ? cycle : this.#defaultReportCycleMs;
  }

  #upstream(resource: string, content: unknown): void {
    const message = createMessage({
      source: ModuleName.DeviceTwin,
      group: Group.Twin,
      operation: Operation.Update,
      resource,
      content,
    });
    this.emit('upstream', message);
    const router = this.#options.router;
    if (router.stopped || !router.has(this.#cloudModule)) return;
    router.send(this.#cloudModule, message).catch((error: Error) => {
      this.#logger.warn?.({ resource, err: error }, 'not sent to the cloud');
    });
  }

  #forget(id: string): void {
    const pending = this.#pending.get(id);
    clearTimeout(pending?.timer);
    this.#pending.delete(id);
    for (const key of this.#lastSent.keys())
      if (key.startsWith(`${id}\0`)) this.#lastSent.delete(key);
  }

  // --- Mappers ---

  async #toMappers(
    protocol: string | undefined,
    call: (mapper: Mapper) => Promise<unknown>,
  ): Promise<void> {
    if (!protocol) return;
    for (const mapper of this.#mappers.values()) {
      if (mapper.protocol !== protocol) continue;
      try {
        await call(mapper);
      } catch (error) {
        // The mapper gets everything again when it registers next.
        this.#logger.warn?.({ mapper: mapper.name, err: error }, 'mapper did not take a change');
      }
    }
  }

  #call() {
    return { timeoutMs: this.#options.mapperTimeoutMs ?? 5000 };
  }

  #view(device: StoredDevice, twin: Twins): DeviceView {
    return {
      id: device.id,
      namespace: device.namespace,
      name: device.name,
      description: device.description,
      state: device.state,
      lastOnline: device.lastOnline,
      protocol: device.object?.spec.protocol?.protocolName ?? '',
      twin,
    };
  }

  #requireStore(): TwinStore {
    if (!this.#store) {
      throw new DeviceTwinError('KE_TWIN_STORE_FAILED', 'the device twin is not started');
    }
    return this.#store;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const notFound = (id: string) =>
  new DeviceTwinError('KE_TWIN_NOT_FOUND', `no device ${id} on this node`);

function safeJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}

const eventIdOf = (body: unknown) =>
  isObject(body) && typeof body.event_id === 'string' ? body.event_id : '';

function asTwinError(error: unknown): DeviceTwinError {
  if (error instanceof DeviceTwinError) return error;
  return new DeviceTwinError('KE_TWIN_STORE_FAILED', (error as Error)?.message ?? String(error), {
    cause: error,
  });
}

function toDmiError(error: unknown): DmiError {
  const failure = asTwinError(error);
  const code =
    failure.code === 'KE_TWIN_NOT_FOUND'
      ? 'KE_DMI_NOT_FOUND'
      : failure.code === 'KE_TWIN_INVALID' || failure.code === 'KE_TWIN_VERSION_CONFLICT'
        ? 'KE_DMI_INVALID_ARGUMENT'
        : 'KE_DMI_FAILED';
  return new DmiError(code, `${failure.code}: ${failure.message}`, { cause: failure });
}

/** The type of a property's values: the model's (lower case), else what the twin had. */
function typeOf(model: DeviceModelObject | undefined, property: string, twin?: MsgTwin): string {
  const type = model?.spec.properties?.find((entry) => entry.name === property)?.type;
  return type ? type.toLowerCase() : (twin?.metadata?.type ?? 'string');
}

function checkDevice(content: unknown, namespace: string, name: string): DeviceObject {
  const object = parseJson(content);
  if (!isObject(object) || !isObject(object.metadata) || !isObject(object.spec)) {
    throw invalid('a Device needs metadata and spec');
  }
  if (object.kind !== undefined && object.kind !== 'Device') {
    throw invalid(`expected a Device, got a ${JSON.stringify(object.kind)}`);
  }
  checkName(object.metadata, namespace, name, 'Device');
  const properties = object.spec.properties;
  if (properties !== undefined && properties !== null) {
    if (!Array.isArray(properties)) throw invalid('Device spec.properties must be a list');
    const seen = new Set<string>();
    for (const property of properties) {
      if (!isObject(property) || typeof property.name !== 'string' || !property.name) {
        throw invalid('each Device property needs a name');
      }
      if (seen.has(property.name)) throw invalid(`Device property ${property.name} appears twice`);
      seen.add(property.name);
      const desired = property.desired;
      if (isObject(desired) && desired.value !== undefined && typeof desired.value !== 'string') {
        throw invalid(`Device property ${property.name}: desired.value must be a string`);
      }
    }
  }
  return object as unknown as DeviceObject;
}

function checkModel(content: unknown, namespace: string, name: string): DeviceModelObject {
  const object = parseJson(content);
  if (!isObject(object) || !isObject(object.metadata) || !isObject(object.spec)) {
    throw invalid('a DeviceModel needs metadata and spec');
  }
  if (object.kind !== undefined && object.kind !== 'DeviceModel') {
    throw invalid(`expected a DeviceModel, got a ${JSON.stringify(object.kind)}`);
  }
  checkName(object.metadata, namespace, name, 'DeviceModel');
  const properties = object.spec.properties;
  if (properties !== undefined && properties !== null && !Array.isArray(properties)) {
    throw invalid('DeviceModel spec.properties must be a list');
  }
  return object as unknown as DeviceModelObject;
}

function checkName(
  metadata: Record<string, unknown>,
  namespace: string,
  name: string,
  kind: string,
): void {
  if (metadata.name !== name) {
    throw invalid(
      `the ${kind} is named ${JSON.stringify(metadata.name)}, the resource says ${name}`,
    );
  }
  if (metadata.namespace === undefined) metadata.namespace = namespace;
  else if (metadata.namespace !== namespace) {
    throw invalid(
      `the ${kind} is in namespace ${JSON.stringify(metadata.namespace)}, the resource says ${namespace}`,
    );
  }
}
