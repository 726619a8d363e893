import { isIPv4, isIPv6 } from 'node:net';
import dnsPacket from 'dns-packet';
import type { DnsService, DnsServicePort } from './model';
import { dashedAddress, isDnsName, reverseName } from './names';
import { TYPE } from './wire';

/** Records of one type for one name, encoded with the owner as a pointer to the question. */
export interface EncodedAnswer {
  readonly bytes: Buffer;
  readonly count: number;
}

/** One name in the zone and its records by type; a name with none is an empty non-terminal. */
export interface ZoneName {
  readonly byType: Map<number, EncodedAnswer>;
  /** Every record of the name (qtype ANY). */
  readonly any: EncodedAnswer | undefined;
  /** ExternalName services: answered for every type. */
  readonly cname: EncodedAnswer | undefined;
}

/** The precomputed answers of the cluster domain and of the reverse names of its addresses. */
export interface Zone {
  readonly names: ReadonlyMap<string, ZoneName>;
  /** The cluster domain's SOA record, for the authority section of NXDOMAIN and NODATA. */
  readonly soa: Buffer;
  readonly serviceCount: number;
}

type RecordData = string | dnsPacket.SrvData;

/** dns-packet's record codec; its type definitions leave it out. */
const answerCodec = (
  dnsPacket as unknown as { answer: { encode(record: dnsPacket.Answer): Buffer } }
).answer;

interface PendingName {
  byType: Map<number, Map<string, RecordData>>;
}

const TYPE_NAMES: Record<number, 'A' | 'AAAA' | 'SRV' | 'PTR' | 'CNAME'> = {
  [TYPE.A]: 'A',
  [TYPE.AAAA]: 'AAAA',
  [TYPE.SRV]: 'SRV',
  [TYPE.PTR]: 'PTR',
  [TYPE.CNAME]: 'CNAME',
};

/** Builds the zone for `services`. Invalid entries (bad names, IPs) are skipped, not thrown. */
export function buildZone(
  services: Iterable<DnsService>,
  options: { clusterDomain: string; ttl: number },
): Zone {
  const { clusterDomain, ttl } = options;
  const pending = new Map<string, PendingName>();
  const add = (name: string, type: number, data: RecordData) => {
    let entry = pending.get(name);
    if (!entry) {
      entry = { byType: new Map() };
      pending.set(name, entry);
    }
    let records = entry.byType.get(type);
    if (!records) {
      records = new Map();
      entry.byType.set(type, records);
    }
    const key = typeof data === 'string' ? data : `${data.priority} ${data.port} ${data.target}`;
    records.set(key, data);
  };
  const addAddress = (name: string, ip: string) => {
    const family = ipFamily(ip);
    if (family === 0) return;
    add(name, family === 4 ? TYPE.A : TYPE.AAAA, ip);
    const reverse = reverseName(ip);
    if (reverse) add(reverse, TYPE.PTR, name);
  };

  let serviceCount = 0;
  const cnames = new Map<string, string>();
  for (const service of services) {
    const serviceName = `${service.name}.${service.namespace}.svc.${clusterDomain}`.toLowerCase();
    if (!isDnsName(serviceName)) continue;
    serviceCount++;
    if (service.externalName) {
      const target = service.externalName.toLowerCase().replace(/\.$/, '');
      if (isDnsName(target)) cnames.set(serviceName, target);
      continue;
    }
    const clusterIPs = (service.clusterIPs ?? []).filter((ip) => ipFamily(ip) !== 0);
    if (clusterIPs.length > 0) {
      for (const ip of clusterIPs) addAddress(serviceName, ip);
      for (const port of service.ports ?? []) {
        const srv = { priority: 0, weight: 100, port: port.port, target: serviceName };
        add(serviceName, TYPE.SRV, srv);
        const portName = srvName(port, serviceName);
        if (portName) add(portName, TYPE.SRV, srv);
      }
      // The name exists even with no ports: NODATA, not NXDOMAIN, for other types.
      pending.get(serviceName) ?? pending.set(serviceName, { byType: new Map() });
      continue;
    }
    // Headless: one record per ready endpoint address, and a name per endpoint.
    pending.get(serviceName) ?? pending.set(serviceName, { byType: new Map() });
    const ports = service.endpointPorts ?? service.ports ?? [];
    for (const endpoint of service.endpoints ?? []) {
      if (endpoint.ready === false && !service.publishNotReadyAddresses) continue;
      const addresses = endpoint.addresses.filter((ip) => ipFamily(ip) !== 0);
      if (addresses.length === 0) continue;
      const label = endpoint.hostname?.toLowerCase() || dashedAddress(addresses[0]!);
      const endpointName = `${label}.${serviceName}`;
      if (!isDnsName(endpointName)) continue;
      for (const ip of addresses) {
        add(serviceName, ipFamily(ip) === 4 ? TYPE.A : TYPE.AAAA, ip);
        addAddress(endpointName, ip);
      }
      for (const port of ports) {
        const srv = { priority: 0, weight: 100, port: port.port, target: endpointName };
        add(serviceName, TYPE.SRV, srv);
        const portName = srvName(port, serviceName);
        if (portName) add(portName, TYPE.SRV, srv);
      }
    }
  }

  const names = new Map<string, ZoneName>();
  for (const [name, entry] of pending) {
    const byType = new Map<number, EncodedAnswer>();
    const all: Buffer[] = [];
    let allCount = 0;
    for (const [type, records] of entry.byType) {
      const encoded = [...records.values()].map((data) => encodeRecord(type, data, ttl));
      byType.set(type, { bytes: Buffer.concat(encoded), count: encoded.length });
      all.push(...encoded);
      allCount += encoded.length;
    }
    const any = allCount > 0 ? { bytes: Buffer.concat(all), count: allCount } : undefined;
    names.set(name, { byType, any, cname: undefined });
  }
  for (const [name, target] of cnames) {
    if (names.has(name)) continue;
    const cname = { bytes: encodeRecord(TYPE.CNAME, target, ttl), count: 1 };
    names.set(name, { byType: new Map([[TYPE.CNAME, cname]]), any: cname, cname });
  }
  // Every parent of a name inside the cluster domain exists (`default.svc.cluster.local`):
  // a query for it is NODATA, not NXDOMAIN (RFC 8020).
  const empty: ZoneName = { byType: new Map(), any: undefined, cname: undefined };
  const suffix = `.${clusterDomain}`;
  for (const name of [...names.keys()]) {
    if (!name.endsWith(suffix)) continue;
    let parent = name;
    for (;;) {
      parent = parent.slice(parent.indexOf('.') + 1);
      if (names.has(parent)) {
        if (parent === clusterDomain) break;
        continue;
      }
      names.set(parent, empty);
      if (parent === clusterDomain) break;
    }
  }
  if (!names.has(clusterDomain)) names.set(clusterDomain, empty);

  const soa = answerCodec.encode({
    type: 'SOA',
    name: clusterDomain,
    class: 'IN',
    ttl,
    data: {
      mname: `ns.dns.${clusterDomain}`,
      rname: `hostmaster.${clusterDomain}`,
      serial: Math.floor(Date.now() / 1000) >>> 0,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: ttl,
    },
  });
  return { names, soa, serviceCount };
}

/** `_http._tcp.web.default.svc.cluster.local` for a named port, else undefined. */
function srvName(port: DnsServicePort, serviceName: string): string | undefined {
  if (!port.name) return undefined;
  const protocol = (port.protocol ?? 'TCP').toLowerCase();
  const name = `_${port.name.toLowerCase()}._${protocol}.${serviceName}`;
  return isDnsName(name) ? name : undefined;
}

function ipFamily(ip: string): 0 | 4 | 6 {
  return isIPv4(ip) ? 4 : isIPv6(ip) ? 6 : 0;
}

/** One record whose owner is a pointer to offset 12 (the question's name). */
function encodeRecord(type: number, data: RecordData, ttl: number): Buffer {
  const encoded = answerCodec.encode({
    type: TYPE_NAMES[type]!,
    name: '.',
    class: 'IN',
    ttl,
    data,
  } as dnsPacket.Answer);
  // The root name is one zero byte; put the two-byte pointer 0xC00C in its place.
  const record = Buffer.allocUnsafe(encoded.length + 1);
  record[0] = 0xc0;
  record[1] = 0x0c;
  encoded.copy(record, 2, 1);
  return record;
}
