import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DaemonError, runDaemonCli, section } from '@ke/daemon';
import { preSharedKeyTls, type TunnelServer } from '@ke/mesh-tunnel';
import { Type } from '@sinclair/typebox';
import pkg from '../package.json';
import { tunnelServerFields } from './config';
import { startTunnelModule, tunnelServerTls } from './tunnel-module';

const TunnelServerConfigSchema = section({
  logLevel: Type.Union(
    ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info', description: 'log level' },
  ),
  dataDir: Type.String({
    default: '',
    description:
      'a ke-cloud data directory: nodes authenticate with certificates of its edge CA (cloudhub/ca.crt, ca.key)',
  }),
  pskFile: Type.String({
    default: '',
    description: 'a file holding a pre-shared key (at least 16 bytes), instead of dataDir',
  }),
  ...tunnelServerFields,
  advertiseAddress: Type.Array(Type.String(), {
    default: ['127.0.0.1'],
    description: 'addresses and names agents reach this server by (put in its certificate)',
  }),
});

process.exitCode = await runDaemonCli({
  name: 'ke-tunnel-server',
  version: pkg.version,
  description:
    "EdgeMesh's tunnel server on its own: edge nodes behind NATs learn their public UDP " +
    'endpoints from it, punch holes to each other through it, and relay through it when ' +
    'punching fails. Nodes authenticate with certificates of a ke-cloud edge CA (--data-dir) ' +
    'or with a pre-shared key (--psk-file). ke-cloud can run the same server itself ' +
    '(modules.tunnelServer).',
  schema: TunnelServerConfigSchema,
  aliases: { 'data-dir': 'dataDir', 'psk-file': 'pskFile', 'log-level': 'logLevel' },
  examples: [
    ['ke-tunnel-server --data-dir /var/lib/ke-cloud', 'nodes of that cloud, port 10004'],
    [
      'ke-tunnel-server --psk-file /etc/tunnel.psk --advertiseAddress 203.0.113.10',
      'standalone, on a shared secret',
    ],
  ],
  run: (config, { logger }) => {
    if (Boolean(config.dataDir) === Boolean(config.pskFile)) {
      const message = 'give exactly one of dataDir (a ke-cloud edge CA) and pskFile';
      throw new DaemonError('KE_CONFIG_INVALID', message, {
        issues: [{ path: config.dataDir ? 'pskFile' : 'dataDir', message }],
      });
    }
    let server: TunnelServer | undefined;
    return {
      async start() {
        const tls = config.pskFile
          ? await preSharedKeyTls({
              psk: (await readFile(config.pskFile, 'utf8')).trim(),
              commonName: 'ke-tunnel-server',
              altNames: ['127.0.0.1', 'localhost', ...config.advertiseAddress],
            })
          : await tunnelServerTls(
              {
                certificatePem: await readFile(join(config.dataDir, 'cloudhub', 'ca.crt'), 'utf8'),
                privateKeyPem: await readFile(join(config.dataDir, 'cloudhub', 'ca.key'), 'utf8'),
              },
              config.advertiseAddress,
            );
        server = await startTunnelModule({ config: { ...config, enable: true }, tls, logger });
        const { host, controlPort, udpPort } = server.addresses;
        logger.info(
          {
            tls: `${host}:${controlPort}`,
            udp: `${host}:${udpPort}`,
            mode: config.pskFile ? 'psk' : 'ca',
          },
          'tunnel server ready for edge nodes',
        );
      },
      async stop() {
        await server?.stop();
      },
    };
  },
});
