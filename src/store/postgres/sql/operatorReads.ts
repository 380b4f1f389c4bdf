import type { Query } from '../db.ts';

/** Reads across applications for an operator: each statement with its parameters. */

export const selectAnyWebhook = (id: string): Query => ({ text: 'SELECT * FROM webhooks WHERE id = $1', values: [id] });

/** One row more than the page. */
export const selectAllWebhooksPage = (owner: string | undefined, limit: number, after: number | undefined): Query => ({
  text: 'SELECT * FROM webhooks WHERE ($1::text IS NULL OR owner_client_id = $1) AND seq > $2 ORDER BY seq LIMIT $3',
  values: [owner ?? null, after ?? 0, limit + 1],
});
