import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GEN_CRDS_COMMAND, renderCrdFiles, resources } from '../src/index';

const crdsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'crds');
const stale = `crds/ is out of date with the schemas in src/; run \`${GEN_CRDS_COMMAND}\` and commit the result`;

describe('the CRD files on disk', () => {
  const files = renderCrdFiles();

  it('are one per kind', () => {
    expect(files.map((file) => file.fileName).sort()).toEqual(
      resources.map((def) => def.crdFileName).sort(),
    );
    expect(new Set(files.map((file) => file.fileName)).size).toBe(resources.length);
  });

  it.each(files)('$fileName matches what the schema generates', ({ fileName, content }) => {
    let onDisk: string;
    try {
      onDisk = readFileSync(join(crdsDir, fileName), 'utf8');
    } catch {
      throw new Error(`crds/${fileName} is missing: ${stale}`);
    }
    expect(onDisk, stale).toBe(content);
  });

  it('include no file that no kind generates', () => {
    const extra = readdirSync(crdsDir).filter(
      (name) => !files.some((file) => file.fileName === name),
    );
    expect(extra, stale).toEqual([]);
  });
});
