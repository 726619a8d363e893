import { describe, expect, it } from 'vitest';
import { ApisError, parseManifests } from '../src/index';

function thrownBy(fn: () => unknown): ApisError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApisError) return error;
    throw error;
  }
  throw new Error('expected an ApisError');
}

describe('parseManifests', () => {
  it('returns every object of a multi-document file and skips empty documents', () => {
    const text = [
      '---',
      '# only a comment',
      '---',
      'apiVersion: apps.kubeedge.io/v1alpha1',
      'kind: NodeGroup',
      'metadata: { name: a }',
      'spec: {}',
      '---',
      '---',
      'apiVersion: apps.kubeedge.io/v1alpha1',
      'kind: NodeGroup',
      'metadata: { name: b }',
      'spec: {}',
      '',
    ].join('\n');
    const objects = parseManifests(text);
    expect(objects.map((object) => (object.metadata as { name: string }).name)).toEqual(['a', 'b']);
  });

  it('expands a v1 List into its items, as kubectl does', () => {
    const text = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'apps.kubeedge.io/v1alpha1',
          kind: 'NodeGroup',
          metadata: { name: 'a' },
          spec: {},
        },
        {
          apiVersion: 'apps.kubeedge.io/v1alpha1',
          kind: 'NodeGroup',
          metadata: { name: 'b' },
          spec: {},
        },
      ],
    });
    expect(parseManifests(text)).toHaveLength(2);
  });

  it('reads YAML 1.1 scalars as kubectl does', () => {
    const [object] = parseManifests('retained: yes\nmode: 0755\nversion: "1.35"\n');
    expect(object).toEqual({ retained: true, mode: 0o755, version: '1.35' });
  });

  it('reads JSON', () => {
    expect(parseManifests('{"apiVersion":"v1","kind":"ConfigMap"}')).toEqual([
      { apiVersion: 'v1', kind: 'ConfigMap' },
    ]);
  });

  it('names the line and column of a YAML syntax error', () => {
    const error = thrownBy(() =>
      parseManifests('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n', {
        source: 'cm.yaml',
      }),
    );
    expect(error.code).toBe('KE_APIS_YAML');
    expect(error.message).toMatch(/^YAML syntax error in cm\.yaml at line \d+, column \d+: /);
  });

  it('rejects a duplicate key, as kubectl --validate=strict does', () => {
    const error = thrownBy(() => parseManifests('kind: A\nkind: B\n'));
    expect(error.code).toBe('KE_APIS_YAML');
    expect(error.message).toContain('line 2');
  });

  it('rejects a document that is not an object', () => {
    const error = thrownBy(() => parseManifests('kind: A\n---\n- just\n- a list\n'));
    expect(error.code).toBe('KE_APIS_YAML');
    expect(error.message).toBe('document 2 is not an object (got array)');
  });
});
