import type { Logger } from 'pino';
import yargs from 'yargs';
import { type Component, runUntilSignal } from './lifecycle';
import { createLogger, type LogFormat } from './logger';

/** A command that runs one component described by a config file (a mapper, a tunnel server). */
export interface ConfigFileCliSpec {
  /** Command name, e.g. `ke-mapper-modbus`; also the logger's name. */
  readonly name: string;
  readonly version: string;
  /** What the command does, for `--help`. */
  readonly summary: string;
  /** What the config file holds, for `--help`. */
  readonly configHelp: string;
  /**
   * Reads the config and builds the component (not started). A thrown error with a `code`
   * becomes one line on stderr and exit code 2.
   */
  create(configPath: string, logger: Logger): Promise<Component> | Component;
}

/**
 * `<name> --config <file> [--log-level] [--log-format]`: builds the component from the file,
 * starts it, and stops it cleanly on SIGINT or SIGTERM. Resolves with the exit code: 0 after a
 * clean stop, 1 when the component could not start or stop, 2 for a bad command line or config.
 */
export async function runConfigFileCli(
  spec: ConfigFileCliSpec,
  argv: readonly string[] = process.argv.slice(2),
): Promise<number> {
  const { stdout, stderr } = process;
  const usageError = (message: string) => {
    stderr.write(`${spec.name}: ${message}\nRun '${spec.name} --help' for usage.\n`);
    return 2;
  };

  let output = '';
  let parseError: Error | undefined;
  const args = yargs([...argv])
    .scriptName(spec.name)
    .usage(`$0 --config <file>\n\n${spec.summary}`)
    .option('config', { alias: ['c', 'config-file'], type: 'string', describe: spec.configHelp })
    .option('log-level', {
      type: 'string',
      choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
      default: 'info',
      describe: 'log level',
    })
    .option('log-format', {
      type: 'string',
      choices: ['json', 'pretty'],
      describe: 'log line format [default: $KE_LOG_FORMAT, else pretty on a terminal, else json]',
    })
    .example('$0 --config config.yaml', 'run what the file describes')
    .strict()
    .exitProcess(false)
    .version(spec.version)
    .help()
    .alias('help', 'h')
    .wrap(Math.min(110, stdout.columns ?? 110))
    // The callback form captures help text and parse errors instead of printing or exiting.
    .parse([...argv], {}, (error, _argv, text) => {
      if (error) parseError = error;
      else output = text;
    }) as {
    config?: string;
    'log-level': string;
    'log-format'?: LogFormat;
    help?: boolean;
    version?: boolean;
  };
  if (parseError) return usageError(parseError.message);
  if (args.help || args.version) {
    stdout.write(`${output}\n`);
    return 0;
  }
  if (!args.config) return usageError('--config <file> is required');

  const logger = createLogger({
    name: spec.name,
    level: args['log-level'],
    format: args['log-format'] ?? envLogFormat(),
    destination: stdout,
  });
  let component: Component;
  try {
    component = await spec.create(args.config, logger);
  } catch (error) {
    // One line a supervisor's log shows whole: the code to look up, then what to fix.
    const message = error instanceof Error ? error.message : String(error);
    stderr.write(
      `${spec.name}: ${codeOf(error) ?? 'error'}: ${message.replace(/\s*\n\s*/g, ' ')}\n`,
    );
    return 2;
  }
  // This process is the component's: keep the signal listeners to the end.
  return runUntilSignal(component, { logger, releaseSignals: false });
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function envLogFormat(): LogFormat | undefined {
  const value = process.env.KE_LOG_FORMAT;
  return value === 'json' || value === 'pretty' ? value : undefined;
}
