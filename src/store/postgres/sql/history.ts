import type { DeliveryStatus } from '../../types.ts';
import { SUMMARY_COLUMNS } from '../../rows.ts';
import type { Query } from '../db.ts';

/** Delivery history: each statement with its parameters. */

/** Whether the delivery `d` is leased right now (being sent; it reads pending). */
const SENDING = 'd.id = ANY (SELECT unnest(leased) FROM workers) AS sending';

/** One row more than the page, newest first ('pending' includes deliveries being sent). */
export const selectDeliveryPage = (
  webhookId: string,
  status: DeliveryStatus | undefined,
  limit: number,
  after: number | undefined,
  eventType: string | undefined,
): Query => ({
  text: `SELECT ${SUMMARY_COLUMNS}, ${SENDING} FROM deliveries d JOIN events e ON e.seq = d.event_seq
          WHERE d.webhook_id = $1 AND d.id < $2 AND ($3::text IS NULL OR d.status = $3)
            AND ($5::text IS NULL OR e.event_type = $5)
          ORDER BY d.id DESC LIMIT $4`,
  values: [webhookId, after ?? Number.MAX_SAFE_INTEGER, status ?? null, limit + 1, eventType ?? null],
});

export const selectDelivery = (webhookId: string, id: number): Query => ({
  text: `SELECT ${SUMMARY_COLUMNS}, ${SENDING}, e.itwin_id, e.content, e.enqueued_at, d.last_started_at, d.last_duration_ms, d.last_response_body
           FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = $1 AND d.webhook_id = $2`,
  values: [id, webhookId],
});

export const selectSummary = (webhookId: string, id: number): Query => ({
  text: `SELECT ${SUMMARY_COLUMNS}, ${SENDING} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = $1 AND d.webhook_id = $2`,
  values: [id, webhookId],
});

export const selectAttempts = (deliveryId: number): Query => ({
  text: 'SELECT attempt, started_at, duration_ms, status_code, error, response_body FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id',
  values: [deliveryId],
});

/** A delivery being sent right now is left to its result. */
export const makeDueNow = (webhookId: string, id: number, now: number): Query => ({
  text: `UPDATE deliveries SET status = 'pending', due_at = $3, updated_at = $3
          WHERE id = $1 AND webhook_id = $2 AND NOT (id = ANY (SELECT unnest(leased) FROM workers)) RETURNING id`,
  values: [id, webhookId, now],
});
