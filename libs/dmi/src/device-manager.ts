import { connectDmi, type DmiCallOptions, type DmiClientOptions } from './client';
import { createDmiServer, type DmiHandler, type DmiServer, type DmiServerOptions } from './server';
import type {
  DmiInput,
  MapperRegisterRequest,
  MapperRegisterRequestInput,
  MapperRegisterResponse,
  ReportDeviceStatesRequest,
  ReportDeviceStatusRequest,
} from './types';

/** Where edgecore's device manager listens by default in KubeEdge. */
export const DEFAULT_DMI_SOCKET_PATH = '/etc/kubeedge/dmi.sock';

/** What edgecore's device manager does when a mapper calls; a missing one answers UNIMPLEMENTED. */
export interface DeviceManagerHandlers {
  /** A mapper came online; answer with its devices and models when it asks `withData`. */
  mapperRegister?: DmiHandler<MapperRegisterRequest, DmiInput<MapperRegisterResponse>>;
  /** A mapper reports the twins (reported and observed desired values) of a device. */
  reportDeviceStatus?: DmiHandler<ReportDeviceStatusRequest, void>;
  /** A mapper reports a device's state (`online`, `offline`, ...). */
  reportDeviceStates?: DmiHandler<ReportDeviceStatesRequest, void>;
}

export interface DeviceManagerServerOptions extends DmiServerOptions {
  handlers: DeviceManagerHandlers;
}

/**
 * The `DeviceManagerService` edgecore serves (its DeviceTwin's DMI server), on a Unix socket:
 * mappers register with it and report device twins and states.
 */
export function createDeviceManagerServer(options: DeviceManagerServerOptions): DmiServer {
  return createDmiServer('DeviceManagerService', options, { ...options.handlers });
}

/** What a mapper calls on edgecore's device manager. */
export interface DeviceManagerClient {
  /** The endpoint as given. */
  readonly endpoint: string;
  /**
   * Registers the mapper (`address` is its own DMI socket: a string is sent as UTF-8). With
   * `withData`, resolves with the devices and models of its protocol.
   */
  mapperRegister(
    request: MapperRegisterRequestInput,
    options?: DmiCallOptions,
  ): Promise<MapperRegisterResponse>;
  /** Reports a device's twins. */
  reportDeviceStatus(
    request: DmiInput<ReportDeviceStatusRequest>,
    options?: DmiCallOptions,
  ): Promise<void>;
  /** Reports a device's state. */
  reportDeviceStates(
    request: DmiInput<ReportDeviceStatesRequest>,
    options?: DmiCallOptions,
  ): Promise<void>;
  /** Closes the connection; later calls fail with `KE_DMI_UNAVAILABLE`. */
  close(): void;
}

/** A mapper's client of edgecore's `DeviceManagerService` (connects on the first call). */
export function createDeviceManagerClient(options: DmiClientOptions): DeviceManagerClient {
  const connection = connectDmi('DeviceManagerService', options);
  return {
    endpoint: options.endpoint,

    mapperRegister(request, call) {
      const { mapper } = request;
      const address = mapper?.address;
      const wire =
        mapper && typeof address === 'string'
          ? { ...request, mapper: { ...mapper, address: Buffer.from(address, 'utf8') } }
          : request;
      return connection.call<MapperRegisterResponse>('MapperRegister', wire, call);
    },

    async reportDeviceStatus(request, call) {
      await connection.call('ReportDeviceStatus', request, call);
    },

    async reportDeviceStates(request, call) {
      await connection.call('ReportDeviceStates', request, call);
    },

    close: () => connection.close(),
  };
}
