import { readFile } from 'node:fs/promises';

/**
 * Reads a container log in the CRI format (`<RFC3339Nano> <stdout|stderr> <P|F> <text>` per
 * line; `P` marks a partial line continued by the next) and returns the text as the
 * container wrote it, optionally only its last `tailLines` lines.
 */
export async function readContainerLog(
  path: string,
  options: { tailLines?: number } = {},
): Promise<string> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
  const lines: string[] = [];
  let partial = '';
  for (const record of raw.split('\n')) {
    if (!record) continue;
    const match = /^\S+ (?:stdout|stderr) ([PF])(?: (.*))?$/.exec(record);
    if (!match) {
      lines.push(record); // not CRI format: keep it as it is
      continue;
    }
    partial += match[2] ?? '';
    if (match[1] === 'F') {
      lines.push(partial);
      partial = '';
    }
  }
  if (partial) lines.push(partial);
  const kept = options.tailLines === undefined ? lines : lines.slice(-options.tailLines);
  return kept.length ? `${kept.join('\n')}\n` : '';
}
