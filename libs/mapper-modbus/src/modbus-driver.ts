import { setMaxListeners } from 'node:events';
import type ModbusRTU from 'modbus-serial';
import { decodeBits, decodeRegisters, encodeBits, encodeRegisters } from './codec';
import {
  type AccessPlan,
  type ModbusProtocolConfig,
  type ModbusVisitorConfig,
  type ResolvedProtocol,
  resolveAccess,
  resolveProtocol,
} from './config';
import type { DeviceDriver, DeviceState, PropertyType } from './driver';
import { exceptionName, ModbusError } from './errors';
import { describeTarget, type ModbusLink, openLink } from './link';

export interface ModbusDriverOptions {
  /**
   * Waits between failed connection attempts: `initialMs`, doubling up to `maxMs`
   * (default 500 ms → 10 s). A call inside the wait fails at once with
   * `KE_MODBUS_DISCONNECTED` instead of trying again.
   */
  reconnectBackoff?: { initialMs?: number; maxMs?: number };
}

/** The Modbus driver: the `DeviceDriver` a mapper runs for a Modbus TCP or RTU device. */
export type ModbusDriver = DeviceDriver<ModbusProtocolConfig, ModbusVisitorConfig>;

/** Modbus allows at most this many coils (FC15) or registers (FC16) in one write. */
const MAX_WRITE_BITS = 1968;
const MAX_WRITE_REGISTERS = 123;

const READ_ONLY = new Set(['InputRegister', 'DiscreteInputRegister']);

/** The signal `stop()` aborts; every queued request listens to it, so no listener cap. */
function newLifetime(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** `promise`, or its signal's reason as soon as the signal aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    // Nobody waits for it any more: its failure must not become an unhandled rejection.
    promise.catch(() => {});
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function describeAccess(verb: 'reading' | 'writing', name: string, plan: AccessPlan): string {
  return `${verb} property ${name} (${plan.register} ${plan.offset}, limit ${plan.count})`;
}

const EXCEPTION_HINTS: Record<number, string> = {
  1: 'the device does not support this function: check the visitor register',
  2: 'the device has no such address: check the visitor offset and limit',
  3: 'the device does not accept this value or quantity',
  4: 'the device failed while processing the request',
  6: 'the device is busy: retry later',
};

/**
 * Creates the Modbus driver. `init(protocol)` connects; properties are then read and
 * written with KubeEdge's Modbus visitor semantics, one request at a time; a lost
 * connection is remade on the next call, with back-off while the device cannot be reached.
 */
export function createModbusDriver(options: ModbusDriverOptions = {}): ModbusDriver {
  const backoffInitialMs = options.reconnectBackoff?.initialMs ?? 500;
  const backoffMaxMs = options.reconnectBackoff?.maxMs ?? 10_000;

  let protocol: ResolvedProtocol | undefined;
  let link: ModbusLink | undefined;
  let state: DeviceState = 'unknown';
  /** Aborted by `stop()` (and by a new `init()`): ends connects and requests in flight. */
  let lifetime = newLifetime();
  /** Failed connection attempts in a row, and when the next one may be made. */
  let connectFailures = 0;
  let retryAt = 0;
  let lastConnectError: ModbusError | undefined;
  /** The end of the request queue: one request at a time on the connection. */
  let tail: Promise<void> = Promise.resolve();

  function stoppedError(): ModbusError {
    return new ModbusError(
      'KE_MODBUS_STOPPED',
      'the Modbus driver has no device: call init(protocol) first (or again after stop())',
    );
  }

  /**
   * Runs `work` when the requests before it are done. `work` says, through `hold`, how long
   * the connection stays busy: a request abandoned by its caller still owns the connection
   * until its answer or its timeout, so that the next request cannot take its answer.
   */
  async function inTurn<T>(
    signal: AbortSignal,
    work: (hold: (busyUntil: Promise<unknown>) => void) => Promise<T>,
  ): Promise<T> {
    const previous = tail;
    let release!: () => void;
    tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      await abortable(previous, signal);
    } catch (error) {
      void previous.then(release);
      throw error;
    }
    let busyUntil: Promise<unknown> = Promise.resolve();
    try {
      return await work((until) => {
        busyUntil = until;
      });
    } finally {
      void busyUntil.then(release, release);
    }
  }

  function dropLink(stale: ModbusLink): void {
    if (link === stale) link = undefined;
    void stale.close();
  }

  async function connectNow(target: ResolvedProtocol, signal: AbortSignal): Promise<ModbusLink> {
    try {
      const opened = await openLink(target, signal);
      if (signal.aborted) {
        await opened.close();
        throw abortReason(signal);
      }
      connectFailures = 0;
      retryAt = 0;
      lastConnectError = undefined;
      link = opened;
      void opened.closed.then(() => {
        // The device went away (or reset the connection): the next call reconnects.
        if (link !== opened) return;
        link = undefined;
        state = 'disconnected';
      });
      return opened;
    } catch (error) {
      if (signal.aborted || !(error instanceof ModbusError)) throw error;
      connectFailures++;
      retryAt = Date.now() + Math.min(backoffInitialMs * 2 ** (connectFailures - 1), backoffMaxMs);
      lastConnectError = error;
      state = 'disconnected';
      throw error;
    }
  }

  function currentLink(target: ResolvedProtocol, signal: AbortSignal): Promise<ModbusLink> {
    if (link && !link.isClosed) return Promise.resolve(link);
    const wait = retryAt - Date.now();
    if (wait > 0) {
      return Promise.reject(
        new ModbusError(
          'KE_MODBUS_DISCONNECTED',
          `no connection to Modbus device at ${describeTarget(target)}: ${lastConnectError?.message ?? 'the last attempt failed'}; next attempt in ${wait} ms`,
          { cause: lastConnectError },
        ),
      );
    }
    return connectNow(target, signal);
  }

  /** Maps what modbus-serial threw to a coded error, and notes what it says about the device. */
  function classify(error: unknown, what: string, target: ResolvedProtocol): unknown {
    if (error instanceof ModbusError) {
      if (error.code === 'KE_MODBUS_DISCONNECTED') state = 'disconnected';
      return error;
    }
    const failure = error as {
      modbusCode?: unknown;
      name?: string;
      errno?: string;
      message?: string;
    };
    if (typeof failure.modbusCode === 'number') {
      state = 'unhealthy';
      const code = failure.modbusCode;
      const hint = EXCEPTION_HINTS[code];
      return new ModbusError(
        'KE_MODBUS_EXCEPTION',
        `${what}: the device at ${describeTarget(target)} answered Modbus exception ${code} (${exceptionName(code)})${hint ? `: ${hint}` : ''}`,
        { cause: error, exceptionCode: code },
      );
    }
    if (failure.name === 'TransactionTimedOutError' || failure.errno === 'ETIMEDOUT') {
      state = 'unhealthy';
      return new ModbusError(
        'KE_MODBUS_TIMEOUT',
        `${what}: no answer from ${describeTarget(target)} within ${target.timeoutMs} ms: check slaveID and that the device is up, or raise timeout`,
        { cause: error },
      );
    }
    if (failure.errno === 'ECONNREFUSED' || failure.errno === 'ECONNRESET') {
      state = 'disconnected';
      return new ModbusError(
        'KE_MODBUS_DISCONNECTED',
        `${what}: the connection to ${describeTarget(target)} is gone (${failure.message ?? failure.errno}); the next call reconnects`,
        { cause: error },
      );
    }
    state = 'unhealthy';
    return new ModbusError(
      'KE_MODBUS_FAILED',
      `${what}: unusable answer from ${describeTarget(target)}: ${failure.message ?? String(error)}`,
      { cause: error },
    );
  }

  /** One Modbus request, in turn, on the connection (made or remade first if needed). */
  async function transact<T>(
    what: string,
    callerSignal: AbortSignal | undefined,
    request: (client: ModbusRTU) => Promise<T>,
  ): Promise<T> {
    const target = protocol;
    if (!target) throw stoppedError();
    const owner = lifetime;
    const signal = callerSignal ? AbortSignal.any([owner.signal, callerSignal]) : owner.signal;
    let used: ModbusLink | undefined;
    try {
      const result = await inTurn(signal, async (hold) => {
        const current = await currentLink(target, signal);
        signal.throwIfAborted();
        used = current;
        const answer = request(current.client);
        const lost = current.closed.then(() => {
          throw new ModbusError(
            'KE_MODBUS_DISCONNECTED',
            `${what}: the connection to ${describeTarget(target)} closed before the answer; the next call reconnects`,
          );
        });
        hold(Promise.race([answer, current.closed]).catch(() => {}));
        return await abortable(Promise.race([answer, lost]), signal);
      });
      state = 'ok';
      return result;
    } catch (error) {
      if (owner.signal.aborted) throw stoppedError();
      // The caller gave up: its reason, as it gave it; the device's state is unchanged.
      if (callerSignal?.aborted && error === callerSignal.reason) throw error;
      const coded = classify(error, what, target);
      if (coded instanceof ModbusError && coded.code === 'KE_MODBUS_DISCONNECTED' && used) {
        dropLink(used);
      }
      throw coded;
    }
  }

  async function teardown(): Promise<void> {
    lifetime.abort(stoppedError());
    lifetime = newLifetime();
    protocol = undefined;
    state = 'unknown';
    const open = link;
    link = undefined;
    if (open) await open.close();
    // Requests in flight end with the connection; queued ones see the aborted lifetime.
    await tail;
  }

  async function readRaw(plan: AccessPlan, client: ModbusRTU): Promise<string> {
    switch (plan.register) {
      case 'CoilRegister':
        return decodeBits((await client.readCoils(plan.offset, plan.count)).data, plan);
      case 'DiscreteInputRegister':
        return decodeBits((await client.readDiscreteInputs(plan.offset, plan.count)).data, plan);
      case 'HoldingRegister':
      case 'InputRegister': {
        const answer =
          plan.register === 'HoldingRegister'
            ? await client.readHoldingRegisters(plan.offset, plan.count)
            : await client.readInputRegisters(plan.offset, plan.count);
        if (answer.buffer.length !== plan.count * 2) {
          throw new Error(
            `expected ${plan.count * 2} bytes of registers, got ${answer.buffer.length}`,
          );
        }
        return decodeRegisters(answer.buffer, plan);
      }
    }
  }

  return {
    async init(config, initOptions = {}) {
      const resolved = resolveProtocol(config);
      await teardown();
      protocol = resolved;
      connectFailures = 0;
      retryAt = 0;
      lastConnectError = undefined;
      const owner = lifetime;
      const signal = initOptions.signal
        ? AbortSignal.any([owner.signal, initOptions.signal])
        : owner.signal;
      try {
        await inTurn(signal, () => connectNow(resolved, signal));
        state = 'ok';
      } catch (error) {
        if (owner.signal.aborted) throw stoppedError();
        throw error;
      }
    },

    async readProperty(visitor, property: { name: string; type: PropertyType }, callOptions = {}) {
      const plan = resolveAccess(visitor, property.type, property.name);
      return transact(
        describeAccess('reading', property.name, plan),
        callOptions.signal,
        (client) => readRaw(plan, client),
      );
    },

    async writeProperty(visitor, property, value, callOptions = {}) {
      const plan = resolveAccess(visitor, property.type, property.name);
      if (READ_ONLY.has(plan.register)) {
        throw new ModbusError(
          'KE_MODBUS_READ_ONLY',
          `property ${property.name} is in ${plan.register}, which Modbus clients cannot write: only CoilRegister and HoldingRegister are writable`,
        );
      }
      const what = describeAccess('writing', property.name, plan);
      if (typeof value !== 'string') {
        throw new ModbusError(
          'KE_MODBUS_VALUE_INVALID',
          `${what}: the value must be a string, as twins carry it`,
        );
      }
      if (plan.bits) {
        if (plan.count > MAX_WRITE_BITS) {
          throw new ModbusError(
            'KE_MODBUS_CONFIG_INVALID',
            `${what}: one Modbus request writes at most ${MAX_WRITE_BITS} coils`,
          );
        }
        const states = encodeBits(value, plan);
        await transact<unknown>(what, callOptions.signal, (client) =>
          states.length === 1
            ? client.writeCoil(plan.offset, states[0]!)
            : client.writeCoils(plan.offset, states),
        );
        return;
      }
      if (plan.count > MAX_WRITE_REGISTERS) {
        throw new ModbusError(
          'KE_MODBUS_CONFIG_INVALID',
          `${what}: one Modbus request writes at most ${MAX_WRITE_REGISTERS} registers`,
        );
      }
      const words = encodeRegisters(value, plan);
      await transact<unknown>(what, callOptions.signal, (client) =>
        words.length === 1
          ? client.writeRegister(plan.offset, words[0]!)
          : client.writeRegisters(plan.offset, words),
      );
    },

    async deviceState() {
      return state;
    },

    async stop() {
      await teardown();
    },
  };
}
