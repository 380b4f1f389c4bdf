import type { NewEvent } from '../../types.ts';
import type { Query } from '../db.ts';

/** Publishing: each statement with its parameters. */

/**
 * publish_events for a merged batch. It repeats the touched webhooks on every row; parsing
 * that array once per event cost the API process a tenth of its time, so only the first
 * row carries it, as JSON: the driver's parser for a text[] of a fan-out's 10,000 ids took
 * 13 - 19 ms between the commit and the first lane mark, JSON.parse about one.
 */
export const publishEvents = (events: NewEvent[], now: number, windowMs: number): Query => ({
  name: 'publish_events',
  text: `SELECT p.message_id, p.event_type, p.enqueued_at, p.matched, p.duplicate,
                CASE WHEN row_number() OVER () = 1 THEN to_json(p.touched) END AS touched
           FROM publish_events($1::jsonb, $2, $3) p`,
  values: [
    JSON.stringify(events.map((e) => ({ m: e.messageId, t: e.eventType, i: e.itwinId ?? null, a: e.accountId ?? null, c: e.contentJson, p: e.publisherClientId ?? null }))),
    now,
    windowMs,
  ],
});

export interface PublishRow {
  message_id: string;
  event_type: string;
  enqueued_at: number;
  matched: number;
  duplicate: boolean;
  touched: string[] | null;
}

/** A test event has no idempotency key: its messageId is made up for it, and never published. */
export const insertTestEvent = (e: NewEvent, now: number): Query => ({
  text: `INSERT INTO events (message_id, event_type, itwin_id, account_id, content, enqueued_at, publisher_client_id, matched)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1) RETURNING seq`,
  values: [e.messageId, e.eventType, e.itwinId ?? null, e.accountId ?? null, e.contentJson, now, e.publisherClientId ?? null],
});

export const insertDelivery = (webhookId: string, eventSeq: number, now: number): Query => ({
  text: `INSERT INTO deliveries (webhook_id, event_seq, status, attempts, due_at, created_at, updated_at) VALUES ($1, $2, 'pending', 0, $3, $3, $3) RETURNING id`,
  values: [webhookId, eventSeq, now],
});

/** The channel on which the workers LISTEN for due work (wakeups.ts). */
export const DUE_CHANNEL = 'itwin_webhooks_due';

/**
 * See mark_lanes_ready: a lane becomes ready at `at` unless it is ready earlier. The same
 * statement wakes the workers: its NOTIFY goes out at its commit, once the lanes are awake,
 * without a round trip of its own on the way from a publish to its delivery.
 */
export const markLanesReady = (webhookIds: string[], at: number): Query => ({
  name: 'mark_lanes_ready',
  text: `SELECT mark_lanes_ready($1::text[], $2), pg_notify('${DUE_CHANNEL}', '')`,
  values: [webhookIds, at],
});

/** Wakes the workers (wakeups.ts). */
export const notifyDue = (): Query => ({ name: 'notify_due', text: `SELECT pg_notify('${DUE_CHANNEL}', '')` });
