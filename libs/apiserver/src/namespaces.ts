import type { ApiCore, WriteHook } from './core';
import type { ResourceRegistry } from './registry';

/** Namespaces every cluster has; created on first start. */
export const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/**
 * The namespace controller's job, in process: when a namespace is marked for deletion, delete
 * everything in it (objects with finalizers are only marked and go when their controllers let
 * them), and remove the namespace once it is empty. Work runs after the triggering request.
 */
export class NamespaceLifecycle {
  readonly #registry: ResourceRegistry;
  #core: ApiCore | undefined;
  readonly #scheduled = new Set<string>();
  readonly #timers = new Set<NodeJS.Immediate>();
  #stopped = false;

  constructor(registry: ResourceRegistry) {
    this.#registry = registry;
  }

  attach(core: ApiCore): void {
    this.#core = core;
  }

  readonly hook: WriteHook = (info, event) => {
    if (info.storageResource === 'core/namespaces') {
      if (event.type === 'MODIFIED' && event.object.metadata.deletionTimestamp) {
        this.#schedule(event.object.metadata.name);
      }
      return;
    }
    if (info.namespaced && event.type === 'DELETED' && event.key.namespace) {
      this.#schedule(event.key.namespace);
    }
  };

  /** Runs the clean-up of every namespace that is terminating (after a restart). */
  resume(): void {
    const core = this.#core;
    if (!core) return;
    const namespaces = core.store.list('core/namespaces').items;
    for (const ns of namespaces) {
      if (ns.metadata.deletionTimestamp) this.#schedule(ns.metadata.name);
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearImmediate(timer);
    this.#timers.clear();
  }

  #schedule(namespace: string): void {
    if (this.#stopped || this.#scheduled.has(namespace)) return;
    this.#scheduled.add(namespace);
    const timer = setImmediate(() => {
      this.#timers.delete(timer);
      this.#scheduled.delete(namespace);
      this.#purge(namespace);
    });
    this.#timers.add(timer);
  }

  #namespacedResources() {
    return this.#registry.all().filter((info) => info.namespaced);
  }

  #isEmpty(namespace: string): boolean {
    const core = this.#core!;
    const seen = new Set<string>();
    for (const info of this.#namespacedResources()) {
      if (seen.has(info.storageResource)) continue;
      seen.add(info.storageResource);
      if (core.store.count(info.storageResource, namespace) > 0) return false;
    }
    return true;
  }

  #purge(namespace: string): void {
    const core = this.#core;
    if (!core || this.#stopped) return;
    const ns = core.store.get({ resource: 'core/namespaces', namespace: '', name: namespace });
    if (!ns?.object.metadata.deletionTimestamp) return;
    const seen = new Set<string>();
    for (const info of this.#namespacedResources()) {
      if (seen.has(info.storageResource)) continue;
      seen.add(info.storageResource);
      for (const item of core.store.list(info.storageResource, { namespace }).items) {
        if (item.metadata.deletionTimestamp) continue;
        try {
          core.delete(info, namespace, item.metadata.name);
        } catch {
          // Gone meanwhile, or marked by another request: the next pass sees it.
        }
      }
    }
    core.finalizeNamespace(namespace, () => this.#isEmpty(namespace));
  }
}
