import type { EventsRepo, Sync, NewEvent, PublishedEvent } from '../types.ts';
import type { SqliteDb } from './db.ts';
import { markLaneReady } from './lanes.ts';
import type { RecentMessageIds } from './recentMessageIds.ts';

const MATCH_ITWIN = `
  SELECT s.webhook_id FROM webhook_subscriptions s JOIN webhooks w ON w.id = s.webhook_id
  WHERE s.event_type = $type AND s.scope = 'iTwin' AND s.scope_id = $scopeId AND w.active = 1`;
const MATCH_ACCOUNT = `
  SELECT s.webhook_id FROM webhook_subscriptions s JOIN webhooks w ON w.id = s.webhook_id
  WHERE s.event_type = $type AND s.scope = 'Account' AND s.scope_id = $scopeId AND w.active = 1`;

/** `messageIds` is the idempotency index (recentMessageIds.ts): every event inserted here is recorded in it. */
export function eventsRepo(db: SqliteDb, messageIds: RecentMessageIds): Sync<EventsRepo> {
  const insertEvent = (e: NewEvent, now: number, matched: number): number => {
    const seq = db.run(
      `INSERT INTO events (message_id, event_type, itwin_id, account_id, content, enqueued_at, publisher_client_id, matched)
       VALUES ($m, $t, $i, $a, $c, $at, $p, $n)`,
      { m: e.messageId, t: e.eventType, i: e.itwinId ?? null, a: e.accountId ?? null, c: e.contentJson, at: now, p: e.publisherClientId ?? null, n: matched },
    ).lastInsertRowid;
    messageIds.add(e.messageId, seq);
    return seq;
  };

  const insertDelivery = (webhookId: string, eventSeq: number, now: number): number =>
    db.run(
      `INSERT INTO deliveries (webhook_id, event_seq, status, attempts, due_at, created_at, updated_at)
       VALUES ($w, $e, 'pending', 0, $now, $now, $now)`,
      { w: webhookId, e: eventSeq, now },
    ).lastInsertRowid;

  return {
    publishEvents(events, now, windowMs) {
      return db.tx(() => {
        const touched = new Set<string>();
        const results: PublishedEvent[] = [];
        // Events of a batch mostly share their type and scope: match each combination once.
        const matches = new Map<string, string[]>();
        const match = (sql: string, type: string, scopeId: string) => {
          const key = `${sql === MATCH_ITWIN ? 'i' : 'a'}|${type}|${scopeId}`;
          let ids = matches.get(key);
          if (ids === undefined) {
            ids = db.all<{ webhook_id: string }>(sql, { type, scopeId }).map((r) => r.webhook_id);
            matches.set(key, ids);
          }
          return ids;
        };
        for (const e of events) {
          const prior = messageIds.find(e.messageId, now - windowMs);
          if (prior !== undefined) {
            results.push({ messageId: e.messageId, eventType: prior.eventType, enqueuedAt: prior.enqueuedAt, matchedWebhooks: prior.matched, duplicate: true });
            continue;
          }
          const webhookIds = new Set<string>();
          if (e.itwinId !== undefined) for (const id of match(MATCH_ITWIN, e.eventType, e.itwinId)) webhookIds.add(id);
          if (e.accountId !== undefined) for (const id of match(MATCH_ACCOUNT, e.eventType, e.accountId)) webhookIds.add(id);
          const seq = insertEvent(e, now, webhookIds.size);
          for (const webhookId of webhookIds) {
            insertDelivery(webhookId, seq, now);
            touched.add(webhookId);
          }
          results.push({ messageId: e.messageId, eventType: e.eventType, enqueuedAt: now, matchedWebhooks: webhookIds.size, duplicate: false });
        }
        for (const webhookId of touched) markLaneReady(db, webhookId, now);
        return results;
      });
    },

    publishTestEvent(event, webhookId, now) {
      return db.tx(() => {
        const seq = insertEvent(event, now, 1);
        const deliveryId = insertDelivery(webhookId, seq, now);
        markLaneReady(db, webhookId, now);
        return { enqueuedAt: now, deliveryId: String(deliveryId) };
      });
    },
  };
}
