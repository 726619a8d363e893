import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, workspaces } from '../scripts/workspaces.mjs';

const builtins = new Set(builtinModules);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|mts)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

// A dependency used by src/ but not declared is bundled into dist/ or missing for a user.
describe('every package declares what its source imports', () => {
  for (const w of workspaces()) {
    it(w.manifest.name, () => {
      const declared = new Set([
        ...Object.keys(w.manifest.dependencies ?? {}),
        ...Object.keys(w.manifest.peerDependencies ?? {}),
      ]);
      const missing = new Set<string>();
      for (const file of sourceFiles(join(w.path, 'src'))) {
        // Comments hold examples that import the package itself; only code counts.
        const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
        const statements = /^\s*(?:import|export)\b[^;]*?\bfrom\s*'([^'.][^']*)'/gm;
        const dynamic = /\bimport\(\s*'([^'.][^']*)'\s*\)/g;
        for (const match of [...text.matchAll(statements), ...text.matchAll(dynamic)]) {
          const specifier = match[1] ?? '';
          if (specifier.startsWith('node:') || builtins.has(specifier)) continue;
          if (packageOf(specifier) === w.manifest.name) continue;
          const name = packageOf(specifier);
          if (!declared.has(name)) missing.add(`${name} (${file.slice(root.length + 1)})`);
        }
      }
      expect([...missing]).toEqual([]);
    });
  }
});
