import { describe, expect, it } from 'vitest';
import {
  configLeaves,
  DaemonError,
  defaultConfig,
  parseConfigText,
  resolveConfig,
} from '../src/index';
import { schema } from './fixtures';

function invalid(fn: () => unknown): DaemonError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DaemonError) return error;
    throw error;
  }
  throw new Error('expected a DaemonError');
}

describe('config layers: defaults, file, flags', () => {
  it('fills every field from defaults', () => {
    expect(defaultConfig(schema)).toEqual({
      logLevel: 'silent',
      dataDir: '.data',
      server: { port: 8080, tls: false, advertise: ['127.0.0.1'] },
      labels: {},
      mode: 'a',
    });
  });

  it('lets the file override defaults and flags override the file', () => {
    const file = parseConfigText('server:\n  port: 9000\n  tls: true\nlabels: { a: "1" }\n');
    const config = resolveConfig(schema, {
      file,
      overrides: { 'server.port': 9100, labels: { b: '2' } },
    });
    expect(config.server).toEqual({ port: 9100, tls: true, advertise: ['127.0.0.1'] });
    expect(config.labels).toEqual({ b: '2' });
  });

  it('coerces flag strings to the field type', () => {
    const config = resolveConfig(schema, { overrides: { 'server.port': '10001' } });
    expect(config.server.port).toBe(10001);
  });

  it('names the field of a wrong type', () => {
    const error = invalid(() => resolveConfig(schema, { file: { server: { port: 'high' } } }));
    expect(error.code).toBe('KE_CONFIG_INVALID');
    expect(error.issues.map((i) => i.path)).toContain('server.port');
    expect(error.message).toContain('server.port');
  });

  it('rejects unknown keys instead of ignoring a typo', () => {
    const error = invalid(() => resolveConfig(schema, { file: { server: { prot: 1 } } }));
    expect(error.code).toBe('KE_CONFIG_INVALID');
    expect(error.message).toContain('server');
  });

  it('rejects out-of-range and enum violations with their paths', () => {
    const error = invalid(() =>
      resolveConfig(schema, { file: { server: { port: 70000 }, mode: 'c' } }),
    );
    const paths = error.issues.map((i) => i.path);
    expect(paths).toContain('server.port');
    expect(paths).toContain('mode');
  });

  it('reports YAML syntax errors with a code', () => {
    const error = invalid(() => parseConfigText('server: [1, 2', 'cloud.yaml'));
    expect(error.code).toBe('KE_CONFIG_YAML');
    expect(error.message).toContain('cloud.yaml');
  });

  it('rejects a file whose top level is not a mapping', () => {
    expect(invalid(() => parseConfigText('- a\n- b\n')).code).toBe('KE_CONFIG_INVALID');
  });

  it('lists every leaf with its flag kind', () => {
    expect(configLeaves(schema).map((l) => [l.path, l.kind])).toEqual([
      ['logLevel', 'string'],
      ['dataDir', 'string'],
      ['server.port', 'integer'],
      ['server.tls', 'boolean'],
      ['server.advertise', 'string[]'],
      ['labels', 'map'],
      ['mode', 'string'],
    ]);
  });
});
