import { attemptLog, deliveryRowId, toSummary, type AttemptRow, type LastAttemptColumns, type SummaryRow } from '../rows.ts';
import type { DeliveryHistoryRepo } from '../types.ts';
import type { PgDb } from './db.ts';
import * as sql from './sql/history.ts';
import type { LaneMarks } from './laneMarks.ts';

type Row = SummaryRow & { sending: boolean };

export function historyRepo(db: PgDb, lanes: LaneMarks): DeliveryHistoryRepo {
  const summary = (r: Row) => toSummary(r, r.sending);
  return {
    async listDeliveries(webhookId, status, limit, after, eventType) {
      const rows = await db.rows<Row>(sql.selectDeliveryPage(webhookId, status, limit, after, eventType));
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return { items: page.map(summary), nextCursor: more ? page[page.length - 1]!.id : undefined };
    },
    async getDelivery(webhookId, deliveryId) {
      const id = deliveryRowId(deliveryId);
      if (id === undefined) return undefined;
      const [r] = await db.rows<Row & LastAttemptColumns & { itwin_id: string | null; content: string; enqueued_at: number }>(sql.selectDelivery(webhookId, id));
      if (r === undefined) return undefined;
      const earlier = await db.rows<AttemptRow>(sql.selectAttempts(id));
      return { ...summary(r), itwinId: r.itwin_id ?? undefined, contentJson: r.content, enqueuedAt: r.enqueued_at, attemptLog: attemptLog(earlier, r) };
    },
    async redeliver(webhookId, deliveryId, now) {
      const id = deliveryRowId(deliveryId);
      if (id === undefined) return undefined;
      const { summary: s, due } = await db.tx(async (t) => {
        const due = (await t.count(sql.makeDueNow(webhookId, id, now))) > 0;
        const [r] = await t.rows<Row>(sql.selectSummary(webhookId, id));
        return { summary: r === undefined ? undefined : summary(r), due };
      });
      // After the commit: see laneMarks.ts.
      if (due) await lanes.markReady([webhookId], now);
      return s;
    },
  };
}
