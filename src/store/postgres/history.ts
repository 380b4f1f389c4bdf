import { deliveryRowId, toAttempt, toSummary, type AttemptRow, type SummaryRow } from '../rows.ts';
import type { DeliveryHistoryRepo } from '../types.ts';
import type { PgDb } from './db.ts';
import * as sql from './sql/history.ts';
import { markLanesReady } from './sql/events.ts';
import type { Wakeups } from './wakeups.ts';

/** An inflight row is being sent right now: it reads pending, with no next attempt time. */
const summary = (r: SummaryRow) => toSummary(r, r.status === 'inflight');

export function historyRepo(db: PgDb, wakeups: Wakeups): DeliveryHistoryRepo {
  return {
    async listDeliveries(webhookId, status, limit, after, eventType) {
      const rows = await db.rows<SummaryRow>(sql.selectDeliveryPage(webhookId, status, limit, after, eventType));
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return { items: page.map(summary), nextCursor: more ? page[page.length - 1]!.id : undefined };
    },
    async getDelivery(webhookId, deliveryId) {
      const id = deliveryRowId(deliveryId);
      if (id === undefined) return undefined;
      const [r] = await db.rows<SummaryRow & { itwin_id: string | null; content: string; enqueued_at: number }>(sql.selectDelivery(webhookId, id));
      if (r === undefined) return undefined;
      const attempts = await db.rows<AttemptRow>(sql.selectAttempts(id));
      return { ...summary(r), itwinId: r.itwin_id ?? undefined, contentJson: r.content, enqueuedAt: r.enqueued_at, attemptLog: attempts.map(toAttempt) };
    },
    async redeliver(webhookId, deliveryId, now) {
      const id = deliveryRowId(deliveryId);
      if (id === undefined) return undefined;
      return db.tx(async (t) => {
        if ((await t.count(sql.makeDueNow(webhookId, id, now))) > 0) {
          await t.rows(markLanesReady([webhookId], now));
          wakeups.notifyDue();
        }
        const [r] = await t.rows<SummaryRow>(sql.selectSummary(webhookId, id));
        return r === undefined ? undefined : summary(r);
      });
    },
  };
}
