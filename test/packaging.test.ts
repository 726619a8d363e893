import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readmeExample, toCommonJs } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../scripts/build.mjs';
import { publishable, root } from '../scripts/workspaces.mjs';

const run = promisify(execFile);

const packages = publishable();
const tarballs = new Map<string, string>();
const contents = new Map<string, string[]>();
let consumer: string;

// Users install single packages from the registry: each tarball must work alone, outside the
// monorepo, from ESM and CJS, with nothing but dist/ and its README.
beforeAll(async () => {
  build({ staleOnly: true, quiet: true });
  consumer = await mkdtemp(join(tmpdir(), 'ke-packaging-'));
  for (const pkg of packages) {
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', consumer], {
      cwd: pkg.path,
    });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    tarballs.set(pkg.manifest.name, join(consumer, packed!.filename));
    contents.set(
      pkg.manifest.name,
      packed!.files.map((f) => f.path),
    );
  }
  // Each tarball is a direct dependency; `$name` overrides make every other package's
  // `@ke/*` range resolve to that tarball too, as the registry would.
  const dependencies = Object.fromEntries(
    [...tarballs].map(([name, file]) => [name, `file:${file}`]),
  );
  const overrides = Object.fromEntries([...tarballs.keys()].map((name) => [name, `$${name}`]));
  await writeFile(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'ke-consumer', private: true, dependencies, overrides }, null, 2),
  );
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: consumer });
}, 300_000);

afterAll(async () => {
  if (consumer) await rm(consumer, { recursive: true, force: true });
});

describe('published packages', () => {
  it('has something to publish', () => {
    expect(packages.map((p) => p.manifest.name)).toEqual(
      expect.arrayContaining(['@ke/beehive', '@ke/apis']),
    );
  });

  for (const pkg of packages) {
    const name = pkg.manifest.name;
    describe(name, () => {
      it('ships only dist/, its README and the files it declares', () => {
        const allowed = ['dist/', ...(pkg.manifest.files ?? [])].map((f) => f.replace(/\/?$/, ''));
        for (const file of contents.get(name)!) {
          const ok =
            ['package.json', 'README.md', 'LICENSE'].includes(file) ||
            allowed.some((prefix) => file === prefix || file.startsWith(`${prefix}/`));
          expect(ok, `${name} ships ${file}`).toBe(true);
        }
        for (const f of [
          'dist/index.js',
          'dist/index.cjs',
          'dist/index.d.ts',
          'dist/index.d.cts',
        ]) {
          expect(contents.get(name), `${name} lacks ${f}`).toContain(f);
        }
      });

      it('depends on other @ke packages by a real version range', () => {
        for (const [dep, range] of Object.entries(pkg.manifest.dependencies ?? {})) {
          if (dep.startsWith('@ke/'))
            expect(range, `${name} -> ${dep}`).toMatch(/^\^\d+\.\d+\.\d+/);
        }
      });

      it('runs its README example from ESM and from CJS', async () => {
        const readme = await readFile(join(pkg.path, 'README.md'), 'utf8');
        const example = readmeExample(readme, `${pkg.dir}/README.md`);
        const slug = name.replace('@ke/', '');
        const esm = join(consumer, `${slug}.example.mjs`);
        const cjs = join(consumer, `${slug}.example.cjs`);
        await writeFile(esm, example);
        await writeFile(cjs, toCommonJs(example, `${pkg.dir}/README.md`));
        for (const file of [esm, cjs]) {
          const result = await run(process.execPath, [file], { cwd: consumer }).catch(
            (error: { stdout: string; stderr: string }) => {
              throw new Error(`${file} failed:\n${error.stdout}\n${error.stderr}`);
            },
          );
          expect(result.stderr).toBe('');
        }
      });

      it('type-checks its README example against the shipped declarations', async () => {
        const readme = await readFile(join(pkg.path, 'README.md'), 'utf8');
        const slug = name.replace('@ke/', '');
        const file = join(consumer, `${slug}.typecheck.mts`);
        await writeFile(file, readmeExample(readme));
        const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
        await run(
          process.execPath,
          [
            tsc,
            '--noEmit',
            '--strict',
            '--module',
            'nodenext',
            '--target',
            'es2022',
            '--types',
            'node',
            '--typeRoots',
            join(root, 'node_modules', '@types'),
            '--skipLibCheck',
            file,
          ],
          { cwd: consumer },
        ).catch((error: { stdout: string }) => {
          throw new Error(`${name}: README example does not type-check:\n${error.stdout}`);
        });
      });
    });
  }
});
