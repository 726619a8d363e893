import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createMemoryStore, createSqliteStore, type Store } from '../../src/store/index';
import { toStoreError } from '../../src/store/sqlite-errors';
import {
  codeOf,
  errorOf,
  nodeKey,
  objectFor,
  PODS,
  podKey,
  silentLogger,
  temporaryDirectory,
} from './helpers';

const directory = temporaryDirectory('failures');
const repositoryRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const storeEntry = fileURLToPath(new URL('../../src/store/index.ts', import.meta.url));
let files = 0;

function newPath(): string {
  return join(directory, `store-${++files}.db`);
}

/** A file store holding three pods, closed. */
function populatedFile(): string {
  const path = newPath();
  const store = createSqliteStore({ path, logger: silentLogger });
  for (const name of ['a', 'b', 'c']) store.create(podKey('d', name), objectFor(podKey('d', name)));
  store.close();
  return path;
}

/** How to run a child that file permissions apply to: as nobody when the tests run as root. */
const unprivilegedChild = (() => {
  if (process.getuid?.() !== 0) return { available: true, options: {} };
  const options = { uid: 65534, gid: 65534 };
  // nobody must be able to read the sources and tsx for the child to start at all.
  const probe = spawnSync(
    process.execPath,
    ['--import', 'tsx', '-e', `require('node:fs').accessSync(${JSON.stringify(storeEntry)})`],
    { cwd: repositoryRoot, encoding: 'utf8', timeout: 60_000, ...options },
  );
  return { available: probe.status === 0, options };
})();

function openFileDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('a closed store', () => {
  it('fails every call with KE_STORE_CLOSED, and closing again is fine', () => {
    const store = createMemoryStore();
    store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
    store.close();
    store.close();
    const key = podKey('d', 'a');
    const calls: Array<() => unknown> = [
      () => store.get(key),
      () => store.list(PODS),
      () => store.count(PODS),
      () => store.create(podKey('d', 'b'), objectFor(podKey('d', 'b'))),
      () => store.update(key, objectFor(key)),
      () => store.delete(key),
      () => store.transaction(() => 1),
      () => store.watch(PODS, { fromRevision: 0 }, () => {}),
      () => store.compact(0),
    ];
    for (const call of calls) expect(codeOf(call)).toBe('KE_STORE_CLOSED');
    expect(store.currentRevision).toBe(1);
  });

  it('stops delivering to watchers when closed by one of them', () => {
    const store = createMemoryStore();
    const seen: number[] = [];
    store.watch(PODS, { fromRevision: 0 }, () => store.close());
    store.watch(PODS, { fromRevision: 0 }, (event) => seen.push(event.revision));
    store.transaction(() => {
      store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
      store.create(podKey('d', 'b'), objectFor(podKey('d', 'b')));
    });
    expect(seen).toEqual([]);
  });
});

describe('storage failures', () => {
  it('a read-only database fails writes with KE_STORE_IO and keeps what was committed', () => {
    // Tests run as root, where chmod 0444 does not stop writes: open the copy read-only instead.
    const path = join(directory, 'read-only-copy.db');
    copyFileSync(populatedFile(), path);
    const store = createSqliteStore({ path, readonly: true, logger: silentLogger });
    expect(store.count(PODS)).toBe(3);
    const failure = errorOf(() => store.create(podKey('d', 'x'), objectFor(podKey('d', 'x'))));
    expect(failure.code).toBe('KE_STORE_IO');
    expect(failure.message).toContain('read-only');
    expect(failure.message).toContain(path);
    expect(failure.cause).toMatchObject({ code: 'SQLITE_READONLY' });
    expect(codeOf(() => store.delete(podKey('d', 'a')))).toBe('KE_STORE_IO');
    expect(codeOf(() => store.compact(1))).toBe('KE_STORE_IO');
    expect(store.count(PODS)).toBe(3);
    expect(store.currentRevision).toBe(3);
    store.close();
    const reopened = createSqliteStore({ path, logger: silentLogger });
    expect(reopened.list(PODS).items.map((item) => item.metadata.name)).toEqual(['a', 'b', 'c']);
    expect(reopened.create(podKey('d', 'x'), objectFor(podKey('d', 'x'))).revision).toBe(4);
    reopened.close();
  });

  it.skipIf(!unprivilegedChild.available)(
    'a file made read-only with chmod fails writes with KE_STORE_IO',
    () => {
      // chmod does not stop root: as root, the attempt runs in a child process as nobody.
      const shared = mkdtempSync(join(tmpdir(), 'ke-store-chmod-'));
      try {
        chmodSync(shared, 0o777);
        const path = join(shared, 'read-only.db');
        copyFileSync(populatedFile(), path);
        chmodSync(path, 0o444);
        const script = join(shared, 'write.ts');
        writeFileSync(
          script,
          `import { createSqliteStore } from ${JSON.stringify(storeEntry)};
const store = createSqliteStore({ path: process.argv[2], logger: {} });
const count = store.count('core/pods');
let code = 'none';
try {
  store.create({ resource: 'core/pods', namespace: 'd', name: 'x' }, { metadata: { name: 'x' } });
} catch (error) {
  code = error.code;
}
console.log(JSON.stringify({ count, code, after: store.count('core/pods') }));
store.close();
`,
        );
        chmodSync(script, 0o644);
        const result = spawnSync(process.execPath, ['--import', 'tsx', script, path], {
          cwd: repositoryRoot,
          encoding: 'utf8',
          timeout: 60_000,
          ...unprivilegedChild.options,
        });
        expect(result.stderr).toBe('');
        expect(JSON.parse(result.stdout.trim())).toEqual({
          count: 3,
          code: 'KE_STORE_IO',
          after: 3,
        });
      } finally {
        rmSync(shared, { recursive: true, force: true });
      }
    },
  );

  it('a write beyond the file size limit fails with KE_STORE_IO and loses nothing committed', () => {
    // A real I/O failure: a child process with `ulimit -f`, where the WAL cannot grow.
    const path = newPath();
    const script = join(directory, 'fill.ts');
    writeFileSync(
      script,
      `process.on('SIGXFSZ', () => {});
import { createSqliteStore } from ${JSON.stringify(storeEntry)};
const store = createSqliteStore({ path: process.argv[2], logger: {} });
let created = 0;
try {
  for (; created < 100000; created += 1) {
    const name = 'c' + created;
    store.create({ resource: 'core/configmaps', namespace: 'd', name }, { metadata: { name }, data: { blob: 'x'.repeat(2000) } });
  }
} catch (error) {
  console.log(JSON.stringify({ created, code: error.code, message: error.message }));
}
store.close();
`,
    );
    const result = spawnSync(
      '/bin/sh',
      ['-c', 'ulimit -f 1024 && exec "$0" "$@"', process.execPath, '--import', 'tsx', script, path],
      { cwd: repositoryRoot, encoding: 'utf8', timeout: 60_000 },
    );
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout.trim()) as {
      created: number;
      code: string;
      message: string;
    };
    expect(report.code).toBe('KE_STORE_IO');
    expect(report.message).toMatch(/check free space/);
    expect(report.created).toBeGreaterThan(10);
    const store = createSqliteStore({ path, logger: silentLogger });
    expect(store.count('core/configmaps')).toBe(report.created);
    expect(store.currentRevision).toBe(report.created);
    store.close();
  });

  it('a file that is not a database fails to open with KE_STORE_IO saying what to check', () => {
    const path = newPath();
    writeFileSync(
      path,
      'this is not a SQLite database, just text that is long enough '.repeat(100),
    );
    const failure = errorOf(() => createSqliteStore({ path, logger: silentLogger }));
    expect(failure.code).toBe('KE_STORE_IO');
    expect(failure.message).toContain('not a SQLite database');
  });

  it('a missing directory fails to open with KE_STORE_IO', () => {
    const path = join(directory, 'missing', 'store.db');
    expect(codeOf(() => createSqliteStore({ path, logger: silentLogger }))).toBe('KE_STORE_IO');
    expect(existsSync(path)).toBe(false);
  });

  it('a database from a newer release is refused rather than misread', () => {
    const path = populatedFile();
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    const failure = errorOf(() => createSqliteStore({ path, logger: silentLogger }));
    expect(failure.code).toBe('KE_STORE_IO');
    expect(failure.message).toContain('schema version 99');
  });

  it('maps SQLite result codes to KE_STORE_IO with advice, and leaves other errors alone', () => {
    const context = { operation: 'create', path: '/data/store.db', key: podKey('d', 'a') };
    const full = toStoreError(
      new Database.SqliteError('database or disk is full', 'SQLITE_FULL'),
      context,
    );
    expect(full).toMatchObject({ code: 'KE_STORE_IO', key: context.key });
    expect((full as Error).message).toMatch(/\/data\/store\.db.*SQLITE_FULL.*disk .*is full/);
    const io = toStoreError(
      new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_WRITE'),
      context,
    );
    expect((io as Error).message).toContain('I/O error');
    const corrupt = toStoreError(new Database.SqliteError('malformed', 'SQLITE_CORRUPT'), context);
    expect((corrupt as Error).message).toContain('corrupt');
    const other = new TypeError('not SQLite');
    expect(toStoreError(other, context)).toBe(other);
  });
});

describe('store lifetimes', () => {
  it('opening and closing 100 times leaves no handles or file descriptors behind', () => {
    const exercise = (store: Store) => {
      const stop = store.watch(PODS, { fromRevision: 0 }, () => {});
      store.create(podKey('d', 'a'), objectFor(podKey('d', 'a')));
      store.transaction(() => store.create(nodeKey('n'), objectFor(nodeKey('n'))));
      store.list(PODS, { limit: 1 });
      store.transaction(() => {
        store.delete(podKey('d', 'a'));
        store.delete(nodeKey('n'));
      });
      stop();
      store.close();
    };
    // Warm up once so lazily loaded modules do not count as leaks.
    exercise(createMemoryStore());
    const resources = process.getActiveResourcesInfo().length;
    const descriptors = openFileDescriptors();
    for (let cycle = 0; cycle < 100; cycle += 1) exercise(createMemoryStore());
    const path = newPath();
    for (let cycle = 0; cycle < 100; cycle += 1) {
      exercise(createSqliteStore({ path, logger: silentLogger }));
    }
    expect(process.getActiveResourcesInfo().length).toBe(resources);
    expect(openFileDescriptors()).toBe(descriptors);
    const reopened = createSqliteStore({ path, logger: silentLogger });
    expect(reopened.currentRevision).toBe(100 * 4);
    reopened.close();
  });
});
