import type { KubeObject } from './store/types';

type Resources = { requests?: Record<string, string>; limits?: Record<string, string> };
type Container = { resources?: Resources };

/** Kubernetes' QoS class of a pod, from its containers' requests and limits. */
export function podQosClass(pod: KubeObject): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const spec = (pod.spec ?? {}) as { containers?: Container[]; initContainers?: Container[] };
  const containers = [...(spec.containers ?? []), ...(spec.initContainers ?? [])];
  const resources = containers.map((c) => c.resources ?? {});
  const any = resources.some(
    (r) => Object.keys(r.requests ?? {}).length > 0 || Object.keys(r.limits ?? {}).length > 0,
  );
  if (!any) return 'BestEffort';
  const guaranteed = resources.every((r) =>
    ['cpu', 'memory'].every((name) => {
      const limit = r.limits?.[name];
      const request = r.requests?.[name] ?? limit;
      return limit !== undefined && request === limit;
    }),
  );
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** A new pod starts Pending with its QoS class, whatever status the client sent (as Kubernetes). */
export function preparePod(pod: KubeObject): void {
  pod.status = { phase: 'Pending', qosClass: podQosClass(pod) };
}

type ServicePort = { port?: unknown; protocol?: string; targetPort?: unknown };

/**
 * The defaults Kubernetes fills in on every Service write (`SetDefaults_Service`): type
 * ClusterIP, sessionAffinity None, and on each port protocol TCP and targetPort = port.
 */
export function defaultService(service: KubeObject): void {
  if (!service.spec || typeof service.spec !== 'object') service.spec = {};
  const spec = service.spec as { type?: string; sessionAffinity?: string; ports?: unknown };
  spec.type ||= 'ClusterIP';
  spec.sessionAffinity ||= 'None';
  if (!Array.isArray(spec.ports)) return;
  for (const port of spec.ports as ServicePort[]) {
    if (!port || typeof port !== 'object') continue;
    port.protocol ||= 'TCP';
    if (port.targetPort === undefined || port.targetPort === 0 || port.targetPort === '') {
      if (port.port !== undefined) port.targetPort = port.port;
    }
  }
}
