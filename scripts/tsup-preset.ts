import type { Options } from 'tsup';

/**
 * The build every publishable package shares: ESM first, CJS too, declarations for both,
 * Node 20 syntax. A package's `tsup.config.ts` calls this with its entry points.
 */
export function packageBuild(overrides: Options = {}): Options {
  return {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    splitting: false,
    treeshake: true,
    ...overrides,
  };
}

/** The build of a reference app: one ESM entry with a shebang, dependencies left external. */
export function appBuild(overrides: Options = {}): Options {
  return {
    entry: ['src/main.ts'],
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    clean: true,
    banner: { js: '#!/usr/bin/env node' },
    ...overrides,
  };
}
