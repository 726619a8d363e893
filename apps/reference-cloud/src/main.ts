import { runDaemonCli } from '@ke/daemon';
import pkg from '../package.json';
import { createCloudCore } from './cloud';
import { CloudConfigSchema } from './config';
import { runTokenCli } from './token-cli';

process.exitCode =
  process.argv[2] === 'token'
    ? await runTokenCli(process.argv.slice(3), { stdout: process.stdout, stderr: process.stderr })
    : await runDaemonCli({
        name: 'ke-cloud',
        version: pkg.version,
        description:
          'The cloud core of kubeedge-ts: the cloud hub that edge nodes connect to and the ' +
          'controllers that sync pods, devices, node groups and image pre-pull jobs. Configured ' +
          'by a cloudcore.yaml-style file (--config); every field can be overridden by its ' +
          '--dotted.path flag. `ke-cloud token create` prints a bootstrap token for edge nodes.',
        schema: CloudConfigSchema,
        aliases: {
          'data-dir': 'dataDir',
          kubeconfig: 'kubeAPIConfig.kubeConfig',
          'log-level': 'logLevel',
        },
        examples: [
          ['ke-cloud', 'run on embedded defaults (data under .ke/cloud)'],
          ['ke-cloud token create --ttl 24h', 'print a token for `ke-edge --token`'],
          ['ke-cloud --defaultconfig > cloudcore.yaml', 'write the default config to edit'],
          [
            'ke-cloud -c cloudcore.yaml --modules.cloudHub.websocket.port 10010',
            'file plus an override',
          ],
        ],
        run: (config, { logger }) => createCloudCore(config, { logger }),
      });
