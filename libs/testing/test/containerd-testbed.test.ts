import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type ContainerdTestbed,
  containerdPrerequisites,
  describeWithSystem,
  removeStaleContainerdTestbeds,
  startContainerdTestbed,
  startSource,
} from '../src/index';

/** What a testbed could leave on the machine; all empty/false once it is gone. */
function leftovers(name: string, root: string, bridge: string) {
  const processes: string[] = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(root)) processes.push(`${pid} ${cmdline}`);
    } catch {
      // exited meanwhile
    }
  }
  const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  return {
    netns: netns.split('\n').some((line) => line.split(' ')[0] === name),
    bridge: spawnSync('ip', ['link', 'show', bridge]).status === 0,
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((line) => line.includes(root)),
    processes,
    root: existsSync(root),
  };
}

const nothingLeft = { netns: false, bridge: false, mounts: [], processes: [], root: false };

describeWithSystem('containerd test bed', containerdPrerequisites(), () => {
  let testbed: ContainerdTestbed;

  beforeAll(async () => {
    testbed = await startContainerdTestbed();
  }, 120_000);

  afterAll(async () => {
    await testbed?.stop();
  });

  it('answers ctr version on its own socket', async () => {
    const version = await testbed.ctr(['version']);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout).toMatch(/Server:\s+Version:\s+1\./);
    expect(testbed.criEndpoint).toBe(`unix://${testbed.socketPath}`);
  });

  it('has the CRI plugin loaded', async () => {
    const plugins = await testbed.ctr(['plugins', 'ls']);
    expect(plugins.code, plugins.stderr).toBe(0);
    expect(plugins.stdout).toMatch(/^io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok\s*$/m);
    expect(plugins.stdout).toMatch(
      new RegExp(
        `^io\\.containerd\\.snapshotter\\.v1\\s+${testbed.snapshotter}\\s+\\S+\\s+ok`,
        'm',
      ),
    );
  });

  it('pulls the busybox image from its registry', async () => {
    const pull = await testbed.ctr([
      '-n',
      'k8s.io',
      'images',
      'pull',
      '--plain-http',
      testbed.images.busybox,
    ]);
    expect(pull.code, pull.stderr).toBe(0);
    const images = await testbed.ctr(['-n', 'k8s.io', 'images', 'ls', '-q']);
    expect(images.stdout.split('\n')).toContain(testbed.images.busybox);
  });

  it('stops without leaving containers, mounts, processes, links or the namespace', async () => {
    // A running container gives stop() a shim, a runc state dir and an overlay mount to remove.
    // ctr keeps FIFOs and runc state in /run/containerd unless told otherwise.
    const run = await testbed.ctr([
      '-n',
      'k8s.io',
      'run',
      '-d',
      '--net-host',
      '--fifo-dir',
      join(testbed.root, 'fifo'),
      '--runc-root',
      join(testbed.root, 'runc'),
      testbed.images.busybox,
      'ke-smoke',
      'sleep',
      '1000',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const tasks = await testbed.ctr(['-n', 'k8s.io', 'tasks', 'ls']);
    const taskPid = Number(/^ke-smoke\s+(\d+)\s+RUNNING/m.exec(tasks.stdout)?.[1]);
    expect(taskPid).toBeGreaterThan(0);
    expect(leftovers(testbed.name, testbed.root, testbed.bridge).processes).not.toEqual([]);

    await testbed.stop();

    expect(leftovers(testbed.name, testbed.root, testbed.bridge)).toEqual(nothingLeft);
    expect(existsSync(`/proc/${taskPid}/cmdline`)).toBe(false);
  });

  it('stops a second time without complaint', async () => {
    await expect(testbed.stop()).resolves.toBeUndefined();
    expect(leftovers(testbed.name, testbed.root, testbed.bridge)).toEqual(nothingLeft);
  });

  it('removes a testbed left behind by a crashed test process', async () => {
    const crashed = startSource(new URL('./fixtures/testbed-then-crash.ts', import.meta.url), []);
    const line = await crashed.waitForLine(/^testbed /, 60_000);
    const [, name, root] = line.split(' ') as [string, string, string];
    const bridge = `kecni${name.split('-').at(-1)}`;
    await crashed.stop('SIGKILL');
    expect(leftovers(name, root, bridge).netns).toBe(true);
    expect(leftovers(name, root, bridge).processes).not.toEqual([]);

    removeStaleContainerdTestbeds();

    expect(leftovers(name, root, bridge)).toEqual(nothingLeft);
  }, 90_000);
});
