#!/usr/bin/env node
// Builds every workspace that has a build script, in dependency order.
//   node scripts/build.mjs           build all
//   node scripts/build.mjs --stale   build only those whose dist is older than their sources
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { root, workspaces } from './workspaces.mjs';

function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

function oldest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let earliest = Number.POSITIVE_INFINITY;
  for (const entry of readdirSync(path)) earliest = Math.min(earliest, oldest(join(path, entry)));
  return earliest === Number.POSITIVE_INFINITY ? 0 : earliest;
}

/** A build is stale when any input is newer than the oldest output. */
function isStale(w, rebuilt) {
  const deps = Object.keys(w.manifest.dependencies ?? {});
  if (deps.some((d) => rebuilt.has(d))) return true;
  const inputs = Math.max(
    newest(join(w.path, 'src')),
    newest(join(w.path, 'package.json')),
    newest(join(w.path, 'tsup.config.ts')),
    newest(join(root, 'scripts', 'tsup-preset.ts')),
  );
  return oldest(join(w.path, 'dist')) < inputs;
}

export function build({ staleOnly = false, quiet = false } = {}) {
  const rebuilt = new Set();
  for (const w of workspaces()) {
    if (!w.manifest.scripts?.build) continue;
    if (staleOnly && !isStale(w, rebuilt)) continue;
    const started = Date.now();
    const result = spawnSync('npm', ['run', 'build', '--silent'], {
      cwd: w.path,
      encoding: 'utf8',
    });
    if (result.status !== 0) {
      process.stderr.write(result.stdout + result.stderr);
      throw new Error(`build of ${w.manifest.name} failed (exit ${result.status})`);
    }
    rebuilt.add(w.manifest.name);
    if (!quiet) console.log(`built ${w.manifest.name} in ${Date.now() - started} ms`);
  }
  return rebuilt;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    build({ staleOnly: process.argv.includes('--stale') });
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
