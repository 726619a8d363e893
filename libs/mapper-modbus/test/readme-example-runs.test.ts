import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { docExample, readmeExample, toCommonJs } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as mapperModbus from '../src/index';

const run = promisify(execFile);
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

const IMPORT = /^import \{([^}]+)\} from '([^']+)';$/;

describe('the README example', () => {
  let example = '';
  let tmp = '';

  beforeAll(async () => {
    example = readmeExample(await readFile(join(packageDir, 'README.md'), 'utf8'));
    // Inside the package, so that `@ke/mapper-modbus` resolves through the workspace link.
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

  it('imports only names the package exports', () => {
    for (const line of example.split('\n').filter((l) => /^import\b/.test(l))) {
      const [, names, from] = IMPORT.exec(line) ?? [];
      expect(names, line).toBeDefined();
      if (from !== '@ke/mapper-modbus') continue;
      for (const name of names!.split(',').map((n) => n.trim())) {
        expect(mapperModbus).toHaveProperty(name);
      }
    }
  });

  // Node runs the TypeScript sources through tsx, picked by the `@ke/source` export condition.
  const node = (file: string) =>
    run(process.execPath, ['--import', 'tsx', '--conditions=@ke/source', file], {
      cwd: packageDir,
      timeout: 60_000,
    });

  it('runs as an ES module and as CommonJS', async () => {
    const esm = join(tmp, 'example.mjs');
    const cjs = join(tmp, 'example.cjs');
    await writeFile(esm, example);
    await writeFile(cjs, toCommonJs(example));
    for (const file of [esm, cjs]) {
      const { stdout, stderr } = await node(file);
      expect(stderr).toBe('');
      expect(stdout).toBe('setpoint 215\nsetpoint 230\ntemperature 23.5\nstate ok\n');
    }
  }, 90_000);
});
