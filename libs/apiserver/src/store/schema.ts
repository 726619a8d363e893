import type Database from 'better-sqlite3';
import { StoreError } from './errors';

/**
 * The schema, one step per version: `MIGRATIONS[n]` takes a database from `user_version` n to
 * n + 1. A later release appends steps; a database is never migrated backwards.
 *
 * KubeEdge's MetaManager keeps one `meta` table keyed by resource key; this keeps one `objects`
 * table keyed by (resource, namespace, name), plus the change log that etcd would keep as MVCC
 * history, which serves watches and lists at a past revision.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE objects (
    resource  TEXT    NOT NULL,
    namespace TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    revision  INTEGER NOT NULL,
    value     TEXT    NOT NULL,
    PRIMARY KEY (resource, namespace, name)
  );
  CREATE TABLE changes (
    revision  INTEGER PRIMARY KEY,
    resource  TEXT    NOT NULL,
    namespace TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    type      TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    previous  TEXT
  );
  CREATE INDEX changes_by_resource ON changes (resource, revision);
  CREATE TABLE meta (
    key   TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
];

/** The `user_version` this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the schema to `SCHEMA_VERSION` in one transaction. */
export function migrate(db: Database.Database, path: string, readonly: boolean): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === SCHEMA_VERSION) return;
  if (version > SCHEMA_VERSION) {
    throw new StoreError(
      'KE_STORE_IO',
      `${path} has store schema version ${version}, newer than this release understands (${SCHEMA_VERSION}); run a newer release or open another file`,
    );
  }
  if (readonly) {
    throw new StoreError(
      'KE_STORE_IO',
      `${path} has store schema version ${version} and needs migrating to ${SCHEMA_VERSION}, which a read-only store cannot do; open it read-write once`,
    );
  }
  db.transaction(() => {
    for (const step of MIGRATIONS.slice(version)) db.exec(step);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
