import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../types.ts';
import { SqliteDb, StoreOpenError } from './db.ts';
import { directoryRepo } from './directory.ts';
import { eventsRepo } from './events.ts';
import { historyRepo } from './history.ts';
import { clientsRepo } from './identity.ts';
import { migrate } from './migrations.ts';
import { queueRepo } from './queue.ts';
import { webhooksRepo } from './webhooks.ts';

export const DATABASE_FILE = 'itwin-webhooks.db';

/** Creates DATA_DIR if needed and checks that it is a writable directory. */
export function prepareDataDir(dataDir: string): void {
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
}

/** Opens (and migrates) the embedded store in `dataDir`. */
export function openSqliteStore(dataDir: string): Store {
  prepareDataDir(dataDir);
  const db = new SqliteDb(join(dataDir, DATABASE_FILE));
  try {
    migrate(db);
  } catch (err) {
    db.close();
    throw new StoreOpenError(`Cannot prepare the SQLite database ${db.path}: ${(err as Error).message}`);
  }
  return {
    kind: 'sqlite',
    ...clientsRepo(db),
    ...directoryRepo(db),
    ...webhooksRepo(db),
    ...eventsRepo(db),
    ...queueRepo(db),
    ...historyRepo(db),
    async getMeta(key) {
      return db.get<{ value: string }>('SELECT value FROM meta WHERE key = $k', { k: key })?.value;
    },
    async setMetaIfAbsent(key, value) {
      return db.tx(() => {
        db.run('INSERT INTO meta (key, value) VALUES ($k, $v) ON CONFLICT (key) DO NOTHING', { k: key, v: value });
        return db.get<{ value: string }>('SELECT value FROM meta WHERE key = $k', { k: key })!.value;
      });
    },
    async ping() {
      db.get('SELECT 1');
    },
    async close() {
      db.close();
    },
  };
}
