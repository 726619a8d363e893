import type { Device, DeviceModel } from '@ke/dmi';
import { deviceFromV1beta1, modelFromV1beta1 } from '@ke/dmi';
import type { DeviceModelObject, DeviceObject } from './store';

// The conversion is @ke/dmi's, shared with mappers that read their devices from a file.

/** A v1beta1 Device as DMI carries it to a mapper (RegisterDevice, UpdateDevice, MapperRegister). */
export function toDmiDevice(device: DeviceObject): Device {
  return deviceFromV1beta1(device);
}

/** A v1beta1 DeviceModel as DMI carries it (types lower-cased as mappers expect: `int`). */
export function toDmiModel(model: DeviceModelObject): DeviceModel {
  return modelFromV1beta1(model);
}
