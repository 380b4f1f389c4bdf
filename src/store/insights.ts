/**
 * Read-only questions the dashboard asks about deliveries: how a webhook is doing, and how
 * many deliveries and attempts there were per time bucket. They are answered from the
 * delivery rows themselves, so that the delivery path writes nothing more for them.
 *
 * Both read the deliveries created inside the window, found as a range of the primary key
 * (ids grow with creation time); attempts made inside the window on older deliveries
 * (late retries, redeliveries of old ones) are not counted. No index on attempt times
 * exists or is added for them: it would cost every delivery a write.
 */
import type { DeliveryStatus } from './types.ts';

/** One attempt, as the health of a webhook reports it. */
export interface AttemptBrief {
  deliveryId: string;
  attempt: number;
  startedAt: number;
  durationMs: number;
  statusCode: number | undefined;
  error: string | undefined;
}

/** An attempt row as both stores' queries select it. */
export interface AttemptBriefRow {
  delivery_id: number;
  attempt: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
}

export function toAttemptBrief(r: AttemptBriefRow): AttemptBrief {
  return {
    deliveryId: String(r.delivery_id),
    attempt: r.attempt,
    startedAt: r.started_at,
    durationMs: r.duration_ms,
    statusCode: r.status_code ?? undefined,
    error: r.error ?? undefined,
  };
}

export interface WebhookHealthRecord {
  /**
   * The latest attempt on the deliveries created since `since`; when there is none there,
   * the latest attempt of the webhook's newest attempted delivery.
   */
  lastAttempt: AttemptBrief | undefined;
  /** Attempts made since `since` on deliveries created since then, and how many got a 2xx. */
  attempts: number;
  succeeded: number;
  /** Since when every attempt has failed (undefined while the webhook is not failing). */
  failingSince: number | undefined;
}

/** Whose deliveries statistics count. */
export type StatisticsScope = { webhookId: string } | { ownerClientId: string } | { everyone: true };

/** Deliveries created in one bucket, by their state now. */
export interface DeliveryCountRow {
  /** Index of the bucket: (createdAt - since) / bucketMs, rounded down. */
  bucket: number;
  status: DeliveryStatus;
  /** At least one attempt was made (a pending delivery that was attempted is being retried). */
  attempted: boolean;
  count: number;
}

/** Attempts started in one bucket, by result and duration. */
export interface AttemptCountRow {
  bucket: number;
  /** The receiver answered 2xx. */
  succeeded: boolean;
  /** The duration rounded down to two significant digits (exact below 100 ms). */
  durationMs: number;
  count: number;
}

export interface DeliveryStatisticsRecord {
  deliveries: DeliveryCountRow[];
  attempts: AttemptCountRow[];
}

export interface DeliveryInsightsRepo {
  /** Health of one webhook over the deliveries created since `since` (undefined: no such webhook). */
  webhookHealth(webhookId: string, since: number): Promise<WebhookHealthRecord | undefined>;
  /** Deliveries created since `since`, and their attempts, counted per bucket of `bucketMs`. */
  deliveryStatistics(scope: StatisticsScope, since: number, bucketMs: number): Promise<DeliveryStatisticsRecord>;
}

/**
 * Ids grow with creation time, but not strictly (publishes of several processes
 * interleave, clocks differ a little): the search for the window's first id looks this
 * much earlier, and rows are then filtered on their creation time itself.
 */
export const ID_SEARCH_SLACK_MS = 60_000;

/** The SQL of a duration rounded down to two significant digits (`column` is an integer column). */
export function roundedDurationSql(column: string): string {
  return `CASE WHEN ${column} < 100 THEN ${column} WHEN ${column} < 1000 THEN ${column} / 10 * 10
    WHEN ${column} < 10000 THEN ${column} / 100 * 100 WHEN ${column} < 100000 THEN ${column} / 1000 * 1000
    ELSE ${column} / 10000 * 10000 END`;
}

/**
 * The SQL (SQLite and PostgreSQL alike) of the first delivery id whose row was created at
 * or after the parameter `from` (approximately: see ID_SEARCH_SLACK_MS), found by a binary
 * search over the primary key in one statement: about 2 log2(n) index probes. `param` is
 * how the dialect writes the parameter.
 */
export function firstIdCreatedFromSql(param: string): string {
  const probe = (column: string) => `(SELECT ${column} FROM deliveries WHERE id >= (lo + hi) / 2 ORDER BY id LIMIT 1)`;
  const goLeft = `coalesce(${probe('created_at')}, ${param}) >= ${param}`;
  return `WITH RECURSIVE search (lo, hi) AS (
      SELECT coalesce((SELECT min(id) FROM deliveries), 0), coalesce((SELECT max(id) FROM deliveries), 0) + 1
      UNION ALL
      SELECT CASE WHEN ${goLeft} THEN lo ELSE ${probe('id')} + 1 END,
             CASE WHEN ${goLeft} THEN (lo + hi) / 2 ELSE hi END
      FROM search WHERE lo < hi)
    SELECT max(lo) AS first FROM search`;
}
