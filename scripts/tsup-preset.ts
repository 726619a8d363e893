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
