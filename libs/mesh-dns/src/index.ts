/**
 * @packageDocumentation
 * EdgeMesh's DNS for TypeScript: answers A, AAAA, SRV and PTR for Kubernetes Services
 * (`<svc>.<ns>.svc.<clusterDomain>`), headless services and their pods from a list/watch source,
 * and forwards every other name to upstream resolvers with a TTL cache, over UDP and TCP.
 *
 * @example
 * ```js
 * import { deepEqual, equal } from 'node:assert/strict';
 * import { Resolver } from 'node:dns/promises';
 * import { createDnsServer, createStaticSource } from '@ke/mesh-dns';
 *
 * // Services handed over by the program. To follow an API server or the edge MetaServer instead:
 * // createKubeServiceSource({ kubeConfig: loadKubeConfig() }).
 * const source = createStaticSource([
 *   {
 *     namespace: 'default',
 *     name: 'web',
 *     clusterIPs: ['198.18.0.10'],
 *     ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
 *   },
 *   {
 *     namespace: 'db',
 *     name: 'postgres', // headless: answered with its ready endpoints
 *     ports: [{ name: 'pg', port: 5432 }],
 *     endpoints: [
 *       { addresses: ['198.18.1.5'], hostname: 'postgres-0' },
 *       { addresses: ['198.18.1.6'], hostname: 'postgres-1', ready: false },
 *     ],
 *   },
 * ]);
 *
 * // Port 53 and the nameservers of /etc/resolv.conf by default; here a free port, and names
 * // outside the cluster are refused.
 * const dns = createDnsServer({ source, port: 0, upstream: [] });
 * await dns.start();
 *
 * const resolver = new Resolver();
 * resolver.setServers([`127.0.0.1:${dns.address?.port}`]);
 * console.log('web:', await resolver.resolve4('web.default.svc.cluster.local'));
 * console.log('postgres:', await resolver.resolve4('postgres.db.svc.cluster.local'));
 * const srv = await resolver.resolveSrv('_pg._tcp.postgres.db.svc.cluster.local');
 * console.log(
 *   'srv:',
 *   srv.map((record) => `${record.name}:${record.port}`),
 * );
 * console.log('ptr:', await resolver.reverse('198.18.1.5'));
 *
 * // A change in the source is answered within milliseconds.
 * source.upsert({ namespace: 'default', name: 'web', clusterIPs: ['198.18.0.11'] });
 * let web = await resolver.resolve4('web.default.svc.cluster.local');
 * for (let i = 0; i < 50 && web[0] !== '198.18.0.11'; i++) {
 *   await new Promise((resolve) => setTimeout(resolve, 10));
 *   web = await resolver.resolve4('web.default.svc.cluster.local');
 * }
 * console.log('web after the update:', web);
 *
 * const missing = await resolver.resolve4('nothing.default.svc.cluster.local').catch((e) => e.code);
 * console.log('nothing:', missing); // Node's name for NXDOMAIN
 * equal(dns.stats().nxdomain, 1);
 * deepEqual(web, ['198.18.0.11']);
 *
 * await dns.stop();
 * ```
 */
export { DnsError, type DnsErrorCode, isDnsError } from './errors';
export { createKubeServiceSource, type KubeServiceSourceOptions } from './kube-source';
export type { DnsEndpoint, DnsService, DnsServicePort, DnsSource } from './model';
export type { RateLimitOptions } from './rate-limit';
export { parseResolvConf, readResolvConf } from './resolv-conf';
export { createDnsServer, type DnsServer, type DnsServerOptions, type DnsStats } from './server';
export { createStaticSource, type StaticSource } from './static-source';
