import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as beehive from '../src/index';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const indexSource = readFileSync(new URL('../src/index.ts', import.meta.url), 'utf8');
const sourceEntry = fileURLToPath(new URL('../src/index.ts', import.meta.url));

/** The first ```js block after `## Example`, as the repository's README test reads it. */
function readmeExample(): string {
  const section = readme.slice(readme.indexOf('## Example'));
  const match = /```js\n([\s\S]*?)```/.exec(section);
  if (match?.[1] === undefined) throw new Error('README has no ```js block after ## Example');
  return match[1];
}

const IMPORT = /^import \{ ([^}]+) \} from '([^']+)';$/;

/** Splits the example into its import lines and the rest. */
function splitImports(code: string) {
  const lines = code.split('\n');
  const imports: Array<{ names: string[]; from: string; line: string }> = [];
  let index = 0;
  for (; index < lines.length; index += 1) {
    const line = lines[index] ?? '';
    const match = IMPORT.exec(line);
    if (match === null) break;
    imports.push({
      names: (match[1] ?? '').split(',').map((n) => n.trim()),
      from: match[2] ?? '',
      line,
    });
  }
  return { imports, body: lines.slice(index).join('\n') };
}

/** The README test's CommonJS form: `const { a } = require('x')` and the rest in an async function. */
function toCommonJs(code: string, rewrite: (from: string) => string): string {
  const { imports, body } = splitImports(code);
  const requires = imports.map(
    (i) => `const { ${i.names.join(', ')} } = require(${JSON.stringify(rewrite(i.from))});`,
  );
  return `${requires.join('\n')}\n(async () => {\n${body}\n})().catch((error) => { console.error(error); process.exitCode = 1; });\n`;
}

const workDir = mkdtempSync(join(tmpdir(), 'beehive-readme-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

function runNode(file: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', file], {
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('the README example', () => {
  it('is the same example as the @packageDocumentation block of src/index.ts', () => {
    const doc = /```js\n([\s\S]*?) \* ```/.exec(indexSource)?.[1] ?? '';
    const fromIndex = doc
      .split('\n')
      .map((line) => line.replace(/^ \* ?/, ''))
      .join('\n');
    expect(fromIndex.trim()).toBe(readmeExample().trim());
  });

  it('opens with single-line named imports and has no other import forms', () => {
    const { imports, body } = splitImports(readmeExample());
    expect(new Set(imports.map((i) => i.from))).toEqual(
      new Set(['node:assert/strict', '@ke/beehive']),
    );
    // Biome wraps lines over 100 characters, which would turn an import into several lines.
    for (const { line } of imports) expect(line.length).toBeLessThanOrEqual(100);
    expect(body).not.toMatch(/^\s*import\b/m);
    expect(body).not.toMatch(/\bimport\(/);
    for (const name of imports.filter((i) => i.from === '@ke/beehive').flatMap((i) => i.names)) {
      expect(beehive).toHaveProperty(name);
    }
  });

  it('runs in-process against the sources', async () => {
    const { imports, body } = splitImports(readmeExample());
    const modules: Record<string, Record<string, unknown>> = {
      '@ke/beehive': beehive as unknown as Record<string, unknown>,
      'node:assert/strict': (await import('node:assert/strict')) as unknown as Record<
        string,
        unknown
      >,
    };
    const names = imports.flatMap((i) => i.names);
    const values = imports.flatMap((i) => i.names.map((name) => modules[i.from]?.[name]));
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
      ...args: string[]
    ) => (...values: unknown[]) => Promise<void>;
    const logs: unknown[][] = [];
    const console = { log: (...args: unknown[]) => logs.push(args) };
    await new AsyncFunction(...names, 'console', body)(...values, console);
    expect(logs.map((args) => args[0])).toEqual([
      'response:',
      'decoded:',
      'rejected:',
      'resource:',
      'router stopped',
    ]);
  });

  it('runs as an ES module in a separate node process', () => {
    const file = join(workDir, 'example.mjs');
    writeFileSync(
      file,
      readmeExample().replaceAll("from '@ke/beehive'", `from ${JSON.stringify(sourceEntry)}`),
    );
    const result = runNode(file);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('rejected: KE_MESSAGE_INVALID at header.timestamp');
    expect(result.stdout).toContain('router stopped');
  });

  it('runs as CommonJS after the README test rewrite', () => {
    const file = join(workDir, 'example.cjs');
    writeFileSync(
      file,
      toCommonJs(readmeExample(), (from) => (from === '@ke/beehive' ? sourceEntry : from)),
    );
    const result = runNode(file);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('router stopped');
  });
});
