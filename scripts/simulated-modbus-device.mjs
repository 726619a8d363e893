#!/usr/bin/env node
// `npm start`'s simulated Modbus TCP device: the thermometer of examples/device.yaml on
// 127.0.0.1:5020 (KE_MODBUS_DEVICE_PORT), holding register 2 a temperature in °C that drifts
// between 20 and 30 every 2 s. Writes (the Device's desired value) land in the register and
// stay until the next drift step. SIGINT or SIGTERM stops it (exit 0).
import { createModbusTestServer } from '@ke/mapper-modbus';

const port = Number(process.env.KE_MODBUS_DEVICE_PORT ?? 5020);
const log = (msg, fields = {}) =>
  console.log(JSON.stringify({ time: Date.now(), name: 'modbus-device', msg, ...fields }));

const device = createModbusTestServer({ host: '127.0.0.1', port });
device.holding[2] = 23;
try {
  await device.start();
} catch (error) {
  log('cannot listen', { port, err: error.message });
  process.exit(1);
}
log('simulated Modbus device listening', { address: `127.0.0.1:${port}`, register: 'holding 2' });

let step = 1;
const drift = setInterval(() => {
  const next = device.holding[2] + step;
  if (next >= 30 || next <= 20) step = -step;
  device.holding[2] = Math.min(30, Math.max(20, next));
}, 2000);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  clearInterval(drift);
  await device.stop();
  log('stopped cleanly');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
