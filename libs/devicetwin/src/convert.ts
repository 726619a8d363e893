import type { Device, DeviceModel, DmiInput, JsonValue, PushMethod } from '@ke/dmi';
import { packConfigData } from '@ke/dmi';
import type { DeviceModelObject, DeviceObject, DevicePropertyObject } from './store';

type ConfigData = { [key: string]: JsonValue | undefined };

/** A v1beta1 Device as DMI carries it to a mapper (RegisterDevice, UpdateDevice, MapperRegister). */
export function toDmiDevice(device: DeviceObject): DmiInput<Device> {
  const { spec, metadata } = device;
  return {
    name: metadata.name,
    namespace: metadata.namespace,
    spec: {
      deviceModelReference: spec.deviceModelRef?.name ?? '',
      protocol: {
        protocolName: spec.protocol?.protocolName ?? '',
        configData: packConfigData((spec.protocol?.configData ?? {}) as ConfigData),
      },
      properties: (spec.properties ?? []).map(toDmiProperty),
      methods: (spec.methods ?? []).map((method) => ({
        name: method.name,
        description: method.description ?? '',
        propertyNames: method.propertyNames ?? [],
      })),
    },
  };
}

function toDmiProperty(property: DevicePropertyObject) {
  return {
    name: property.name,
    ...(property.desired?.value !== undefined
      ? { desired: { value: property.desired.value, metadata: property.desired.metadata ?? {} } }
      : {}),
    visitors: {
      protocolName: property.visitors?.protocolName ?? '',
      configData: packConfigData((property.visitors?.configData ?? {}) as ConfigData),
    },
    reportCycle: property.reportCycle ?? 0,
    collectCycle: property.collectCycle ?? 0,
    reportToCloud: property.reportToCloud ?? false,
    ...(property.pushMethod ? { pushMethod: toDmiPushMethod(property.pushMethod) } : {}),
  };
}

function toDmiPushMethod(push: Record<string, unknown>): DmiInput<PushMethod> {
  const http = push.http as Record<string, unknown> | undefined;
  const mqtt = push.mqtt as Record<string, unknown> | undefined;
  return {
    ...(http
      ? {
          http: {
            hostname: String(http.hostName ?? http.hostname ?? ''),
            port: Number(http.port ?? 0),
            requestpath: String(http.requestPath ?? http.requestpath ?? ''),
            timeout: Number(http.timeout ?? 0),
          },
        }
      : {}),
    ...(mqtt
      ? {
          mqtt: {
            address: String(mqtt.address ?? ''),
            topic: String(mqtt.topic ?? ''),
            qos: Number(mqtt.qos ?? 0),
            retained: Boolean(mqtt.retained),
          },
        }
      : {}),
  };
}

/** A v1beta1 DeviceModel as DMI carries it (types lower-cased as mappers expect: `int`). */
export function toDmiModel(model: DeviceModelObject): DmiInput<DeviceModel> {
  return {
    name: model.metadata.name,
    namespace: model.metadata.namespace,
    spec: {
      properties: (model.spec.properties ?? []).map((property) => ({
        name: property.name,
        description: property.description ?? '',
        type: (property.type ?? 'string').toLowerCase(),
        accessMode: property.accessMode ?? 'ReadWrite',
        minimum: property.minimum ?? '',
        maximum: property.maximum ?? '',
        unit: property.unit ?? '',
      })),
    },
  };
}
