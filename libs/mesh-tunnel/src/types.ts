import type { Duplex } from 'node:stream';

/**
 * Where the tunnel reports what it cannot throw. Fields first, message second (pino's order), as
 * `@ke/mesh-proxy`'s logger.
 */
export interface Logger {
  debug?(fields: Record<string, unknown>, message: string): void;
  info?(fields: Record<string, unknown>, message: string): void;
  warn?(fields: Record<string, unknown>, message: string): void;
  error?(fields: Record<string, unknown>, message: string): void;
}

/** PEM material from the cluster CA. */
export interface TlsMaterial {
  /** Private key of `cert`, PEM. */
  readonly key: string;
  /** This component's certificate, PEM, signed by `ca`. */
  readonly cert: string;
  /** The cluster CA certificate(s), PEM: the only issuer whose certificates are accepted. */
  readonly ca: string | readonly string[];
}

/** The shape `@ke/mesh-proxy` expects for endpoints on other nodes. */
export interface Tunnel {
  /** Opens a stream to `ip:port` on `node`; rejects when the peer cannot be reached. */
  dial(node: string, ip: string, port: number, signal?: AbortSignal): Promise<Duplex>;
}

/** Per-agent limits the server enforces on relayed traffic. */
export interface RelayLimits {
  /** Relayed streams open at once per agent (counted on both ends); default 1024. */
  readonly streamsPerAgent?: number;
  /** Relayed bytes per second an agent may send; default unlimited. */
  readonly bytesPerSecondPerAgent?: number;
}

export interface TunnelServerOptions {
  /** The server's certificate (usage server, with its public address as IP altName) and the CA. */
  readonly tls: TlsMaterial;
  /** Address to listen on (TCP control and UDP); default `0.0.0.0`. */
  readonly host?: string;
  /** TLS control and relay port; 0 picks a free one (see `addresses`). Default 10004. */
  readonly controlPort?: number;
  /** UDP port agents probe to learn their public endpoint; 0 picks a free one. Default 10004. */
  readonly udpPort?: number;
  readonly limits?: RelayLimits;
  /** How long a relay request waits for the peer to answer; default 5000 ms. */
  readonly relayAcceptTimeoutMs?: number;
  readonly logger?: Logger;
}

export interface ServerAgentStats {
  readonly node: string;
  /** Whether the agent has a control connection now. */
  readonly registered: boolean;
  /** The agent's UDP endpoint as the server sees it, once probed. */
  readonly endpoint?: { readonly host: string; readonly port: number };
  readonly relayStreamsOpen: number;
  readonly relayStreamsTotal: number;
  /** Bytes this agent sent into relayed streams. */
  readonly relayBytesSent: number;
  /** Relay streams refused because of this agent's limits. */
  readonly refusedByLimit: number;
}

export interface TunnelServerStats {
  readonly agents: Record<string, ServerAgentStats>;
  /** Coordinated punch attempts (one per pair and attempt). */
  readonly punchesCoordinated: number;
  readonly relay: {
    readonly streamsOpen: number;
    readonly streamsTotal: number;
    /** Payload bytes piped between agents (the agents' end-to-end TLS records). */
    readonly bytes: number;
    readonly refused: number;
  };
  /** Connections closed for a protocol violation, failed authentication or a bad relay ticket. */
  readonly rejectedConnections: number;
}

export interface TunnelServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Where the server listens, after `start()`. */
  readonly addresses: {
    readonly host: string;
    readonly controlPort: number;
    readonly udpPort: number;
  };
  stats(): TunnelServerStats;
}

export interface TunnelServerAddress {
  readonly host: string;
  readonly controlPort: number;
  readonly udpPort: number;
}

export interface TunnelAgentOptions {
  /** This node's name; the certificate must be for `system:node:<nodeName>`. */
  readonly nodeName: string;
  /**
   * The node certificate (usage `server+client`, as cloudhub issues them: the agents are TLS
   * server and client to each other), its key, and the cluster CA.
   */
  readonly tls: TlsMaterial;
  /** Tunnel servers, tried in order. */
  readonly servers: readonly TunnelServerAddress[];
  /** Which destinations a peer may reach through this node. Default: none. */
  readonly allow?: (ip: string, port: number) => boolean;
  /** Bound on one `dial()` (punching, relay set-up, handshakes); default 10000 ms. */
  readonly dialTimeoutMs?: number;
  /** How long a hole punch may take before relay takes over; default 1500 ms. */
  readonly punchTimeoutMs?: number;
  /** `false` never punches (every stream is relayed). Default true. */
  readonly punch?: boolean;
  /** Address the UDP (UDX) socket binds; default `0.0.0.0`, port 0. */
  readonly udpHost?: string;
  readonly udpPort?: number;
  /** Interval of control-link pings (RTT, liveness, NAT mappings); default 5000 ms. */
  readonly keepaliveMs?: number;
  readonly logger?: Logger;
}

export type PathKind = 'p2p' | 'relay' | 'none';

export interface PeerStats {
  /** The path new streams take now. */
  readonly path: PathKind;
  /** Round trip on the p2p control link, ms (undefined without one). */
  readonly rttMs?: number;
  /** The peer's UDP endpoint of the current p2p link. */
  readonly endpoint?: { readonly host: string; readonly port: number };
  readonly streams: {
    readonly p2p: number;
    readonly relay: number;
    readonly open: number;
    readonly failed: number;
  };
  /** Plaintext bytes through closed and open streams (updated when a stream closes). */
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly punch: {
    readonly attempts: number;
    readonly succeeded: number;
    readonly failed: number;
    readonly lastError?: string;
  };
}

export interface TunnelAgentStats {
  readonly node: string;
  readonly registered: boolean;
  /** The server this agent is registered with. */
  readonly server?: string;
  /** This agent's public UDP endpoint, as the server observed it. */
  readonly publicEndpoint?: { readonly host: string; readonly port: number };
  readonly peers: Record<string, PeerStats>;
  /** Streams peers opened to this node, by outcome. */
  readonly accepted: {
    readonly ok: number;
    readonly notAllowed: number;
    readonly dialFailed: number;
  };
}

export interface TunnelAgent extends Tunnel {
  /**
   * Connects to a server and registers. Resolves once registered; rejects with `KE_TUNNEL_AUTH`
   * when the server refuses this node's certificate. When no server answers it resolves anyway
   * and keeps trying in the background (`stats().registered` says when it is).
   */
  start(): Promise<void>;
  stop(): Promise<void>;
  dial(node: string, ip: string, port: number, signal?: AbortSignal): Promise<Duplex>;
  stats(): TunnelAgentStats;
}
