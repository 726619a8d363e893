import { defineConfig } from 'tsup';
import { appBuild } from '../../scripts/tsup-preset';

export default defineConfig(appBuild({ entry: ['src/modbus.ts', 'src/opcua.ts'] }));
