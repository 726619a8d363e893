import {
  type Device,
  type DeviceModel,
  deviceFromV1beta1,
  modelFromV1beta1,
  type V1beta1Device,
  type V1beta1DeviceModel,
} from '@ke/dmi';
import { parseAllDocuments } from 'yaml';
import { MapperError, messageOf } from './errors';
import type { StandaloneDevices } from './mapper';

// mapper-framework's `dev_init.mode: configmap` reads the devices from a file instead of
// edgecore. Here that file holds the cloud's own manifests (what `kubectl apply` takes), so the
// same Device and DeviceModel objects run with or without edgecore.

const API_VERSION = 'devices.kubeedge.io/v1beta1';
const KEY = 'dev_init.configmap';

/** How `parseDeviceManifests` names the file and picks its devices. */
export interface ParseDeviceManifestsOptions {
  /** Names the file in error messages; default `device file`. */
  source?: string;
  /** Only Devices whose `spec.protocol.protocolName` is this one are kept. */
  protocol: string;
}

/**
 * The Devices of one protocol and the DeviceModels in a YAML text of `devices.kubeedge.io/v1beta1`
 * manifests (several documents, or a `kind: List`), as DMI carries them (`deviceFromV1beta1`,
 * `modelFromV1beta1`). Throws a `MapperError` (`KE_MAPPER_CONFIG_YAML`,
 * `KE_MAPPER_CONFIG_DEVICES`) with `key` `dev_init.configmap` and a one-line message.
 */
export function parseDeviceManifests(
  text: string,
  options: ParseDeviceManifestsOptions,
): StandaloneDevices {
  const source = options.source ?? 'device file';
  const fail = (message: string, cause?: unknown): never => {
    throw new MapperError('KE_MAPPER_CONFIG_DEVICES', `${source}: ${message}`, {
      key: KEY,
      cause,
    });
  };

  const objects: { value: unknown; where: string }[] = [];
  parseAllDocuments(text).forEach((document, i) => {
    const yamlError = document.errors[0];
    if (yamlError) {
      const firstLine = yamlError.message.split('\n')[0]!.replace(/:$/, '');
      throw new MapperError('KE_MAPPER_CONFIG_YAML', `${source}: invalid YAML: ${firstLine}`, {
        key: KEY,
        cause: yamlError,
      });
    }
    const value: unknown = document.toJS();
    if (value === null || value === undefined) return;
    const where = `document ${i + 1}`;
    if (isMapping(value) && value.kind === 'List') {
      if (!Array.isArray(value.items)) fail(`${where}: a List needs items`);
      (value.items as unknown[]).forEach((item, j) => {
        objects.push({ value: item, where: `${where}, items[${j}]` });
      });
    } else {
      objects.push({ value, where });
    }
  });

  const models = new Map<string, DeviceModel>();
  const devices: Device[] = [];
  const deviceKeys = new Set<string>();
  for (const { value, where } of objects) {
    if (!isMapping(value) || (value.kind !== 'Device' && value.kind !== 'DeviceModel')) {
      fail(`${where} is not a Device or DeviceModel (kind: ${describeKind(value)})`);
    }
    const manifest = value as Record<string, unknown>;
    const metadata = manifest.metadata as { name?: unknown; namespace?: unknown } | undefined;
    const name = `${manifest.kind} ${typeof metadata?.name === 'string' ? metadata.name : '(no name)'}`;
    if (manifest.apiVersion !== API_VERSION) {
      fail(`${where}: ${name} has apiVersion ${String(manifest.apiVersion)}; use ${API_VERSION}`);
    }
    if (!isMapping(metadata) || typeof metadata.name !== 'string' || !metadata.name) {
      fail(`${where}: a ${manifest.kind} needs metadata.name`);
    }
    if (!isMapping(manifest.spec)) fail(`${where}: ${name} needs a spec mapping`);
    try {
      if (manifest.kind === 'DeviceModel') {
        const model = modelFromV1beta1(manifest as unknown as V1beta1DeviceModel);
        models.set(`${model.namespace}/${model.name}`, model);
      } else {
        const device = deviceFromV1beta1(manifest as unknown as V1beta1Device);
        if (device.spec?.protocol?.protocolName !== options.protocol) continue;
        const key = `${device.namespace}/${device.name}`;
        if (deviceKeys.has(key)) fail(`${where}: Device ${key} is in the file twice`);
        deviceKeys.add(key);
        devices.push(device);
      }
    } catch (error) {
      if (error instanceof MapperError) throw error;
      fail(`${where}: ${name}: ${messageOf(error)}`, error);
    }
  }

  for (const device of devices) {
    const model = `${device.namespace}/${device.spec?.deviceModelReference ?? ''}`;
    if (!models.has(model)) {
      fail(
        `Device ${device.namespace}/${device.name} refers to DeviceModel ${model}, which the file does not have`,
      );
    }
  }
  return { devices, models: [...models.values()] };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeKind(value: unknown): string {
  if (!isMapping(value)) return Array.isArray(value) ? 'a list' : JSON.stringify(value);
  return value.kind === undefined ? 'none' : JSON.stringify(value.kind);
}
