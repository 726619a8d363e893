import { command, describeWithSystem, networkNamespaces, rootUser } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TunnelAgentStats, TunnelServerStats } from '../src/index';
import { createTestPki, type TestPki } from './fixtures/cluster';
import {
  createNatTestbed,
  type Driver,
  type NatTestbed,
  startDriver,
} from './fixtures/nat-testbed';

const PUB = '198.18.0.1';
const H2 = '198.19.2.2';
const HTTP_PORT = 8080;
const ECHO_PORT = 7070;
const PORT = 10004;

describeWithSystem(
  'the tunnel between nodes behind NAT routers',
  [rootUser(), networkNamespaces(), command('iptables', { debianPackage: 'iptables' })],
  () => {
    let testbed: NatTestbed | undefined;
    let pki: TestPki;
    const drivers: Partial<Record<'pub' | 'h1' | 'h2', Driver>> = {};

    const startAgent = async (node: 'h1' | 'h2') =>
      drivers[node]!.call<TunnelAgentStats>('agent', {
        options: {
          nodeName: node,
          tls: await pki.node(node),
          servers: [{ host: PUB, controlPort: PORT, udpPort: PORT }],
          keepaliveMs: 2000,
        },
        allowPorts: [HTTP_PORT, ECHO_PORT],
      });
    const serverStats = () => drivers.pub!.call<TunnelServerStats>('serverStats');
    const hold = () =>
      drivers.h1!.call<{ id: number }>('hold', { node: 'h2', ip: H2, port: ECHO_PORT });
    const holdPing = (id: number) =>
      drivers.h1!.call<{ alive: boolean; closed: boolean; events: string[] }>('holdPing', { id });
    /** Restarts the server and waits (bounded) until both agents registered and probed again. */
    const restartServer = async () => {
      await drivers.pub!.call('serverRestart');
      for (let i = 0; i < 150; i++) {
        const agents = (await serverStats()).agents;
        if (agents.h1?.endpoint && agents.h2?.endpoint) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error('the agents did not register again within 15 s');
    };
    const get = (count: number, port = HTTP_PORT, concurrency = 1) =>
      drivers.h1!.call<string[]>('get', { node: 'h2', ip: H2, port, count, concurrency });

    beforeAll(async () => {
      pki = await createTestPki(PUB);
      testbed = createNatTestbed({ prefix: 'ke-mt' });
      for (const role of ['pub', 'h1', 'h2'] as const) {
        drivers[role] = await startDriver(testbed.names[role]);
      }
      await drivers.pub!.call('server', {
        options: { tls: pki.server, host: PUB, controlPort: PORT, udpPort: PORT },
      });
      await drivers.h2!.call('httpServer', { name: 'h2', host: H2, port: HTTP_PORT });
      await drivers.h2!.call('echoServer', { host: H2, port: ECHO_PORT });
      await startAgent('h2');
      await startAgent('h1');
    });

    afterAll(async () => {
      for (const driver of Object.values(drivers)) await driver?.close();
      testbed?.delete();
    });

    it('sees each agent from its router public address', async () => {
      const stats = await serverStats();
      expect(stats.agents.h1?.endpoint?.host).toBe('198.18.0.11');
      expect(stats.agents.h2?.endpoint?.host).toBe('198.18.0.12');
    });

    it('punches through two port-preserving NATs: the request goes peer to peer', async () => {
      const answers = await get(5);
      expect(answers).toEqual(
        Array.from({ length: 5 }, (_, i) => `HTTP/1.1 200 OK hello from h2 /${i}`),
      );
      const h1 = await drivers.h1!.call<TunnelAgentStats>('agentStats');
      expect(h1.peers.h2?.path).toBe('p2p');
      expect(h1.peers.h2?.endpoint?.host).toBe('198.18.0.12');
      expect(h1.peers.h2?.streams.p2p).toBe(5);
      expect((await serverStats()).relay.bytes).toBe(0);
    });

    it('refuses a destination h2 does not allow', async () => {
      expect(await get(1, 9999)).toEqual(['error:KE_TUNNEL_NOT_ALLOWED']);
    });

    it('keeps peer-to-peer streams through a server restart; agents register again', async () => {
      const { id } = await hold();
      expect(await holdPing(id)).toMatchObject({ alive: true, closed: false });
      await restartServer();
      expect(await holdPing(id)).toMatchObject({ alive: true, closed: false });
      expect(await get(3)).toEqual(
        Array.from({ length: 3 }, (_, i) => `HTTP/1.1 200 OK hello from h2 /${i}`),
      );
      const h1 = await drivers.h1!.call<TunnelAgentStats>('agentStats');
      expect(h1.registered).toBe(true);
      expect(h1.peers.h2?.path).toBe('p2p');
    });

    it('moves new streams to the relay when the p2p path dies silently, and back once it heals', async () => {
      // nat1 stops forwarding UDP: the p2p path goes quiet without any close.
      const drop = ['FORWARD', '-p', 'udp', '-j', 'DROP'];
      testbed!.exec('nat1', ['iptables', '-I', ...drop]);
      try {
        const answers = await get(5);
        expect(answers).toEqual(
          Array.from({ length: 5 }, (_, i) => `HTTP/1.1 200 OK hello from h2 /${i}`),
        );
        const h1 = await drivers.h1!.call<TunnelAgentStats>('agentStats');
        expect(h1.peers.h2?.path).toBe('relay');
      } finally {
        testbed!.exec('nat1', ['iptables', '-D', ...drop]);
      }
      // Punching is retried with back-off; new streams take the p2p path once it is up again.
      let path = 'relay';
      for (let i = 0; i < 40 && path !== 'p2p'; i++) {
        expect(await get(1)).toEqual(['HTTP/1.1 200 OK hello from h2 /0']);
        path = (await drivers.h1!.call<TunnelAgentStats>('agentStats')).peers.h2?.path ?? '';
        if (path !== 'p2p') await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(path).toBe('p2p');
    });

    it('relays every stream when both NATs are symmetric: 200 of 200 opens succeed', async () => {
      testbed!.makeSymmetric();
      // Fresh agents, fresh UDP sockets: new conntrack entries under the new rule.
      await startAgent('h2');
      await startAgent('h1');
      const before = await serverStats();
      const answers = await get(200, HTTP_PORT, 8);
      const ok = answers.filter((answer, i) => answer === `HTTP/1.1 200 OK hello from h2 /${i}`);
      expect(ok.length, JSON.stringify(answers.filter((a) => !a.includes('200 OK')))).toBe(200);
      const h1 = await drivers.h1!.call<TunnelAgentStats>('agentStats');
      expect(h1.peers.h2?.path).toBe('relay');
      expect(h1.peers.h2?.streams.relay).toBe(200);
      expect(h1.peers.h2?.punch.succeeded).toBe(0);
      expect(h1.peers.h2?.punch.failed).toBeGreaterThanOrEqual(1);
      const after = await serverStats();
      expect(after.relay.streamsTotal - before.relay.streamsTotal).toBe(200);
      expect(after.relay.bytes).toBeGreaterThan(before.relay.bytes);
    });

    it('fails relayed streams cleanly when the server restarts, and relays new ones', async () => {
      const { id } = await hold();
      expect(await holdPing(id)).toMatchObject({ alive: true, closed: false });
      await restartServer();
      const after = await holdPing(id);
      expect(after).toMatchObject({ alive: false, closed: true });
      expect(after.events.some((event) => event.startsWith('error'))).toBe(true);
      const answers = await get(20, HTTP_PORT, 4);
      expect(answers).toEqual(
        Array.from({ length: 20 }, (_, i) => `HTTP/1.1 200 OK hello from h2 /${i}`),
      );
      expect((await serverStats()).relay.streamsTotal).toBeGreaterThanOrEqual(20);
    });
  },
);
