import type { Logger } from 'pino';

/**
 * Logs which of the modules a config enables are running, which it disables, and which it
 * enables but this build does not contain yet (with where each arrives), in two lines.
 */
export function reportModules(
  logger: Logger,
  configured: Readonly<Record<string, { readonly enable: boolean }>>,
  built: {
    readonly running: readonly string[];
    readonly arrivesWith: Readonly<Record<string, string>>;
  },
): void {
  const entries = Object.entries(configured);
  const disabled = entries.filter(([, m]) => !m.enable).map(([name]) => name);
  const pending = entries
    .filter(([name, m]) => m.enable && !built.running.includes(name))
    .map(([name]) => `${name} (${built.arrivesWith[name] ?? 'later'})`);
  logger.info({ running: built.running, disabled }, 'modules');
  if (pending.length > 0) {
    logger.warn({ pending }, 'enabled in config but not in this build yet');
  }
}
