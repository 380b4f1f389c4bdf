import type { EventsRepo } from '../types.ts';
import type { PgDb } from './db.ts';
import type { LaneMarks } from './laneMarks.ts';
import { publishBatcher, type CommittedEvent } from './publishBatcher.ts';
import * as sql from './sql/events.ts';
import type { StatisticsKeeper } from './statistics.ts';

/** Publish transactions running at once per process; requests beyond wait and merge. */
const PARALLEL_PUBLISHES = 4;
/** Largest merged publish (events), so that one transaction stays short. */
const MERGED_EVENTS_MAX = 5000;

export function eventsRepo(db: PgDb, lanes: LaneMarks, statistics: Pick<StatisticsKeeper, 'inserted'>): EventsRepo {
  const publish = publishBatcher({
    parallel: PARALLEL_PUBLISHES,
    maxEvents: MERGED_EVENTS_MAX,
    async commit(events, now, windowMs) {
      const rows = await db.rows<sql.PublishRow>(sql.publishEvents(events, now, windowMs));
      // Before the workers are woken: their claims plan on these statistics.
      await statistics.inserted('deliveries', rows.reduce((n, r) => n + (r.duplicate ? 0 : r.matched), 0));
      // After the commit: see laneMarks.ts.
      await lanes.markReady(rows[0]?.touched ?? [], now);
      return new Map(
        rows.map((r): [string, CommittedEvent] => [r.message_id, { eventType: r.event_type, enqueuedAt: r.enqueued_at, matchedWebhooks: r.matched, duplicate: r.duplicate }]),
      );
    },
  });

  return {
    publishEvents: publish,
    async publishTestEvent(event, webhookId, now) {
      const id = await db.tx(async (t) => {
        const [{ seq }] = (await t.rows<{ seq: number }>(sql.insertTestEvent(event, now))) as [{ seq: number }];
        return ((await t.rows<{ id: number }>(sql.insertDelivery(webhookId, seq, now))) as [{ id: number }])[0].id;
      });
      await lanes.markReady([webhookId], now);
      return { enqueuedAt: now, deliveryId: String(id) };
    },
  };
}
