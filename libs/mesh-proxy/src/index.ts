/**
 * @packageDocumentation
 * EdgeMesh's service proxy: for each service port a local listener that iptables REDIRECTs
 * ClusterIP:port to (userspace path, TCP and UDP), or DNAT rules straight to the endpoints when
 * they are directly reachable (kernel fast path); round robin, random, consistent hash on the
 * source IP and ClientIP session affinity; passive health checks; endpoints on other nodes
 * through a {@link Tunnel}. Services come from a Kubernetes API (`createKubeSource`) or from code
 * (`createStaticSource`).
 *
 * @example
 * ```js
 * import { once } from 'node:events';
 * import { connect, createServer } from 'node:net';
 * import { createServiceProxy, createStaticSource } from '@ke/mesh-proxy';
 *
 * // Two backends of the service `default/web`, on loopback.
 * const backends = new Map();
 * for (const name of ['a', 'b']) {
 *   const server = createServer((socket) => socket.end(`hello from ${name}`));
 *   server.listen(0, '127.0.0.1');
 *   await once(server, 'listening');
 *   backends.set(name, server);
 * }
 * const endpoint = (name = 'a') => ({ ip: '127.0.0.1', port: backends.get(name).address().port });
 *
 * // In ke-edge the source is createKubeSource({ kubeConfig }) on the MetaServer.
 * const web = {
 *   namespace: 'default',
 *   name: 'web',
 *   clusterIP: '198.18.0.10',
 *   ports: [{ name: 'http', port: 80 }],
 *   endpoints: [endpoint('a'), endpoint('b')],
 * };
 * const source = createStaticSource([web]);
 *
 * // No iptables here, so no root: clients use the service's listener instead of 198.18.0.10:80.
 * const proxy = createServiceProxy({
 *   source,
 *   nodeName: 'edge-1',
 *   mode: 'userspace',
 *   iptables: false,
 * });
 * await proxy.start();
 * const listener = proxy.listener('default/web', 80);
 * if (!listener) throw new Error('no listener for default/web:80');
 *
 * const ask = async () => {
 *   const socket = connect(listener.port, listener.address).setEncoding('utf8');
 *   let answer = '';
 *   for await (const chunk of socket) answer += chunk;
 *   return answer;
 * };
 * const spread = async (count = 1) => {
 *   const counts = new Map();
 *   for (let i = 0; i < count; i++) {
 *     const answer = await ask();
 *     counts.set(answer, (counts.get(answer) ?? 0) + 1);
 *   }
 *   return JSON.stringify(Object.fromEntries([...counts].sort()));
 * };
 *
 * console.log('round robin:', await spread(4));
 *
 * // A dead endpoint (nothing listens there) is skipped, and the connection retried elsewhere.
 * const dead = createServer();
 * dead.listen(0, '127.0.0.1');
 * await once(dead, 'listening');
 * const deadAddress = dead.address();
 * const deadPort = typeof deadAddress === 'object' && deadAddress ? deadAddress.port : 0;
 * dead.close();
 * source.set({ ...web, endpoints: [endpoint('a'), { ip: '127.0.0.1', port: deadPort }] });
 * await proxy.synced();
 * console.log('with a dead endpoint:', await spread(3));
 * console.log('failed dials:', proxy.stats().failedDials);
 *
 * await proxy.stop();
 * for (const server of backends.values()) server.close();
 * ```
 */
export { directTunnel } from './dial';
export { isServiceProxyError, ServiceProxyError, type ServiceProxyErrorCode } from './errors';
export type { HealthBackoff } from './health';
export type { IptablesOptions } from './iptables';
export {
  createKubeSource,
  type KubeSourceOptions,
  LOAD_BALANCING_ANNOTATION,
  MODE_ANNOTATION,
  toServiceDefinition,
} from './kube-source';
export {
  createServiceProxy,
  type ProxyStats,
  type ServicePortStats,
  type ServiceProxy,
  type ServiceProxyEvents,
  type ServiceProxyOptions,
} from './service-proxy';
export { createStaticSource, type StaticSource } from './static-source';
export type {
  EndpointDefinition,
  LoadBalancing,
  Logger,
  Protocol,
  ProxyMode,
  ServiceDefinition,
  ServicePortDefinition,
  ServiceSource,
  Tunnel,
} from './types';
