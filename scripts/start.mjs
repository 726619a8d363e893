#!/usr/bin/env node
// `npm start`: one ke-cloud and one ke-edge on embedded defaults, data under .ke/, with a
// simulated Modbus device and its mapper (examples/device.yaml describes the device).
// Ctrl-C (SIGINT) or SIGTERM stops both cleanly; the exit code says whether both stopped well.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { root } from './workspaces.mjs';

const dataRoot = process.env.KE_DATA_DIR ?? join(root, '.ke');
const nodeName = process.env.KE_NODE_NAME ?? 'edge-node-1';
const logFormat = process.env.KE_LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');

const cloudEntry = join(root, 'apps/reference-cloud/dist/main.js');
const cloudDataDir = join(dataRoot, 'cloud');
const edgeDataDir = join(dataRoot, 'edge');
// A node that joined before keeps its certificate; a new one joins with a fresh token (made
// from the cloud's data dir, so it is valid as soon as the cloud runs).
const joinArgs = existsSync(join(edgeDataDir, 'certs', 'node.crt'))
  ? []
  : [
      '--token',
      execFileSync(
        process.execPath,
        [cloudEntry, 'token', 'create', '--ttl', '1h', '--data-dir', cloudDataDir],
        {
          encoding: 'utf8',
        },
      ).trim(),
    ];

// The Modbus mapper of examples/device.yaml, registered with ke-edge's device twin over DMI.
const mapperDir = join(dataRoot, 'mappers');
mkdirSync(mapperDir, { recursive: true });
const mapperConfig = join(mapperDir, 'modbus.yaml');
writeFileSync(
  mapperConfig,
  [
    'grpc_server:',
    `  socket_path: ${join(mapperDir, 'modbus.sock')}`,
    'common:',
    '  name: modbus-mapper',
    '  version: v1.0.0',
    '  api_version: v1.0.0',
    '  protocol: modbus',
    '  address: 127.0.0.1',
    `  edgecore_sock: ${join(edgeDataDir, 'dmi.sock')}`,
    '',
  ].join('\n'),
);

// EdgeMesh: the cluster DNS on 127.0.0.1:10053 (not 53, which a host resolver may hold) and the
// service proxy. KE_EDGE_MESH=on (the default as root) lets the proxy write the host's nat table
// for ClusterIPs; `dns` (the default otherwise) runs it without rules; `off` runs neither.
const meshMode = process.env.KE_EDGE_MESH ?? (process.getuid?.() === 0 ? 'on' : 'dns');
if (!['on', 'dns', 'off'].includes(meshMode)) {
  console.error(
    `kubeedge-ts: KE_EDGE_MESH must be on, dns or off, not ${JSON.stringify(meshMode)}`,
  );
  process.exit(2);
}
const meshArgs =
  meshMode === 'off'
    ? []
    : [
        '--modules.edgeMesh.enable',
        'true',
        '--modules.edgeMesh.dns.listen',
        '127.0.0.1:10053',
        '--modules.edgeMesh.proxy.iptables',
        String(meshMode === 'on'),
      ];

const daemons = [
  {
    name: 'ke-cloud',
    entry: cloudEntry,
    args: ['--data-dir', cloudDataDir],
  },
  {
    name: 'ke-edge',
    entry: join(root, 'apps/reference-edge/dist/main.js'),
    args: ['--data-dir', edgeDataDir, '--node-name', nodeName, ...joinArgs, ...meshArgs],
  },
  {
    name: 'modbus-device',
    entry: join(root, 'scripts/simulated-modbus-device.mjs'),
    args: [],
  },
  {
    name: 'ke-mapper-modbus',
    entry: join(root, 'apps/reference-mappers/dist/modbus.js'),
    args: ['--config', mapperConfig],
  },
];

console.log(
  `kubeedge-ts: starting ${daemons.map((d) => d.name).join(' and ')} (data in ${dataRoot})`,
);

const exits = daemons.map((daemon) => {
  const child = spawn(process.execPath, [daemon.entry, ...daemon.args, '--log-format', logFormat], {
    cwd: root,
    // Same process group: a terminal's Ctrl-C reaches the daemons directly too, and nothing
    // outlives a killed group. The SIGTERM sent below then counts as the same stop request.
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  daemon.child = child;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      process.stdout.write(logFormat === 'pretty' ? `[${daemon.name}] ${line}\n` : `${line}\n`);
    });
  }
  console.log(`kubeedge-ts: ${daemon.name} running as pid ${child.pid}`);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ daemon, code, signal }));
  });
});
console.log('kubeedge-ts: press Ctrl-C to stop');

let stopping = false;
let stoppingSince = 0;
function stopAll(signal) {
  if (stopping) {
    // `npm start` forwards the terminal's Ctrl-C to this process, which got it already; a
    // second Ctrl-C later on means "now": the daemons exit at once on it too.
    if (signal !== 'SIGINT' || Date.now() - stoppingSince < 1000) return;
    console.log('kubeedge-ts: second Ctrl-C, killing the daemons');
    for (const d of daemons) if (d.child.exitCode === null) d.child.kill('SIGKILL');
    return;
  }
  stopping = true;
  stoppingSince = Date.now();
  console.log(`kubeedge-ts: ${signal} received, stopping`);
  const terminate = () => {
    for (const d of daemons) if (d.child.exitCode === null) d.child.kill('SIGTERM');
  };
  if (signal === 'SIGINT') {
    // A terminal's Ctrl-C reaches the whole process group, daemons included. Signalling them
    // again could land while one is already exiting and turn a clean exit into "killed", so
    // SIGTERM only those still running after a grace period (covers `kill -INT <launcher>`).
    const grace = setTimeout(terminate, 3000);
    Promise.all(exits).then(() => clearTimeout(grace));
  } else {
    terminate();
  }
}
process.on('SIGINT', () => stopAll('SIGINT'));
process.on('SIGTERM', () => stopAll('SIGTERM'));

const results = [];
for (const exit of exits) {
  exit.then((r) => {
    results.push(r);
    if (!stopping) {
      console.error(`kubeedge-ts: ${r.daemon.name} exited unexpectedly (code ${r.code}); stopping`);
      stopAll('exit');
    }
  });
}
await Promise.all(exits);
const failed = results.filter((r) => r.code !== 0);
for (const r of failed)
  console.error(`kubeedge-ts: ${r.daemon.name} exited with ${r.code ?? r.signal}`);
console.log(
  failed.length === 0 ? 'kubeedge-ts: stopped cleanly' : 'kubeedge-ts: stopped with errors',
);
process.exit(failed.length === 0 ? 0 : 1);
