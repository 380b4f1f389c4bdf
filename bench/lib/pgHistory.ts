// Delivery history put straight into an itwin-webhooks PostgreSQL schema with
// generate_series: `n` events delivered once each, spread over the schema's webhooks, as a
// production database holds after weeks of traffic (publishing them through the API would
// take longer than the whole benchmark). Written for the schema's current tables: change
// it with them.
import pg from 'pg';
import { PG_URL } from './pgStats.ts';

export async function fillHistory(schema: string, n: number, eventType: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await c.connect();
  try {
    const day = 86_400_000;
    const t0 = Date.now() - day;
    await c.query('BEGIN');
    // Built after the rows, as CREATE INDEX does in one sort: inserting 1,000,000 random
    // message ids into the unique index one by one takes minutes on this machine.
    const indexes = (
      await c.query<{ def: string; name: string }>(
        `SELECT indexdef AS def, indexname AS name FROM pg_indexes i
          WHERE schemaname = $1 AND tablename IN ('events', 'deliveries')
            AND NOT EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE n.nspname = i.schemaname AND k.conname = i.indexname)`,
        [schema],
      )
    ).rows;
    for (const i of indexes) await c.query(`DROP INDEX ${schema}.${i.name}`);
    await c.query(
      `INSERT INTO events (message_id, message_key, event_type, itwin_id, account_id, content, enqueued_at, publisher_client_id, matched)
       SELECT m, m, $2, gen_random_uuid()::text, NULL, '{"sentAt":0,"seq":0}', $3::bigint + g, NULL, 1
         FROM (SELECT g, gen_random_uuid()::text AS m FROM generate_series(1, $1::integer) g) x`,
      [n, eventType, t0],
    );
    // Each delivered at its first attempt: the attempt is on the delivery row.
    await c.query(
      `WITH w AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i, count(*) OVER () AS n FROM webhooks)
       INSERT INTO deliveries (webhook_id, event_seq, status, attempts, due_at, created_at, updated_at, last_status, last_started_at, last_duration_ms)
       SELECT w.id, e.seq, 'succeeded', 1, e.enqueued_at + 5, e.enqueued_at, e.enqueued_at + 5, 200, e.enqueued_at, 5
         FROM events e JOIN w ON w.i = e.seq % w.n`,
    );
    for (const i of indexes) await c.query(i.def);
    await c.query('COMMIT');
    // Statistics as a database that has been running has them (autovacuum's ANALYZE).
    await c.query('ANALYZE');
  } finally {
    await c.end();
  }
}
