import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Two OCI images built from Debian's `busybox-static`, kept in one OCI layout directory. */
export interface BusyboxImage {
  /** The OCI image layout directory (read it with `umoci`, `skopeo`, or copy it). */
  readonly layout: string;
  /** skopeo reference of the busybox image (`/bin/sh` as command): `oci:<layout>:busybox`. */
  readonly busybox: string;
  /** skopeo reference of the pause image (`sleep 2147483647` as command): `oci:<layout>:pause`. */
  readonly pause: string;
}

export interface BuildBusyboxImageOptions {
  /**
   * Where built layouts are kept, one directory per content key. Default:
   * `<repo>/node_modules/.cache/ke-testbed` when the repository has `node_modules`, otherwise
   * `<os tmpdir>/ke-testbed-cache`.
   */
  readonly cacheDir?: string;
  /** The statically linked busybox to put in the image. Default `/bin/busybox` (busybox-static). */
  readonly busybox?: string;
}

// Bump when the image recipe below changes, so cached layouts built by the old recipe are unused.
const RECIPE = 'ke-busybox-v1';
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The default cache directory: the repository's `node_modules/.cache`, else the temp dir. */
export function defaultTestbedCacheDir(): string {
  const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const nodeModules = join(repoRoot, 'node_modules');
  return existsSync(nodeModules)
    ? join(nodeModules, '.cache', 'ke-testbed')
    : join(tmpdir(), 'ke-testbed-cache');
}

function run(file: string, args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * Builds (or finds in the cache) an OCI layout with two tags made from `busybox-static`:
 * `busybox` (busybox and its applet links in `/bin`, command `/bin/sh`) and `pause` (same layer,
 * command `sleep 2147483647`, for containerd's `sandbox_image`). The cache key is the hash of the
 * busybox binary and the recipe, so every test file after the first reuses the layout. Builders
 * running at the same time each build in a directory of their own and rename it into place;
 * the first rename wins and the others discard their copy.
 */
export async function buildBusyboxImage(
  options: BuildBusyboxImageOptions = {},
): Promise<BusyboxImage> {
  const cacheDir = options.cacheDir ?? defaultTestbedCacheDir();
  const busybox = options.busybox ?? '/bin/busybox';
  const binary = readFileSync(busybox);
  const key = createHash('sha256').update(RECIPE).update(binary).digest('hex').slice(0, 16);
  const layout = join(cacheDir, `busybox-${key}`);
  const image: BusyboxImage = {
    layout,
    busybox: `oci:${layout}:busybox`,
    pause: `oci:${layout}:pause`,
  };
  if (existsSync(join(layout, 'index.json'))) return image;

  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(join(cacheDir, `.build-${process.pid}-`));
  try {
    await run('umoci', ['init', '--layout', 'oci'], work);
    await run('umoci', ['new', '--image', 'oci:busybox'], work);
    await run('umoci', ['unpack', '--rootless', '--image', 'oci:busybox', 'bundle'], work);
    const rootfs = join(work, 'bundle', 'rootfs');
    for (const dir of ['bin', 'etc', 'proc', 'sys', 'dev', 'root']) {
      mkdirSync(join(rootfs, dir), { recursive: true });
    }
    mkdirSync(join(rootfs, 'tmp'));
    chmodSync(join(rootfs, 'tmp'), 0o1777);
    copyFileSync(busybox, join(rootfs, 'bin', 'busybox'));
    chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
    const applets = (await run(busybox, ['--list'], work)).split('\n').filter(Boolean);
    for (const applet of applets) {
      if (applet !== 'busybox') symlinkSync('busybox', join(rootfs, 'bin', applet));
    }
    writeFileSync(
      join(rootfs, 'etc', 'passwd'),
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    );
    writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    await run('umoci', ['repack', '--image', 'oci:busybox', 'bundle'], work);
    await run(
      'umoci',
      ['config', '--image', 'oci:busybox', '--config.env', PATH_ENV, '--config.cmd', '/bin/sh'],
      work,
    );
    await run(
      'umoci',
      [
        'config',
        '--image',
        'oci:busybox',
        '--tag',
        'pause',
        '--config.cmd',
        '/bin/sleep',
        '--config.cmd',
        '2147483647',
      ],
      work,
    );
    try {
      renameSync(join(work, 'oci'), layout);
    } catch (error) {
      // Another builder renamed its layout into place first; theirs is as good as ours.
      if (!existsSync(join(layout, 'index.json'))) throw error;
    }
    return image;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
