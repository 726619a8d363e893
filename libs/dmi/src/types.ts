// The DMI v1beta1 messages, camelCased as protobufjs does (`api_version` → `apiVersion`,
// `status_code` → `statusCode`). A received message carries every field: proto3 defaults are
// filled in, repeated fields are arrays, maps are objects, and a message field the sender left
// unset is `null`. int64 values arrive as decimal strings; bytes as Buffers. What you send is a
// `DmiInput<...>` of the same message: every field optional.

/** An int64 as received: a decimal string (int64 goes beyond what a JavaScript number holds). */
export type Int64 = `${bigint}`;
/** An int64 to send: a number, or a decimal string for values beyond 2^53. */
export type Int64Input = number | string;

/**
 * A message as sent: every field optional, int64 fields as numbers or strings, message fields
 * may be `null`.
 */
export type DmiInput<T> = [T] extends [Int64]
  ? Int64Input
  : T extends Uint8Array
    ? Uint8Array
    : T extends readonly (infer Item)[]
      ? DmiInput<Item>[]
      : T extends object
        ? { [K in keyof T]?: DmiInput<NonNullable<T[K]>> | (null extends T[K] ? null : never) }
        : T;

/** `google.protobuf.Any`: a message of the type `typeUrl` names, serialized. */
export interface Any {
  /** `type.googleapis.com/google.protobuf.StringValue` and the like. */
  typeUrl: string;
  value: Buffer;
}

/** A protocol's or visitor's free-form configuration; see `packConfigData`/`unpackConfigData`. */
export interface CustomizedValue {
  data: Record<string, Any>;
}

/** The value of a `configData` entry, as JSON has it. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

// --- Device models ---

export interface DeviceModel {
  name: string;
  spec: DeviceModelSpec | null;
  namespace: string;
}

export interface DeviceModelSpec {
  properties: ModelProperty[];
  commands: DeviceCommand[];
}

export interface ModelProperty {
  name: string;
  description: string;
  /** `int`, `float`, `double`, `string`, `boolean`, `bytes`. */
  type: string;
  /** `ReadOnly` or `ReadWrite`. */
  accessMode: string;
  minimum: string;
  maximum: string;
  unit: string;
}

export interface DeviceCommand {
  name: string;
  url: string;
  method: string;
  statusCode: string[];
  parameters: string[];
  response: Buffer;
}

// --- Devices ---

export interface Device {
  name: string;
  spec: DeviceSpec | null;
  status: DeviceStatus | null;
  namespace: string;
}

export interface DeviceSpec {
  /** The name of the device's `DeviceModel`. */
  deviceModelReference: string;
  protocol: ProtocolConfig | null;
  properties: DeviceProperty[];
  methods: DeviceMethod[];
}

export interface DeviceMethod {
  name: string;
  description: string;
  propertyNames: string[];
}

export interface DeviceProperty {
  name: string;
  /** The value the cloud wants the property to have. */
  desired: TwinProperty | null;
  /** How the mapper reaches the property on the device (register, offset, ...). */
  visitors: VisitorConfig | null;
  /** How often the mapper reports the value, in milliseconds. */
  reportCycle: Int64;
  /** How often the mapper reads the value from the device, in milliseconds. */
  collectCycle: Int64;
  reportToCloud: boolean;
  pushMethod: PushMethod | null;
}

export interface ProtocolConfig {
  /** `modbus`, `opcua`, `bluetooth`, or a customized protocol's name. */
  protocolName: string;
  configData: CustomizedValue | null;
}

export interface VisitorConfig {
  protocolName: string;
  configData: CustomizedValue | null;
}

// --- Where a mapper pushes property values ---

export interface PushMethod {
  http: PushMethodHTTP | null;
  mqtt: PushMethodMQTT | null;
  otel: PushMethodOTEL | null;
  dbMethod: DBMethod | null;
  anomalyDetection: AnomalyDetection | null;
}

export interface PushMethodHTTP {
  hostname: string;
  port: Int64;
  requestpath: string;
  timeout: Int64;
}

export interface PushMethodMQTT {
  /** Like `mqtt://127.0.0.1:1883`. */
  address: string;
  topic: string;
  qos: number;
  retained: boolean;
}

export interface PushMethodOTEL {
  /** Like `https://localhost:4318/v1/metrics`. */
  endpointURL: string;
}

export interface DBMethod {
  influxdb2: DBMethodInfluxdb2 | null;
  redis: DBMethodRedis | null;
  tdengine: DBMethodTDEngine | null;
  mysql: DBMethodMySQL | null;
}

export interface DBMethodInfluxdb2 {
  influxdb2ClientConfig: Influxdb2ClientConfig | null;
  influxdb2DataConfig: Influxdb2DataConfig | null;
}

export interface Influxdb2ClientConfig {
  url: string;
  org: string;
  bucket: string;
}

export interface Influxdb2DataConfig {
  measurement: string;
  tag: Record<string, string>;
  fieldKey: string;
}

export interface DBMethodRedis {
  redisClientConfig: RedisClientConfig | null;
}

export interface RedisClientConfig {
  addr: string;
  db: number;
  poolsize: number;
  minIdleConns: number;
}

export interface DBMethodTDEngine {
  tdEngineClientConfig: TDEngineClientConfig | null;
}

export interface TDEngineClientConfig {
  addr: string;
  dbname: string;
}

export interface DBMethodMySQL {
  mysqlClientConfig: MySQLClientConfig | null;
}

export interface MySQLClientConfig {
  addr: string;
  database: string;
  userName: string;
}

export interface AnomalyDetection {
  data: Record<string, Any>;
}

// --- Twins and states ---

export interface DeviceStatus {
  twins: Twin[];
  reportToCloud: boolean;
  reportCycle: Int64;
}

export interface Twin {
  propertyName: string;
  /** The desired value as the mapper last applied it. */
  observedDesired: TwinProperty | null;
  /** The value read from the device. */
  reported: TwinProperty | null;
}

export interface TwinProperty {
  value: string;
  /** KubeEdge puts `type` and `timestamp` (milliseconds) here. */
  metadata: Record<string, string>;
}

// --- DeviceManagerService ---

export interface MapperInfo {
  name: string;
  version: string;
  /** `v1beta1`. */
  apiVersion: string;
  /** The protocol the mapper speaks; edgecore routes that protocol's devices to it. */
  protocol: string;
  /** The mapper's gRPC Unix socket (bytes on the wire: `address.toString()` reads it). */
  address: Buffer;
  state: string;
}

/** `MapperInfo` to send: `address` may be a string (sent as UTF-8). */
export type MapperInfoInput = Omit<DmiInput<MapperInfo>, 'address'> & {
  address?: string | Uint8Array;
};

export interface MapperRegisterRequest {
  /** True: answer with the devices and models of the mapper's protocol. */
  withData: boolean;
  mapper: MapperInfo | null;
}

export interface MapperRegisterRequestInput {
  withData?: boolean;
  mapper?: MapperInfoInput | null;
}

export interface MapperRegisterResponse {
  modelList: DeviceModel[];
  deviceList: Device[];
}

export interface ReportDeviceStatusRequest {
  deviceName: string;
  reportedDevice: DeviceStatus | null;
  deviceNamespace: string;
}

export interface ReportDeviceStatesRequest {
  deviceName: string;
  deviceNamespace: string;
  /** `online`, `offline`, `unhealthy`, ... as the mapper's driver says. */
  state: string;
}

// --- DeviceMapperService ---

export interface RegisterDeviceRequest {
  device: Device | null;
}

export interface RegisterDeviceResponse {
  deviceName: string;
  deviceNamespace: string;
}

export interface RemoveDeviceRequest {
  deviceName: string;
  deviceNamespace: string;
}

export interface UpdateDeviceRequest {
  device: Device | null;
}

export interface CreateDeviceModelRequest {
  model: DeviceModel | null;
}

export interface CreateDeviceModelResponse {
  deviceModelName: string;
  deviceModelNamespace: string;
}

export interface RemoveDeviceModelRequest {
  modelName: string;
  modelNamespace: string;
}

export interface UpdateDeviceModelRequest {
  model: DeviceModel | null;
}

export interface GetDeviceRequest {
  deviceName: string;
  deviceNamespace: string;
}

export interface GetDeviceResponse {
  device: Device | null;
}
