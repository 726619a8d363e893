import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { command, describeWithSystem } from '@ke/testing';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanResponse } from '../src/cache';
import { createDnsServer, createStaticSource, type DnsServer } from '../src/index';
import { DROP, Query } from '../src/wire';
import { digShort, exchangeUdp } from './helpers';

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

function query(
  name: string,
  type: dnsPacket.RecordType = 'A',
  overrides: Partial<dnsPacket.Packet> & { class?: number } = {},
): Buffer {
  const packet = dnsPacket.encode({
    type: 'query',
    id: 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: 'IN' }],
    ...overrides,
  });
  if (overrides.class !== undefined) packet.writeUInt16BE(overrides.class, packet.length - 2);
  return packet;
}

function rcodeOf(reply: Buffer | undefined): string | undefined {
  return reply ? RCODE_NAMES[reply.readUInt16BE(2) & 0xf] : undefined;
}

/** A small deterministic generator, so that a failing run can be repeated. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seeds = [
  query('web.default.svc.cluster.local'),
  query('web.default.svc.cluster.local', 'SRV'),
  query('big.default.svc.cluster.local', 'ANY' as dnsPacket.RecordType),
  query('10.0.18.198.in-addr.arpa', 'PTR'),
  query('outside.example.test', 'AAAA'),
  dnsPacket.encode({
    type: 'query',
    id: 1,
    questions: [{ name: 'web.default.svc.cluster.local', type: 'A' }],
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: 4096,
        extendedRcode: 0,
        flags: 0,
        options: [],
      } as unknown as dnsPacket.Answer,
    ],
  }),
];

function mutated(next: () => number): Buffer {
  const choice = next();
  if (choice < 0.25) {
    const bytes = Buffer.allocUnsafe(Math.floor(next() * 600));
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(next() * 256);
    return bytes;
  }
  const packet = Buffer.from(seeds[Math.floor(next() * seeds.length)]!);
  const flips = 1 + Math.floor(next() * 6);
  for (let i = 0; i < flips; i++) {
    packet[Math.floor(next() * packet.length)] = Math.floor(next() * 256);
  }
  // Keep the QR bit clear half of the time so that most packets get past the first check.
  if (next() < 0.5) packet[2] = packet[2]! & 0x7f;
  if (choice < 0.4) return packet.subarray(0, Math.floor(next() * packet.length));
  if (choice < 0.5) return Buffer.concat([packet, Buffer.alloc(Math.floor(next() * 100), 0xc0)]);
  return packet;
}

describe('the query parser', () => {
  it('never throws on 50,000 random and mutated messages', () => {
    const next = random(1);
    const q = new Query();
    const deadline = Date.now() + 20_000;
    let parsed = 0;
    for (let i = 0; i < 50_000 && Date.now() < deadline; i++) {
      const message = mutated(next);
      const result = q.parse(message);
      expect(result === DROP || (result >= 0 && result <= 5)).toBe(true);
      scanResponse(message);
      parsed++;
    }
    expect(parsed).toBeGreaterThan(10_000);
  });
});

describeWithSystem(
  'rejects bad queries with the right code and survives fuzzing',
  [command('dig', { debianPackage: 'dnsutils' })],
  () => {
    let server: DnsServer;
    let port = 0;
    // A fake upstream that answers NXDOMAIN, and sometimes garbage, to whatever it is asked.
    const upstream = createSocket('udp4');
    const upstreamNext = random(7);
    upstream.on('message', (message, rinfo) => {
      const reply = Buffer.from(message);
      if (reply.length >= 12) reply.writeUInt16BE(0x8183, 2);
      if (upstreamNext() < 0.3) {
        for (let i = 0; i < 4; i++) {
          reply[12 + Math.floor(upstreamNext() * (reply.length - 12))] = Math.floor(
            upstreamNext() * 256,
          );
        }
      }
      upstream.send(reply, rinfo.port, rinfo.address);
    });

    beforeAll(async () => {
      await new Promise<void>((resolve) => upstream.bind(0, '127.0.0.1', resolve));
      server = createDnsServer({
        source: createStaticSource([
          { namespace: 'default', name: 'web', clusterIPs: ['198.18.0.10'], ports: [{ port: 80 }] },
          {
            namespace: 'default',
            name: 'big',
            endpoints: Array.from({ length: 100 }, (_, i) => ({ addresses: [`198.18.2.${i}`] })),
          },
        ]),
        port: 0,
        upstream: [`127.0.0.1:${upstream.address().port}`],
        upstreamTimeoutMs: 300,
      });
      await server.start();
      port = server.address!.port;
    });
    afterAll(async () => {
      await server?.stop();
      upstream.close();
    });

    it('answers FORMERR, NOTIMP and REFUSED where they belong, and drops non-queries', async () => {
      const twoQuestions = query('web.default.svc.cluster.local');
      twoQuestions.writeUInt16BE(2, 4);
      expect(rcodeOf(await exchangeUdp(port, twoQuestions))).toBe('FORMERR');
      expect(
        rcodeOf(await exchangeUdp(port, query('web.default.svc.cluster.local').subarray(0, 20))),
      ).toBe('FORMERR');
      const notify = query('web.default.svc.cluster.local');
      notify[2] = (notify[2]! & 0x87) | (4 << 3); // opcode NOTIFY
      expect(rcodeOf(await exchangeUdp(port, notify))).toBe('NOTIMP');
      expect(rcodeOf(await exchangeUdp(port, query('web.default.svc.cluster.local', 'AXFR')))).toBe(
        'NOTIMP',
      );
      // CHAOS (version.bind): we serve no such zone. An unknown class: not implemented.
      expect(rcodeOf(await exchangeUdp(port, query('version.bind', 'TXT', { class: 3 })))).toBe(
        'REFUSED',
      );
      expect(
        rcodeOf(
          await exchangeUdp(port, query('web.default.svc.cluster.local', 'A', { class: 42 })),
        ),
      ).toBe('NOTIMP');
      // A query padded past 4096 bytes.
      const oversized = Buffer.concat([query('web.default.svc.cluster.local'), Buffer.alloc(5000)]);
      expect(rcodeOf(await exchangeUdp(port, oversized))).toBe('FORMERR');
      // A response, and a packet shorter than a header: no answer at all.
      const response = query('web.default.svc.cluster.local');
      response[2] = response[2]! | 0x80;
      expect(await exchangeUdp(port, response, 300)).toBeUndefined();
      expect(await exchangeUdp(port, Buffer.from([1, 2, 3]), 300)).toBeUndefined();
      // The question is echoed in error responses, with the ID.
      const reply = await exchangeUdp(port, query('web.default.svc.cluster.local', 'AXFR'));
      expect(dnsPacket.decode(reply!).questions?.[0]?.name).toBe('web.default.svc.cluster.local');
      expect(reply!.readUInt16BE(0)).toBe(4242);
    });

    it('survives 20,000 random and mutated packets over UDP and 500 over TCP, then still answers', async () => {
      const next = random(42);
      const client = createSocket('udp4');
      let replies = 0;
      client.on('message', () => replies++);
      await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
      const deadline = Date.now() + 25_000;
      let sent = 0;
      try {
        while (sent < 20_000 && Date.now() < deadline) {
          for (let i = 0; i < 50; i++, sent++) client.send(mutated(next), port, '127.0.0.1');
          // Small bursts: the kernel's socket buffer, not the server, would drop the rest.
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      } finally {
        await new Promise((resolve) => setTimeout(resolve, 400));
        client.close();
      }
      expect(sent).toBe(20_000);
      expect(replies).toBeGreaterThan(1000);

      // TCP: frames of random and mutated messages, on a few connections, some cut short.
      for (let connection = 0; connection < 5; connection++) {
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => {});
        await new Promise((resolve) => socket.once('connect', resolve));
        const frames: Buffer[] = [];
        for (let i = 0; i < 100; i++) {
          const message = mutated(next);
          const frame = Buffer.allocUnsafe(2 + message.length);
          frame.writeUInt16BE(next() < 0.9 ? message.length : Math.floor(next() * 65536), 0);
          message.copy(frame, 2);
          frames.push(frame);
        }
        socket.write(Buffer.concat(frames));
        await new Promise((resolve) => setTimeout(resolve, 50));
        socket.destroy();
      }

      expect(await digShort(port, 'web.default.svc.cluster.local')).toEqual(['198.18.0.10']);
      expect(await digShort(port, '+tcp', 'web.default.svc.cluster.local')).toEqual([
        '198.18.0.10',
      ]);
      // UDP may still lose a few datagrams on a busy machine; the server must have seen most.
      expect(server.stats().queries).toBeGreaterThan(15_000);
    }, 60_000);
  },
);

describeWithSystem(
  'limits the query rate of each client',
  [command('dig', { debianPackage: 'dnsutils' })],
  () => {
    it('refuses queries over the limit, and answers again after a pause', async () => {
      const server = createDnsServer({
        source: createStaticSource([
          { namespace: 'default', name: 'web', clusterIPs: ['198.18.0.10'] },
        ]),
        port: 0,
        upstream: [],
        rateLimit: { queriesPerSecond: 5, burst: 5, action: 'refuse' },
      });
      await server.start();
      try {
        const port = server.address!.port;
        const codes: (string | undefined)[] = [];
        for (let i = 0; i < 12; i++) {
          codes.push(rcodeOf(await exchangeUdp(port, query('web.default.svc.cluster.local'))));
        }
        expect(codes.filter((code) => code === 'NOERROR').length).toBeLessThanOrEqual(7);
        expect(codes.filter((code) => code === 'REFUSED').length).toBeGreaterThanOrEqual(5);
        expect(server.stats().rateLimited).toBeGreaterThanOrEqual(5);
        await new Promise((resolve) => setTimeout(resolve, 400));
        expect(await digShort(port, 'web.default.svc.cluster.local')).toEqual(['198.18.0.10']);
      } finally {
        await server.stop();
      }
    });
  },
);
