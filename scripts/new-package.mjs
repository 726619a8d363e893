#!/usr/bin/env node
// Creates libs/<name>/ with the files every publishable package has.
// Usage: node scripts/new-package.mjs <name> "<one-line description>"
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [name, description = ''] = process.argv.slice(2);
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error(
    'usage: node scripts/new-package.mjs <name> "<description>" (name: lower-case, dashes)',
  );
  process.exit(2);
}
const dir = join('libs', name);
if (existsSync(dir)) {
  console.error(`${dir} exists already`);
  process.exit(1);
}
mkdirSync(join(dir, 'src'), { recursive: true });
mkdirSync(join(dir, 'test'), { recursive: true });
const pkg = {
  name: `@ke/${name}`,
  version: '0.1.0',
  description,
  license: 'Apache-2.0',
  type: 'module',
  engines: { node: '>=20' },
  sideEffects: false,
  exports: {
    '.': {
      '@ke/source': './src/index.ts',
      import: { types: './dist/index.d.ts', default: './dist/index.js' },
      require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
    },
    './package.json': './package.json',
  },
  main: './dist/index.cjs',
  module: './dist/index.js',
  types: './dist/index.d.ts',
  files: ['dist'],
  scripts: { build: 'tsup', test: `vitest run --root ../.. libs/${name}` },
  dependencies: {},
};
writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
writeFileSync(
  join(dir, 'tsup.config.ts'),
  "import { defineConfig } from 'tsup';\nimport { packageBuild } from '../../scripts/tsup-preset';\n\nexport default defineConfig(packageBuild());\n",
);
writeFileSync(
  join(dir, 'src', 'index.ts'),
  `/**\n * @packageDocumentation\n * ${description}\n */\nexport {};\n`,
);
writeFileSync(
  join(dir, 'README.md'),
  `# @ke/${name}\n\n${description}\n\n## Example\n\n\`\`\`js\n\`\`\`\n`,
);
console.log(`created ${dir}; run npm install to link it`);
