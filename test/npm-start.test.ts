import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../scripts/build.mjs';
import { root } from '../scripts/workspaces.mjs';

let dataDir: string;
beforeAll(async () => {
  build({ staleOnly: true, quiet: true });
  dataDir = await mkdtemp(join(tmpdir(), 'ke-start-'));
}, 300_000);
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

// The README's Quick start: `npm start` runs one cloud and one edge and Ctrl-C stops both.
describe('npm start', () => {
  it('runs ke-cloud, ke-edge, a Modbus device and its mapper, and stops all cleanly on Ctrl-C', async () => {
    const proc = startProcess('npm', ['start', '--silent'], {
      cwd: root,
      // The mesh's DNS, without rules in the host's nat table (this test runs in the host's).
      env: { ...process.env, KE_DATA_DIR: dataDir, KE_LOG_FORMAT: 'json', KE_EDGE_MESH: 'dns' },
    });
    try {
      await proc.waitForLine(/"name":"ke-cloud".*ke-cloud running/, 60_000);
      await proc.waitForLine(/"name":"ke-edge".*ke-edge running/, 60_000);
      expect(proc.lines.join('\n')).toContain('press Ctrl-C to stop');
      await proc.waitForLine(/"name":"ke-edge".*"dns":"127.0.0.1:10053".*EdgeMesh ready/);
      // The edge joined with the token npm start made, and the cloud sees it.
      await proc.waitForLine(/"name":"ke-edge".*"msg":"connected to the cloud"/, 60_000);
      await proc.waitForLine(/"name":"ke-cloud".*"node":"edge-node-1".*"msg":"node connected"/);
      // The simulated Modbus device's mapper registered with the edge's device twin.
      await proc.waitForLine(/"name":"modbus-device".*listening/);
      await proc.waitForLine(/"name":"ke-mapper-modbus".*"msg":"registered with edgecore"/, 60_000);

      // A terminal's Ctrl-C: SIGINT to the whole foreground process group.
      const code = await proc.stop('SIGINT', 30_000);
      expect(code, proc.lines.join('\n')).toBe(0);
    } finally {
      await proc.stop('SIGKILL', 5_000);
    }
    const output = proc.lines.join('\n');
    expect(output).toMatch(/"name":"ke-edge".*stopped cleanly/);
    expect(output).toMatch(/"name":"ke-cloud".*stopped cleanly/);
    expect(output).toMatch(/"name":"ke-mapper-modbus".*stopped cleanly/);
    expect(output).toMatch(/"name":"modbus-device".*stopped cleanly/);
    expect(output).toContain('kubeedge-ts: stopped cleanly');
  }, 150_000);

  it('stops both cleanly when only npm gets SIGTERM, as from a supervisor', async () => {
    const proc = startProcess('npm', ['start', '--silent'], {
      cwd: root,
      env: { ...process.env, KE_DATA_DIR: dataDir, KE_LOG_FORMAT: 'json', KE_EDGE_MESH: 'dns' },
    });
    try {
      await proc.waitForLine(/"name":"ke-cloud".*ke-cloud running/, 60_000);
      await proc.waitForLine(/"name":"ke-edge".*ke-edge running/, 60_000);
      proc.child.kill('SIGTERM');
      const code = await proc.exited(30_000);
      expect(code, proc.lines.join('\n')).toBe(0);
    } finally {
      await proc.stop('SIGKILL', 5_000);
    }
    const output = proc.lines.join('\n');
    expect(output).toMatch(/"name":"ke-edge".*stopped cleanly/);
    expect(output).toMatch(/"name":"ke-cloud".*stopped cleanly/);
  }, 150_000);
});
