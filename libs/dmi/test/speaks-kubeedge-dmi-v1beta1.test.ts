import { describe, expect, it } from 'vitest';
import { dmiRoot } from '../src/definition';
import { dmiPackageDefinition } from '../src/index';

// The wire format is what edgecore and Go mappers check: service paths and field numbers must be
// KubeEdge's (staging/src/github.com/kubeedge/api/apis/dmi/v1beta1/api.proto).
describe('the built-in proto is KubeEdge DMI v1beta1', () => {
  it('has both services with their methods at their gRPC paths', () => {
    const definition = dmiPackageDefinition();
    const paths = (service: string) =>
      Object.values(definition[`v1beta1.${service}`] as Record<string, { path: string }>).map(
        (method) => method.path,
      );
    expect(paths('DeviceManagerService')).toEqual([
      '/v1beta1.DeviceManagerService/MapperRegister',
      '/v1beta1.DeviceManagerService/ReportDeviceStatus',
      '/v1beta1.DeviceManagerService/ReportDeviceStates',
    ]);
    expect(paths('DeviceMapperService')).toEqual([
      '/v1beta1.DeviceMapperService/RegisterDevice',
      '/v1beta1.DeviceMapperService/RemoveDevice',
      '/v1beta1.DeviceMapperService/UpdateDevice',
      '/v1beta1.DeviceMapperService/CreateDeviceModel',
      '/v1beta1.DeviceMapperService/RemoveDeviceModel',
      '/v1beta1.DeviceMapperService/UpdateDeviceModel',
      '/v1beta1.DeviceMapperService/GetDevice',
    ]);
  });

  it.each([
    ['MapperInfo', { name: 1, version: 2, apiVersion: 3, protocol: 4, address: 5, state: 6 }],
    ['Device', { name: 1, spec: 2, status: 3, namespace: 4 }],
    ['DeviceSpec', { deviceModelReference: 1, protocol: 2, properties: 3, methods: 4 }],
    [
      'DeviceProperty',
      {
        name: 1,
        desired: 2,
        visitors: 3,
        reportCycle: 4,
        collectCycle: 5,
        reportToCloud: 6,
        pushMethod: 7,
      },
    ],
    ['ProtocolConfig', { protocolName: 1, configData: 2 }],
    ['CustomizedValue', { data: 1 }],
    ['PushMethod', { http: 1, mqtt: 2, dbMethod: 3, otel: 4, anomalyDetection: 5 }],
    ['DBMethod', { influxdb2: 1, redis: 2, tdengine: 3, mysql: 4 }],
    ['DeviceStatus', { twins: 1, reportToCloud: 2, reportCycle: 3 }],
    ['Twin', { propertyName: 1, observedDesired: 2, reported: 3 }],
    ['ReportDeviceStatusRequest', { deviceName: 1, reportedDevice: 2, deviceNamespace: 3 }],
    ['ReportDeviceStatesRequest', { deviceName: 1, deviceNamespace: 2, state: 3 }],
    ['DeviceCommand', { name: 1, url: 2, method: 3, statusCode: 4, parameters: 5, response: 6 }],
  ])('%s has KubeEdge field numbers', (message, numbers) => {
    const type = dmiRoot().lookupType(`v1beta1.${message}`);
    expect(Object.fromEntries(type.fieldsArray.map((field) => [field.name, field.id]))).toEqual(
      numbers,
    );
  });

  it('carries configData as map<string, google.protobuf.Any>', () => {
    const field = dmiRoot().lookupType('v1beta1.CustomizedValue').fields.data!;
    expect(field.resolve().resolvedType?.fullName).toBe('.google.protobuf.Any');
  });
});
