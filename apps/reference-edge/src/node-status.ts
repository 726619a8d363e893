import { arch, cpus, platform, totalmem } from 'node:os';
import { createMessage, Operation } from '@ke/beehive';
import type { EdgeHub } from '@ke/edgehub';
import pkg from '../package.json';

/**
 * The node's registration and heartbeat, as KubeEdge's edged sends them: on every connection
 * an `insert` of `null/node/<name>` (labels from the config), then an `update` of
 * `null/nodestatus/<name>` every `frequencyMs` with a Ready condition. Until the pod runtime
 * (#6) reports real readiness, Ready means "ke-edge is running and linked".
 */
export function startNodeStatus(options: {
  hub: EdgeHub;
  nodeName: string;
  labels: Readonly<Record<string, string>>;
  frequencyMs: number;
}): { stop(): void } {
  const { hub, nodeName } = options;
  const status = () => {
    const now = new Date().toISOString();
    return {
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'EdgeReady',
          message: 'ke-edge is posting ready status',
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
      nodeInfo: {
        kubeletVersion: `v1.31.0-kubeedge-ts-${pkg.version}`,
        containerRuntimeVersion: 'simulated://0',
        architecture: arch() === 'x64' ? 'amd64' : arch(),
        operatingSystem: platform(),
        kernelVersion: '',
        osImage: '',
        machineID: '',
        systemUUID: '',
        bootID: '',
        kubeProxyVersion: '',
      },
      capacity: {
        cpu: String(cpus().length),
        memory: `${Math.floor(totalmem() / 1024)}Ki`,
        pods: '110',
      },
    };
  };
  const report = () => {
    hub.send(
      createMessage({
        source: 'edged',
        group: 'resource',
        operation: Operation.Update,
        resource: `null/nodestatus/${nodeName}`,
        content: { status: status() },
      }),
    );
  };
  const register = () => {
    hub.send(
      createMessage({
        source: 'edged',
        group: 'resource',
        operation: Operation.Insert,
        resource: `null/node/${nodeName}`,
        content: {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { name: nodeName, labels: { ...options.labels } },
          status: status(),
        },
      }),
    );
  };
  hub.on('connected', register);
  const timer = setInterval(() => {
    if (hub.connected) report();
  }, options.frequencyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      hub.off('connected', register);
    },
  };
}
