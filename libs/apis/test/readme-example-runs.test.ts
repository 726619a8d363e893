import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { docExample, readmeExample, toCommonJs } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('the README example', () => {
  let example = '';
  let tmp = '';

  beforeAll(async () => {
    example = readmeExample(await readFile(join(packageDir, 'README.md'), 'utf8'));
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
