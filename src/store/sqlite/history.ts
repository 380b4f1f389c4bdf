import { attemptLog, deliveryRowId, SUMMARY_COLUMNS, toSummary, type AttemptRow, type LastAttemptColumns, type SummaryRow } from '../rows.ts';
import type { DeliveryHistoryRepo, Sync } from '../types.ts';
import type { SqliteDb } from './db.ts';
import { markLaneReady } from './lanes.ts';
import type { LeaseTable } from './leases.ts';

export function historyRepo(db: SqliteDb, leases: LeaseTable): Sync<DeliveryHistoryRepo> {
  const getSummary = (webhookId: string, id: number) =>
    db.get<SummaryRow>(`SELECT ${SUMMARY_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = $id AND d.webhook_id = $w`, {
      id,
      w: webhookId,
    });

  return {
    listDeliveries(webhookId, status, limit, after, eventType) {
      // 'pending' includes deliveries being sent right now (leased; their rows read pending).
      const rows = db.all<SummaryRow>(
        `SELECT ${SUMMARY_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq
         WHERE d.webhook_id = $w AND d.id < $after AND ($status IS NULL OR d.status = $status)
           AND ($type IS NULL OR e.event_type = $type)
         ORDER BY d.id DESC LIMIT CAST($limit AS INTEGER)`,
        { w: webhookId, after: after ?? Number.MAX_SAFE_INTEGER, status: status ?? null, type: eventType ?? null, limit: limit + 1 },
      );
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return { items: page.map((r) => toSummary(r, leases.get(r.id) !== undefined)), nextCursor: more ? page[page.length - 1]!.id : undefined };
    },

    getDelivery(webhookId, deliveryId) {
      const id = deliveryRowId(deliveryId);
      if (id === undefined) return undefined;
      const row = db.get<SummaryRow & { itwin_id: string | null; content: string; enqueued_at: number } & LastAttemptColumns>(
        `SELECT ${SUMMARY_COLUMNS}, e.itwin_id, e.content, e.enqueued_at, d.last_started_at, d.last_duration_ms, d.last_response_body
         FROM deliveries d JOIN events e ON e.seq = d.event_seq
         WHERE d.id = $id AND d.webhook_id = $w`,
        { id, w: webhookId },
      );
      if (row === undefined) return undefined;
      const earlier = db.all<AttemptRow>(
        'SELECT attempt, started_at, duration_ms, status_code, error, response_body FROM delivery_attempts WHERE delivery_id = $id ORDER BY id',
        { id },
      );
      return {
        ...toSummary(row, leases.get(row.id) !== undefined),
        itwinId: row.itwin_id ?? undefined,
        contentJson: row.content,
        enqueuedAt: row.enqueued_at,
        // The latest attempt is on the delivery row (see migration 3).
        attemptLog: attemptLog(earlier, row),
      };
    },

    redeliver(webhookId, deliveryId, now) {
      const id = deliveryRowId(deliveryId);
      if (id === undefined) return undefined;
      return db.tx(() => {
        const row = getSummary(webhookId, id);
        if (row === undefined) return undefined;
        // One being sent right now is left to its result.
        const sending = leases.get(id) !== undefined;
        if (!sending) {
          db.run(`UPDATE deliveries SET status = 'pending', due_at = $now, updated_at = $now WHERE id = $id`, { id, now });
          markLaneReady(db, webhookId, now);
        }
        return toSummary(getSummary(webhookId, id)!, sending);
      });
    },
  };
}
