import { defineConfig } from 'tsup';
import { packageBuild } from '../../scripts/tsup-preset';

// ESM only: yargs 18 ships ESM only, and the daemon shell is used by our ESM apps alone.
export default defineConfig(packageBuild({ format: ['esm'] }));
