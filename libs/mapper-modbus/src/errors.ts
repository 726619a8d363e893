export type ModbusErrorCode =
  /** A protocol or visitor config that cannot be used as written (the message names the field). */
  | 'KE_MODBUS_CONFIG_INVALID'
  /** A value to write that does not fit the property's type, register width or scale. */
  | 'KE_MODBUS_VALUE_INVALID'
  /** A write to an `InputRegister` or `DiscreteInputRegister`: Modbus has no function for it. */
  | 'KE_MODBUS_READ_ONLY'
  /** The device answered with a Modbus exception; `exceptionCode` says which. */
  | 'KE_MODBUS_EXCEPTION'
  /** The device did not answer within the protocol's `timeout`. */
  | 'KE_MODBUS_TIMEOUT'
  /** No connection: refused, reset, closed by the device, or a serial port that cannot be opened. */
  | 'KE_MODBUS_DISCONNECTED'
  /** The answer was not a valid Modbus response (CRC, length, unexpected function). */
  | 'KE_MODBUS_FAILED'
  /** The driver has no device: `init()` was not called, or `stop()` was. */
  | 'KE_MODBUS_STOPPED';

/** Names of the Modbus exception codes (Modbus Application Protocol v1.1b, section 7). */
export const MODBUS_EXCEPTIONS: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'slave device failure',
  5: 'acknowledge',
  6: 'slave device busy',
  7: 'negative acknowledge',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

/** Every error this package throws; `code` is stable, the message says what to do. */
export class ModbusError extends Error {
  override readonly name: string = 'ModbusError';
  readonly code: ModbusErrorCode;
  /** For `KE_MODBUS_EXCEPTION`: the exception code the device sent (1 illegal function, ...). */
  readonly exceptionCode: number | undefined;

  constructor(
    code: ModbusErrorCode,
    message: string,
    options: { cause?: unknown; exceptionCode?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.exceptionCode = options.exceptionCode;
  }
}

/** The name of a Modbus exception code: `2` → `illegal data address`. */
export function exceptionName(exceptionCode: number): string {
  return MODBUS_EXCEPTIONS[exceptionCode] ?? 'unknown exception';
}
