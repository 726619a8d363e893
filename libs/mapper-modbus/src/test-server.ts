import { once } from 'node:events';
import { createServer } from 'node:net';
import { type IServiceVector, ServerTCP } from 'modbus-serial';

export interface ModbusTestServerOptions {
  /** Port to listen on; default: a free port, picked at the first `start()` and kept after. */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Holding registers (16-bit, written by FC6/FC16); default 100 zeros. Used in place, not copied. */
  holding?: number[];
  /** Coils (written by FC5/FC15); default 100 `false`. Used in place. */
  coils?: boolean[];
  /** Input registers (read-only for clients); default 100 zeros. Used in place. */
  input?: number[];
  /** Discrete inputs (read-only for clients); default 100 `false`. Used in place. */
  discrete?: boolean[];
  /** The unit id the device answers to; default 1. Requests to other units get no answer. */
  unitId?: number;
}

/** A simulated Modbus TCP device (modbus-serial's `ServerTCP`) whose tables are plain arrays. */
export interface ModbusTestServer {
  /** The port it listens on; 0 until the first `start()` when none was given. */
  readonly port: number;
  readonly host: string;
  readonly unitId: number;
  /** The tables, live: change them to change what clients read; clients' writes land here. */
  readonly holding: number[];
  readonly coils: boolean[];
  readonly input: number[];
  readonly discrete: boolean[];
  /** Listens (again, on the same port after a `stop()`). */
  start(): Promise<void>;
  /** Closes the listener and every client connection, as a device that is switched off. */
  stop(): Promise<void>;
  /**
   * From now on every request is answered with this Modbus exception (4: slave device
   * failure, 6: busy, ...); `undefined` goes back to normal answers. Addresses beyond a
   * table's end always get exception 2 (illegal data address).
   */
  failWith(exceptionCode: number | undefined): void;
  /** While true, requests get no answer at all (a hung device): clients time out. */
  setSilent(silent: boolean): void;
  /** Delays every answer by this many ms (a slow device). */
  setDelay(ms: number): void;
  /**
   * Table accesses served (one per register or coil), the most ever in progress at once,
   * and the client connections open now.
   */
  stats(): { calls: number; peakConcurrent: number; connections: number };
}

type Callback<T> = (error: Error | null, value: T) => void;

function modbusException(exceptionCode: number): Error {
  return Object.assign(new Error(`Modbus exception ${exceptionCode}`), {
    modbusErrorCode: exceptionCode,
  });
}

async function pickFreePort(host: string): Promise<number> {
  const probe = createServer();
  probe.listen(0, host);
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  await once(probe, 'close');
  if (!address || typeof address === 'string') throw new Error('could not read a probe port');
  return address.port;
}

/**
 * A Modbus TCP device for tests and demos: `holding`, `coils`, `input` and `discrete` are
 * its four tables. It answers exception 2 for addresses beyond a table, and can be told to
 * answer exceptions, to hang, or to be slow.
 */
export function createModbusTestServer(options: ModbusTestServerOptions = {}): ModbusTestServer {
  const host = options.host ?? '127.0.0.1';
  const unitId = options.unitId ?? 1;
  const holding = options.holding ?? new Array<number>(100).fill(0);
  const coils = options.coils ?? new Array<boolean>(100).fill(false);
  const input = options.input ?? new Array<number>(100).fill(0);
  const discrete = options.discrete ?? new Array<boolean>(100).fill(false);
  let port = options.port ?? 0;
  let server: ServerTCP | undefined;
  let exception: number | undefined;
  let silent = false;
  let delayMs = 0;
  let calls = 0;
  let pending = 0;
  let peakConcurrent = 0;
  const delays = new Set<NodeJS.Timeout>();

  function answer<T>(callback: Callback<T>, compute: () => T): void {
    if (silent) return;
    calls++;
    pending++;
    peakConcurrent = Math.max(peakConcurrent, pending);
    const run = () => {
      pending--;
      const fail = callback as (error: Error) => void;
      if (exception !== undefined) {
        fail(modbusException(exception));
        return;
      }
      let value: T;
      try {
        value = compute();
      } catch (error) {
        fail(error as Error);
        return;
      }
      callback(null, value);
    };
    if (delayMs <= 0) {
      run();
      return;
    }
    const timer = setTimeout(() => {
      delays.delete(timer);
      run();
    }, delayMs);
    delays.add(timer);
  }

  function checkRange(table: readonly unknown[], address: number, count = 1): void {
    if (address + count > table.length) throw modbusException(2);
  }

  const vector: IServiceVector = {
    getHoldingRegister: (address: number, _unit: number, callback: Callback<number>) =>
      answer(callback, () => {
        checkRange(holding, address);
        return (holding[address] ?? 0) & 0xffff;
      }),
    getInputRegister: (address: number, _unit: number, callback: Callback<number>) =>
      answer(callback, () => {
        checkRange(input, address);
        return (input[address] ?? 0) & 0xffff;
      }),
    getCoil: (address: number, _unit: number, callback: Callback<boolean>) =>
      answer(callback, () => {
        checkRange(coils, address);
        return coils[address] === true;
      }),
    getDiscreteInput: (address: number, _unit: number, callback: Callback<boolean>) =>
      answer(callback, () => {
        checkRange(discrete, address);
        return discrete[address] === true;
      }),
    setRegister: (address: number, value: number, _unit: number, callback: Callback<void>) =>
      answer(callback, () => {
        checkRange(holding, address);
        holding[address] = value;
      }),
    // FC16 as one write: either every register is in range and written, or none is.
    setRegisterArray: (
      address: number,
      values: number[],
      _unit: number,
      callback: Callback<void>,
    ) =>
      answer(callback, () => {
        checkRange(holding, address, values.length);
        values.forEach((value, i) => {
          holding[address + i] = value;
        });
      }),
    setCoil: (address: number, value: boolean, _unit: number, callback: Callback<void>) =>
      answer(callback, () => {
        checkRange(coils, address);
        coils[address] = value;
      }),
  };

  async function listen(listenPort: number): Promise<ServerTCP> {
    const candidate = new ServerTCP(vector, { host, port: listenPort, unitID: unitId });
    // modbus-serial emits `error` for a failed socket write; without a listener it would throw.
    candidate.on('error', () => {});
    candidate.on('socketError', () => {});
    const [event, error] = await Promise.race([
      once(candidate, 'initialized').then(() => ['initialized'] as const),
      once(candidate, 'serverError').then(([e]) => ['serverError', e as Error] as const),
    ]);
    if (event === 'serverError') {
      candidate.close(() => {});
      throw error;
    }
    return candidate;
  }

  return {
    get port() {
      return port;
    },
    host,
    unitId,
    holding,
    coils,
    input,
    discrete,
    async start() {
      if (server) return;
      if (port !== 0) {
        server = await listen(port);
        return;
      }
      // ServerTCP takes port 0 as "the default port, 502", so a free one is picked first; a
      // port taken between the probe and the listen is retried a few times.
      for (let attempt = 1; ; attempt++) {
        const candidatePort = await pickFreePort(host);
        try {
          server = await listen(candidatePort);
          port = candidatePort;
          return;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw error;
        }
      }
    },
    async stop() {
      const running = server;
      server = undefined;
      for (const timer of delays) clearTimeout(timer);
      delays.clear();
      pending = 0;
      if (!running) return;
      await new Promise<void>((resolve) => running.close(() => resolve()));
    },
    failWith(exceptionCode) {
      exception = exceptionCode;
    },
    setSilent(value) {
      silent = value;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    stats() {
      return { calls, peakConcurrent, connections: server?.socks.size ?? 0 };
    },
  };
}
