import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assertValid, parseManifests, validate } from '../src/index';

const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** Every object in every fixture file (the files hold several `---` documents). */
const documents = readdirSync(fixturesDir)
  .filter((name) => name.endsWith('.yaml'))
  .sort()
  .flatMap((file) =>
    parseManifests(readFileSync(join(fixturesDir, file), 'utf8'), { source: file }).map(
      (object, index) => ({
        label: `${file} #${index + 1} (${String(object.kind)} ${String((object.metadata as { name?: string }).name)})`,
        object,
      }),
    ),
  );

describe('the fixture manifests', () => {
  it('hold every document of the multi-document files', () => {
    const kinds = documents.map(({ object }) => object.kind);
    expect(kinds).toEqual([
      'Device',
      'DeviceModel',
      'EdgeApplication',
      'ImagePullJob',
      'ImagePullJob',
      'NodeGroup',
      'NodeGroup',
      'NodeImage',
      'ObjectSync',
      'ClusterObjectSync',
    ]);
  });

  it.each(documents)('$label is valid', ({ object }) => {
    const result = validate(object);
    expect(result.ok ? [] : result.issues).toEqual([]);
  });

  it.each(documents)('$label is valid in strict mode (no unknown fields)', ({ object }) => {
    const result = validate(object, { strict: true });
    expect(result.ok ? [] : result.issues).toEqual([]);
  });

  it('come back typed and unchanged', () => {
    const device = documents.find(({ object }) => object.kind === 'Device')?.object;
    const value = assertValid(device);
    expect(value).toEqual(device);
    if (value.kind !== 'Device') throw new Error('expected a Device');
    // Free-form configData is kept as written.
    expect(value.spec.protocol?.configData).toEqual({ ip: '127.0.0.1', port: 5020, slaveID: 1 });
    expect(value.spec.properties?.[0]?.pushMethod?.mqtt?.topic).toBe('temp');
  });

  it('keep the embedded manifests of an EdgeApplication whole', () => {
    const app = assertValid(
      documents.find(({ object }) => object.kind === 'EdgeApplication')?.object,
    );
    if (app.kind !== 'EdgeApplication') throw new Error('expected an EdgeApplication');
    expect(app.spec.workloadTemplate?.manifests?.map((manifest) => manifest.kind)).toEqual([
      'Deployment',
      'Service',
    ]);
  });
});
