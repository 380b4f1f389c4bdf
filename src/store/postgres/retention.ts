import type { RetentionRepo } from '../retention.ts';
import type { PgDb } from './db.ts';
import { withClient } from './pool.ts';
import * as sql from './sql/retention.ts';

/** VACUUM looks at the tables at most this often. */
const VACUUM_EVERY_MS = 10_000;

interface PruneRow {
  deliveries: number;
  attempts: number;
  events: number;
  message_ids: number;
  deliveries_after: number;
  events_after: number;
}

/**
 * Retention on PostgreSQL: batched deletes (prune_history) that go round the history in
 * key order from cursors kept here, so that no batch reads more than its limit and the
 * hot path maintains no index for them. Whole-table partitions dropped at once were the
 * other way; they would make every claim probe every partition's pending index.
 *
 * The same calls keep the tables vacuumed when the server's autovacuum is off (as on the
 * machine the benchmarks run on): without VACUUM, no space a delete or an update frees is
 * ever reused, and the files grow whatever retention removes.
 */
export function retentionRepo(db: PgDb): RetentionRepo {
  let deliveriesAfter = 0;
  let eventsAfter = 0;
  let vacuumedAt = 0;
  let autovacuum: boolean | undefined;

  const vacuumIfDue = async (now: number) => {
    if (now - vacuumedAt < VACUUM_EVERY_MS) return;
    vacuumedAt = now;
    autovacuum ??= (await db.rows<{ on: boolean }>(sql.selectAutovacuum()))[0]!.on;
    if (autovacuum) return;
    const tables = await db.rows<{ relname: string }>(sql.selectTablesToVacuum(db.schema));
    if (tables.length === 0) return;
    await withClient(db.pool, async (c) => {
      await c.query(sql.gentleVacuum());
      for (const t of tables) await c.query(sql.vacuum(db.schema, t.relname));
    });
  };

  return {
    async pruneHistory(request) {
      const [r] = await db.rows<PruneRow>(sql.pruneHistory(request, deliveriesAfter, eventsAfter));
      deliveriesAfter = Number(r!.deliveries_after);
      eventsAfter = Number(r!.events_after);
      const more = deliveriesAfter !== 0 || eventsAfter !== 0 || r!.message_ids >= request.limit;
      if (!more) await vacuumIfDue(Date.now());
      return { deliveries: r!.deliveries, attempts: r!.attempts, events: r!.events, messageIds: r!.message_ids, more };
    },
  };
}
