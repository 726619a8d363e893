import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createBootstrapToken } from '@ke/pki';
import { parse } from 'yaml';
import yargs from 'yargs';
import { loadOrCreateCloudHubSecrets } from './cloudhub-secrets';

const DURATION = /^(\d+)(s|m|h|d)?$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** `90`, `90s`, `15m`, `12h`, `7d` → seconds. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[(match[2] ?? 's') as 's'] : Number.NaN;
  if (!(seconds > 0)) throw new Error(`--ttl ${JSON.stringify(text)}: use e.g. 3600, 90m, 12h, 7d`);
  return seconds;
}

async function dataDirOf(options: { dataDir?: string; config?: string }): Promise<string> {
  if (options.dataDir) return options.dataDir;
  if (options.config) {
    const config = parse(await readFile(options.config, 'utf8')) as { dataDir?: unknown } | null;
    if (typeof config?.dataDir === 'string' && config.dataDir) return config.dataDir;
  }
  return '.ke/cloud';
}

/**
 * `ke-cloud token create`: prints a bootstrap token for `ke-edge --token` (KubeEdge's
 * `keadm gettoken`): `<sha256 of the edge CA>.<JWT signed with the token secret>`. It reads
 * the CA and the secret from the data dir, creating them if ke-cloud has not run there yet, so
 * a token made before the first start is valid once the cloud runs.
 */
export async function runTokenCli(
  argv: readonly string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<number> {
  let exitCode = 0;
  await yargs([...argv])
    .scriptName('ke-cloud token')
    .command(
      'create',
      'print a bootstrap token for edge nodes',
      (command) =>
        command
          .option('ttl', {
            type: 'string',
            default: '12h',
            describe: 'how long the token is valid: seconds, or with s, m, h, d',
          })
          .option('data-dir', {
            type: 'string',
            describe: "ke-cloud's data dir [default: .ke/cloud]",
          })
          .option('config', {
            alias: 'c',
            type: 'string',
            describe: "ke-cloud's config file (its dataDir is used)",
          }),
      async (args) => {
        try {
          const ttlSeconds = parseDuration(args.ttl);
          const dataDir = resolve(
            await dataDirOf({ dataDir: args['data-dir'], config: args.config }),
          );
          const secrets = await loadOrCreateCloudHubSecrets(dataDir);
          const token = await createBootstrapToken({
            caCertificatePem: secrets.ca.certificatePem,
            secret: secrets.tokenSecret,
            ttlSeconds,
          });
          io.stdout.write(`${token}\n`);
        } catch (error) {
          io.stderr.write(`ke-cloud token create: ${(error as Error).message}\n`);
          exitCode = 1;
        }
      },
    )
    .demandCommand(1, 'say what to do: ke-cloud token create')
    .strict()
    .fail((message, error) => {
      io.stderr.write(`ke-cloud token: ${message ?? error?.message}\n`);
      exitCode = 2;
    })
    .help()
    .parseAsync();
  return exitCode;
}
