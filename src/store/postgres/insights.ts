import { toAttemptBrief, type AttemptBriefRow, type DeliveryInsightsRepo } from '../insights.ts';
import type { DeliveryStatus } from '../types.ts';
import type { PgDb } from './db.ts';
import * as sql from './sql/insights.ts';

/** Webhook health and delivery statistics on PostgreSQL (see ../insights.ts). */
export function insightsRepo(db: PgDb): DeliveryInsightsRepo {
  const firstId = async (since: number) => Number((await db.rows<{ first: string | number }>(sql.selectFirstIdCreatedFrom(since)))[0]!.first);

  return {
    async webhookHealth(webhookId, since) {
      const [webhook] = await db.rows<{ failing_since: number | null }>(sql.selectFailingSince(webhookId));
      if (webhook === undefined) return undefined;
      const first = await firstId(since);
      const [counts] = await db.rows<{ attempts: number; succeeded: number }>(sql.selectAttemptCounts(webhookId, first, since));
      // Nothing new in the window: the newest delivery that was attempted tells the last word.
      const [last] = [
        ...(await db.rows<AttemptBriefRow>(sql.selectLastAttempt(webhookId, first, since))),
        ...(await db.rows<AttemptBriefRow>(sql.selectNewestAttempt(webhookId))),
      ];
      return {
        lastAttempt: last === undefined ? undefined : toAttemptBrief(last),
        attempts: counts!.attempts,
        succeeded: counts!.succeeded,
        failingSince: webhook.failing_since ?? undefined,
      };
    },

    async deliveryStatistics(scope, since, bucketMs) {
      const first = await firstId(since);
      const deliveries = await db.rows<{ bucket: number; status: string; attempted: boolean; count: number }>(sql.selectDeliveryCounts(scope, first, since, bucketMs));
      const attempts = await db.rows<{ bucket: number; succeeded: boolean; duration: number; count: number }>(sql.selectAttemptHistogram(scope, first, since, bucketMs));
      return {
        deliveries: deliveries.map((r) => ({ bucket: r.bucket, status: r.status as DeliveryStatus, attempted: r.attempted, count: r.count })),
        attempts: attempts.map((r) => ({ bucket: r.bucket, succeeded: r.succeeded, durationMs: r.duration, count: r.count })),
      };
    },
  };
}
