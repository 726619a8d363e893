import type {
  V1ContainerState,
  V1ContainerStatus,
  V1Pod,
  V1PodCondition,
  V1PodStatus,
} from '@kubernetes/client-node';
import { nanosToDate } from './cri/client';
import type { ContainerStatus } from './cri/types';

/** What edged knows about one container of the spec: the runtime's view and its own. */
export interface ContainerView {
  readonly name: string;
  readonly image: string;
  /** The newest runtime container for this name in the current sandbox. */
  readonly latest?: ContainerStatus;
  /** The one before it (for `lastState`). */
  readonly previous?: ContainerStatus;
  /** Why it is not running when edged knows better than the runtime (pull errors, back-off). */
  readonly waiting?: { reason: string; message?: string };
  readonly restartCount: number;
  /** Readiness probe passed (or none). */
  readonly ready: boolean;
  /** Startup probe passed (or none). */
  readonly started: boolean;
}

export interface PodStatusInput {
  readonly pod: V1Pod;
  /** `containerd`, `simulated`: the prefix of container ids (`containerd://<id>`). */
  readonly runtimeName: string;
  readonly sandboxReady: boolean;
  readonly podIP?: string;
  readonly hostIP?: string;
  readonly startTime?: Date;
  readonly initContainers: readonly ContainerView[];
  readonly containers: readonly ContainerView[];
  /** A pod edged gave up on (an init container failed with restartPolicy Never, ...). */
  readonly failed?: { reason: string; message: string };
  /** The status reported before, for stable condition transition times. */
  readonly previous?: V1PodStatus;
  readonly now?: Date;
}

const dateOf = (nanos: string | undefined) => (nanos ? nanosToDate(nanos) : null) ?? undefined;

function terminatedReason(status: ContainerStatus): string {
  if (status.reason) return status.reason;
  return status.exitCode === 0 ? 'Completed' : 'Error';
}

function stateOf(
  status: ContainerStatus | undefined,
  runtimeName: string,
  waiting?: { reason: string; message?: string },
): V1ContainerState {
  if (waiting && status?.state !== 'CONTAINER_RUNNING') {
    return {
      waiting: { reason: waiting.reason, ...(waiting.message ? { message: waiting.message } : {}) },
    };
  }
  if (!status) return { waiting: { reason: 'ContainerCreating' } };
  switch (status.state) {
    case 'CONTAINER_RUNNING':
      return { running: { startedAt: dateOf(status.startedAt) ?? new Date(0) } };
    case 'CONTAINER_EXITED':
      return {
        terminated: {
          exitCode: status.exitCode,
          reason: terminatedReason(status),
          ...(status.message ? { message: status.message } : {}),
          startedAt: dateOf(status.startedAt) ?? new Date(0),
          finishedAt: dateOf(status.finishedAt) ?? new Date(0),
          containerID: `${runtimeName}://${status.id}`,
        },
      };
    case 'CONTAINER_CREATED':
      return { waiting: { reason: 'ContainerCreating' } };
    default:
      return { waiting: { reason: 'ContainerStatusUnknown' } };
  }
}

function containerStatusOf(view: ContainerView, runtimeName: string): V1ContainerStatus {
  const state = stateOf(view.latest, runtimeName, view.waiting);
  // The container that ran before: the previous one, or the latest when a new one is waiting.
  const before =
    view.latest?.state === 'CONTAINER_EXITED' && state.waiting ? view.latest : view.previous;
  const lastState = before?.state === 'CONTAINER_EXITED' ? stateOf(before, runtimeName) : {};
  const running = state.running !== undefined;
  return {
    name: view.name,
    state,
    lastState,
    ready: running && view.ready,
    started: running && view.started,
    restartCount: view.restartCount,
    image: view.image,
    imageID: view.latest?.imageRef ?? '',
    ...(view.latest ? { containerID: `${runtimeName}://${view.latest.id}` } : {}),
  };
}

/** kubelet's `getPhase`. */
function phaseOf(
  pod: V1Pod,
  init: readonly V1ContainerStatus[],
  regular: readonly V1ContainerStatus[],
): string {
  const policy = pod.spec?.restartPolicy ?? 'Always';
  for (const status of init) {
    if (status.state?.terminated?.exitCode === 0) continue;
    const failed =
      status.state?.terminated !== undefined || status.lastState?.terminated !== undefined;
    return failed && policy === 'Never' ? 'Failed' : 'Pending';
  }
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const status of regular) {
    if (status.state?.running) running++;
    else if (status.state?.terminated) {
      stopped++;
      if (status.state.terminated.exitCode === 0) succeeded++;
    } else if (status.lastState?.terminated) stopped++;
    else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

/** Kubernetes' QoS class from the containers' requests and limits. */
function qosClassOf(pod: V1Pod): string {
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  let any = false;
  let guaranteed = true;
  for (const container of containers) {
    const { requests = {}, limits = {} } = container.resources ?? {};
    if (Object.keys(requests).length || Object.keys(limits).length) any = true;
    for (const resource of ['cpu', 'memory']) {
      const limit = limits[resource];
      const request = requests[resource] ?? limit;
      if (!limit || request !== limit) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function condition(
  type: string,
  ok: boolean,
  previous: V1PodStatus | undefined,
  now: Date,
  reason?: string,
): V1PodCondition {
  const status = ok ? 'True' : 'False';
  const before = previous?.conditions?.find((c) => c.type === type);
  const lastTransitionTime =
    before && before.status === status && before.lastTransitionTime
      ? new Date(before.lastTransitionTime)
      : now;
  return {
    type,
    status,
    lastTransitionTime,
    ...(ok || !reason ? {} : { reason }),
  };
}

/**
 * The pod status kubelet would report for what edged observed: phase, conditions, pod IP,
 * container statuses with state, last state, restart count, image and image id.
 */
export function buildPodStatus(input: PodStatusInput): V1PodStatus {
  const now = input.now ?? new Date();
  const init = input.initContainers.map((view) => containerStatusOf(view, input.runtimeName));
  const regular = input.containers.map((view) => containerStatusOf(view, input.runtimeName));
  const phase = input.failed ? 'Failed' : phaseOf(input.pod, init, regular);
  const initialized = init.every((status) => status.state?.terminated?.exitCode === 0);
  const containersReady = regular.length > 0 && regular.every((status) => status.ready);
  const previous = input.previous;
  const ip = input.podIP || undefined;
  return {
    phase,
    ...(input.failed ? { reason: input.failed.reason, message: input.failed.message } : {}),
    conditions: [
      condition('PodReadyToStartContainers', input.sandboxReady, previous, now),
      condition('Initialized', initialized, previous, now, 'ContainersNotInitialized'),
      condition(
        'Ready',
        containersReady && phase === 'Running',
        previous,
        now,
        'ContainersNotReady',
      ),
      condition('ContainersReady', containersReady, previous, now, 'ContainersNotReady'),
      condition('PodScheduled', true, previous, now),
    ],
    ...(input.hostIP ? { hostIP: input.hostIP, hostIPs: [{ ip: input.hostIP }] } : {}),
    ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}),
    ...(input.startTime ? { startTime: input.startTime } : {}),
    ...(init.length ? { initContainerStatuses: init } : {}),
    containerStatuses: regular,
    qosClass: qosClassOf(input.pod),
  };
}
