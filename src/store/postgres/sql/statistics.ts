import type { Query } from '../db.ts';
import { schemaTable } from './schemaTable.ts';

/** Planner statistics upkeep: each statement with its parameters. */

/**
 * The tables whose size the plans of the hot paths depend on: all but the ones of a few
 * rows that never grow (meta, signing keys, the migration bookkeeping).
 */
export const WATCHED_TABLES = [
  'clients', 'deliveries', 'delivery_attempts', 'delivery_lanes', 'directory_grants', 'directory_itwins', 'directory_org_admins',
  'event_types', 'events', 'pruned_message_ids', 'webhook_subscriptions', 'webhooks', 'workers',
];

/** Rows changed beyond what a table held at its last ANALYZE that make its statistics lag. */
export const ANALYZE_AFTER_ROWS = 1000;

/**
 * Of those, the ones whose planner statistics lag what they hold: changed by more than 1,000
 * rows and as many as they held at their last ANALYZE (reltuples). What goes wrong is a plan
 * made on a table of a few rows; once it held thousands, its plans hold as it grows, so the
 * ANALYZEs thin out as it doubles (one every second cost a tenth of the deliveries per
 * second while the tables filled from empty). The counters are read straight
 * from pg_class by name (its index): the pg_stat_user_tables view aggregates every index
 * of the database, and a scan of pg_class grows with every schema ever dropped (5 ms a
 * look on this machine's, against a tenth of one).
 */
export const selectTablesToAnalyze = (schema: string): Query => ({
  text: `SELECT c.relname FROM pg_class c
          WHERE c.relname = ANY ($2::text[]) AND c.relnamespace = to_regnamespace($1)
            AND pg_stat_get_mod_since_analyze(c.oid) > $3 + greatest(c.reltuples, 0)
          ORDER BY c.relname`,
  values: [schema, WATCHED_TABLES, ANALYZE_AFTER_ROWS],
});

/**
 * Whether `rows` just inserted into `table` make its statistics lag (as above), counted
 * by the writer: the server's counters (pg_stat_get_mod_since_analyze) include a
 * backend's writes only once it reports them, up to a second after its commit.
 */
export const selectLagsAfterInsert = (schema: string, table: string, rows: number): Query => ({
  text: `SELECT 1 FROM pg_class c WHERE c.relname = $2 AND c.relnamespace = to_regnamespace($1) AND $3 > $4 + greatest(c.reltuples, 0)`,
  values: [schema, table, rows, ANALYZE_AFTER_ROWS],
});

export const analyze = (schema: string, table: string): Query => ({ text: `ANALYZE (SKIP_LOCKED) ${schemaTable(schema, table)}` });
