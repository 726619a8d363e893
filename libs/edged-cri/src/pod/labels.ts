/**
 * The CRI labels and annotations the kubelet puts on sandboxes and containers
 * (`pkg/kubelet/kuberuntime/labels.go`), so that edged finds what it created after a restart
 * by listing the runtime, and so that `crictl` shows the same names as on a kubelet node.
 */
import { createHash } from 'node:crypto';
import type { V1Container, V1Pod } from '@kubernetes/client-node';

export const POD_NAME_LABEL = 'io.kubernetes.pod.name';
export const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const POD_UID_LABEL = 'io.kubernetes.pod.uid';
export const CONTAINER_NAME_LABEL = 'io.kubernetes.container.name';
/** Set on everything edged creates, so it never touches containers that are not its own. */
export const MANAGED_BY_LABEL = 'kubeedge.io/managed-by';
export const MANAGED_BY_VALUE = 'edged';

export const CONTAINER_HASH_ANNOTATION = 'io.kubernetes.container.hash';
export const CONTAINER_RESTART_COUNT_ANNOTATION = 'io.kubernetes.container.restartCount';
export const CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION =
  'io.kubernetes.container.terminationMessagePath';
export const CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION =
  'io.kubernetes.container.terminationMessagePolicy';
export const POD_TERMINATION_GRACE_PERIOD_ANNOTATION = 'io.kubernetes.pod.terminationGracePeriod';
export const POD_DELETION_GRACE_PERIOD_ANNOTATION = 'io.kubernetes.pod.deletionGracePeriod';
/** Shorter names for the two annotations edged reads back. */
export const RESTART_COUNT_ANNOTATION = CONTAINER_RESTART_COUNT_ANNOTATION;
export const TERMINATION_GRACE_ANNOTATION = POD_TERMINATION_GRACE_PERIOD_ANNOTATION;

/** The pod's own labels, then the kubelet's identity labels and edged's (which win). */
export function sandboxLabels(pod: V1Pod): Record<string, string> {
  return {
    ...(pod.metadata?.labels ?? {}),
    ...podIdentity(pod),
    [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
  };
}

/** The sandbox's annotations: the pod's own, as the kubelet passes them to the runtime. */
export function sandboxAnnotations(pod: V1Pod): Record<string, string> {
  return { ...(pod.metadata?.annotations ?? {}) };
}

/** The pod's identity labels, the container's name, and edged's label. */
export function containerLabels(pod: V1Pod, container: V1Container): Record<string, string> {
  return {
    ...podIdentity(pod),
    [CONTAINER_NAME_LABEL]: container.name,
    [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
  };
}

/**
 * What the kubelet needs to know about a container it did not create in this process: the
 * spec hash (to restart on a change), the restart count, where the termination message is,
 * and the pod's grace periods.
 */
export function containerAnnotations(
  pod: V1Pod,
  container: V1Container,
  restartCount: number,
): Record<string, string> {
  const annotations: Record<string, string> = {
    [CONTAINER_HASH_ANNOTATION]: containerHash(container),
    [CONTAINER_RESTART_COUNT_ANNOTATION]: String(restartCount),
    [CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION]:
      container.terminationMessagePath ?? '/dev/termination-log',
    [CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION]: container.terminationMessagePolicy ?? 'File',
  };
  const grace = pod.spec?.terminationGracePeriodSeconds;
  if (grace !== undefined && grace !== null) {
    annotations[POD_TERMINATION_GRACE_PERIOD_ANNOTATION] = String(grace);
  }
  const deletionGrace = pod.metadata?.deletionGracePeriodSeconds;
  if (deletionGrace !== undefined && deletionGrace !== null) {
    annotations[POD_DELETION_GRACE_PERIOD_ANNOTATION] = String(deletionGrace);
  }
  return annotations;
}

/**
 * A stable hash of the container spec: the first 8 hex digits of the sha256 of its canonical
 * JSON (keys sorted; `undefined`, `null`, empty arrays and empty objects left out, so the
 * same spec read from two stores hashes the same). `resources` and `resizePolicy` are left
 * out: they can change in place without a restart.
 */
export function containerHash(container: V1Container): string {
  const { resources: _resources, resizePolicy: _resizePolicy, ...spec } = container;
  return createHash('sha256')
    .update(JSON.stringify(canonical(spec)) ?? '')
    .digest('hex')
    .slice(0, 8);
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(canonical).filter((item) => item !== undefined);
    return items.length > 0 ? items : undefined;
  }
  if (value instanceof Date) return value.toISOString();
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const item = canonical((value as Record<string, unknown>)[key]);
      if (item !== undefined) out[key] = item;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }
  return value === null ? undefined : value;
}

function podIdentity(pod: V1Pod): Record<string, string> {
  return {
    [POD_NAME_LABEL]: pod.metadata?.name ?? '',
    [POD_NAMESPACE_LABEL]: pod.metadata?.namespace ?? 'default',
    [POD_UID_LABEL]: pod.metadata?.uid ?? '',
  };
}
