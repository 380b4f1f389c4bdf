import type { PgDb } from './db.ts';
import * as sql from './sql/statistics.ts';

/** How often the tables' statistics are looked at. */
const LOOK_EVERY_MS = 1_000;

/**
 * Keeps the planner's statistics up with what the tables hold, whether the server's
 * autovacuum runs or not (it looks once a minute at most, and on the machine the
 * benchmarks run on it is off). The server-side functions run on generic plans that each
 * session makes once and caches (see lease_due): one made while a table held a few rows
 * seq-scans it (or hashes all of it) for good once it holds thousands, until an ANALYZE
 * makes every session plan again. A fan-out to 10,000 webhooks created just before
 * took 11 s on such plans instead of 3. Every process of the store looks (one short query a
 * second); ANALYZE (SKIP_LOCKED) leaves a table that another one is analyzing. It is upkeep
 * only: a failed look is tried again at the next.
 */
export function startStatisticsKeeper(db: PgDb): { stop(): Promise<void> } {
  let looking: Promise<void> | undefined;
  const look = async () => {
    for (const { relname } of await db.rows<{ relname: string }>(sql.selectTablesToAnalyze(db.schema))) await db.rows(sql.analyze(db.schema, relname));
  };
  const timer = setInterval(() => {
    looking ??= look()
      .catch(() => {})
      .finally(() => (looking = undefined));
  }, LOOK_EVERY_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await looking;
    },
  };
}
