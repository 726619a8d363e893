import type { ServiceDefinition, ServiceSource } from './types';

/** A {@link ServiceSource} held in memory, changed by the embedding program. */
export interface StaticSource extends ServiceSource {
  /** Adds or replaces the service with this namespace and name. */
  set(service: ServiceDefinition): void;
  /** Removes a service; returns whether it was there. */
  delete(namespace: string, name: string): boolean;
  /** Replaces every service at once. */
  replace(services: readonly ServiceDefinition[]): void;
}

const keyOf = (service: ServiceDefinition) => `${service.namespace ?? 'default'}/${service.name}`;

/** A service source for embedding and tests: services given in code, no API server. */
export function createStaticSource(initial: readonly ServiceDefinition[] = []): StaticSource {
  const services = new Map<string, ServiceDefinition>();
  const listeners = new Set<() => void>();
  for (const service of initial) services.set(keyOf(service), service);
  const changed = () => {
    for (const listener of [...listeners]) listener();
  };
  return {
    start: async () => {},
    stop: async () => {},
    services: () => [...services.values()],
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(service) {
      services.set(keyOf(service), service);
      changed();
    },
    delete(namespace, name) {
      const had = services.delete(`${namespace}/${name}`);
      if (had) changed();
      return had;
    },
    replace(next) {
      services.clear();
      for (const service of next) services.set(keyOf(service), service);
      changed();
    },
  };
}
