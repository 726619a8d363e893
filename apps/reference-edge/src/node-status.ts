import { createMessage, Operation } from '@ke/beehive';
import type { EdgeHub } from '@ke/edgehub';
import type { V1NodeStatus } from '@kubernetes/client-node';

/**
 * The node's registration and heartbeat, as KubeEdge's edged sends them: on every connection
 * an `insert` of `null/node/<name>` (labels from the config), then an `update` of
 * `null/nodestatus/<name>` every `frequencyMs`, and at once when `reportNow` is called (the
 * runtime went down or came back). The status itself comes from edged: capacity, nodeInfo
 * with the runtime's version, and Ready from the runtime's health.
 */
export function startNodeStatus(options: {
  hub: EdgeHub;
  nodeName: string;
  labels: Readonly<Record<string, string>>;
  frequencyMs: number;
  status: (previous?: V1NodeStatus) => V1NodeStatus;
}): { stop(): void; reportNow(): void } {
  const { hub, nodeName } = options;
  let previous: V1NodeStatus | undefined;
  const current = () => {
    previous = options.status(previous);
    return previous;
  };
  const report = () => {
    hub.send(
      createMessage({
        source: 'edged',
        group: 'resource',
        operation: Operation.Update,
        resource: `null/nodestatus/${nodeName}`,
        content: { status: current() },
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
          status: current(),
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
    reportNow() {
      if (hub.connected) report();
    },
    stop() {
      clearInterval(timer);
      hub.off('connected', register);
    },
  };
}
