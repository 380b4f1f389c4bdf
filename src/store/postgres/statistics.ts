import type { PgDb } from './db.ts';
import * as sql from './sql/statistics.ts';

/** How often the tables' statistics are looked at. */
const LOOK_EVERY_MS = 1_000;

export interface StatisticsKeeper {
  /**
   * After a commit that inserted `rows` into `table`: analyzes it first when its
   * statistics lag that far behind (a fan-out to 10,000 webhooks into a deliveries table
   * that was empty at its last ANALYZE), rather than at the next look, which sees the rows
   * only once the writer's server process reports them (up to a second after its commit).
   * Plans made on the statistics of an empty table pick any index, or none, for a lookup
   * by id (their costs are all alike): meanwhile each claim read the table or a whole
   * index for every delivery it leased (186 ms for a claim of 128). Resolves once done; a
   * failure is upkeep's and is not passed on.
   */
  inserted(table: string, rows: number): Promise<void>;
  stop(): Promise<void>;
}

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
export function startStatisticsKeeper(db: PgDb): StatisticsKeeper {
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
    async inserted(table, rows) {
      if (rows <= sql.ANALYZE_AFTER_ROWS) return;
      try {
        if ((await db.rows(sql.selectLagsAfterInsert(db.schema, table, rows))).length > 0) await db.rows(sql.analyze(db.schema, table));
      } catch {
        // the next look tries again
      }
    },
    async stop() {
      clearInterval(timer);
      await looking;
    },
  };
}
