// The part of udx-native (CommonJS, no bundled types) this package uses.
declare module 'udx-native' {
  import type { EventEmitter } from 'node:events';

  namespace UDX {
    interface Address {
      host: string;
      family: number;
      port: number;
    }
    interface Socket extends EventEmitter {
      readonly bound: boolean;
      readonly closing: boolean;
      readonly streams: Set<Stream>;
      address(): Address | null;
      bind(port?: number, host?: string): void;
      close(): Promise<void>;
      trySend(buffer: Uint8Array, port: number, host?: string): void;
      on(event: 'message', listener: (message: Buffer, from: Address) => void): this;
      on(event: 'close' | 'listening' | 'idle' | 'busy', listener: () => void): this;
      on(event: string, listener: (...args: unknown[]) => void): this;
    }
    interface StreamOptions {
      firewall?: (socket: Socket, port: number, host: string) => boolean;
    }
    interface Stream extends EventEmitter {
      readonly id: number;
      readonly rtt: number;
      readonly connected: boolean;
      readonly destroyed: boolean;
      readonly remoteHost: string | null;
      readonly remotePort: number;
      connect(socket: Socket, remoteId: number, port: number, host: string): void;
      setKeepalive(timeoutMs: number): void;
      write(data: Uint8Array): boolean;
      end(): void;
      destroy(error?: Error): void;
      pause(): this;
      resume(): this;
    }
  }

  class UDX {
    createSocket(options?: { ipv6Only?: boolean; reuseAddress?: boolean }): UDX.Socket;
    createStream(id: number, options?: UDX.StreamOptions): UDX.Stream;
  }

  export = UDX;
}
