import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findResource, parseManifests, validate } from '@ke/apis';
import { describe, expect, it } from 'vitest';
import { root } from '../scripts/workspaces.mjs';

const examplesDir = join(root, 'examples');
const files = (await readdir(examplesDir)).filter((f) => f.endsWith('.yaml')).sort();

// What a new user applies first must be valid for the CRDs this project serves.
describe('examples/', () => {
  it('holds manifests', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  for (const file of files) {
    it(`${file}: every custom resource validates strictly`, async () => {
      const objects = parseManifests(await readFile(join(examplesDir, file), 'utf8'), {
        source: file,
      });
      expect(objects.length).toBeGreaterThan(0);
      for (const object of objects) {
        const { apiVersion, kind } = object as { apiVersion: string; kind: string };
        if (!findResource(apiVersion, kind)) {
          // Built-in kinds (a Pod) are checked by the API server, not by @ke/apis.
          expect(apiVersion, `${file}: ${kind}`).toMatch(/^(v1|apps\/v1)$/);
          continue;
        }
        const result = validate(object, { strict: true });
        expect(result.ok ? [] : result.issues, `${file}: ${kind}`).toEqual([]);
      }
    });
  }
});
