import type { HealthTracker } from './health';
import type { ResolvedEndpoint, ResolvedServicePort } from './model';

const VIRTUAL_NODES = 128;
const AFFINITY_SWEEP_AT = 10_000;

/** FNV-1a with a murmur3 finaliser: cheap, and spreads similar strings (IPs) well. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

interface Ring {
  readonly signature: string;
  readonly points: readonly { hash: number; key: string }[];
}

function buildRing(keys: readonly string[]): Ring {
  const points: { hash: number; key: string }[] = [];
  for (const key of keys) {
    for (let i = 0; i < VIRTUAL_NODES; i++) points.push({ hash: hash32(`${key}#${i}`), key });
  }
  points.sort((a, b) => a.hash - b.hash);
  return { signature: keys.join(','), points };
}

interface PortState {
  cursor: number;
  ring?: Ring;
  affinity: Map<string, { key: string; expires: number }>;
}

/**
 * Picks endpoints for new connections of the userspace path: round robin, random or consistent
 * hash on the source IP, ClientIP session affinity on top, skipping endpoints that are not ready,
 * are backing off after a failure, or were already tried for this connection.
 */
export class Balancer {
  readonly #health: HealthTracker;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #ports = new Map<string, PortState>();

  constructor(health: HealthTracker, now: () => number = Date.now, random = Math.random) {
    this.#health = health;
    this.#now = now;
    this.#random = random;
  }

  /** An endpoint for a connection from `clientIp`, or undefined when none is left to try. */
  pick(
    servicePort: ResolvedServicePort,
    clientIp: string,
    tried: ReadonlySet<string> = new Set(),
  ): ResolvedEndpoint | undefined {
    const ready = servicePort.endpoints.filter((endpoint) => endpoint.ready);
    const untried = ready.filter((endpoint) => !tried.has(endpoint.key));
    const healthy = untried.filter((endpoint) => !this.#health.isDown(endpoint.key));
    // When every endpoint is backing off, trying one beats refusing the client.
    const pool = healthy.length > 0 ? healthy : untried;
    if (pool.length === 0) return undefined;
    const state = this.#state(servicePort.id);
    const now = this.#now();

    if (servicePort.affinityTimeoutMs > 0) {
      const sticky = state.affinity.get(clientIp);
      if (sticky && sticky.expires > now) {
        const endpoint = pool.find((candidate) => candidate.key === sticky.key);
        if (endpoint) {
          sticky.expires = now + servicePort.affinityTimeoutMs;
          return endpoint;
        }
      }
    }

    const endpoint = this.#choose(servicePort, state, ready, pool, clientIp);
    if (servicePort.affinityTimeoutMs > 0) {
      if (state.affinity.size >= AFFINITY_SWEEP_AT) {
        for (const [ip, entry] of state.affinity)
          if (entry.expires <= now) state.affinity.delete(ip);
      }
      state.affinity.set(clientIp, {
        key: endpoint.key,
        expires: now + servicePort.affinityTimeoutMs,
      });
    }
    return endpoint;
  }

  /** Drops state of service ports that are gone. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.#ports.keys()) if (!ids.has(id)) this.#ports.delete(id);
  }

  #state(id: string): PortState {
    let state = this.#ports.get(id);
    if (!state) {
      state = { cursor: 0, affinity: new Map() };
      this.#ports.set(id, state);
    }
    return state;
  }

  #choose(
    servicePort: ResolvedServicePort,
    state: PortState,
    ready: readonly ResolvedEndpoint[],
    pool: readonly ResolvedEndpoint[],
    clientIp: string,
  ): ResolvedEndpoint {
    switch (servicePort.loadBalancing) {
      case 'random':
        return pool[Math.floor(this.#random() * pool.length)] ?? pool[0]!;
      case 'source-hash': {
        // The ring holds every ready endpoint, so a client moves only when its endpoint leaves.
        const keys = ready.map((endpoint) => endpoint.key);
        if (state.ring?.signature !== keys.join(',')) state.ring = buildRing(keys);
        const points = state.ring.points;
        const target = hash32(clientIp);
        let low = 0;
        let high = points.length;
        while (low < high) {
          const mid = (low + high) >>> 1;
          if (points[mid]!.hash < target) low = mid + 1;
          else high = mid;
        }
        for (let i = 0; i < points.length; i++) {
          const key = points[(low + i) % points.length]!.key;
          const endpoint = pool.find((candidate) => candidate.key === key);
          if (endpoint) return endpoint;
        }
        return pool[0]!;
      }
      default: {
        // Round robin over the ready list; skipped endpoints keep their turn order exact.
        const start = state.cursor % ready.length;
        for (let i = 0; i < ready.length; i++) {
          const candidate = ready[(start + i) % ready.length]!;
          if (pool.includes(candidate)) {
            state.cursor = start + i + 1;
            return candidate;
          }
        }
        return pool[0]!;
      }
    }
  }
}
