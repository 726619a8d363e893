import { readFileSync } from 'node:fs';
import { arch, cpus, hostname, networkInterfaces, platform, release, totalmem } from 'node:os';
import type { V1NodeCondition, V1NodeStatus } from '@kubernetes/client-node';
import type { RuntimeCondition, VersionResponse } from './cri/types';

/** What the runtime said when edged last asked, or why it could not ask. */
export interface RuntimeHealth {
  readonly version?: VersionResponse;
  readonly conditions?: readonly RuntimeCondition[];
  /** Set when the runtime could not be reached (`KE_EDGED_CRI_UNAVAILABLE`, ...). */
  readonly error?: { code: string; message: string };
}

export interface NodeStatusInput {
  readonly health: RuntimeHealth;
  /** The node's address; default the first non-internal IPv4 address. */
  readonly nodeIP?: string;
  /** Default 110 (kubelet's). */
  readonly maxPods?: number;
  /** The `kubeletVersion` reported. */
  readonly kubeletVersion: string;
  /** The status reported before, for stable condition transition times. */
  readonly previous?: V1NodeStatus;
  readonly now?: Date;
}

let osImage: string | undefined;
function readOsImage(): string {
  if (osImage === undefined) {
    try {
      const text = readFileSync('/etc/os-release', 'utf8');
      osImage = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1] ?? '';
    } catch {
      osImage = '';
    }
  }
  return osImage;
}

function readMachineId(): string {
  for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      // try the next
    }
  }
  return '';
}

/** The first non-internal IPv4 address, or 127.0.0.1. */
export function defaultNodeIP(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return '127.0.0.1';
}

/** Why the node is not Ready, or `undefined` when it is (kubelet's runtime checks). */
export function notReadyReason(health: RuntimeHealth): string | undefined {
  if (health.error) return `container runtime is down: ${health.error.message}`;
  const conditions = health.conditions ?? [];
  for (const type of ['RuntimeReady', 'NetworkReady']) {
    const found = conditions.find((c) => c.type === type);
    if (!found) return `container runtime status check may not have completed yet: no ${type}`;
    if (!found.status) {
      return type === 'RuntimeReady'
        ? `container runtime is not ready: ${found.reason}: ${found.message}`
        : `container runtime network not ready: ${found.reason}: ${found.message}`;
    }
  }
  return undefined;
}

/**
 * The node status kubelet reports: capacity and allocatable from the host (CPUs, memory,
 * pods), nodeInfo with the runtime's name and version (`simulated://...` for the fake
 * runtime), addresses, and conditions — Ready from the runtime's health, the pressure
 * conditions False.
 */
export function buildNodeStatus(input: NodeStatusInput): V1NodeStatus {
  const now = input.now ?? new Date();
  const reason = notReadyReason(input.health);
  const previous = input.previous?.conditions ?? [];
  const condition = (
    type: string,
    status: 'True' | 'False',
    why: string,
    message: string,
  ): V1NodeCondition => {
    const before = previous.find((c) => c.type === type);
    return {
      type,
      status,
      reason: why,
      message,
      lastHeartbeatTime: now,
      lastTransitionTime:
        before && before.status === status && before.lastTransitionTime
          ? new Date(before.lastTransitionTime)
          : now,
    };
  };
  const capacity = {
    cpu: String(cpus().length),
    memory: `${Math.floor(totalmem() / 1024)}Ki`,
    pods: String(input.maxPods ?? 110),
  };
  const version = input.health.version;
  return {
    capacity,
    allocatable: { ...capacity },
    conditions: [
      condition(
        'MemoryPressure',
        'False',
        'KubeletHasSufficientMemory',
        'kubelet has sufficient memory available',
      ),
      condition(
        'DiskPressure',
        'False',
        'KubeletHasNoDiskPressure',
        'kubelet has no disk pressure',
      ),
      condition(
        'PIDPressure',
        'False',
        'KubeletHasSufficientPID',
        'kubelet has sufficient PID available',
      ),
      reason === undefined
        ? condition('Ready', 'True', 'EdgeReady', 'edge is posting ready status')
        : condition('Ready', 'False', 'KubeletNotReady', reason),
    ],
    addresses: [
      { type: 'InternalIP', address: input.nodeIP ?? defaultNodeIP() },
      { type: 'Hostname', address: hostname() },
    ],
    nodeInfo: {
      architecture: arch() === 'x64' ? 'amd64' : arch(),
      operatingSystem: platform(),
      kernelVersion: release(),
      osImage: readOsImage(),
      containerRuntimeVersion: version ? `${version.runtimeName}://${version.runtimeVersion}` : '',
      kubeletVersion: input.kubeletVersion,
      kubeProxyVersion: '',
      machineID: readMachineId(),
      systemUUID: '',
      bootID: '',
    },
  };
}
