import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Counts made once or twice per message, kept as plain numbers and added to their counters
 * when the registry is read (a labelled `inc` per message costs more than the rest of the
 * bookkeeping for it). Add to them freely; they are zeroed when collected.
 */
export interface HotCounts {
  sentAck: number;
  sentNoAck: number;
  bytesSent: number;
  acked: number;
  received: number;
  bytesReceived: number;
}

/** The hub's Prometheus metrics, registered in the registry the caller gives. */
export interface CloudHubMetrics {
  readonly hot: HotCounts;
  readonly connectedNodes: Gauge;
  readonly retried: Counter;
  readonly dropped: Counter<'reason'>;
  readonly rejected: Counter<'reason'>;
  readonly refusedConnections: Counter<'reason'>;
}

export function createCloudHubMetrics(
  registry: Registry,
  queueDepth: () => number,
): CloudHubMetrics {
  const registers = [registry];
  const hot: HotCounts = {
    sentAck: 0,
    sentNoAck: 0,
    bytesSent: 0,
    acked: 0,
    received: 0,
    bytesReceived: 0,
  };
  /** Moves one hot count into its counter. */
  const flush = (key: keyof HotCounts, add: (value: number) => void) => {
    const value = hot[key];
    if (value === 0) return;
    hot[key] = 0;
    add(value);
  };
  // Counters and gauges that are filled in when the registry is read: registered here, not
  // touched by the hub.
  new Gauge({
    name: 'cloudhub_queue_depth',
    help: 'Messages waiting for delivery or acknowledgement, all nodes',
    registers,
    collect() {
      this.set(queueDepth());
    },
  });
  new Counter({
    name: 'cloudhub_messages_sent_total',
    help: 'Messages sent to edge nodes (retries included), by type: ack (reliable) or noack',
    labelNames: ['type'],
    registers,
    collect() {
      flush('sentAck', (value) => this.inc({ type: 'ack' }, value));
      flush('sentNoAck', (value) => this.inc({ type: 'noack' }, value));
    },
  });
  new Counter({
    name: 'cloudhub_messages_acked_total',
    help: 'Reliable messages acknowledged by edge nodes',
    registers,
    collect() {
      flush('acked', (value) => this.inc(value));
    },
  });
  new Counter({
    name: 'cloudhub_messages_received_total',
    help: 'Messages received from edge nodes',
    registers,
    collect() {
      flush('received', (value) => this.inc(value));
    },
  });
  new Counter({
    name: 'cloudhub_bytes_sent_total',
    help: 'Bytes of message frames sent to edge nodes',
    registers,
    collect() {
      flush('bytesSent', (value) => this.inc(value));
    },
  });
  new Counter({
    name: 'cloudhub_bytes_received_total',
    help: 'Bytes of message frames received from edge nodes',
    registers,
    collect() {
      flush('bytesReceived', (value) => this.inc(value));
    },
  });
  return {
    hot,
    connectedNodes: new Gauge({
      name: 'cloudhub_connected_nodes',
      help: 'Edge nodes connected now',
      registers,
    }),
    retried: new Counter({
      name: 'cloudhub_messages_retried_total',
      help: 'Reliable messages sent again for want of an acknowledgement',
      registers,
    }),
    dropped: new Counter({
      name: 'cloudhub_messages_dropped_total',
      help: 'Messages not delivered, by reason (stale, superseded, queue_full, ...)',
      labelNames: ['reason'],
      registers,
    }),
    rejected: new Counter({
      name: 'cloudhub_messages_rejected_total',
      help: 'Frames from edge nodes refused, by reason (malformed, other_node, ...)',
      labelNames: ['reason'],
      registers,
    }),
    refusedConnections: new Counter({
      name: 'cloudhub_connections_refused_total',
      help: 'Connections refused, by reason (identity, node_limit, ...)',
      labelNames: ['reason'],
      registers,
    }),
  };
}
