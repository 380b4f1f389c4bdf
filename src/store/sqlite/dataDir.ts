import { accessSync, chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_FILE } from '../../crypto/secretBox.ts';
import { StoreOpenError } from '../errors.ts';

export const DATABASE_FILE = 'itwin-webhooks.db';
export const LOCK_FILE = 'server.lock';

/** What the program itself keeps in DATA_DIR: a directory holding nothing else is its own. */
const OWN_FILES = new Set([DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`, `${DATABASE_FILE}-journal`, KEY_FILE, LOCK_FILE]);

const loose = (path: string) => (statSync(path).mode & 0o077) !== 0;

/**
 * Creates DATA_DIR (mode 0700) if needed and checks that it is a writable directory. An
 * existing directory that others may read is tightened to 0700 when it holds only the
 * program's files; otherwise it is left alone (it may be a shared folder someone chose)
 * and `loose` says so, for the server to warn about.
 */
export function prepareDataDir(dataDir: string): { loose: boolean } {
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) throw new StoreOpenError(`DATA_DIR ${dataDir} is not a directory.`);
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StoreOpenError(`DATA_DIR ${dataDir} cannot be created: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    accessSync(dataDir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch {
    throw new StoreOpenError(`DATA_DIR ${dataDir} is not readable and writable by this user.`);
  }
  if (loose(dataDir) && readdirSync(dataDir).every((name) => OWN_FILES.has(name))) {
    try {
      chmodSync(dataDir, 0o700);
    } catch {
      // Not ours to change (another owner): reported as loose below.
    }
  }
  return { loose: loose(dataDir) };
}

/**
 * Makes sure `path` exists with mode 0600 before SQLite opens it. SQLite gives the WAL and
 * shared-memory files the database file's mode, so they are private too; an existing file
 * that others may read is tightened.
 */
export function privateFile(path: string): void {
  try {
    closeSync(openSync(path, 'a', 0o600));
    if (loose(path)) chmodSync(path, 0o600);
  } catch (err) {
    throw new StoreOpenError(`Cannot prepare ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Tightens the database's companion files that exist already (from a version that left them readable). */
export function tightenDatabaseFiles(dataDir: string): void {
  for (const name of [`${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`]) {
    const path = join(dataDir, name);
    if (existsSync(path) && loose(path)) chmodSync(path, 0o600);
  }
}
