import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The first ```js block after `## Example`. */
function extractExample(readme: string): string {
  const match = /## Example\s*\n```js\n([\s\S]*?)```/.exec(readme);
  if (!match?.[1]) throw new Error('README.md has no ```js block after "## Example"');
  return match[1];
}

/** `import { a, b } from 'x';` → `const { a, b } = require('x');`, the rest in an async function. */
function toCommonJs(example: string): string {
  const lines = example.split('\n');
  const requires: string[] = [];
  const body: string[] = [];
  for (const line of lines) {
    const named = /^import \{([^}]+)\} from (['"][^'"]+['"]);?$/.exec(line);
    if (named) requires.push(`const {${named[1]}} = require(${named[2]});`);
    else if (/^import /.test(line))
      throw new Error(`only single-line named imports are supported: ${line}`);
    else body.push(line);
  }
  return `${requires.join('\n')}\n(async () => {\n${body.join('\n')}\n})().catch((error) => {\n  console.error(error);\n  process.exitCode = 1;\n});\n`;
}

/** The example as the package's own `@packageDocumentation` block shows it. */
function docExample(indexSource: string): string {
  const match = /@example\s*\n \* ```js\n([\s\S]*?) \* ```/.exec(indexSource);
  if (!match?.[1]) throw new Error('src/index.ts has no ```js @example');
  return match[1]
    .split('\n')
    .map((line) => line.replace(/^ \* ?/, ''))
    .join('\n');
}

describe('the README example', () => {
  let example = '';
  let tmp = '';

  beforeAll(async () => {
    example = extractExample(await readFile(join(packageDir, 'README.md'), 'utf8'));
    // Inside the package so that `@ke/apis` resolves through the workspace link (.tmp is ignored by git).
    await mkdir(join(packageDir, '.tmp'), { recursive: true });
    tmp = await mkdtemp(join(packageDir, '.tmp', 'readme-example-'));
  });
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  // Node runs the TypeScript sources through tsx, picked by the `@ke/source` export condition.
  const node = (file: string) =>
    run(process.execPath, ['--import', 'tsx', '--conditions=@ke/source', file], {
      cwd: packageDir,
      timeout: 60_000,
    });

  it('is the same example src/index.ts opens with', async () => {
    const indexSource = await readFile(join(packageDir, 'src', 'index.ts'), 'utf8');
    expect(docExample(indexSource).trim()).toBe(example.trim());
  });

  it('runs as an ES module', async () => {
    const file = join(tmp, 'example.mjs');
    await writeFile(file, example);
    const { stdout } = await node(file);
    expect(stdout).toContain('valid: true');
    expect(stdout).toContain('rejected: spec.properties[0].collectCycle: expected integer');
    expect(stdout).toContain('CRD: devices.devices.kubeedge.io');
  });

  it('runs as CommonJS', async () => {
    const file = join(tmp, 'example.cjs');
    await writeFile(file, toCommonJs(example));
    const { stdout } = await node(file);
    expect(stdout).toContain('valid: true');
    expect(stdout).toContain('CRD: devices.devices.kubeedge.io');
  });
});
