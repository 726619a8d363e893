import { createOpcuaDriver } from '@ke/mapper-opcua';
import { runMapperCommand } from './mapper-command';

process.exitCode = await runMapperCommand({
  name: 'ke-mapper-opcua',
  protocol: 'opcua',
  summary:
    "KubeEdge's OPC UA mapper: registers with edgecore over DMI, reads, writes and subscribes to " +
    'the OPC UA servers edgecore assigns it, and reports their twins and states. Stops cleanly ' +
    'on SIGINT or SIGTERM.',
  createDriver: () => createOpcuaDriver({ pkiDir: process.env.KE_OPCUA_PKI_DIR }),
});
