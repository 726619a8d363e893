/**
 * A pod's volumes as host directories, prepared before its containers are created, and the
 * CRI mounts that put them into a container.
 *
 * Layout under the pod's directory (the kubelet uses `volumes/kubernetes.io~<plugin>/<name>`):
 *
 * - `volumes/empty-dir/<name>`: `emptyDir`. `medium: Memory` is a plain directory too (no
 *   tmpfs mount, which needs privileges edged may not have) and `sizeLimit` is not enforced.
 * - `volumes/configmap/<name>`, `volumes/secret/<name>`, `volumes/projected/<name>`,
 *   `volumes/downward-api/<name>`: files written the way the kubelet's AtomicWriter writes
 *   them, so a container never sees half an update:
 *
 *   ```
 *   ..2024_05_01_10_00_00.aB3dE9/   the files of one version, with their modes
 *   ..data -> ..2024_05_01_10_00_00.aB3dE9   flipped with rename(2) on every change
 *   key -> ..data/key               what the container reads
 *   ```
 *
 * `hostPath` volumes are used in place. `projected` volumes take configMap, secret and
 * downwardAPI sources; `serviceAccountToken`, `clusterTrustBundle` and `podCertificate` sources
 * are skipped, since edge nodes do not mint tokens. Every other type (persistentVolumeClaim,
 * nfs, csi, ephemeral, ...) is refused with `KE_EDGED_VOLUME_UNSUPPORTED`.
 */
import { lstatSync, mkdirSync, realpathSync } from 'node:fs';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import type {
  V1ConfigMap,
  V1Container,
  V1DownwardAPIVolumeFile,
  V1KeyToPath,
  V1Pod,
  V1Volume,
} from '@kubernetes/client-node';
import {
  type ConfigLookup,
  containerResourceValue,
  type EnvVar,
  expand,
  PodSetupError,
  podMetadataField,
  secretBytes,
} from './env';

/** A container mount as the CRI takes it (the lead maps it to the client's `Mount`). */
export interface CriMount {
  containerPath: string;
  hostPath: string;
  readonly?: boolean;
  selinuxRelabel?: boolean;
}

export interface PreparePodVolumesOptions {
  /** The pod whose `spec.volumes` are prepared. */
  pod: V1Pod;
  /** The pod's own directory, e.g. `<root>/pods/<uid>`; volumes go under `<podDir>/volumes`. */
  podDir: string;
  /** Where ConfigMaps and Secrets are read from. */
  lookup: ConfigLookup;
}

/** One file of a configMap/secret/projected/downwardAPI volume: its relative path, bytes, mode. */
interface FileProjection {
  data: Buffer;
  mode: number;
}

const DEFAULT_MODE = 0o644;
const DATA_DIR = '..data';
const DATA_DIR_TMP = '..data_tmp';

/**
 * Makes every volume of the pod exist on the host and returns where each one is. Safe to call
 * again: configMap, secret, projected and downwardAPI volumes are brought up to date (changed
 * keys rewritten, removed keys gone), the others are left as they are.
 */
export async function preparePodVolumes(
  options: PreparePodVolumesOptions,
): Promise<Map<string, string>> {
  const { pod, podDir, lookup } = options;
  const volumes = new Map<string, string>();
  for (const volume of pod.spec?.volumes ?? []) {
    volumes.set(volume.name, await prepareVolume(pod, podDir, lookup, volume));
  }
  return volumes;
}

/** Deletes everything under `<podDir>/volumes` (hostPath volumes live elsewhere and stay). */
export async function removePodVolumes(podDir: string): Promise<void> {
  await rm(join(podDir, 'volumes'), { recursive: true, force: true });
}

/**
 * A container's `volumeMounts` as CRI mounts. `subPath` (or `subPathExpr`, expanded with
 * `env`) is joined to the volume's path and created as a directory when missing; an absolute
 * path, a `..` element or a symlink leading out of the volume is refused with
 * `KE_EDGED_VOLUME_FAILED`. With `podVolumes`, configMap, secret, downwardAPI and projected
 * volumes are mounted read-only whatever the mount says, as the kubelet does since 1.10.
 */
export function containerMounts(
  container: V1Container,
  volumes: ReadonlyMap<string, string>,
  options: { env?: readonly EnvVar[]; podVolumes?: readonly V1Volume[] } = {},
): CriMount[] {
  const apiDataVolumes = new Set(
    (options.podVolumes ?? [])
      .filter((v) => v.configMap || v.secret || v.downwardAPI || v.projected)
      .map((v) => v.name),
  );
  const env = new Map((options.env ?? []).map(({ name, value }) => [name, value]));
  return (container.volumeMounts ?? []).map((mount) => {
    const hostPath = volumes.get(mount.name);
    if (hostPath === undefined) {
      throw volumeFailed(
        `container ${container.name} mounts volume ${mount.name}, which the pod does not declare`,
      );
    }
    const subPath = mount.subPathExpr ? expand(mount.subPathExpr, env) : (mount.subPath ?? '');
    return {
      containerPath: mount.mountPath,
      hostPath: subPath ? subPathOnHost(hostPath, subPath, mount.name) : hostPath,
      readonly: Boolean(mount.readOnly) || apiDataVolumes.has(mount.name),
      selinuxRelabel: false,
    };
  });
}

function subPathOnHost(volumePath: string, subPath: string, volumeName: string): string {
  if (isAbsolute(subPath) || subPath.split(/[/\\]/).includes('..')) {
    throw volumeFailed(
      `subPath ${JSON.stringify(subPath)} of volume ${volumeName} must be a relative path without '..'`,
    );
  }
  const root = realpathSync(volumePath);
  const target = join(volumePath, subPath);
  const escapes = (path: string) => {
    const inside = relative(root, path);
    return inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside);
  };
  const refuse = (resolved: string) =>
    volumeFailed(
      `subPath ${JSON.stringify(subPath)} of volume ${volumeName} resolves to ${resolved}, outside the volume`,
    );
  if (!exists(target)) {
    // The kubelet creates a missing subPath as a directory (0750) before bind-mounting it, but
    // only after checking that the part which exists does not lead out of the volume through a
    // symlink: mkdir would follow it.
    let existing = dirname(target);
    while (!exists(existing)) existing = dirname(existing);
    const resolvedParent = realpathSync(existing);
    if (escapes(resolvedParent)) throw refuse(resolvedParent);
    mkdirSync(target, { recursive: true, mode: 0o750 });
  }
  let resolved: string;
  try {
    // A symlink inside the volume may point anywhere on the host; follow it and check.
    resolved = realpathSync(target);
  } catch (error) {
    throw volumeFailed(
      `subPath ${JSON.stringify(subPath)} of volume ${volumeName} is a dangling link`,
      error,
    );
  }
  if (escapes(resolved)) throw refuse(resolved);
  // The resolved path, spelled from the volume's path as the caller knows it.
  return join(volumePath, relative(root, resolved));
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

async function prepareVolume(
  pod: V1Pod,
  podDir: string,
  lookup: ConfigLookup,
  volume: V1Volume,
): Promise<string> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const base = join(podDir, 'volumes');
  if (volume.emptyDir) {
    const dir = join(base, 'empty-dir', volume.name);
    await mkdir(dir, { recursive: true, mode: 0o777 });
    // Any user of the pod may write into an emptyDir; umask must not take that away.
    await chmod(dir, 0o777);
    return dir;
  }
  if (volume.hostPath) {
    await checkHostPath(volume.hostPath.path, volume.hostPath.type ?? '', volume.name);
    return volume.hostPath.path;
  }
  if (volume.configMap) {
    const source = volume.configMap;
    const name = source.name ?? '';
    const configMap = await lookup.configMap(namespace, name);
    if (!configMap && !source.optional) {
      throw configMissing(`configmap "${name}" not found in namespace ${namespace}`, volume.name);
    }
    const dir = join(base, 'configmap', volume.name);
    const payload = new Map<string, FileProjection>();
    addKeys(payload, configMapBytes(configMap), source.items, source.defaultMode, {
      optional: Boolean(source.optional),
      what: `configmap ${namespace}/${name}`,
      volume: volume.name,
    });
    await writeAtomically(dir, payload, volume.name);
    return dir;
  }
  if (volume.secret) {
    const source = volume.secret;
    const name = source.secretName ?? '';
    const secret = await lookup.secret(namespace, name);
    if (!secret && !source.optional) {
      throw configMissing(`secret "${name}" not found in namespace ${namespace}`, volume.name);
    }
    const dir = join(base, 'secret', volume.name);
    const payload = new Map<string, FileProjection>();
    addKeys(payload, secret ? secretBytes(secret) : new Map(), source.items, source.defaultMode, {
      optional: Boolean(source.optional),
      what: `secret ${namespace}/${name}`,
      volume: volume.name,
    });
    await writeAtomically(dir, payload, volume.name);
    return dir;
  }
  if (volume.downwardAPI) {
    const dir = join(base, 'downward-api', volume.name);
    const payload = new Map<string, FileProjection>();
    addDownwardApi(payload, pod, volume.downwardAPI.items, volume.downwardAPI.defaultMode);
    await writeAtomically(dir, payload, volume.name);
    return dir;
  }
  if (volume.projected) {
    const dir = join(base, 'projected', volume.name);
    const payload = await projectedPayload(pod, lookup, volume);
    await writeAtomically(dir, payload, volume.name);
    return dir;
  }
  const type = Object.keys(volume).find((key) => key !== 'name') ?? 'none';
  throw new PodSetupError(
    'KE_EDGED_VOLUME_UNSUPPORTED',
    `volume ${volume.name} of pod ${namespace}/${pod.metadata?.name ?? ''} is of type ${type}, which edged does not support; use emptyDir, hostPath, configMap, secret, downwardAPI or projected`,
  );
}

async function projectedPayload(
  pod: V1Pod,
  lookup: ConfigLookup,
  volume: V1Volume,
): Promise<Map<string, FileProjection>> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const projected = volume.projected!;
  const payload = new Map<string, FileProjection>();
  for (const source of projected.sources ?? []) {
    if (source.configMap) {
      const name = source.configMap.name ?? '';
      const configMap = await lookup.configMap(namespace, name);
      if (!configMap) {
        if (source.configMap.optional) continue;
        throw configMissing(`configmap "${name}" not found in namespace ${namespace}`, volume.name);
      }
      addKeys(payload, configMapBytes(configMap), source.configMap.items, projected.defaultMode, {
        optional: Boolean(source.configMap.optional),
        what: `configmap ${namespace}/${name}`,
        volume: volume.name,
      });
    } else if (source.secret) {
      const name = source.secret.name ?? '';
      const secret = await lookup.secret(namespace, name);
      if (!secret) {
        if (source.secret.optional) continue;
        throw configMissing(`secret "${name}" not found in namespace ${namespace}`, volume.name);
      }
      addKeys(payload, secretBytes(secret), source.secret.items, projected.defaultMode, {
        optional: Boolean(source.secret.optional),
        what: `secret ${namespace}/${name}`,
        volume: volume.name,
      });
    } else if (source.downwardAPI) {
      addDownwardApi(payload, pod, source.downwardAPI.items, projected.defaultMode);
    }
    // serviceAccountToken, clusterTrustBundle, podCertificate: not projected on the edge.
  }
  return payload;
}

function configMapBytes(configMap: V1ConfigMap | undefined): Map<string, Buffer> {
  const data = new Map<string, Buffer>();
  for (const [key, value] of Object.entries(configMap?.data ?? {})) {
    data.set(key, Buffer.from(value, 'utf8'));
  }
  for (const [key, value] of Object.entries(configMap?.binaryData ?? {})) {
    data.set(key, Buffer.from(value, 'base64'));
  }
  return data;
}

/** Every key as a file, or only `items` (key → path, mode), like the kubelet's MakePayload. */
function addKeys(
  payload: Map<string, FileProjection>,
  data: ReadonlyMap<string, Buffer>,
  items: V1KeyToPath[] | undefined,
  defaultMode: number | undefined,
  context: { optional: boolean; what: string; volume: string },
): void {
  const mode = defaultMode ?? DEFAULT_MODE;
  if (!items || items.length === 0) {
    for (const [key, bytes] of data) payload.set(key, { data: bytes, mode });
    return;
  }
  for (const item of items) {
    const bytes = data.get(item.key);
    if (bytes === undefined) {
      if (context.optional) continue;
      throw configMissing(
        `${context.what} has no key ${JSON.stringify(item.key)} named in items`,
        context.volume,
      );
    }
    payload.set(item.path, { data: bytes, mode: item.mode ?? mode });
  }
}

function addDownwardApi(
  payload: Map<string, FileProjection>,
  pod: V1Pod,
  items: V1DownwardAPIVolumeFile[] | undefined,
  defaultMode: number | undefined,
): void {
  for (const item of items ?? []) {
    let value = '';
    if (item.fieldRef) {
      value = podMetadataField(pod, item.fieldRef.fieldPath);
    } else if (item.resourceFieldRef) {
      const ref = item.resourceFieldRef;
      const container = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find(
        (c) => c.name === ref.containerName,
      );
      if (!container) {
        throw volumeFailed(
          `downward API item ${item.path} refers to container ${JSON.stringify(ref.containerName ?? '')}, which the pod does not have`,
        );
      }
      value = containerResourceValue(container, ref);
    }
    payload.set(item.path, {
      data: Buffer.from(value, 'utf8'),
      mode: item.mode ?? defaultMode ?? DEFAULT_MODE,
    });
  }
}

// hostPath `type` checks of the kubelet's hostPathTypeChecker.
async function checkHostPath(path: string, type: string, volumeName: string): Promise<void> {
  const fail = (what: string) =>
    volumeFailed(`hostPath type check failed for volume ${volumeName}: ${path} ${what}`);
  const info = await stat(path).catch(() => undefined);
  switch (type) {
    case '':
      return;
    case 'DirectoryOrCreate':
      if (!info) {
        await mkdir(path, { recursive: true, mode: 0o755 }).catch((error: unknown) => {
          throw volumeFailed(`cannot create hostPath ${path} of volume ${volumeName}`, error);
        });
        return;
      }
      if (!info.isDirectory()) throw fail('is not a directory');
      return;
    case 'FileOrCreate':
      if (!info) {
        // Like the kubelet, the parent directory is not created.
        const handle = await open(path, 'a', 0o644).catch((error: unknown) => {
          throw volumeFailed(`cannot create hostPath file ${path} of volume ${volumeName}`, error);
        });
        await handle.close();
        return;
      }
      if (!info.isFile()) throw fail('is not a file');
      return;
    case 'Directory':
      if (!info?.isDirectory()) throw fail('is not a directory');
      return;
    case 'File':
      if (!info?.isFile()) throw fail('is not a file');
      return;
    case 'Socket':
      if (!info?.isSocket()) throw fail('is not a socket file');
      return;
    case 'CharDevice':
      if (!info?.isCharacterDevice()) throw fail('is not a character device');
      return;
    case 'BlockDevice':
      if (!info?.isBlockDevice()) throw fail('is not a block device');
      return;
    default:
      throw volumeFailed(`hostPath volume ${volumeName} has an unknown type ${type}`);
  }
}

/**
 * The kubelet's AtomicWriter: the payload goes into a fresh `..<timestamp>` directory, the
 * `..data` symlink is flipped to it with rename(2), top-level entries are `name -> ..data/name`
 * symlinks, entries gone from the payload are removed, and the previous version is deleted.
 * Nothing is written when the payload equals what `..data` holds.
 */
async function writeAtomically(
  dir: string,
  payload: ReadonlyMap<string, FileProjection>,
  volumeName: string,
): Promise<void> {
  for (const path of payload.keys()) validatePayloadPath(path, volumeName);
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const oldTsName = await readlink(join(dir, DATA_DIR)).catch(() => undefined);
    const oldTsDir = oldTsName ? join(dir, oldTsName) : undefined;
    const oldPaths = oldTsDir ? await listFiles(oldTsDir) : new Set<string>();

    if (!oldTsDir || !(await payloadUnchanged(oldTsDir, oldPaths, payload))) {
      const tsDir = await mkdtemp(join(dir, `..${timestamp()}.`));
      await chmod(tsDir, 0o755);
      for (const [path, file] of payload) {
        const target = join(tsDir, path);
        await mkdir(dirname(target), { recursive: true, mode: 0o755 });
        await writeFile(target, file.data);
        await chmod(target, file.mode);
      }
      const tmpLink = join(dir, DATA_DIR_TMP);
      await rm(tmpLink, { force: true });
      await symlink(relative(dir, tsDir), tmpLink);
      await rename(tmpLink, join(dir, DATA_DIR));
      // The previous version, and any left by a writer that died before its flip.
      const tsName = relative(dir, tsDir);
      for (const entry of await readdir(dir)) {
        if (entry.startsWith('..') && entry !== DATA_DIR && entry !== tsName) {
          await rm(join(dir, entry), { recursive: true, force: true });
        }
      }
    }

    const visible = new Set([...payload.keys()].map(topLevel));
    for (const name of visible) {
      const link = join(dir, name);
      const want = join(DATA_DIR, name);
      const current = await readlink(link).catch(() => undefined);
      if (current === want) continue;
      await rm(link, { recursive: true, force: true });
      await symlink(want, link);
    }
    for (const name of new Set([...oldPaths].map(topLevel))) {
      if (!visible.has(name)) await rm(join(dir, name), { force: true, recursive: true });
    }
  } catch (error) {
    if (error instanceof PodSetupError) throw error;
    throw volumeFailed(`cannot write the files of volume ${volumeName} in ${dir}`, error);
  }
}

async function payloadUnchanged(
  tsDir: string,
  existing: ReadonlySet<string>,
  payload: ReadonlyMap<string, FileProjection>,
): Promise<boolean> {
  if (existing.size !== payload.size) return false;
  for (const [path, file] of payload) {
    if (!existing.has(path)) return false;
    const target = join(tsDir, path);
    const info = await lstat(target);
    if ((info.mode & 0o7777) !== file.mode) return false;
    if (!(await readFile(target)).equals(file.data)) return false;
  }
  return true;
}

// The files (not directories) under `root`, as relative paths.
async function listFiles(root: string): Promise<Set<string>> {
  const files = new Set<string>();
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isDirectory()) continue;
    const parent = entry.parentPath ?? (entry as unknown as { path: string }).path;
    files.add(relative(root, join(parent, entry.name)));
  }
  return files;
}

// `validatePath` of the AtomicWriter: relative, no `..` element, not starting with `..`.
function validatePayloadPath(path: string, volumeName: string): void {
  const elements = path.split('/');
  if (
    path === '' ||
    isAbsolute(path) ||
    path.length > 4096 ||
    elements.includes('..') ||
    path.startsWith('..') ||
    normalize(path) !== path
  ) {
    throw volumeFailed(`volume ${volumeName} cannot hold a file at ${JSON.stringify(path)}`);
  }
}

function topLevel(path: string): string {
  return path.split('/')[0]!;
}

// `..2006_01_02_15_04_05.` in UTC, as the AtomicWriter names its directories.
function timestamp(): string {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getUTCFullYear()}_${pad(now.getUTCMonth() + 1)}_${pad(now.getUTCDate())}_${pad(
    now.getUTCHours(),
  )}_${pad(now.getUTCMinutes())}_${pad(now.getUTCSeconds())}`;
}

function volumeFailed(message: string, cause?: unknown): PodSetupError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new PodSetupError('KE_EDGED_VOLUME_FAILED', `${message}${detail}`, { cause });
}

function configMissing(message: string, volumeName: string): PodSetupError {
  return new PodSetupError(
    'KE_EDGED_CONFIG_MISSING',
    `volume ${volumeName}: ${message}; create it or mark the volume source optional`,
  );
}
