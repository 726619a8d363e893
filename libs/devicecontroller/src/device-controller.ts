import {
  DEVICES_GROUP,
  DEVICES_VERSION,
  type Device,
  type DeviceModel,
  DeviceModelResource,
  DeviceResource,
  ObjectSyncResource,
} from '@ke/apis';
import { type Message, Operation } from '@ke/beehive';
import {
  createCrdClient,
  createInformer,
  createWorkQueue,
  defaultControllerRateLimiter,
  type Informer,
  isKubeError,
  type KubeConfig,
  KubeErrorCode,
  metaNamespaceKey,
  runWorkers,
  toKubeError,
  type WorkQueue,
} from '@ke/kube';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { DeviceControllerError, DeviceControllerErrorCode } from './errors';
import {
  emptyInventory,
  fingerprintOf,
  isEmpty,
  type NodeInventory,
  type SentObject,
} from './inventory';
import {
  checkNodeName,
  DEVICE_MODEL_TYPE,
  DEVICE_TYPE,
  isDeviceResource,
  type MembershipDevice,
  membershipMessage,
  mergeTwins,
  objectMessage,
  parseUpstream,
  type UpstreamReport,
} from './messages';

/** Fields first, message second (pino's order), so a pino logger fits as is. */
export interface DeviceControllerLogger {
  debug?(fields: object, message: string): void;
  info?(fields: object, message: string): void;
  warn?(fields: object, message: string): void;
  error?(fields: object, message: string): void;
}

export interface DeviceControllerOptions {
  /** Where the API server is and how to authenticate (see `loadKubeConfig` of `@ke/kube`). */
  readonly kubeConfig: KubeConfig;
  /** Where downstream messages go: `cloudHub.dispatch`; a throw (full queue) is retried. */
  readonly dispatch: (message: Message) => unknown;
  /** Receives what was sent, refused and retried; default: nothing is logged. */
  readonly logger?: DeviceControllerLogger;
  /** Nodes reconciled at once; default 4. */
  readonly workers?: number;
  /** Whether Devices have a `status` subresource; default: asked from the API's discovery at start. */
  readonly statusSubresource?: boolean;
  /** Read ObjectSyncs at start to delete at the nodes what was deleted while down; default true. */
  readonly readObjectSyncs?: boolean;
}

export interface DeviceController {
  /** Starts the informers and the workers; resolves once the informers have listed. */
  start(): Promise<void>;
  /** Stops the workers and the informers; a later `start()` resumes from what was sent. */
  stop(): Promise<void>;
  /**
   * Applies a message from an edge node (cloudhub's `message` event, resource in cloud form)
   * to the Device's status. Never rejects: refusals and API failures are logged.
   */
  handleUpstream(node: string, message: Message): Promise<void>;
}

const GROUP = DeviceResource.group;
const DEVICE_API_VERSION = `${DEVICES_GROUP}/${DEVICES_VERSION}` as const;
const VERSION = DeviceResource.version;
const DEVICES_PATH = `/apis/${GROUP}/${VERSION}/${DeviceResource.plural}`;
const MODELS_PATH = `/apis/${GROUP}/${VERSION}/${DeviceModelResource.plural}`;
/** Attempts of a status write that keeps meeting a newer version of the Device. */
const STATUS_WRITE_ATTEMPTS = 5;

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** `<ns>/<model>` of the DeviceModel a Device uses, or undefined. */
function modelKeyOf(device: Device): string | undefined {
  const model = device.spec?.deviceModelRef?.name;
  return model ? `${device.metadata?.namespace ?? ''}/${model}` : undefined;
}

function nodeOf(device: Device | undefined): string | undefined {
  return device?.spec?.nodeName || undefined;
}

const withTypeMeta = <T extends Device | DeviceModel>(object: T, kind: T['kind']): T => ({
  ...object,
  apiVersion: DEVICE_API_VERSION,
  kind,
});

interface Running {
  readonly stop: AbortController;
  readonly queue: WorkQueue<string>;
  readonly detach: (() => void)[];
  workers?: Promise<void>;
}

class DeviceControllerImpl implements DeviceController {
  readonly #options: DeviceControllerOptions;
  readonly #logger: DeviceControllerLogger;
  readonly #api: CustomObjectsApi;
  readonly #devices: Informer<Device>;
  readonly #models: Informer<DeviceModel>;
  /** What each node was sent, by node name. */
  readonly #inventories = new Map<string, NodeInventory>();
  /** Upstream writes per Device, one after the other (`<ns>/<name>` → the last one's end). */
  readonly #writes = new Map<string, Promise<void>>();
  #statusSubresource: boolean;
  #running: Running | undefined;

  constructor(options: DeviceControllerOptions) {
    if (!options?.kubeConfig || typeof options.kubeConfig.makeApiClient !== 'function') {
      throw new DeviceControllerError(
        DeviceControllerErrorCode.InvalidOptions,
        'createDeviceController: kubeConfig is required (see loadKubeConfig of @ke/kube)',
      );
    }
    if (typeof options.dispatch !== 'function') {
      throw new DeviceControllerError(
        DeviceControllerErrorCode.InvalidOptions,
        'createDeviceController: dispatch is required (cloudHub.dispatch)',
      );
    }
    const workers = options.workers ?? 4;
    if (!(Number.isInteger(workers) && workers >= 1)) {
      throw new DeviceControllerError(
        DeviceControllerErrorCode.InvalidOptions,
        `createDeviceController: workers must be an integer >= 1, got ${workers}`,
      );
    }
    this.#options = options;
    this.#logger = options.logger ?? {};
    this.#statusSubresource = options.statusSubresource ?? DeviceResource.subresources.status;
    const kubeConfig = options.kubeConfig;
    this.#api = kubeConfig.makeApiClient(CustomObjectsApi);
    const logger = this.#logger as never;
    this.#devices = createInformer<Device>({
      kubeConfig,
      path: DEVICES_PATH,
      indexers: { model: (device) => [modelKeyOf(device)].filter((k): k is string => !!k) },
      logger,
    });
    this.#models = createInformer<DeviceModel>({ kubeConfig, path: MODELS_PATH, logger });
  }

  async start(): Promise<void> {
    if (this.#running) {
      throw new DeviceControllerError(
        DeviceControllerErrorCode.AlreadyStarted,
        'the device controller is running; stop() it before starting it again',
      );
    }
    const queue = createWorkQueue<string>({
      name: 'devicecontroller',
      rateLimiter: defaultControllerRateLimiter(),
    });
    const running: Running = { stop: new AbortController(), queue, detach: [] };
    this.#running = running;
    const enqueue = (node: string | undefined) => {
      if (node) queue.add(node);
    };
    running.detach.push(
      this.#devices.on('add', (device) => enqueue(nodeOf(device))),
      this.#devices.on('update', (old, device) => {
        enqueue(nodeOf(old));
        enqueue(nodeOf(device));
      }),
      this.#devices.on('delete', (device) => enqueue(nodeOf(device))),
    );
    const onModel = (model: DeviceModel) => {
      for (const node of this.#nodesUsing(metaNamespaceKey(model))) enqueue(node);
    };
    running.detach.push(
      this.#models.on('add', onModel),
      this.#models.on('update', (_old, model) => onModel(model)),
      this.#models.on('delete', onModel),
    );
    try {
      this.#models.start(running.stop.signal);
      this.#devices.start(running.stop.signal);
      await Promise.all([
        this.#models.waitForSync(running.stop.signal),
        this.#devices.waitForSync(running.stop.signal),
      ]);
      if (this.#options.statusSubresource === undefined) {
        this.#statusSubresource = await this.#discoverStatusSubresource();
      }
      if (this.#options.readObjectSyncs !== false) await this.#recallDeliveries(enqueue);
    } catch (error) {
      await this.stop();
      throw error;
    }
    running.workers = runWorkers(
      queue,
      this.#options.workers ?? 4,
      (node) => this.#reconcile(node),
      { signal: running.stop.signal, logger: this.#logger as never },
    );
  }

  async stop(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    this.#running = undefined;
    for (const detach of running.detach) detach();
    running.stop.abort();
    running.queue.shutDown();
    await Promise.all([running.workers, this.#devices.stop(), this.#models.stop()]);
    await Promise.allSettled([...this.#writes.values()]);
  }

  /** Nodes with a device using the model now, or sent the model before. */
  #nodesUsing(modelKey: string): Set<string> {
    const nodes = new Set<string>();
    for (const device of this.#devices.byIndex('model', modelKey)) {
      const node = nodeOf(device);
      if (node) nodes.add(node);
    }
    for (const [node, inventory] of this.#inventories) {
      if (inventory.models.has(modelKey)) nodes.add(node);
    }
    return nodes;
  }

  /**
   * Converges what `node` has towards what the API says it should have: models before the
   * devices that use them, membership after the devices it announces, deletions last. Only
   * what was dispatched is recorded, so a retry sends the rest.
   */
  async #reconcile(node: string): Promise<void> {
    try {
      checkNodeName(node);
    } catch (error) {
      this.#logger.warn?.({ node, err: error }, 'devices bound to a node name that is not valid');
      return;
    }
    const inventory = this.#inventories.get(node) ?? emptyInventory();
    this.#inventories.set(node, inventory);

    const wantedDevices = new Map<string, Device>();
    const wantedModels = new Map<string, DeviceModel>();
    for (const device of this.#devices.byIndex('nodeName', node)) {
      wantedDevices.set(metaNamespaceKey(device), device);
      const modelKey = modelKeyOf(device);
      const model = modelKey ? this.#models.get(modelKey) : undefined;
      if (modelKey && model) wantedModels.set(modelKey, model);
    }

    const failures: unknown[] = [];
    const send = (message: Message): boolean => {
      try {
        this.#options.dispatch(message);
        this.#logger.debug?.(
          { node, operation: message.route.operation, resource: message.route.resource },
          'sent',
        );
        return true;
      } catch (error) {
        failures.push(error);
        return false;
      }
    };

    const upsert = <T extends Device | DeviceModel>(
      sent: Map<string, SentObject<T>>,
      wanted: Map<string, T>,
      type: typeof DEVICE_TYPE | typeof DEVICE_MODEL_TYPE,
      kind: T['kind'],
    ) => {
      for (const [key, object] of wanted) {
        const fingerprint = fingerprintOf(object);
        const before = sent.get(key);
        if (before?.fingerprint === fingerprint) continue;
        const operation = before ? Operation.Update : Operation.Insert;
        const content = withTypeMeta(object, kind);
        if (send(objectMessage(node, type, operation, content))) {
          sent.set(key, { object: content, fingerprint });
        }
      }
    };
    const remove = <T extends Device | DeviceModel>(
      sent: Map<string, SentObject<T>>,
      wanted: Map<string, T>,
      type: typeof DEVICE_TYPE | typeof DEVICE_MODEL_TYPE,
    ) => {
      for (const [key, { object }] of sent) {
        if (wanted.has(key)) continue;
        if (send(objectMessage(node, type, Operation.Delete, object))) sent.delete(key);
      }
    };

    upsert(inventory.models, wantedModels, DEVICE_MODEL_TYPE, 'DeviceModel');
    upsert(inventory.devices, wantedDevices, DEVICE_TYPE, 'Device');

    const member = (key: string): MembershipDevice => ({ id: key, name: key.split('/')[1] ?? '' });
    const added = [...wantedDevices.keys()].filter(
      (key) => inventory.devices.has(key) && !inventory.members.has(key),
    );
    const removed = [...inventory.members].filter((key) => !wantedDevices.has(key));
    if (added.length > 0 || removed.length > 0) {
      if (send(membershipMessage(node, added.map(member), removed.map(member)))) {
        for (const key of added) inventory.members.add(key);
        for (const key of removed) inventory.members.delete(key);
      }
    }

    remove(inventory.devices, wantedDevices, DEVICE_TYPE);
    remove(inventory.models, wantedModels, DEVICE_MODEL_TYPE);

    if (isEmpty(inventory)) this.#inventories.delete(node);
    if (failures.length > 0) {
      throw new DeviceControllerError(
        DeviceControllerErrorCode.DispatchFailed,
        `${failures.length} message(s) for node ${node} could not be dispatched; retrying`,
        { cause: failures[0] },
      );
    }
  }

  /** Whether the API serves `devices/status` (a CRD installed with the status subresource). */
  async #discoverStatusSubresource(): Promise<boolean> {
    try {
      const list = await this.#api.getAPIResources({ group: GROUP, version: VERSION });
      return list.resources.some((r) => r.name === `${DeviceResource.plural}/status`);
    } catch (error) {
      const fallback = DeviceResource.subresources.status;
      this.#logger.warn?.(
        { err: toKubeError(error, 'discovery'), statusSubresource: fallback },
        `cannot read the API's discovery of ${GROUP}/${VERSION}; assuming the upstream CRD`,
      );
      return fallback;
    }
  }

  /**
   * What nodes hold from before a restart, from the ObjectSyncs cloudhub records (KubeEdge's
   * SyncController reads them likewise): Devices and DeviceModels deleted or moved while no
   * controller watched are then deleted at those nodes by the first reconcile.
   */
  async #recallDeliveries(enqueue: (node: string) => void): Promise<void> {
    const client = createCrdClient(this.#options.kubeConfig, ObjectSyncResource);
    const syncs: Awaited<ReturnType<typeof client.list>>['items'] = [];
    try {
      let token: string | undefined;
      do {
        const page = await client.list(undefined, {
          limit: 500,
          ...(token ? { continue: token } : {}),
        });
        syncs.push(...page.items);
        token = page.metadata.continue || undefined;
      } while (token);
    } catch (error) {
      const level = isKubeError(error, KubeErrorCode.NotFound) ? 'info' : 'warn';
      this.#logger[level]?.(
        { err: error },
        'cannot read ObjectSyncs; devices deleted while the controller was down stay at their nodes',
      );
      return;
    }
    for (const sync of syncs) {
      const syncName = sync.metadata?.name ?? '';
      const dot = syncName.lastIndexOf('.');
      const node = syncName.slice(0, dot);
      const uid = syncName.slice(dot + 1);
      const namespace = sync.metadata?.namespace ?? '';
      const name = sync.spec?.objectName ?? '';
      const kind = sync.spec?.objectKind;
      const apiVersion = sync.spec?.objectAPIVersion ?? '';
      if (dot <= 0 || !uid || !name || !namespace || !apiVersion.startsWith(`${GROUP}/`)) continue;
      if (kind !== 'Device' && kind !== 'DeviceModel') continue;
      const key = `${namespace}/${name}`;
      const inventory = this.#inventories.get(node) ?? emptyInventory();
      this.#inventories.set(node, inventory);
      const resourceVersion = sync.status?.objectResourceVersion;
      const metadata = { name, namespace, uid, ...(resourceVersion ? { resourceVersion } : {}) };
      if (kind === 'Device') {
        if (!inventory.devices.has(key)) {
          const object: Device = { apiVersion: DEVICE_API_VERSION, kind, metadata, spec: {} };
          inventory.devices.set(key, { object, fingerprint: undefined });
        }
        inventory.members.add(key);
      } else if (!inventory.models.has(key)) {
        const object: DeviceModel = { apiVersion: DEVICE_API_VERSION, kind, metadata, spec: {} };
        inventory.models.set(key, { object, fingerprint: undefined });
      }
      enqueue(node);
    }
  }

  async handleUpstream(node: string, message: Message): Promise<void> {
    const resource = String(message?.route?.resource);
    let report: UpstreamReport;
    try {
      report = parseUpstream(node, message);
    } catch (error) {
      if (isDeviceResource(resource)) {
        this.#logger.warn?.({ node, resource, err: error }, 'upstream device message refused');
      } else {
        this.#logger.debug?.({ node, resource }, 'ignored: not a device message');
      }
      return;
    }
    const key = `${report.namespace}/${report.name}`;
    const previous = this.#writes.get(key) ?? Promise.resolve();
    const write = previous.then(() => this.#writeStatus(node, resource, report));
    this.#writes.set(key, write);
    try {
      await write;
    } finally {
      if (this.#writes.get(key) === write) this.#writes.delete(key);
    }
  }

  /** Read, check, merge, patch; again when the Device changed in between. Never throws. */
  async #writeStatus(node: string, resource: string, report: UpstreamReport): Promise<void> {
    const { namespace, name } = report;
    const refuse = (code: DeviceControllerErrorCode, why: string) =>
      this.#logger.warn?.(
        { node, resource, err: new DeviceControllerError(code, why) },
        'upstream device message refused',
      );
    try {
      for (let attempt = 1; ; attempt++) {
        let device: Device;
        try {
          device = (await this.#api.getNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace,
            plural: DeviceResource.plural,
            name,
          })) as Device;
        } catch (error) {
          if (toKubeError(error, 'get device').code !== KubeErrorCode.NotFound) throw error;
          refuse(DeviceControllerErrorCode.UnknownDevice, `device ${namespace}/${name} not found`);
          return;
        }
        if (nodeOf(device) !== node) {
          refuse(
            DeviceControllerErrorCode.WrongNode,
            `device ${namespace}/${name} is bound to ${nodeOf(device) ?? 'no node'}, not to ${node}`,
          );
          return;
        }
        const status = this.#statusAfter(device, report, node, resource);
        if (status === undefined) return;
        try {
          await this.#patchStatus(namespace, name, {
            metadata: { resourceVersion: device.metadata?.resourceVersion },
            status,
          });
          this.#logger.debug?.({ node, resource }, 'device status written');
          return;
        } catch (error) {
          const kubeError = toKubeError(error, `patch status of device ${namespace}/${name}`);
          if (kubeError.code !== KubeErrorCode.Conflict || attempt >= STATUS_WRITE_ATTEMPTS) {
            throw kubeError;
          }
        }
      }
    } catch (error) {
      this.#logger.warn?.(
        { node, resource, err: toKubeError(error, 'write device status') },
        'could not write the device status',
      );
    }
  }

  /** The status fields to patch, or undefined when they are already so. */
  #statusAfter(
    device: Device,
    report: UpstreamReport,
    node: string,
    resource: string,
  ): Record<string, unknown> | undefined {
    const current = device.status ?? {};
    if (report.kind === 'twin') {
      const { twins, ignored } = mergeTwins(device, report);
      if (ignored.length > 0) {
        this.#logger.info?.({ node, resource, ignored }, 'properties the device does not declare');
      }
      if (JSON.stringify(twins) === JSON.stringify(current.twins ?? [])) return undefined;
      return { twins };
    }
    const status: Record<string, unknown> = {};
    if (report.state !== undefined && report.state !== current.state) status.state = report.state;
    if (report.lastOnlineTime !== undefined && report.lastOnlineTime !== current.lastOnlineTime) {
      status.lastOnlineTime = report.lastOnlineTime;
    }
    return Object.keys(status).length > 0 ? status : undefined;
  }

  /** A merge patch of the status: through the subresource when the CRD has one. */
  async #patchStatus(namespace: string, name: string, body: object): Promise<void> {
    const request = { group: GROUP, version: VERSION, namespace, plural: 'devices', name, body };
    if (this.#statusSubresource) {
      await this.#api.patchNamespacedCustomObjectStatus(request, mergePatch);
    } else {
      await this.#api.patchNamespacedCustomObject(request, mergePatch);
    }
  }
}

/**
 * KubeEdge's DeviceController: sends each edge node its Devices (by `spec.nodeName`), the
 * DeviceModels they use and membership updates through cloudhub, and writes what the nodes
 * report (twins, device state) to the Device's status. Messages as in decision 0007.
 */
export function createDeviceController(options: DeviceControllerOptions): DeviceController {
  return new DeviceControllerImpl(options);
}
