import type { Query } from '../db.ts';

/** Planner statistics upkeep: each statement with its parameters. */

/**
 * The schema's tables whose planner statistics lag what they hold: changed by more than
 * 500 rows and a tenth of their size since their last ANALYZE.
 */
export const selectTablesToAnalyze = (schema: string): Query => ({
  text: `SELECT relname FROM pg_stat_user_tables WHERE schemaname = $1 AND n_mod_since_analyze > 500 + 0.1 * n_live_tup ORDER BY relname`,
  values: [schema],
});

export const analyze = (schema: string, table: string): Query => ({ text: `ANALYZE (SKIP_LOCKED) ${schema}."${table.replace(/"/g, '""')}"` });
