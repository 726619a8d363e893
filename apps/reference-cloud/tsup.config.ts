import { defineConfig } from 'tsup';
import { appBuild } from '../../scripts/tsup-preset';

export default defineConfig(appBuild({ entry: ['src/main.ts', 'src/tunnel-server-main.ts'] }));
