import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpcuaError } from '../src/index';

/** A temporary folder for a client's PKI, so tests never touch the home folder. */
export async function tempPki(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mapper-opcua-client-pki-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The code of the OpcuaError a promise rejects with. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return error instanceof OpcuaError ? error.code : `not an OpcuaError: ${String(error)}`;
}
