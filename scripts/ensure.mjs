#!/usr/bin/env node
// Runs before `npm start` and `npm test`: installs dependencies when node_modules is missing or
// older than package-lock.json, then builds the workspaces whose dist is out of date. Uses only
// Node built-ins, so it works on a fresh clone.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from './build.mjs';
import { root } from './workspaces.mjs';

const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');
const needsInstall =
  !existsSync(installed) ||
  (existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs);

if (needsInstall) {
  const args = existsSync(lock) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit'];
  console.log(`ensure: npm ${args[0]} (dependencies missing or out of date)`);
  const result = spawnSync('npm', args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

try {
  const rebuilt = build({ staleOnly: true, quiet: true });
  if (rebuilt.size > 0) console.log(`ensure: built ${[...rebuilt].join(', ')}`);
} catch (error) {
  console.error(`ensure: ${error.message}`);
  process.exit(1);
}
