import { redactUrl, type StoreConfig } from '../../config/load.ts';
import { StoreUnavailableError } from '../errors.ts';
import type { ClientChangeNotifications, DueNotifications, Store } from '../types.ts';
import { openPgDb } from './db.ts';
import { directoryRepo } from './directory.ts';
import { eventsRepo } from './events.ts';
import { historyRepo } from './history.ts';
import { clientsRepo } from './identity.ts';
import { insightsRepo } from './insights.ts';
import { operatorReadsRepo } from './operatorReads.ts';
import { laneMarks } from './laneMarks.ts';
import { migratePostgres } from './migrations.ts';
import { withClient } from './pool.ts';
import { queueRepo } from './queue.ts';
import { retentionRepo } from './retention.ts';
import { markLanesReady } from './sql/events.ts';
import { CLIENT_CHANNEL } from './sql/identity.ts';
import * as meta from './sql/meta.ts';
import { startStatisticsKeeper } from './statistics.ts';
import { createWakeups } from './wakeups.ts';
import { webhooksRepo } from './webhooks.ts';

/** The PostgreSQL store hears, through LISTEN/NOTIFY, what other processes made due and which clients they ended. */
export interface PostgresStore extends Store, DueNotifications, ClientChangeNotifications {}

/**
 * The store on PostgreSQL, for several API and worker processes sharing one database.
 * Hot paths (publish, claim, complete) are server-side functions (functions/): one round
 * trip each. A lost connection surfaces as StoreUnavailableError (the API answers 503); the
 * pool reconnects by itself on the next query.
 */
export async function openPostgresStore(
  config: StoreConfig,
  options: { migrate?: boolean; /** Called with the versions this process applied (none when up to date). */ onMigrated?: (versions: number[]) => void } = {},
): Promise<PostgresStore> {
  const db = openPgDb(config.databaseUrl!, config.databaseSchema, config.databasePoolSize);

  if (options.migrate !== false) {
    try {
      // (Not `onMigrated?.(await migrate…)`: optional call skips evaluating its arguments.)
      const applied = await withClient(db.pool, (c) => migratePostgres(c, db.schema));
      options.onMigrated?.(applied);
    } catch (err) {
      await db.close();
      throw new StoreUnavailableError(`Cannot prepare the PostgreSQL database ${redactUrl(db.url)}: ${(err as Error).message}`);
    }
  }

  const wakeups = createWakeups(db);
  const statistics = startStatisticsKeeper(db);
  const lanes = laneMarks({ mark: (ids, at) => db.rows(markLanesReady(ids, at)) });

  return {
    kind: 'postgres',
    ...clientsRepo(db),
    ...directoryRepo(db),
    ...webhooksRepo(db),
    ...eventsRepo(db, lanes, statistics),
    ...queueRepo(db, wakeups),
    ...historyRepo(db, lanes),
    ...insightsRepo(db),
    ...retentionRepo(db),
    ...operatorReadsRepo(db),

    async getMeta(key) {
      return (await db.rows<{ value: string }>(meta.selectMeta(key)))[0]?.value;
    },
    async setMetaIfAbsent(key, value) {
      await db.count(meta.insertMetaIfAbsent(key, value));
      return (await db.rows<{ value: string }>(meta.selectMeta(key)))[0]!.value;
    },
    async ping() {
      await db.rows(meta.ping());
    },
    async close() {
      wakeups.close();
      await statistics.stop();
      await db.close();
    },
    subscribeDue: (onDue) => wakeups.subscribe(onDue),
    subscribeClientChanges: (onChange) =>
      wakeups.listen(
        CLIENT_CHANNEL,
        (payload) => {
          // One channel for the database: each payload names its schema.
          const colon = payload.indexOf(':');
          if (payload.slice(0, colon) === db.schema) onChange(payload.slice(colon + 1));
        },
        () => onChange(undefined),
      ),
  };
}
