import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docExample, readmeExample, toCommonJs } from './readme';

const run = promisify(execFile);
const IMPORT = /^import \{([^}]+)\} from '([^']+)';$/;

/**
 * The tests every package's README example gets: it is the example `src/index.ts` opens with,
 * it imports only names the package exports, and it runs — as an ES module and as CommonJS,
 * through tsx and the `@ke/source` condition — with nothing on stderr and `check(stdout)`
 * passing. `packageDir` is the package's folder (`new URL('..', import.meta.url)` from `test/`).
 */
export function describeReadmeExample(options: {
  packageDir: URL;
  /** The package's exports (`import * as pkg from '../src/index'`). */
  exports: object;
  check: (stdout: string) => void;
  timeoutMs?: number;
}): void {
  const packageDir = fileURLToPath(options.packageDir);
  describe('the README example', () => {
    let example = '';
    let name = '';
    let tmp = '';

    beforeAll(async () => {
      example = readmeExample(await readFile(join(packageDir, 'README.md'), 'utf8'));
      name = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')).name;
      // Inside the package, so that its name resolves through the workspace link (.tmp is ignored).
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
        if (from !== name) continue;
        for (const exported of names!.split(',').map((n) => n.trim())) {
          expect(options.exports).toHaveProperty(exported);
        }
      }
    });

    it(
      'runs as an ES module and as CommonJS',
      async () => {
        const esm = join(tmp, 'example.mjs');
        const cjs = join(tmp, 'example.cjs');
        await writeFile(esm, example);
        await writeFile(cjs, toCommonJs(example));
        for (const file of [esm, cjs]) {
          const { stdout, stderr } = await run(
            process.execPath,
            ['--import', 'tsx', '--conditions=@ke/source', file],
            { cwd: packageDir, timeout: 60_000 },
          );
          expect(stderr).toBe('');
          options.check(stdout);
        }
      },
      options.timeoutMs ?? 90_000,
    );
  });
}
