import { isIPv4 } from 'node:net';
import { ApiError, invalid, type StatusCause } from './errors';
import type { KubeObject, Store } from './store/types';

/** Kubernetes' default `--service-cluster-ip-range`. */
export const DEFAULT_SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/12';

const SERVICES = 'core/services';
const SERVICE = { group: '', resource: 'services', kind: 'Service' } as const;

/** A bad `serviceClusterIPRange` option; the server does not start with it. */
export class ServiceIPRangeError extends Error {
  override readonly name = 'ServiceIPRangeError';
  readonly code = 'KE_APISERVER_SERVICE_IP_RANGE';
}

/** The parts of a Service spec the allocator reads and writes. */
export interface ServiceSpec {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
  externalName?: string;
  [field: string]: unknown;
}

function toInt(ip: string): number {
  return ip.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

function toIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** An IPv4 CIDR as its first address and size. */
export interface IPv4Range {
  readonly cidr: string;
  readonly base: number;
  readonly size: number;
}

export function parseIPv4Range(cidr: string): IPv4Range {
  const [address, bitsText, ...rest] = cidr.split('/');
  const bits = Number(bitsText);
  if (rest.length > 0 || !address || !isIPv4(address) || !/^\d+$/.test(bitsText ?? '')) {
    throw new ServiceIPRangeError(
      `serviceClusterIPRange "${cidr}" is not an IPv4 CIDR such as ${DEFAULT_SERVICE_CLUSTER_IP_RANGE} (IPv6 is not supported)`,
    );
  }
  // Network, `.1` (the kubernetes Service) and broadcast leave nothing below /29 worth serving.
  if (bits < 8 || bits > 29) {
    throw new ServiceIPRangeError(
      `serviceClusterIPRange "${cidr}": the prefix must be between /8 and /29`,
    );
  }
  const size = 2 ** (32 - bits);
  const base = toInt(address) - (toInt(address) % size);
  return { cidr: `${toIp(base)}/${bits}`, base, size };
}

const specOf = (service: KubeObject): ServiceSpec => {
  if (!service.spec || typeof service.spec !== 'object') service.spec = {};
  return service.spec as ServiceSpec;
};

const invalidService = (service: KubeObject, causes: StatusCause[]) =>
  invalid(SERVICE, service.metadata.name ?? '', causes);

const invalidValue = (field: string, value: unknown, why: string): StatusCause => ({
  reason: 'FieldValueInvalid',
  field,
  message: `Invalid value: ${JSON.stringify(value)}: ${why}`,
});

/**
 * Kubernetes' Service ClusterIP allocator (kube-apiserver `--service-cluster-ip-range`), without
 * a bitmap of its own: the Services in the store are the allocation. Every call runs inside the
 * write's store transaction, and the store is synchronous, so two creates can never see the same
 * free address.
 */
export class ServiceIPAllocator {
  readonly range: IPv4Range;
  readonly #store: Store;

  constructor(store: Store, cidr: string = DEFAULT_SERVICE_CLUSTER_IP_RANGE) {
    this.#store = store;
    this.range = parseIPv4Range(cidr);
  }

  /** Offsets a request may name: everything but the network and broadcast addresses. */
  #offsetOf(ip: string): number | undefined {
    if (!isIPv4(ip)) return undefined;
    const offset = toInt(ip) - this.range.base;
    return offset >= 1 && offset <= this.range.size - 2 ? offset : undefined;
  }

  /** Offsets held by Services other than `except` (namespace/name). */
  #used(except?: string): Set<number> {
    const used = new Set<number>();
    for (const service of this.#store.list(SERVICES).items) {
      if (`${service.metadata.namespace}/${service.metadata.name}` === except) continue;
      const ip = (service.spec as ServiceSpec | undefined)?.clusterIP;
      const offset = ip ? this.#offsetOf(ip) : undefined;
      if (offset !== undefined) used.add(offset);
    }
    return used;
  }

  /** Fills in a new Service's cluster IP, or checks the one it asks for. */
  allocate(service: KubeObject): void {
    const spec = specOf(service);
    if (spec.type === 'ExternalName') {
      if (spec.clusterIP || (spec.clusterIPs ?? []).length > 0) {
        throw invalidService(service, [
          {
            reason: 'FieldValueForbidden',
            field: 'spec.clusterIPs',
            message: 'Forbidden: may not be set for ExternalName services',
          },
        ]);
      }
      delete spec.clusterIP;
      delete spec.clusterIPs;
      delete spec.ipFamilies;
      delete spec.ipFamilyPolicy;
      return;
    }
    this.#checkFamilies(service, spec);
    const requested = spec.clusterIP || spec.clusterIPs?.[0] || '';
    if (requested === 'None') {
      spec.clusterIP = 'None';
      spec.clusterIPs = ['None'];
      return;
    }
    const self = `${service.metadata.namespace}/${service.metadata.name}`;
    const used = this.#used(self);
    let ip: string;
    if (requested) {
      const offset = this.#offsetOf(requested);
      if (!isIPv4(requested)) {
        throw invalidService(service, [
          invalidValue(
            'spec.clusterIP',
            requested,
            'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
          ),
        ]);
      }
      if (offset === undefined) {
        throw invalidService(service, [
          invalidValue(
            'spec.clusterIP',
            requested,
            `provided IP is not in the valid range. The range of valid IPs is ${this.range.cidr}`,
          ),
        ]);
      }
      if (used.has(offset)) {
        throw invalidService(service, [
          invalidValue('spec.clusterIP', requested, 'provided IP is already allocated'),
        ]);
      }
      ip = requested;
    } else {
      ip = toIp(this.range.base + this.#freeOffset(used));
    }
    spec.clusterIP = ip;
    spec.clusterIPs = [ip];
  }

  /**
   * A free offset from 2 (`.1` is the kubernetes Service's) to the last before broadcast. The
   * scan starts at a random offset, as Kubernetes allocates at random, so a Service deleted and
   * created again does not usually get its old address back.
   */
  #freeOffset(used: Set<number>): number {
    const first = 2;
    const count = this.range.size - 3;
    const start = Math.floor(Math.random() * count);
    for (let i = 0; i < count; i++) {
      const offset = first + ((start + i) % count);
      if (!used.has(offset)) return offset;
    }
    throw new ApiError(
      'InternalError',
      'Internal error occurred: failed to allocate a serviceIP: range is full',
    );
  }

  #checkFamilies(service: KubeObject, spec: ServiceSpec): void {
    const causes: StatusCause[] = [];
    if ((spec.clusterIPs ?? []).length > 1) {
      causes.push(
        invalidValue(
          'spec.clusterIPs',
          spec.clusterIPs,
          'this server is single-stack (IPv4): at most one cluster IP',
        ),
      );
    }
    const [first] = spec.clusterIPs ?? [];
    if (spec.clusterIP && first && first !== spec.clusterIP) {
      causes.push(invalidValue('spec.clusterIPs[0]', first, 'must match `clusterIP` if specified'));
    }
    (spec.ipFamilies ?? []).forEach((family, index) => {
      if (family !== 'IPv4') {
        causes.push({
          reason: 'FieldValueNotSupported',
          field: `spec.ipFamilies[${index}]`,
          message: `Unsupported value: ${JSON.stringify(family)}: supported values: "IPv4"`,
        });
      }
    });
    if (spec.ipFamilyPolicy === 'RequireDualStack') {
      causes.push(
        invalidValue(
          'spec.ipFamilyPolicy',
          spec.ipFamilyPolicy,
          'this server is single-stack (IPv4)',
        ),
      );
    }
    if (causes.length > 0) throw invalidService(service, causes);
    spec.ipFamilies = spec.ipFamilies?.length ? spec.ipFamilies : ['IPv4'];
    spec.ipFamilyPolicy ??= 'SingleStack';
  }

  /**
   * An update keeps the cluster IP: one left out is copied from the stored Service (as
   * Kubernetes' `patchAllocatedValues` does), a different one is refused. Turning into an
   * ExternalName Service releases the IP; turning from one allocates.
   */
  reallocate(next: KubeObject, current: KubeObject): void {
    const spec = specOf(next);
    const before = (current.spec ?? {}) as ServiceSpec;
    if (spec.type === 'ExternalName') {
      if (before.type !== 'ExternalName' && spec.clusterIP === before.clusterIP) {
        delete spec.clusterIP;
        delete spec.clusterIPs;
      }
      this.allocate(next);
      return;
    }
    if (before.type === 'ExternalName' || !before.clusterIP) {
      this.allocate(next);
      return;
    }
    if (!spec.clusterIP && !(spec.clusterIPs ?? []).length) {
      spec.clusterIP = before.clusterIP;
      spec.clusterIPs = before.clusterIPs ?? [before.clusterIP];
    }
    spec.clusterIP ||= spec.clusterIPs?.[0];
    if (spec.clusterIP !== before.clusterIP) {
      throw invalidService(next, [
        invalidValue('spec.clusterIP', spec.clusterIP, 'field is immutable'),
      ]);
    }
    spec.ipFamilies ??= before.ipFamilies;
    spec.ipFamilyPolicy ??= before.ipFamilyPolicy;
    this.#checkFamilies(next, spec);
    spec.clusterIPs = [spec.clusterIP];
  }
}
