import type { PruneRequest } from '../../retention.ts';
import type { Query } from '../db.ts';
import { schemaTable } from './schemaTable.ts';

/** Retention and table upkeep: each statement with its parameters. */

export const pruneHistory = (r: PruneRequest, deliveriesAfter: number, eventsAfter: number): Query => ({
  text: 'SELECT * FROM prune_history($1, $2, $3, $4, $5, $6)',
  values: [r.before, r.now, r.idempotencyWindowMs, r.limit, deliveriesAfter, eventsAfter],
});

export const selectAutovacuum = (): Query => ({ text: `SELECT current_setting('autovacuum') = 'on' AS on` });

/** The schema's tables with enough dead rows to be worth a VACUUM (the thresholds autovacuum uses, halved). */
export const selectTablesToVacuum = (schema: string): Query => ({
  text: `SELECT relname FROM pg_stat_user_tables WHERE schemaname = $1 AND n_dead_tup > 50 + 0.1 * n_live_tup ORDER BY n_dead_tup DESC`,
  values: [schema],
});

/** At the pace autovacuum keeps by default, so that it never crowds out publishes and deliveries. */
export const gentleVacuum = (): Query => ({ text: 'SET vacuum_cost_delay = 2' });

export const vacuum = (schema: string, table: string): Query => ({ text: `VACUUM (SKIP_LOCKED, ANALYZE) ${schemaTable(schema, table)}` });
