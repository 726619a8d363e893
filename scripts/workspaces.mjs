// The workspaces of this repository in dependency order (a package after the @ke/* packages its
// code depends on). Used by the build and by the packaging test.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const root = new URL('..', import.meta.url).pathname.replace(/\/$/, '');

export function workspaces() {
  const found = [];
  for (const parent of ['libs', 'apps']) {
    const dir = join(root, parent);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      const file = join(dir, name, 'package.json');
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, 'utf8'));
      found.push({ dir: join(parent, name), path: join(dir, name), manifest });
    }
  }
  const byName = new Map(found.map((w) => [w.manifest.name, w]));
  const ordered = [];
  const state = new Map();
  const visit = (w, trail) => {
    if (state.get(w) === 'done') return;
    if (state.get(w) === 'visiting') {
      throw new Error(`dependency cycle: ${[...trail, w.manifest.name].join(' -> ')}`);
    }
    state.set(w, 'visiting');
    // Building a package needs the packages its code imports, not those its tests use: test
    // imports resolve to source (the @ke/source condition), so two packages whose tests use
    // each other (cloudhub and edgehub) are no cycle.
    const deps = { ...w.manifest.dependencies, ...w.manifest.peerDependencies };
    for (const dep of Object.keys(deps)) {
      const target = byName.get(dep);
      if (target) visit(target, [...trail, w.manifest.name]);
    }
    state.set(w, 'done');
    ordered.push(w);
  };
  for (const w of found) visit(w, []);
  return ordered;
}

/** Workspaces that `npm publish` would publish. */
export function publishable() {
  return workspaces().filter((w) => !w.manifest.private);
}
