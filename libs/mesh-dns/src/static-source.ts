import { isIP } from 'node:net';
import { invalidRecord } from './errors';
import type { DnsService, DnsSource } from './model';
import { isLabel } from './names';

/** A source whose services a program sets directly: for embedding, and for tests. */
export interface StaticSource extends DnsSource {
  /** Adds or replaces the service with this namespace and name. */
  upsert(service: DnsService): void;
  /** Removes a service; false if there was none. */
  delete(namespace: string, name: string): boolean;
  /** Replaces every service. */
  replace(services: Iterable<DnsService>): void;
}

/**
 * A {@link DnsSource} over services held in memory. Each change is validated (a bad name, IP
 * or port throws `KE_DNS_INVALID_RECORD`) and reaches the server's answers at once.
 */
export function createStaticSource(services: Iterable<DnsService> = []): StaticSource {
  const byKey = new Map<string, DnsService>();
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  const put = (service: DnsService) => {
    validateService(service);
    byKey.set(`${service.namespace}/${service.name}`, service);
  };
  for (const service of services) put(service);
  return {
    async start() {},
    async stop() {},
    services: () => byKey.values(),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    upsert(service) {
      put(service);
      notify();
    },
    delete(namespace, name) {
      const deleted = byKey.delete(`${namespace}/${name}`);
      if (deleted) notify();
      return deleted;
    },
    replace(next) {
      const previous = new Map(byKey);
      byKey.clear();
      try {
        for (const service of next) put(service);
      } catch (error) {
        byKey.clear();
        for (const [key, service] of previous) byKey.set(key, service);
        throw error;
      }
      notify();
    },
  };
}

function validateService(service: DnsService): void {
  const id = `service ${service.namespace}/${service.name}`;
  if (!isLabel(service.namespace ?? '') || !isLabel(service.name ?? '')) {
    throw invalidRecord(`${id}: namespace and name must be DNS-1123 labels (a-z, 0-9, -)`);
  }
  for (const ip of service.clusterIPs ?? []) {
    if (!isIP(ip)) throw invalidRecord(`${id}: clusterIP "${ip}" is not an IP address`);
  }
  for (const port of [...(service.ports ?? []), ...(service.endpointPorts ?? [])]) {
    if (!Number.isInteger(port.port) || port.port < 0 || port.port > 65535) {
      throw invalidRecord(`${id}: port ${port.port} is not in 0..65535`);
    }
  }
  for (const endpoint of service.endpoints ?? []) {
    for (const ip of endpoint.addresses) {
      if (!isIP(ip)) throw invalidRecord(`${id}: endpoint address "${ip}" is not an IP address`);
    }
    if (endpoint.hostname !== undefined && !isLabel(endpoint.hostname)) {
      throw invalidRecord(`${id}: endpoint hostname "${endpoint.hostname}" is not a DNS label`);
    }
  }
}
