import {
  firstIdCreatedFromSql,
  ID_SEARCH_SLACK_MS,
  roundedDurationSql,
  toAttemptBrief,
  type AttemptBriefRow,
  type DeliveryInsightsRepo,
  type StatisticsScope,
} from '../insights.ts';
import type { DeliveryStatus, Sync } from '../types.ts';
import type { SqliteDb } from './db.ts';

const FIRST_ID = firstIdCreatedFromSql('$from');

/**
 * Every attempt of the deliveries in `deliveries` (a CTE with the delivery rows): the
 * latest one lives on the delivery row, the earlier ones in delivery_attempts (migration 3).
 */
const ATTEMPTS_OF = (deliveries: string) => `
  SELECT id AS delivery_id, attempts AS attempt, last_started_at AS started_at, last_duration_ms AS duration_ms,
         last_status AS status_code, last_error AS error
    FROM ${deliveries} WHERE last_started_at IS NOT NULL
  UNION ALL
  SELECT delivery_id, attempt, started_at, duration_ms, status_code, error
    FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM ${deliveries})`;

const RECENT_COLUMNS = 'id, status, attempts, created_at, last_started_at, last_duration_ms, last_status, last_error';

const SCOPE_FILTER: Record<'webhookId' | 'ownerClientId' | 'everyone', string> = {
  webhookId: 'webhook_id = $scope AND',
  // Through each webhook's own index range, not a scan of everyone's deliveries.
  ownerClientId: 'webhook_id IN (SELECT id FROM webhooks WHERE owner_client_id = $scope) AND',
  everyone: '',
};

export function insightsRepo(db: SqliteDb): Sync<DeliveryInsightsRepo> {
  const firstId = (since: number) => db.get<{ first: number }>(FIRST_ID, { from: since - ID_SEARCH_SLACK_MS })!.first;

  const recentOf = (filter: string) => `recent AS MATERIALIZED (SELECT ${RECENT_COLUMNS} FROM deliveries WHERE ${filter} id >= $first AND created_at >= $since)`;

  return {
    webhookHealth(webhookId, since) {
      const webhook = db.get<{ failing_since: number | null }>('SELECT failing_since FROM webhooks WHERE id = $w', { w: webhookId });
      if (webhook === undefined) return undefined;
      const params = { scope: webhookId, first: firstId(since), since };
      const attempts = `WITH ${recentOf(SCOPE_FILTER.webhookId)}, attempts AS (${ATTEMPTS_OF('recent')})`;
      const counts = db.get<{ attempts: number; succeeded: number | null }>(
        `${attempts} SELECT count(*) AS attempts, sum(status_code BETWEEN 200 AND 299) AS succeeded FROM attempts WHERE started_at >= $since`,
        params,
      )!;
      let last = db.get<AttemptBriefRow>(`${attempts} SELECT * FROM attempts ORDER BY started_at DESC, attempt DESC LIMIT 1`, params);
      if (last === undefined) {
        // Nothing new in the window: the newest delivery that was attempted tells the last word.
        last = db.get<AttemptBriefRow>(
          `WITH recent AS (SELECT ${RECENT_COLUMNS} FROM deliveries WHERE webhook_id = $w AND attempts > 0 ORDER BY id DESC LIMIT 1),
           attempts AS (${ATTEMPTS_OF('recent')})
           SELECT * FROM attempts ORDER BY started_at DESC, attempt DESC LIMIT 1`,
          { w: webhookId },
        );
      }
      return {
        lastAttempt: last === undefined ? undefined : toAttemptBrief(last),
        attempts: counts.attempts,
        succeeded: counts.succeeded ?? 0,
        failingSince: webhook.failing_since ?? undefined,
      };
    },

    deliveryStatistics(scope: StatisticsScope, since, bucketMs) {
      const [kind, value] =
        'webhookId' in scope ? (['webhookId', scope.webhookId] as const) : 'ownerClientId' in scope ? (['ownerClientId', scope.ownerClientId] as const) : (['everyone', null] as const);
      const params = { scope: value, first: firstId(since), since, bucket: bucketMs };
      const withRecent = `WITH ${recentOf(SCOPE_FILTER[kind])}`;
      const deliveries = db.all<{ bucket: number; status: string; attempted: number; count: number }>(
        `${withRecent} SELECT (created_at - CAST($since AS INTEGER)) / CAST($bucket AS INTEGER) AS bucket, status, attempts > 0 AS attempted, count(*) AS count
         FROM recent GROUP BY 1, 2, 3`,
        params,
      );
      const attempts = db.all<{ bucket: number; succeeded: number; duration: number; count: number }>(
        `${withRecent}, attempts AS (${ATTEMPTS_OF('recent')})
         SELECT (started_at - CAST($since AS INTEGER)) / CAST($bucket AS INTEGER) AS bucket, coalesce(status_code BETWEEN 200 AND 299, 0) AS succeeded,
                ${roundedDurationSql('duration_ms')} AS duration, count(*) AS count
         FROM attempts WHERE started_at >= $since GROUP BY 1, 2, 3`,
        params,
      );
      return {
        deliveries: deliveries.map((r) => ({ bucket: r.bucket, status: r.status as DeliveryStatus, attempted: r.attempted === 1, count: r.count })),
        attempts: attempts.map((r) => ({ bucket: r.bucket, succeeded: r.succeeded === 1, durationMs: r.duration, count: r.count })),
      };
    },
  };
}
