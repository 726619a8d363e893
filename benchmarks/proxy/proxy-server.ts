/**
 * The mesh-proxy of the benchmark, run inside the benchmark's network namespace: one service
 * in userspace mode and one in kernel mode, both in front of the backends at 198.18.1.1.
 * Prints one JSON line when ready; prints its stats as JSON and exits on SIGTERM.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { createServiceProxy, createStaticSource, type ServiceDefinition } from '@ke/mesh-proxy';

/** Garbage-collection pauses of this process, by kind: a diagnostic for the latency rows. */
const gc = { minor: { count: 0, totalMs: 0, maxMs: 0 }, major: { count: 0, totalMs: 0, maxMs: 0 } };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
    const bucket = kind === constants.NODE_PERFORMANCE_GC_MINOR ? gc.minor : gc.major;
    bucket.count += 1;
    bucket.totalMs += entry.duration;
    bucket.maxMs = Math.max(bucket.maxMs, entry.duration);
  }
}).observe({ entryTypes: ['gc'] });

const backend = process.argv[2] ?? '198.18.1.1';
const ports = [
  { name: 'http', port: 80, targetPort: 8080 },
  { name: 'iperf', port: 5201, targetPort: 5201 },
];
const services: ServiceDefinition[] = [
  {
    name: 'userspace',
    clusterIP: '198.18.100.1',
    ports,
    endpoints: [{ ip: backend }],
    mode: 'userspace',
  },
  {
    name: 'kernel',
    clusterIP: '198.18.100.2',
    ports,
    endpoints: [{ ip: backend }],
    mode: 'kernel',
  },
];
const proxy = createServiceProxy({
  source: createStaticSource(services),
  nodeName: 'bench',
  iptables: { chainPrefix: 'KE-MB' },
});
await proxy.start();
console.log(JSON.stringify({ ready: true, servicePorts: proxy.stats().servicePorts.length }));

process.once('SIGTERM', async () => {
  const stats = proxy.stats();
  await proxy.stop();
  console.log(
    JSON.stringify({
      stopped: true,
      gc,
      byService: Object.fromEntries(
        stats.servicePorts.map((p) => [p.id, { mode: p.mode, accepted: p.accepted }]),
      ),
    }),
  );
  process.exit(0);
});
