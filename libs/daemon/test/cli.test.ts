import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Component, defaultConfig, runDaemonCli } from '../src/index';
import { schema } from './fixtures';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ke-daemon-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function collect() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk) => {
    text += chunk;
  });
  return { stream, text: () => text };
}

async function cli(argv: string[], run?: (config: unknown) => Component) {
  const out = collect();
  const err = collect();
  let seen: unknown;
  const code = await runDaemonCli(
    {
      name: 'demo',
      version: '1.2.3',
      description: 'a demo daemon',
      schema,
      aliases: { port: 'server.port' },
      stdout: out.stream,
      stderr: err.stream,
      run: (config) => {
        seen = config;
        if (run) return run(config);
        return { start: async () => {}, stop: async () => {} };
      },
    },
    argv,
  );
  return { code, stdout: out.text(), stderr: err.text(), config: seen };
}

describe('daemon command line', () => {
  it('lists every config field as a --dotted.path flag in --help', async () => {
    const { code, stdout } = await cli(['--help']);
    expect(code).toBe(0);
    for (const flag of ['--server.port', '--server.tls', '--labels', '--config', '--port']) {
      expect(stdout).toContain(flag);
    }
    expect(stdout).toContain('listen port');
  });

  it('prints its version', async () => {
    const { code, stdout } = await cli(['--version']);
    expect(code).toBe(0);
    expect(stdout).toContain('1.2.3');
  });

  it('prints the default config as YAML that reads back to the defaults', async () => {
    const { code, stdout } = await cli(['--defaultconfig']);
    expect(code).toBe(0);
    expect(parse(stdout)).toEqual(defaultConfig(schema));
  });

  it('applies file then flags, including aliases, arrays and maps', async () => {
    const file = join(dir, 'demo.yaml');
    await writeFile(file, 'server:\n  port: 9000\n  tls: true\nmode: b\n');
    const { code, stdout } = await cli([
      '-c',
      file,
      '--port',
      '9001',
      '--server.advertise',
      '10.0.0.1',
      '--server.advertise',
      'edge.example',
      '--labels',
      'region=hangzhou',
      '--print-config',
    ]);
    expect(code).toBe(0);
    expect(parse(stdout)).toMatchObject({
      server: { port: 9001, tls: true, advertise: ['10.0.0.1', 'edge.example'] },
      labels: { region: 'hangzhou' },
      mode: 'b',
    });
  });

  it('exits 2 with a usage hint on an unknown flag', async () => {
    const { code, stderr } = await cli(['--server.prot', '1']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/Unknown argument/i);
    expect(stderr).toContain('demo --help');
  });

  it('exits 2 naming the field when a value is invalid', async () => {
    const { code, stderr } = await cli(['--server.port', '99999']);
    expect(code).toBe(2);
    expect(stderr).toContain('server.port');
  });

  it('exits 2 when the config file is missing', async () => {
    const { code, stderr } = await cli(['-c', join(dir, 'nope.yaml')]);
    expect(code).toBe(2);
    expect(stderr).toContain('cannot read config file');
  });

  it('exits 2 on a malformed key=value map flag', async () => {
    const { code, stderr } = await cli(['--labels', 'novalue']);
    expect(code).toBe(2);
    expect(stderr).toContain('expected key=value');
  });
});
