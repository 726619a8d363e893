import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMapper,
  loadMapperConfig,
  type MapperConfig,
  MapperError,
  parseMapperConfig,
} from '../src/index';
import { device, FakeDevice, FakeEdge, tempDir } from './fixtures';

// mapper-framework's config.yaml, as its template ships it (plus an HTTP port).
const GOOD = `
grpc_server:
  socket_path: /etc/kubeedge/modbus.sock
common:
  name: modbus-mapper
  version: v1.13.0
  api_version: v1.0.0
  protocol: modbus
  address: 127.0.0.1
  edgecore_sock: /etc/kubeedge/dmi.sock
  http_port: "7777"
`;

function failure(text: string): MapperError {
  try {
    parseMapperConfig(text, { source: 'config.yaml' });
  } catch (error) {
    if (error instanceof MapperError) return error;
    throw error;
  }
  throw new Error('the config was accepted');
}

/** GOOD with one line of `common` (or `grpc_server`) replaced or removed. */
function withLine(pattern: RegExp, line: string): string {
  const result = GOOD.replace(pattern, line);
  if (result === GOOD) throw new Error(`no line matches ${pattern}`);
  return result;
}

describe('a mapper config file', () => {
  it('gives createMapper its options', () => {
    expect(parseMapperConfig(GOOD)).toEqual<MapperConfig>({
      name: 'modbus-mapper',
      version: 'v1.13.0',
      apiVersion: 'v1.0.0',
      protocol: 'modbus',
      dmi: {
        edgeEndpoint: 'unix:///etc/kubeedge/dmi.sock',
        socketPath: '/etc/kubeedge/modbus.sock',
      },
      http: { port: 7777, host: '127.0.0.1' },
    });
  });

  it('fills in defaults for what may be left out', () => {
    const config = parseMapperConfig(
      'grpc_server: { socket_path: mapper.sock }\ncommon: { name: m, protocol: modbus }\n',
      { baseDir: '/run/mappers' },
    );
    expect(config).toEqual<MapperConfig>({
      name: 'm',
      version: 'v1.0.0',
      apiVersion: 'v1.0.0',
      protocol: 'modbus',
      dmi: {
        edgeEndpoint: 'unix:///etc/kubeedge/dmi.sock',
        socketPath: '/run/mappers/mapper.sock',
      },
      http: false,
    });
  });

  it('takes unix:// URLs and a numeric port, and ignores dev_init', () => {
    const config = parseMapperConfig(
      `${withLine(/edgecore_sock: .*/, 'edgecore_sock: unix:///var/lib/kubeedge/dmi.sock').replace(
        'http_port: "7777"',
        'http_port: 0',
      )}dev_init:\n  mode: register\n`,
    );
    expect(config.dmi.edgeEndpoint).toBe('unix:///var/lib/kubeedge/dmi.sock');
    expect(config.http).toEqual({ port: 0, host: '127.0.0.1' });
  });

  it.each([
    ['common.name', withLine(/ {2}name: .*\n/, ''), 'KE_MAPPER_CONFIG_MISSING'],
    ['common.protocol', withLine(/ {2}protocol: .*\n/, ''), 'KE_MAPPER_CONFIG_MISSING'],
    [
      'grpc_server.socket_path',
      withLine(/ {2}socket_path: .*/, '  socket_path:'),
      'KE_MAPPER_CONFIG_MISSING',
    ],
    ['common.name', withLine(/name: .*/, 'name: [a, b]'), 'KE_MAPPER_CONFIG_INVALID'],
    ['common.version', withLine(/version: v1.13.0/, 'version: 1.13'), 'KE_MAPPER_CONFIG_INVALID'],
    ['common.http_port', withLine(/http_port: .*/, 'http_port: "77x"'), 'KE_MAPPER_CONFIG_INVALID'],
    ['common.http_port', withLine(/http_port: .*/, 'http_port: 70000'), 'KE_MAPPER_CONFIG_INVALID'],
    ['common.address', withLine(/address: .*/, 'address: http://x/'), 'KE_MAPPER_CONFIG_INVALID'],
    [
      'common.edgecore_sock',
      withLine(/edgecore_sock: .*/, 'edgecore_sock: tcp://1.2.3.4:1'),
      'KE_MAPPER_CONFIG_INVALID',
    ],
    [
      'grpc_server.socket_path',
      withLine(/socket_path: .*/, `socket_path: /${'x'.repeat(120)}.sock`),
      'KE_MAPPER_CONFIG_INVALID',
    ],
    ['common', GOOD.replace(/common:[\s\S]*/, 'common: modbus\n'), 'KE_MAPPER_CONFIG_INVALID'],
    ['common.http_prot', withLine(/http_port:/, 'http_prot:'), 'KE_MAPPER_CONFIG_UNKNOWN_KEY'],
    ['grpc', `grpc:\n  socket_path: /x.sock\n${GOOD}`, 'KE_MAPPER_CONFIG_UNKNOWN_KEY'],
  ])('names %s when it is bad (%#)', (key, text, code) => {
    const error = failure(text);
    expect({ code: error.code, key: error.key }).toEqual({ code, key });
    expect(error.message).toMatch(new RegExp(`^config.yaml: ${key.replace('.', '\\.')} `));
    expect(error.message).not.toContain('\n');
  });

  it.each([
    ['invalid YAML', 'common: [name: x\n'],
    ['a duplicate key', `${GOOD}common:\n  name: again\n`],
    ['a list at the top', '- name: x\n'],
  ])('rejects %s with KE_MAPPER_CONFIG_YAML on one line', (_what, text) => {
    const error = failure(text);
    expect(error.code).toBe('KE_MAPPER_CONFIG_YAML');
    expect(error.message).toMatch(/^config.yaml: /);
    expect(error.message).not.toContain('\n');
  });

  describe('read from a file', () => {
    let dir: string;
    let remove: () => Promise<void>;
    let edge: FakeEdge;
    beforeAll(async () => {
      ({ dir, remove } = await tempDir());
      edge = new FakeEdge(join(dir, 'dmi.sock'), [
        device([{ name: 'temperature', collectCycle: 50, reportCycle: 50, reportToCloud: true }]),
      ]);
      await edge.server.start();
    });
    afterAll(async () => {
      await edge.server.stop();
      await remove();
    });

    it('reports KE_MAPPER_CONFIG_READ for a missing file', async () => {
      await expect(loadMapperConfig(join(dir, 'nope.yaml'))).rejects.toMatchObject({
        code: 'KE_MAPPER_CONFIG_READ',
      });
    });

    it('runs a mapper in a few lines, sockets relative to the file', async () => {
      const file = join(dir, 'config.yaml');
      await writeFile(
        file,
        'grpc_server:\n  socket_path: fake.sock\ncommon:\n  name: fake-mapper\n  version: v2.0.0\n  api_version: v1.1.0\n  protocol: fake\n  edgecore_sock: dmi.sock\n',
      );
      const fake = new FakeDevice();

      const mapper = createMapper({ ...(await loadMapperConfig(file)), createDriver: fake.driver });
      await mapper.start();

      try {
        expect(mapper.socketPath).toBe(join(dir, 'fake.sock'));
        expect(edge.registrations.at(-1)?.mapper).toMatchObject({
          name: 'fake-mapper',
          version: 'v2.0.0',
          apiVersion: 'v1.1.0',
          protocol: 'fake',
        });
        expect(mapper.devices().map((d) => d.name)).toEqual(['thermometer']);
      } finally {
        await mapper.stop();
      }
    });
  });
});
