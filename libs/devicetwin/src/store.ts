import Database from 'better-sqlite3';
import { DeviceTwinError } from './errors';
import type { MsgTwin, Twins } from './twin';

/** A device as the edge keeps it. */
export interface StoredDevice {
  /** `<namespace>/<name>`, the id KubeEdge's membership messages use. */
  id: string;
  namespace: string;
  name: string;
  description: string;
  /** The mapper's last reported state (`ok`, `offline`, ...); `unknown` until one arrives. */
  state: string;
  /** When the device was last seen `ok`/`online` (RFC 3339), or empty. */
  lastOnline: string;
  /** The v1beta1 Device from the cloud, or undefined when only membership named it so far. */
  object: DeviceObject | undefined;
  /** The cloud resourceVersion of `object`. */
  resourceVersion: string | undefined;
}

/** The parts of a `devices.kubeedge.io/v1beta1` Device the edge reads. */
export interface DeviceObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    resourceVersion?: string;
    [key: string]: unknown;
  };
  spec: {
    deviceModelRef?: { name?: string };
    nodeName?: string;
    protocol?: { protocolName?: string; configData?: Record<string, unknown> };
    properties?: DevicePropertyObject[];
    methods?: { name: string; description?: string; propertyNames?: string[] }[];
    [key: string]: unknown;
  };
  status?: unknown;
}

export interface DevicePropertyObject {
  name: string;
  desired?: { value?: string; metadata?: Record<string, string> };
  visitors?: { protocolName?: string; configData?: Record<string, unknown> };
  reportCycle?: number;
  collectCycle?: number;
  reportToCloud?: boolean;
  pushMethod?: Record<string, unknown>;
  [key: string]: unknown;
}

/** The parts of a `devices.kubeedge.io/v1beta1` DeviceModel the edge reads. */
export interface DeviceModelObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; [key: string]: unknown };
  spec: {
    protocol?: string;
    properties?: {
      name: string;
      description?: string;
      type?: string;
      accessMode?: string;
      minimum?: string;
      maximum?: string;
      unit?: string;
    }[];
    [key: string]: unknown;
  };
}

export interface StoredModel {
  id: string;
  object: DeviceModelObject;
  resourceVersion: string | undefined;
}

interface DeviceRow {
  id: string;
  namespace: string;
  name: string;
  description: string;
  state: string;
  last_online: string;
  object: string | null;
  resource_version: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS twin_device (
  id TEXT PRIMARY KEY,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'unknown',
  last_online TEXT NOT NULL DEFAULT '',
  object TEXT,
  resource_version TEXT
);
CREATE TABLE IF NOT EXISTS twin_model (
  id TEXT PRIMARY KEY,
  object TEXT NOT NULL,
  resource_version TEXT
);
CREATE TABLE IF NOT EXISTS twin_property (
  device_id TEXT NOT NULL REFERENCES twin_device(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  twin TEXT NOT NULL,
  PRIMARY KEY (device_id, name)
);
`;

/**
 * Devices, models and twins in SQLite (WAL, synchronous writes): what the edge has ACKed to the
 * cloud survives a crash, and each change is one transaction.
 */
export class TwinStore {
  readonly #db: Database.Database;
  readonly #statements;

  constructor(path: string) {
    try {
      this.#db = new Database(path);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.pragma('foreign_keys = ON');
      this.#db.pragma('busy_timeout = 5000');
      this.#db.exec(SCHEMA);
    } catch (cause) {
      throw storeError(`opening ${path}`, cause);
    }
    const db = this.#db;
    this.#statements = {
      device: db.prepare<[string], DeviceRow>('SELECT * FROM twin_device WHERE id = ?'),
      devices: db.prepare<[], DeviceRow>('SELECT * FROM twin_device ORDER BY id'),
      putDevice: db.prepare(
        `INSERT INTO twin_device (id, namespace, name, description, state, last_online, object, resource_version)
         VALUES (@id, @namespace, @name, @description, @state, @last_online, @object, @resource_version)
         ON CONFLICT(id) DO UPDATE SET description = excluded.description, state = excluded.state,
           last_online = excluded.last_online, object = excluded.object,
           resource_version = excluded.resource_version`,
      ),
      deleteDevice: db.prepare<[string]>('DELETE FROM twin_device WHERE id = ?'),
      twins: db.prepare<[string], { name: string; twin: string }>(
        'SELECT name, twin FROM twin_property WHERE device_id = ? ORDER BY name',
      ),
      putTwin: db.prepare<[string, string, string]>(
        `INSERT INTO twin_property (device_id, name, twin) VALUES (?, ?, ?)
         ON CONFLICT(device_id, name) DO UPDATE SET twin = excluded.twin`,
      ),
      deleteTwin: db.prepare<[string, string]>(
        'DELETE FROM twin_property WHERE device_id = ? AND name = ?',
      ),
      model: db.prepare<[string], { id: string; object: string; resource_version: string | null }>(
        'SELECT * FROM twin_model WHERE id = ?',
      ),
      models: db.prepare<[], { id: string; object: string; resource_version: string | null }>(
        'SELECT * FROM twin_model ORDER BY id',
      ),
      putModel: db.prepare<[string, string, string | null]>(
        `INSERT INTO twin_model (id, object, resource_version) VALUES (?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET object = excluded.object, resource_version = excluded.resource_version`,
      ),
      deleteModel: db.prepare<[string]>('DELETE FROM twin_model WHERE id = ?'),
    };
  }

  /** Runs `work` in one transaction; store failures become KE_TWIN_STORE_FAILED. */
  transaction<T>(work: () => T): T {
    try {
      return this.#db.transaction(work)();
    } catch (error) {
      if (error instanceof DeviceTwinError) throw error;
      throw storeError('writing', error);
    }
  }

  device(id: string): StoredDevice | undefined {
    const row = this.#read(() => this.#statements.device.get(id));
    return row ? toDevice(row) : undefined;
  }

  devices(): StoredDevice[] {
    return this.#read(() => this.#statements.devices.all()).map(toDevice);
  }

  putDevice(device: StoredDevice): void {
    this.#statements.putDevice.run({
      id: device.id,
      namespace: device.namespace,
      name: device.name,
      description: device.description,
      state: device.state,
      last_online: device.lastOnline,
      object: device.object ? JSON.stringify(device.object) : null,
      resource_version: device.resourceVersion ?? null,
    });
  }

  deleteDevice(id: string): boolean {
    return this.#statements.deleteDevice.run(id).changes > 0;
  }

  twins(deviceId: string): Twins {
    const twins: Twins = {};
    for (const row of this.#read(() => this.#statements.twins.all(deviceId))) {
      twins[row.name] = JSON.parse(row.twin) as MsgTwin;
    }
    return twins;
  }

  putTwin(deviceId: string, name: string, twin: MsgTwin): void {
    this.#statements.putTwin.run(deviceId, name, JSON.stringify(twin));
  }

  deleteTwin(deviceId: string, name: string): void {
    this.#statements.deleteTwin.run(deviceId, name);
  }

  model(id: string): StoredModel | undefined {
    const row = this.#read(() => this.#statements.model.get(id));
    return row
      ? {
          id: row.id,
          object: JSON.parse(row.object) as DeviceModelObject,
          resourceVersion: row.resource_version ?? undefined,
        }
      : undefined;
  }

  models(): StoredModel[] {
    return this.#read(() => this.#statements.models.all()).map((row) => ({
      id: row.id,
      object: JSON.parse(row.object) as DeviceModelObject,
      resourceVersion: row.resource_version ?? undefined,
    }));
  }

  putModel(model: StoredModel): void {
    this.#statements.putModel.run(
      model.id,
      JSON.stringify(model.object),
      model.resourceVersion ?? null,
    );
  }

  deleteModel(id: string): boolean {
    return this.#statements.deleteModel.run(id).changes > 0;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  #read<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw storeError('reading', error);
    }
  }
}

function toDevice(row: DeviceRow): StoredDevice {
  return {
    id: row.id,
    namespace: row.namespace,
    name: row.name,
    description: row.description,
    state: row.state,
    lastOnline: row.last_online,
    object: row.object ? (JSON.parse(row.object) as DeviceObject) : undefined,
    resourceVersion: row.resource_version ?? undefined,
  };
}

function storeError(what: string, cause: unknown): DeviceTwinError {
  return new DeviceTwinError(
    'KE_TWIN_STORE_FAILED',
    `device store: ${what} failed: ${(cause as Error)?.message ?? cause}`,
    { cause },
  );
}
