import type { Static, TObject } from '@sinclair/typebox';
import type { Logger } from 'pino';
import yargs, { type Options } from 'yargs';
import {
  type ConfigLeaf,
  configLeaves,
  defaultConfig,
  readConfigFile,
  renderConfig,
  resolveConfig,
} from './config';
import { DaemonError } from './errors';
import { type Component, runUntilSignal } from './lifecycle';
import { createLogger, type LogFormat } from './logger';

/** Everything that makes a daemon's command line, derived from its config schema. */
export interface DaemonCliSpec<T extends TObject> {
  /** Binary name, e.g. `ke-cloud`. */
  readonly name: string;
  readonly version: string;
  /** One paragraph for `--help`. */
  readonly description: string;
  /** The config schema; every leaf becomes a `--dotted.path` flag. It must have `logLevel`. */
  readonly schema: T;
  /** Friendly flags for common fields, e.g. `{ kubeconfig: 'kubeAPIConfig.kubeConfig' }`. */
  readonly aliases?: Readonly<Record<string, string>>;
  readonly examples?: readonly (readonly [command: string, meaning: string])[];
  /** Builds the component from the effective config; `runDaemonCli` starts and stops it. */
  run(config: Static<T>, context: { logger: Logger }): Component | Promise<Component>;
  /** Standard streams; tests pass their own. */
  readonly stdout?: NodeJS.WritableStream;
  readonly stderr?: NodeJS.WritableStream;
}

function flagOptions(leaf: ConfigLeaf): Options {
  const describe = [
    leaf.description,
    leaf.kind === 'map' ? '(key=value, repeatable)' : '',
    leaf.default !== undefined && !(Array.isArray(leaf.default) && leaf.default.length === 0)
      ? `[default: ${JSON.stringify(leaf.default)}]`
      : '',
  ]
    .filter(Boolean)
    .join(' ');
  const group = leaf.group ? `${leaf.group}:` : 'Settings:';
  switch (leaf.kind) {
    case 'boolean':
      return { type: 'boolean', describe, group };
    case 'number':
    case 'integer':
      return { type: 'number', describe, group };
    case 'string[]':
    case 'map':
      return { type: 'string', array: true, describe, group };
    default:
      return { type: 'string', describe, group };
  }
}

/** `['region=hangzhou', 'tier=edge']` → `{ region: 'hangzhou', tier: 'edge' }`. */
function parseMapFlag(path: string, values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) {
      throw new DaemonError('KE_CONFIG_INVALID', `--${path}: expected key=value, got '${value}'`, {
        issues: [{ path, message: `expected key=value, got '${value}'` }],
      });
    }
    out[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return out;
}

/**
 * Parses the command line, resolves the config (defaults ← `--config` file ← flags), then runs
 * the daemon until SIGINT/SIGTERM. Resolves with the process exit code: 0 clean, 1 runtime
 * failure, 2 bad command line or config.
 */
export async function runDaemonCli<T extends TObject>(
  spec: DaemonCliSpec<T>,
  argv: readonly string[] = process.argv.slice(2),
): Promise<number> {
  const stdout = spec.stdout ?? process.stdout;
  const stderr = spec.stderr ?? process.stderr;
  const leaves = configLeaves(spec.schema);
  const byPath = new Map(leaves.map((leaf) => [leaf.path, leaf]));
  for (const [alias, path] of Object.entries(spec.aliases ?? {})) {
    if (!byPath.has(path)) throw new Error(`alias --${alias} names unknown config field ${path}`);
  }

  let output = '';
  const parser = yargs([...argv])
    .scriptName(spec.name)
    .usage(`$0 [flags]\n\n${spec.description}`)
    .parserConfiguration({ 'dot-notation': false, 'camel-case-expansion': false })
    .option('config', {
      alias: 'c',
      type: 'string',
      describe: 'YAML config file; flags override its fields',
      group: 'General:',
    })
    .option('defaultconfig', {
      type: 'boolean',
      describe: 'print the default config as YAML and exit',
      group: 'General:',
    })
    .option('print-config', {
      type: 'boolean',
      describe: 'print the effective config (defaults, file, flags) and exit',
      group: 'General:',
    })
    .option('log-format', {
      type: 'string',
      choices: ['json', 'pretty'],
      describe: 'log line format [default: pretty on a terminal, else json]',
      group: 'General:',
    })
    .strict()
    .exitProcess(false)
    .version(spec.version)
    .help()
    .alias('help', 'h')
    .wrap(Math.min(110, (stdout as { columns?: number }).columns ?? 110));
  for (const [alias, path] of Object.entries(spec.aliases ?? {})) {
    parser.option(alias, {
      ...flagOptions(byPath.get(path)!),
      describe: `same as --${path}`,
      group: 'Shortcuts:',
    });
  }
  for (const leaf of leaves) parser.option(leaf.path, flagOptions(leaf));
  for (const [command, meaning] of spec.examples ?? []) parser.example(command, meaning);

  // The callback form captures help text and parse errors instead of printing or exiting.
  let parseError: Error | undefined;
  const args = parser.parse([...argv], {}, (error, _argv, text) => {
    if (error) parseError = error;
    else output = text;
  }) as Record<string, unknown>;
  if (parseError) {
    stderr.write(`${spec.name}: ${parseError.message}\nRun '${spec.name} --help' for usage.\n`);
    return 2;
  }
  if (args.help || args.version) {
    stdout.write(`${output}\n`);
    return 0;
  }
  if (args.defaultconfig) {
    stdout.write(renderConfig(defaultConfig(spec.schema)));
    return 0;
  }

  let config: Static<T>;
  try {
    const overrides: Record<string, unknown> = {};
    const collect = (path: string, value: unknown) => {
      if (value === undefined) return;
      const leaf = byPath.get(path)!;
      overrides[path] = leaf.kind === 'map' ? parseMapFlag(path, value as string[]) : value;
    };
    for (const [alias, path] of Object.entries(spec.aliases ?? {})) collect(path, args[alias]);
    for (const leaf of leaves) collect(leaf.path, args[leaf.path]);
    const file = typeof args.config === 'string' ? await readConfigFile(args.config) : undefined;
    config = resolveConfig(spec.schema, { file, overrides });
  } catch (error) {
    const message = error instanceof DaemonError ? error.message : String(error);
    stderr.write(`${spec.name}: ${message}\n`);
    return 2;
  }
  if (args['print-config']) {
    stdout.write(renderConfig(config));
    return 0;
  }

  const logger = createLogger({
    name: spec.name,
    level: (config as { logLevel?: string }).logLevel ?? 'info',
    format: (args['log-format'] as LogFormat | undefined) ?? envLogFormat(),
    destination: stdout,
  });
  let component: Component;
  try {
    component = await spec.run(config, { logger });
  } catch (error) {
    logger.error({ err: error }, 'could not assemble the daemon');
    // A configuration the daemon cannot run with is a usage error, as bad flags are.
    return error instanceof DaemonError && error.code.startsWith('KE_CONFIG_') ? 2 : 1;
  }
  // This process is the daemon's: keep the signal listeners to the end (see RunOptions).
  return runUntilSignal(component, { logger, releaseSignals: false });
}

function envLogFormat(): LogFormat | undefined {
  const value = process.env.KE_LOG_FORMAT;
  return value === 'json' || value === 'pretty' ? value : undefined;
}
