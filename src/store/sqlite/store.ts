import { join } from 'node:path';
import type { Async, ClaimingPublish, Store, Sync } from '../types.ts';
import { StoreOpenError } from '../errors.ts';
import { DATABASE_FILE, prepareDataDir, privateFile, tightenDatabaseFiles } from './dataDir.ts';
import { SqliteDb } from './db.ts';
import { directoryRepo } from './directory.ts';
import { eventsRepo } from './events.ts';
import { historyRepo } from './history.ts';
import { clientsRepo } from './identity.ts';
import { insightsRepo } from './insights.ts';
import { operatorReadsRepo } from './operatorReads.ts';
import { createLeaseTable } from './leases.ts';
import { migrate } from './migrations.ts';
import { queueRepo } from './queue.ts';
import { recentMessageIds, type RecentMessageIds } from './recentMessageIds.ts';
import { retentionRepo } from './retention.ts';
import { webhooksRepo } from './webhooks.ts';

export { DATABASE_FILE, prepareDataDir } from './dataDir.ts';

/** The SQLite store with synchronous methods, as it runs on its own thread (storeThread.ts). */
export type SyncStore = Sync<Omit<Store, 'kind'>> & Sync<ClaimingPublish>;

/**
 * Opens (and migrates) the embedded database in `dataDir`, synchronously. `messageIds`
 * is the idempotency index's in-memory tail: whoever publishes a lot merges it
 * (mergeStep) now and then.
 */
export function openSqliteSync(
  dataDir: string,
  options: { messageIds?: Parameters<typeof recentMessageIds>[1] } = {},
): { db: SqliteDb; store: SyncStore; messageIds: RecentMessageIds } {
  prepareDataDir(dataDir);
  privateFile(join(dataDir, DATABASE_FILE));
  tightenDatabaseFiles(dataDir);
  const db = new SqliteDb(join(dataDir, DATABASE_FILE));
  try {
    migrate(db);
  } catch (err) {
    db.close();
    throw new StoreOpenError(`Cannot prepare the SQLite database ${db.path}: ${(err as Error).message}`);
  }
  const messageIds = recentMessageIds(db, options.messageIds);
  const events = eventsRepo(db, messageIds);
  const leases = createLeaseTable(db);
  const queue = queueRepo(db, leases);
  const store: SyncStore = {
    ...clientsRepo(db),
    ...directoryRepo(db, leases),
    ...webhooksRepo(db, leases),
    ...events,
    ...queue,
    ...historyRepo(db, leases),
    ...insightsRepo(db),
    ...operatorReadsRepo(db),
    ...retentionRepo(db, leases, messageIds),
    publishAndClaim(newEvents, now, windowMs, claim) {
      // One transaction (the inner ones join it): the claim is durable when the publish is.
      return db.tx(() => ({ results: events.publishEvents(newEvents, now, windowMs), claimed: queue.claimDeliveries(claim) }));
    },
    getMeta(key) {
      return db.get<{ value: string }>('SELECT value FROM meta WHERE key = $k', { k: key })?.value;
    },
    setMetaIfAbsent(key, value) {
      return db.tx(() => {
        db.run('INSERT INTO meta (key, value) VALUES ($k, $v) ON CONFLICT (key) DO NOTHING', { k: key, v: value });
        return db.get<{ value: string }>('SELECT value FROM meta WHERE key = $k', { k: key })!.value;
      });
    },
    ping() {
      db.get('SELECT 1');
    },
    close() {
      db.close();
    },
  };
  return { db, store, messageIds };
}

/** The names of the store's methods, read off the synchronous store (they are its own keys). */
export const methodNames = <T extends object>(sync: T): Array<keyof T & string> => Object.keys(sync) as Array<keyof T & string>;

/**
 * An object with one promise-returning method per name, each handing its arguments to
 * `invoke`: the embedded store seen from its caller, whether it runs on the same thread
 * (asAsync) or on its own (threaded.ts). The one place where its methods are built by name.
 */
export function methodsByName<T extends object>(names: ReadonlyArray<keyof T & string>, invoke: (name: keyof T & string, args: unknown[]) => Promise<unknown>): Async<T> {
  const out: Partial<Record<keyof T, unknown>> = {};
  for (const name of names) out[name] = (...args: unknown[]) => invoke(name, args);
  return out as Async<T>;
}

/** The synchronous methods of `sync` as promise-returning ones (a throw becomes a rejection). */
export function asAsync<T extends object>(sync: T): Async<T> {
  return methodsByName(methodNames(sync), (name, args) => {
    try {
      return Promise.resolve((sync[name] as (...a: unknown[]) => unknown)(...args));
    } catch (err) {
      return Promise.reject(err);
    }
  });
}

/**
 * The embedded store on the calling thread, for short-lived commands (the CLI). The
 * server runs it on a thread of its own instead (see threaded.ts).
 */
export function openSqliteStore(dataDir: string): Store & ClaimingPublish {
  const { store } = openSqliteSync(dataDir);
  return { kind: 'sqlite', ...asAsync(store) };
}
