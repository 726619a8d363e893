/** The driver interface this package implements; it is the mapper SDK's (`@ke/mapper-sdk`). */
export type { DeviceDriver, DeviceState, PropertyType } from '@ke/mapper-sdk';
