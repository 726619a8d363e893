import { status } from '@grpc/grpc-js';
import { connectDmi, type DmiCallOptions, type DmiClientOptions } from './client';
import { DmiError } from './errors';
import { createDmiServer, type DmiHandler, type DmiServer, type DmiServerOptions } from './server';
import type {
  CreateDeviceModelRequest,
  CreateDeviceModelResponse,
  Device,
  DeviceModel,
  DmiInput,
  GetDeviceRequest,
  GetDeviceResponse,
  RegisterDeviceRequest,
  RegisterDeviceResponse,
  RemoveDeviceModelRequest,
  RemoveDeviceRequest,
  UpdateDeviceModelRequest,
  UpdateDeviceRequest,
} from './types';

/** What a mapper does when edgecore calls; a missing one answers UNIMPLEMENTED. */
export interface DeviceMapperHandlers {
  /** Add the device and connect to it; answer with its name and namespace. */
  registerDevice?: DmiHandler<RegisterDeviceRequest, DmiInput<RegisterDeviceResponse>>;
  /** Disconnect from the device and forget it. */
  removeDevice?: DmiHandler<RemoveDeviceRequest, void>;
  /** The device changed: reconnect with what it says now. */
  updateDevice?: DmiHandler<UpdateDeviceRequest, void>;
  /** Add the model; answer with its name and namespace. */
  createDeviceModel?: DmiHandler<CreateDeviceModelRequest, DmiInput<CreateDeviceModelResponse>>;
  removeDeviceModel?: DmiHandler<RemoveDeviceModelRequest, void>;
  updateDeviceModel?: DmiHandler<UpdateDeviceModelRequest, void>;
  /** The device with its current status (twins); throw `KE_DMI_NOT_FOUND` if there is none. */
  getDevice?: DmiHandler<GetDeviceRequest, DmiInput<GetDeviceResponse>>;
}

export interface DeviceMapperServerOptions extends DmiServerOptions {
  handlers: DeviceMapperHandlers;
}

/**
 * The `DeviceMapperService` a mapper serves on its Unix socket (the `address` it registers
 * with): edgecore calls it as the cloud adds, changes and removes devices and models.
 */
export function createDeviceMapperServer(options: DeviceMapperServerOptions): DmiServer {
  return createDmiServer('DeviceMapperService', options, { ...options.handlers });
}

/** What edgecore calls on a mapper. */
export interface DeviceMapperClient {
  /** The endpoint as given. */
  readonly endpoint: string;
  registerDevice(
    device: DmiInput<Device>,
    options?: DmiCallOptions,
  ): Promise<RegisterDeviceResponse>;
  removeDevice(
    deviceName: string,
    deviceNamespace?: string,
    options?: DmiCallOptions,
  ): Promise<void>;
  updateDevice(device: DmiInput<Device>, options?: DmiCallOptions): Promise<void>;
  createDeviceModel(
    model: DmiInput<DeviceModel>,
    options?: DmiCallOptions,
  ): Promise<CreateDeviceModelResponse>;
  removeDeviceModel(
    modelName: string,
    modelNamespace?: string,
    options?: DmiCallOptions,
  ): Promise<void>;
  updateDeviceModel(model: DmiInput<DeviceModel>, options?: DmiCallOptions): Promise<void>;
  /** The device as the mapper has it; rejects with `KE_DMI_NOT_FOUND` if it has none. */
  getDevice(
    deviceName: string,
    deviceNamespace?: string,
    options?: DmiCallOptions,
  ): Promise<Device>;
  /** Closes the connection; later calls fail with `KE_DMI_UNAVAILABLE`. */
  close(): void;
}

/** edgecore's client of a mapper's `DeviceMapperService` (connects on the first call). */
export function createDeviceMapperClient(options: DmiClientOptions): DeviceMapperClient {
  const connection = connectDmi('DeviceMapperService', options);
  return {
    endpoint: options.endpoint,

    registerDevice: (device, call) =>
      connection.call<RegisterDeviceResponse>('RegisterDevice', { device }, call),

    async removeDevice(deviceName, deviceNamespace = '', call) {
      await connection.call('RemoveDevice', { deviceName, deviceNamespace }, call);
    },

    async updateDevice(device, call) {
      await connection.call('UpdateDevice', { device }, call);
    },

    createDeviceModel: (model, call) =>
      connection.call<CreateDeviceModelResponse>('CreateDeviceModel', { model }, call),

    async removeDeviceModel(modelName, modelNamespace = '', call) {
      await connection.call('RemoveDeviceModel', { modelName, modelNamespace }, call);
    },

    async updateDeviceModel(model, call) {
      await connection.call('UpdateDeviceModel', { model }, call);
    },

    async getDevice(deviceName, deviceNamespace = '', call) {
      const method = 'DeviceMapperService/GetDevice';
      const response = await connection.call<GetDeviceResponse>(
        'GetDevice',
        { deviceName, deviceNamespace },
        call,
      );
      if (!response.device) {
        // A mapper that answers without a device does not have it.
        throw new DmiError(
          'KE_DMI_NOT_FOUND',
          `${method}: the mapper returned no device ${deviceName}`,
          {
            grpcCode: status.NOT_FOUND,
            details: 'empty GetDeviceResponse',
            method,
          },
        );
      }
      return response.device;
    },

    close: () => connection.close(),
  };
}
