import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { docExample, readmeExample, toCommonJs } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as kube from '../src/index';

const run = promisify(execFile);
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

const IMPORT = /^import \{([^}]+)\} from '([^']+)';$/;

describe('the README example', () => {
  let example = '';
  let tmp = '';

  beforeAll(async () => {
    example = readmeExample(await readFile(join(packageDir, 'README.md'), 'utf8'));
    // Inside the package, so that `@ke/kube` resolves through the workspace link (.tmp is ignored).
    await mkdir(join(packageDir, '.tmp'), { recursive: true });
    tmp = await mkdtemp(join(packageDir, '.tmp', 'readme-example-'));
  });
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('is the example src/index.ts opens with', async () => {
    const indexSource = await readFile(join(packageDir, 'src', 'index.ts'), 'utf8');
    expect(docExample(indexSource).trim()).toBe(example.trim());
  });

  it('uses only single-line named imports of exported names, each under 100 characters', () => {
    const lines = example.split('\n').filter((line) => /^import\b/.test(line));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).toMatch(IMPORT);
      expect(line.length).toBeLessThanOrEqual(100);
      const [, names, from] = IMPORT.exec(line)!;
      if (from !== '@ke/kube') continue;
      for (const name of names!.split(',').map((n) => n.trim())) {
        expect(kube).toHaveProperty(name);
      }
    }
    for (const line of example.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });

  // Node runs the TypeScript sources through tsx, picked by the `@ke/source` export condition.
  const node = (file: string) =>
    run(process.execPath, ['--import', 'tsx', '--conditions=@ke/source', file], {
      cwd: packageDir,
      timeout: 60_000,
    });

  it('runs as an ES module, retrying the failing key twice', async () => {
    const file = join(tmp, 'example.mjs');
    await writeFile(file, example);
    const { stdout, stderr } = await node(file);
    expect(stderr).toBe('');
    expect(stdout.match(/retrying after back-off: default\/valve/g)).toHaveLength(2);
    expect(stdout).toContain("'default/valve': 3");
  }, 90_000);

  // Slow: tsx compiles client-node's ESM for require() file by file.
  it('runs as CommonJS', async () => {
    const file = join(tmp, 'example.cjs');
    await writeFile(file, toCommonJs(example));
    const { stdout, stderr } = await node(file);
    expect(stderr).toBe('');
    expect(stdout).toContain("'default/valve': 3");
  }, 90_000);
});
