import type { Metrics } from '../observability/metrics.ts';
import type { EventsRepo, NewEvent, PublishedEvent } from '../store/types.ts';

/** The contract's idempotency window for messageId (§4). */
export const IDEMPOTENCY_WINDOW_MS = 7 * 24 * 3600 * 1000;

/**
 * Stores validated events with their fan-out, then wakes the delivery workers. The store
 * commits the event and every delivery in one transaction before this resolves, so an
 * answered publish is durable.
 */
export interface Publisher {
  publish(events: NewEvent[]): Promise<PublishedEvent[]>;
  publishTest(event: NewEvent, webhookId: string): Promise<{ enqueuedAt: number; deliveryId: string }>;
}

/**
 * A publish whose deliveries this process's delivery worker leases in the publish's own
 * transaction and sends at once (the embedded store: see DeliveryWorker.publishAlong).
 */
export type PublishAlong = (events: NewEvent[], idempotencyWindowMs: number) => Promise<PublishedEvent[]>;

export function createPublisher(deps: {
  store: EventsRepo;
  now: () => number;
  metrics: Metrics;
  wake: () => void;
  /** Set when the publish can hand its deliveries to this process's worker itself: no wake-up, no second store call. */
  publishAlong?: PublishAlong;
}): Publisher {
  const { store, now, metrics, wake, publishAlong } = deps;
  return {
    async publish(events) {
      const results = publishAlong !== undefined ? await publishAlong(events, IDEMPOTENCY_WINDOW_MS) : await store.publishEvents(events, now(), IDEMPOTENCY_WINDOW_MS);
      let fanned = 0;
      let duplicates = 0;
      for (const r of results) {
        if (r.duplicate) duplicates++;
        else fanned += r.matchedWebhooks;
      }
      // Once per batch: prom-client hashes the labels at every call.
      if (duplicates < results.length) metrics.eventsPublished.inc({ result: 'accepted' }, results.length - duplicates);
      if (duplicates > 0) metrics.eventsPublished.inc({ result: 'duplicate' }, duplicates);
      if (fanned > 0) {
        metrics.deliveriesCreated.inc(fanned);
        if (publishAlong === undefined) wake();
      }
      return results;
    },
    async publishTest(event, webhookId) {
      const result = await store.publishTestEvent(event, webhookId, now());
      metrics.deliveriesCreated.inc();
      wake();
      return result;
    },
  };
}
