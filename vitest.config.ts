import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// One run for every workspace. Tests import `@ke/*` packages from their TypeScript sources
// through the `@ke/source` export condition, so a change is tested without a build.
const conditions = ['@ke/source', ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['libs/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
