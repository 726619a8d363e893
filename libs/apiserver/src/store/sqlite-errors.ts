import { StoreError } from './errors';
import type { ObjectKey } from './types';

/** What the store was doing when SQLite failed, for the message. */
export interface FailureContext {
  /** `create`, `list`, `open`, `compact`... */
  readonly operation: string;
  /** The database file (or `:memory:`). */
  readonly path: string;
  readonly key?: ObjectKey;
}

/** What to check for each SQLite result code family (`SQLITE_IOERR_WRITE` → `SQLITE_IOERR`). */
const ADVICE: Record<string, string> = {
  SQLITE_FULL: 'the disk (or the file system quota) is full; free space and retry',
  SQLITE_IOERR:
    'the disk or file system reported an I/O error; check free space and file size limits, the device and the kernel log',
  SQLITE_READONLY:
    'the database is read-only; check the permissions of the file and its directory (WAL needs to create -wal and -shm files beside it) and that the store was not opened with readonly',
  SQLITE_CANTOPEN:
    'the file cannot be opened; check that the directory exists and that the process may write to it',
  SQLITE_PERM: 'access was denied; check the permissions of the file and its directory',
  SQLITE_CORRUPT:
    'the database file is corrupt; restore it from a backup or move it away to start empty',
  SQLITE_NOTADB:
    'the file is not a SQLite database; check the path, or move the file away to start empty',
  SQLITE_BUSY:
    'the database is locked by another connection; make sure only one server uses this file',
  SQLITE_LOCKED: 'the database is locked; make sure only one server uses this file',
  SQLITE_NOMEM: 'SQLite ran out of memory',
};

/** The SQLite result code of a better-sqlite3 error (`SQLITE_FULL`...), or undefined. */
export function sqliteCode(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/**
 * Turns a SQLite failure into `KE_STORE_IO` naming the operation, the file and what to check.
 * Anything else (a `StoreError`, an error thrown by a caller's function) is returned as it is.
 */
export function toStoreError(error: unknown, context: FailureContext): unknown {
  const code = sqliteCode(error);
  if (code === undefined) return error;
  const family = /^SQLITE_[A-Z]+/.exec(code)?.[0] ?? code;
  const advice = ADVICE[family] ?? 'see the cause for details';
  const detail = error instanceof Error ? error.message : String(error);
  const message = `store ${context.operation} failed on ${context.path} (${code}: ${detail}): ${advice}. Writes committed before this one are kept.`;
  return new StoreError(
    'KE_STORE_IO',
    message,
    context.key === undefined ? { cause: error } : { cause: error, key: context.key },
  );
}
