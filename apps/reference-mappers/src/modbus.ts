import { createModbusDriver } from '@ke/mapper-modbus';
import { runMapperCommand } from './mapper-command';

process.exitCode = await runMapperCommand({
  name: 'ke-mapper-modbus',
  protocol: 'modbus',
  summary:
    "KubeEdge's Modbus mapper: registers with edgecore over DMI, reads and writes the Modbus TCP " +
    'and RTU devices edgecore assigns it, and reports their twins and states. Stops cleanly on ' +
    'SIGINT or SIGTERM.',
  createDriver: () => createModbusDriver(),
});
