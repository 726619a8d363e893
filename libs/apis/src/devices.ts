import { type Static, Type } from '@sinclair/typebox';
import { kindSchema, LocalObjectReferenceSchema } from './k8s-builtins';
import { defineResource } from './resource';
import { describe, FreeFormObject, Int32, Int64, StringEnum, StringMap } from './schema-helpers';

/**
 * `devices.kubeedge.io/v1beta1`: Device and DeviceModel, as in KubeEdge's
 * `pkg/apis/devices/v1beta1`. Upstream marks almost nothing as required (every Go field has
 * `omitempty`); fields its comments call "Required" are checked by the mappers, not the API.
 */

export const DEVICES_GROUP = 'devices.kubeedge.io';
export const DEVICES_VERSION = 'v1beta1';

// ---------------------------------------------------------------------------------------------
// Device

export const TwinPropertySchema = Type.Object(
  {
    value: Type.String({ description: 'Required: The value for this property.' }),
    metadata: Type.Optional(
      StringMap({
        description: 'Additional metadata like timestamp when the value was reported etc.',
      }),
    ),
  },
  {
    description:
      'TwinProperty represents the device property for which an Expected/Actual state can be defined.',
  },
);

export const ProtocolConfigSchema = Type.Object(
  {
    protocolName: Type.Optional(Type.String({ description: 'Unique protocol name Required.' })),
    configData: Type.Optional(FreeFormObject({ description: 'Any config data' })),
  },
  { description: 'Required: The protocol configuration used to connect to the device.' },
);

export const VisitorConfigSchema = Type.Object(
  {
    protocolName: Type.Optional(
      Type.String({ description: 'Required: name of customized protocol' }),
    ),
    configData: Type.Optional(
      FreeFormObject({ description: 'Required: The configData of customized protocol' }),
    ),
  },
  {
    description:
      'Visitors are consumed by device mappers to collect data / perform actions on the device. Required: Protocol relevant config details about the how to access the device property.',
  },
);

export const PushMethodSchema = Type.Object(
  {
    http: Type.Optional(
      Type.Object(
        {
          hostName: Type.Optional(Type.String()),
          port: Type.Optional(Int64()),
          requestPath: Type.Optional(Type.String()),
          timeout: Type.Optional(Int64()),
        },
        { description: 'HTTP Push method configuration for http' },
      ),
    ),
    mqtt: Type.Optional(
      Type.Object(
        {
          address: Type.Optional(
            Type.String({ description: 'broker address, like mqtt://127.0.0.1:1883' }),
          ),
          topic: Type.Optional(Type.String({ description: 'publish topic for mqtt' })),
          qos: Type.Optional(
            Int32({ description: 'qos of mqtt publish param', minimum: 0, maximum: 2 }),
          ),
          retained: Type.Optional(Type.Boolean({ description: 'Is the message retained' })),
        },
        { description: 'MQTT Push method configuration for mqtt' },
      ),
    ),
    otel: Type.Optional(
      Type.Object(
        {
          endpointURL: Type.Optional(
            Type.String({
              description:
                'the target endpoint URL the Exporter will connect to, like https://localhost:4318/v1/metrics',
            }),
          ),
        },
        { description: 'OTEL Push Method configuration for otel' },
      ),
    ),
    dbMethod: Type.Optional(
      Type.Object(
        {
          influxdb2: Type.Optional(
            Type.Object(
              {
                influxdb2ClientConfig: Type.Optional(
                  Type.Object(
                    {
                      url: Type.Optional(Type.String({ description: 'Url of influx database' })),
                      org: Type.Optional(
                        Type.String({ description: 'Org of the user in influx database' }),
                      ),
                      bucket: Type.Optional(
                        Type.String({ description: 'Bucket of the user in influx database' }),
                      ),
                    },
                    { description: 'Config of influx database' },
                  ),
                ),
                influxdb2DataConfig: Type.Optional(
                  Type.Object(
                    {
                      measurement: Type.Optional(
                        Type.String({ description: 'Measurement of the user data' }),
                      ),
                      tag: Type.Optional(StringMap({ description: 'the tag of device data' })),
                      fieldKey: Type.Optional(
                        Type.String({ description: 'FieldKey of the user data' }),
                      ),
                    },
                    { description: 'config of device data when push to influx database' },
                  ),
                ),
              },
              { description: 'method configuration for database' },
            ),
          ),
          redis: Type.Optional(
            Type.Object({
              redisClientConfig: Type.Optional(
                Type.Object(
                  {
                    addr: Type.Optional(Type.String({ description: 'Addr of Redis database' })),
                    db: Type.Optional(Type.Integer({ description: 'Db of Redis database' })),
                    poolsize: Type.Optional(
                      Type.Integer({ description: 'Poolsize of Redis database' }),
                    ),
                    minIdleConns: Type.Optional(
                      Type.Integer({ description: 'MinIdleConns of Redis database' }),
                    ),
                  },
                  { description: 'RedisClientConfig of redis database' },
                ),
              ),
            }),
          ),
          TDEngine: Type.Optional(
            Type.Object({
              TDEngineClientConfig: Type.Optional(
                Type.Object(
                  {
                    addr: Type.Optional(Type.String({ description: 'addr of tdEngine database' })),
                    dbName: Type.Optional(
                      Type.String({ description: 'dbname of tdEngine database' }),
                    ),
                  },
                  { description: 'tdengineClientConfig of tdengine database' },
                ),
              ),
            }),
          ),
          mysql: Type.Optional(
            Type.Object({
              mysqlClientConfig: Type.Optional(
                Type.Object({
                  addr: Type.Optional(
                    Type.String({ description: 'mysql address,like localhost:3306' }),
                  ),
                  database: Type.Optional(Type.String({ description: 'database name' })),
                  userName: Type.Optional(Type.String({ description: 'user name' })),
                }),
              ),
            }),
          ),
        },
        {
          description:
            'DBMethod represents the method used to push data to database, please ensure that the mapper can access the destination address.',
        },
      ),
    ),
  },
  {
    description:
      'PushMethod represents the protocol used to push data, please ensure that the mapper can access the destination address.',
  },
);

export const DevicePropertySchema = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        description: 'Required: The device property name to be accessed. It must be unique.',
      }),
    ),
    desired: Type.Optional(describe(TwinPropertySchema, 'The desired property value.')),
    visitors: Type.Optional(VisitorConfigSchema),
    reportCycle: Type.Optional(
      Int64({ description: 'Define how frequent mapper will report the value.' }),
    ),
    collectCycle: Type.Optional(
      Int64({ description: 'Define how frequent mapper will collect from device.' }),
    ),
    reportToCloud: Type.Optional(Type.Boolean({ description: 'whether be reported to the cloud' })),
    pushMethod: Type.Optional(PushMethodSchema),
  },
  { description: 'DeviceProperty describes the specifics all the properties of the device.' },
);

export const DeviceMethodSchema = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        description: 'Required: The device method name to be accessed. It must be unique.',
      }),
    ),
    description: Type.Optional(
      Type.String({ description: 'Define the description of device method.' }),
    ),
    propertyNames: Type.Optional(
      Type.Array(Type.String(), {
        description: 'PropertyNames are list of device properties that device methods can control.',
      }),
    ),
  },
  { description: 'DeviceMethod describes the specifics all the methods of the device.' },
);

export const DeviceSpecSchema = Type.Object(
  {
    deviceModelRef: Type.Optional(
      LocalObjectReferenceSchema(
        'Required: DeviceModelRef is reference to the device model used as a template to create the device instance.',
      ),
    ),
    nodeName: Type.Optional(
      Type.String({
        description: 'NodeName is a request to schedule this device onto a specific node.',
      }),
    ),
    properties: Type.Optional(
      Type.Array(DevicePropertySchema, {
        description:
          'List of properties which describe the device properties. properties list item must be unique by properties.Name.',
      }),
    ),
    protocol: Type.Optional(ProtocolConfigSchema),
    methods: Type.Optional(
      Type.Array(DeviceMethodSchema, {
        description: 'List of methods of device. methods list item must be unique by method.Name.',
      }),
    ),
  },
  { description: 'DeviceSpec represents a single device instance.' },
);

export const TwinSchema = Type.Object(
  {
    propertyName: Type.Optional(
      Type.String({
        description:
          'Required: The property name for which the desired/reported values are specified.',
      }),
    ),
    reported: Type.Optional(describe(TwinPropertySchema, 'Required: the reported property value.')),
    observedDesired: Type.Optional(
      describe(
        TwinPropertySchema,
        'The desired value of `deviceProperty.Desired` that the mapper has received in current cycle.',
      ),
    ),
  },
  {
    description:
      'Twin provides a logical representation of control properties (writable properties in the device model).',
  },
);

export const DeviceStatusSchema = Type.Object(
  {
    twins: Type.Optional(
      Type.Array(TwinSchema, {
        description:
          'A list of device twins containing desired/reported desired/reported values of twin properties.',
      }),
    ),
    state: Type.Optional(Type.String({ description: 'Optional: The state of the device.' })),
    lastOnlineTime: Type.Optional(
      Type.String({ description: 'Optional: The last time the device was online.' }),
    ),
    reportToCloud: Type.Optional(
      Type.Boolean({ description: 'Optional: whether be reported to the cloud' }),
    ),
    reportCycle: Type.Optional(
      Int64({ description: 'Optional: Define how frequent mapper will report the device status.' }),
    ),
  },
  {
    description:
      'DeviceStatus reports the device state and the desired/reported values of twin attributes.',
  },
);

export const DeviceSchema = kindSchema(
  `${DEVICES_GROUP}/${DEVICES_VERSION}`,
  'Device',
  {
    spec: DeviceSpecSchema,
    status: Type.Optional(DeviceStatusSchema),
  },
  'Device is the Schema for the devices API',
);

export type TwinProperty = Static<typeof TwinPropertySchema>;
export type ProtocolConfig = Static<typeof ProtocolConfigSchema>;
export type VisitorConfig = Static<typeof VisitorConfigSchema>;
export type PushMethod = Static<typeof PushMethodSchema>;
export type DeviceProperty = Static<typeof DevicePropertySchema>;
export type DeviceMethod = Static<typeof DeviceMethodSchema>;
export type DeviceSpec = Static<typeof DeviceSpecSchema>;
export type Twin = Static<typeof TwinSchema>;
export type DeviceStatus = Static<typeof DeviceStatusSchema>;
export type Device = Static<typeof DeviceSchema>;

export const DeviceResource = defineResource({
  group: DEVICES_GROUP,
  version: DEVICES_VERSION,
  kind: 'Device',
  plural: 'devices',
  singular: 'device',
  shortNames: [],
  scope: 'Namespaced',
  description: 'Device is the Schema for the devices API',
  schema: DeviceSchema,
  // Upstream has no status subresource: the device controller writes status with the object.
  subresources: { status: false },
  printerColumns: [],
  crdFileName: 'devices_v1beta1_device.yaml',
});

// ---------------------------------------------------------------------------------------------
// DeviceModel

export const PROPERTY_TYPES = [
  'INT',
  'FLOAT',
  'DOUBLE',
  'STRING',
  'BOOLEAN',
  'BYTES',
  'STREAM',
] as const;
export const PROPERTY_ACCESS_MODES = ['ReadWrite', 'ReadOnly'] as const;

export const ModelPropertySchema = Type.Object(
  {
    name: Type.Optional(Type.String({ description: 'Required: The device property name.' })),
    description: Type.Optional(Type.String({ description: 'The device property description.' })),
    type: Type.Optional(
      StringEnum(PROPERTY_TYPES, {
        description:
          'Required: Type of device property, ENUM: INT,FLOAT,DOUBLE,STRING,BOOLEAN,BYTES,STREAM',
      }),
    ),
    accessMode: Type.Optional(
      StringEnum(PROPERTY_ACCESS_MODES, {
        description: 'Required: Access mode of property, ReadWrite or ReadOnly.',
      }),
    ),
    minimum: Type.Optional(Type.String({ description: 'Minimum value of device data' })),
    maximum: Type.Optional(Type.String({ description: 'Maximum value of device data' })),
    unit: Type.Optional(Type.String({ description: 'The unit of the property' })),
  },
  {
    description:
      'ModelProperty describes an individual device property / attribute like temperature / humidity etc.',
  },
);

export const DeviceModelSpecSchema = Type.Object(
  {
    properties: Type.Optional(
      Type.Array(ModelPropertySchema, { description: 'Required: List of device properties.' }),
    ),
    protocol: Type.Optional(
      Type.String({ description: 'Required: Protocol name used by the device.' }),
    ),
  },
  {
    description:
      'DeviceModelSpec defines the model for a device. It is a blueprint which describes the device capabilities and access mechanism via property visitors.',
  },
);

export const DeviceModelSchema = kindSchema(
  `${DEVICES_GROUP}/${DEVICES_VERSION}`,
  'DeviceModel',
  {
    spec: DeviceModelSpecSchema,
  },
  'DeviceModel is the Schema for the device model API',
);

export type ModelProperty = Static<typeof ModelPropertySchema>;
export type DeviceModelSpec = Static<typeof DeviceModelSpecSchema>;
export type DeviceModel = Static<typeof DeviceModelSchema>;

export const DeviceModelResource = defineResource({
  group: DEVICES_GROUP,
  version: DEVICES_VERSION,
  kind: 'DeviceModel',
  plural: 'devicemodels',
  singular: 'devicemodel',
  shortNames: [],
  scope: 'Namespaced',
  description: 'DeviceModel is the Schema for the device model API',
  schema: DeviceModelSchema,
  subresources: { status: false },
  printerColumns: [],
  crdFileName: 'devices_v1beta1_devicemodel.yaml',
});
