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

export function createPublisher(deps: { store: EventsRepo; now: () => number; metrics: Metrics; wake: () => void }): Publisher {
  const { store, now, metrics, wake } = deps;
  return {
    async publish(events) {
      const results = await store.publishEvents(events, now(), IDEMPOTENCY_WINDOW_MS);
      let fanned = 0;
      for (const r of results) {
        metrics.eventsPublished.inc({ result: r.duplicate ? 'duplicate' : 'accepted' });
        if (!r.duplicate) fanned += r.matchedWebhooks;
      }
      if (fanned > 0) {
        metrics.deliveriesCreated.inc(fanned);
        wake();
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
