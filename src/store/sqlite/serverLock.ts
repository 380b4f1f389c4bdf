import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { StoreOpenError } from '../errors.ts';
import { LOCK_FILE, privateFile } from './dataDir.ts';

export { LOCK_FILE };

/**
 * Makes the calling process the one server of an embedded store, for as long as it runs.
 * Part of the store's state lives in that process's memory (the idempotency index's tail,
 * recentMessageIds.ts), so a second server on the same DATA_DIR would accept what the
 * first already has. The lock is SQLite's own (an exclusive lock on a small file): the
 * operating system drops it when the process ends, even by SIGKILL. Commands such as
 * `directory` or `migrate` do not take it.
 */
export function lockDataDir(dataDir: string): { release(): void } {
  privateFile(join(dataDir, LOCK_FILE));
  const lock = new DatabaseSync(join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    lock.exec('PRAGMA locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    lock.close();
    if ((err as { errcode?: number }).errcode === 5 /* SQLITE_BUSY */) {
      throw new StoreOpenError(
        `Another itwin-webhooks server is using DATA_DIR ${dataDir}. One server at a time may use the embedded store; for several processes, use PostgreSQL (DATABASE_URL).`,
      );
    }
    throw new StoreOpenError(`Cannot lock DATA_DIR ${dataDir}: ${(err as Error).message}`);
  }
  return {
    release() {
      if (lock.isOpen) lock.close();
    },
  };
}
