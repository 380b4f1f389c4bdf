import { firstIdCreatedFromSql, ID_SEARCH_SLACK_MS, roundedDurationSql, type StatisticsScope } from '../../insights.ts';
import type { Query } from '../db.ts';

/** Webhook health and delivery statistics (see ../../insights.ts): each statement with its parameters. */

export const selectFirstIdCreatedFrom = (since: number): Query => ({
  text: firstIdCreatedFromSql('$1::bigint'),
  values: [since - ID_SEARCH_SLACK_MS],
});

export const selectFailingSince = (webhookId: string): Query => ({
  text: 'SELECT failing_since FROM webhooks WHERE id = $1',
  values: [webhookId],
});

// In what follows $1 is the scope's value, $2 the window's first id, $3 since.
const SCOPE_FILTER: Record<'webhookId' | 'ownerClientId' | 'everyone', string> = {
  webhookId: 'd.webhook_id = $1 AND',
  // Through each webhook's own index range, not a scan of everyone's deliveries.
  ownerClientId: 'd.webhook_id IN (SELECT id FROM webhooks WHERE owner_client_id = $1) AND',
  everyone: '$1::text IS NULL AND',
};

const scopeOf = (scope: StatisticsScope) =>
  'webhookId' in scope ? (['webhookId', scope.webhookId] as const) : 'ownerClientId' in scope ? (['ownerClientId', scope.ownerClientId] as const) : (['everyone', null] as const);

/**
 * Every attempt of the deliveries in `deliveries` (a CTE of delivery rows): the latest
 * one lives on the delivery row, the earlier ones in delivery_attempts (migration 4).
 */
const ATTEMPTS_OF = (deliveries: string) => `
  SELECT id AS delivery_id, attempts AS attempt, last_started_at AS started_at, last_duration_ms AS duration_ms,
         last_status AS status_code, last_error AS error
    FROM ${deliveries} WHERE last_started_at IS NOT NULL
  UNION ALL
  SELECT a.delivery_id, a.attempt, a.started_at, a.duration_ms, a.status_code, a.error
    FROM delivery_attempts a WHERE a.delivery_id IN (SELECT id FROM ${deliveries})`;

const RECENT_COLUMNS = 'd.id, d.status, d.attempts, d.created_at, d.last_started_at, d.last_duration_ms, d.last_status, d.last_error';

/** The window's deliveries and every attempt made on them. */
const withAttempts = (kind: keyof typeof SCOPE_FILTER) => `WITH recent AS MATERIALIZED (
    SELECT ${RECENT_COLUMNS} FROM deliveries d WHERE ${SCOPE_FILTER[kind]} d.id >= $2 AND d.created_at >= $3),
  attempts AS (${ATTEMPTS_OF('recent')})`;

export const selectAttemptCounts = (webhookId: string, firstId: number, since: number): Query => ({
  text: `${withAttempts('webhookId')}
    SELECT count(*)::int AS attempts, (count(*) FILTER (WHERE status_code BETWEEN 200 AND 299))::int AS succeeded
    FROM attempts WHERE started_at >= $3`,
  values: [webhookId, firstId, since],
});

export const selectLastAttempt = (webhookId: string, firstId: number, since: number): Query => ({
  text: `${withAttempts('webhookId')} SELECT * FROM attempts ORDER BY started_at DESC, attempt DESC LIMIT 1`,
  values: [webhookId, firstId, since],
});

/** The latest attempt of the webhook's newest attempted delivery. */
export const selectNewestAttempt = (webhookId: string): Query => ({
  text: `WITH recent AS (SELECT ${RECENT_COLUMNS} FROM deliveries d WHERE d.webhook_id = $1 AND d.attempts > 0 ORDER BY d.id DESC LIMIT 1),
    attempts AS (${ATTEMPTS_OF('recent')})
    SELECT * FROM attempts ORDER BY started_at DESC, attempt DESC LIMIT 1`,
  values: [webhookId],
});

export const selectDeliveryCounts = (scope: StatisticsScope, firstId: number, since: number, bucketMs: number): Query => {
  const [kind, value] = scopeOf(scope);
  return {
    text: `${withAttempts(kind)}
      SELECT ((created_at - $3) / $4)::int AS bucket, status,
             attempts > 0 AS attempted, count(*)::int AS count
      FROM recent GROUP BY 1, 2, 3`,
    values: [value, firstId, since, bucketMs],
  };
};

export const selectAttemptHistogram = (scope: StatisticsScope, firstId: number, since: number, bucketMs: number): Query => {
  const [kind, value] = scopeOf(scope);
  return {
    text: `${withAttempts(kind)}
      SELECT ((started_at - $3) / $4)::int AS bucket, coalesce(status_code BETWEEN 200 AND 299, false) AS succeeded,
             ${roundedDurationSql('duration_ms')} AS duration, count(*)::int AS count
      FROM attempts WHERE started_at >= $3 GROUP BY 1, 2, 3`,
    values: [value, firstId, since, bucketMs],
  };
};
