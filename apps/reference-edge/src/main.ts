import { runDaemonCli } from '@ke/daemon';
import pkg from '../package.json';
import { EdgeConfigSchema } from './config';
import { createEdgeCore } from './edge';

process.exitCode = await runDaemonCli({
  name: 'ke-edge',
  version: pkg.version,
  description:
    'The edge core of kubeedge-ts: the edge hub that links this node to the cloud, the metadata ' +
    'store and MetaServer, pods, devices and EdgeMesh. Configured by an edgecore.yaml-style file ' +
    '(--config); every field can be overridden by its --dotted.path flag.',
  schema: EdgeConfigSchema,
  aliases: {
    'data-dir': 'dataDir',
    'node-name': 'modules.edged.hostnameOverride',
    'cri-endpoint': 'modules.edged.containerRuntimeEndpoint',
    token: 'modules.edgeHub.token',
    'log-level': 'logLevel',
  },
  examples: [
    ['ke-edge --node-name edge-node-1 --token <token>', 'join the cloud on 127.0.0.1'],
    ['ke-edge --defaultconfig > edgecore.yaml', 'write the default config to edit'],
    ['ke-edge -c edgecore.yaml --cri-endpoint unix:///run/containerd/containerd.sock', 'real pods'],
  ],
  run: (config, { logger }) => createEdgeCore(config, { logger }),
});
