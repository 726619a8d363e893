import { packConfigData } from './config-data';
import { dmiRoot } from './definition';
import { DmiError } from './errors';
import type { Device, DeviceModel, DmiInput, JsonValue, PushMethod } from './types';

// edgecore turns the cloud's `devices.kubeedge.io/v1beta1` objects into DMI messages
// (`dtcommon.ConvertDevice`, `ConvertDeviceModel`) before it hands them to a mapper. These
// functions do the same, then send the result through the proto types and back, so what they
// return is exactly what a mapper receives in a MapperRegister response.

/** The parts of a `devices.kubeedge.io/v1beta1` Device that DMI carries. */
export interface V1beta1Device {
  metadata: { name: string; namespace?: string };
  spec: {
    deviceModelRef?: { name?: string };
    protocol?: { protocolName?: string; configData?: Record<string, unknown> };
    properties?: V1beta1DeviceProperty[];
    methods?: { name: string; description?: string; propertyNames?: string[] }[];
  };
}

/** One of a v1beta1 Device's `spec.properties`. */
export interface V1beta1DeviceProperty {
  name: string;
  desired?: { value?: string; metadata?: Record<string, string> };
  visitors?: { protocolName?: string; configData?: Record<string, unknown> };
  /** Milliseconds. */
  reportCycle?: number | string;
  /** Milliseconds. */
  collectCycle?: number | string;
  reportToCloud?: boolean;
  /** The CRD's `pushMethod`: `http` (`hostName`, `port`, `requestPath`, `timeout`), `mqtt`, `otel`, `dbMethod`. */
  pushMethod?: Record<string, unknown>;
}

/** The parts of a `devices.kubeedge.io/v1beta1` DeviceModel that DMI carries. */
export interface V1beta1DeviceModel {
  metadata: { name: string; namespace?: string };
  spec: {
    properties?: {
      name: string;
      description?: string;
      /** `INT`, `FLOAT`, `DOUBLE`, `STRING`, `BOOLEAN`, `BYTES` (any case). */
      type?: string;
      accessMode?: string;
      minimum?: string;
      maximum?: string;
      unit?: string;
    }[];
  };
}

/** Where a manifest without `metadata.namespace` lives, as kubectl has it. */
const DEFAULT_NAMESPACE = 'default';

type ConfigData = { [key: string]: JsonValue | undefined };

/**
 * A v1beta1 Device as DMI carries it to a mapper (`RegisterDevice`, `UpdateDevice`,
 * `MapperRegister`): every field filled as a received message has it (int64 as decimal strings,
 * unset messages `null`). `configData` maps are packed with `packConfigData`; a push method's
 * `hostName`/`requestPath` become DMI's `hostname`/`requestpath`. Throws `DmiError`
 * (`KE_DMI_INVALID_ARGUMENT`, `KE_DMI_UNSUPPORTED_VALUE`) naming the field at fault.
 */
export function deviceFromV1beta1(device: V1beta1Device): Device {
  return received<Device>('v1beta1.Device', deviceInputFromV1beta1(device));
}

/** `deviceFromV1beta1` as a message to send: only the fields the Device sets. */
export function deviceInputFromV1beta1(device: V1beta1Device): DmiInput<Device> {
  const { spec, metadata } = device;
  const where = `device ${metadata?.name ?? '(no name)'}`;
  if (!metadata?.name) throw invalid(`${where}: metadata.name is missing`);
  return {
    name: metadata.name,
    namespace: metadata.namespace || DEFAULT_NAMESPACE,
    spec: {
      deviceModelReference: spec?.deviceModelRef?.name ?? '',
      protocol: {
        protocolName: spec?.protocol?.protocolName ?? '',
        configData: packConfigData((spec?.protocol?.configData ?? {}) as ConfigData),
      },
      properties: (spec?.properties ?? []).map((property, i) =>
        propertyInput(property, `${where}: spec.properties[${i}]`),
      ),
      methods: (spec?.methods ?? []).map((method) => ({
        name: method.name,
        description: method.description ?? '',
        propertyNames: method.propertyNames ?? [],
      })),
    },
  };
}

/**
 * A v1beta1 DeviceModel as DMI carries it, every field filled: property types lower-cased as
 * mappers expect (`INT` → `int`, default `string`), `accessMode` default `ReadWrite`.
 */
export function modelFromV1beta1(model: V1beta1DeviceModel): DeviceModel {
  return received<DeviceModel>('v1beta1.DeviceModel', modelInputFromV1beta1(model));
}

/** `modelFromV1beta1` as a message to send. */
export function modelInputFromV1beta1(model: V1beta1DeviceModel): DmiInput<DeviceModel> {
  if (!model.metadata?.name) throw invalid('device model: metadata.name is missing');
  return {
    name: model.metadata.name,
    namespace: model.metadata.namespace || DEFAULT_NAMESPACE,
    spec: {
      properties: (model.spec?.properties ?? []).map((property) => ({
        name: property.name,
        description: property.description ?? '',
        type: (property.type || 'string').toLowerCase(),
        accessMode: property.accessMode || 'ReadWrite',
        minimum: property.minimum ?? '',
        maximum: property.maximum ?? '',
        unit: property.unit ?? '',
      })),
    },
  };
}

function propertyInput(property: V1beta1DeviceProperty, where: string) {
  return {
    name: property.name,
    ...(property.desired?.value !== undefined
      ? { desired: { value: property.desired.value, metadata: property.desired.metadata ?? {} } }
      : {}),
    visitors: {
      protocolName: property.visitors?.protocolName ?? '',
      configData: packConfigData((property.visitors?.configData ?? {}) as ConfigData),
    },
    reportCycle: integer(property.reportCycle, `${where}.reportCycle`),
    collectCycle: integer(property.collectCycle, `${where}.collectCycle`),
    reportToCloud: property.reportToCloud ?? false,
    ...(property.pushMethod
      ? { pushMethod: pushMethodInput(property.pushMethod, `${where}.pushMethod`) }
      : {}),
  };
}

type Loose = Record<string, unknown> | undefined;

function pushMethodInput(push: Record<string, unknown>, where: string): DmiInput<PushMethod> {
  const http = push.http as Loose;
  const mqtt = push.mqtt as Loose;
  const otel = push.otel as Loose;
  const db = push.dbMethod as Loose;
  const text = (value: unknown) => (value === undefined || value === null ? '' : String(value));
  return {
    ...(http && {
      http: {
        hostname: text(http.hostName ?? http.hostname),
        port: integer(http.port, `${where}.http.port`),
        requestpath: text(http.requestPath ?? http.requestpath),
        timeout: integer(http.timeout, `${where}.http.timeout`),
      },
    }),
    ...(mqtt && {
      mqtt: {
        address: text(mqtt.address),
        topic: text(mqtt.topic),
        qos: Number(integer(mqtt.qos, `${where}.mqtt.qos`)),
        retained: Boolean(mqtt.retained),
      },
    }),
    ...(otel && { otel: { endpointURL: text(otel.endpointURL) } }),
    ...(db && { dbMethod: dbMethodInput(db, text, `${where}.dbMethod`) }),
  };
}

function dbMethodInput(
  db: Record<string, unknown>,
  text: (value: unknown) => string,
  where: string,
): DmiInput<NonNullable<PushMethod['dbMethod']>> {
  const influx = db.influxdb2 as Loose;
  const redis = db.redis as Loose;
  // The CRD spells it `TDEngine: { TDEngineClientConfig: { addr, dbName } }`.
  const tdengine = (db.TDEngine ?? db.tdengine) as Loose;
  const mysql = db.mysql as Loose;
  const influxClient = influx?.influxdb2ClientConfig as Loose;
  const influxData = influx?.influxdb2DataConfig as Loose;
  const redisClient = redis?.redisClientConfig as Loose;
  const tdClient = (tdengine?.TDEngineClientConfig ?? tdengine?.tdEngineClientConfig) as Loose;
  const mysqlClient = mysql?.mysqlClientConfig as Loose;
  return {
    ...(influx && {
      influxdb2: {
        influxdb2ClientConfig: influxClient && {
          url: text(influxClient.url),
          org: text(influxClient.org),
          bucket: text(influxClient.bucket),
        },
        influxdb2DataConfig: influxData && {
          measurement: text(influxData.measurement),
          tag: Object.fromEntries(
            Object.entries((influxData.tag ?? {}) as Record<string, unknown>).map(([k, v]) => [
              k,
              text(v),
            ]),
          ),
          fieldKey: text(influxData.fieldKey),
        },
      },
    }),
    ...(redis && {
      redis: {
        redisClientConfig: redisClient && {
          addr: text(redisClient.addr),
          db: Number(integer(redisClient.db, `${where}.redis.redisClientConfig.db`)),
          poolsize: Number(
            integer(redisClient.poolsize, `${where}.redis.redisClientConfig.poolsize`),
          ),
          minIdleConns: Number(
            integer(redisClient.minIdleConns, `${where}.redis.redisClientConfig.minIdleConns`),
          ),
        },
      },
    }),
    ...(tdengine && {
      tdengine: {
        tdEngineClientConfig: tdClient && {
          addr: text(tdClient.addr),
          dbname: text(tdClient.dbName ?? tdClient.dbname),
        },
      },
    }),
    ...(mysql && {
      mysql: {
        mysqlClientConfig: mysqlClient && {
          addr: text(mysqlClient.addr),
          database: text(mysqlClient.database),
          userName: text(mysqlClient.userName),
        },
      },
    }),
  };
}

/** An integer field (int32 or int64): a number, or a decimal string; unset is 0. */
function integer(value: unknown, where: string): number | string {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return value.trim();
  throw invalid(`${where} must be an integer, got ${JSON.stringify(value)}`);
}

function invalid(message: string): DmiError {
  return new DmiError('KE_DMI_INVALID_ARGUMENT', message);
}

/**
 * A message as a mapper receives it: encoded and decoded with the options the gRPC layer uses
 * (`dmiPackageDefinition`), so defaults are filled, int64 are strings and unset messages `null`.
 */
function received<T>(typeName: string, input: object): T {
  const type = dmiRoot().lookupType(typeName);
  const bytes = type.encode(type.fromObject(input)).finish();
  return type.toObject(type.decode(bytes), {
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  }) as T;
}
