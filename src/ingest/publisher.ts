import type { Metrics } from '../observability/metrics.ts';
import type { ClaimedDelivery, ClaimingPublish, ClaimRequest, EventsRepo, NewEvent, PublishedEvent } from '../store/types.ts';

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

/** A delivery worker in this process that can take what a publish leases for it (see DeliveryDispatcher.claimAlong). */
export type ClaimAlong = <R extends { claimed: ClaimedDelivery[] }>(call: (claim: ClaimRequest) => Promise<R>) => Promise<R>;

export function createPublisher(deps: {
  store: EventsRepo & Partial<ClaimingPublish>;
  now: () => number;
  metrics: Metrics;
  wake: () => void;
  /** Set when this process delivers and its store can claim along a publish: the new deliveries go out without a wake-up and a second store call. */
  claimAlong?: ClaimAlong;
  /** The store hands a publish's deliveries to the delivery worker itself (the worker runs on the embedded store's thread): no wake-up. */
  storeHandsOver?: boolean;
}): Publisher {
  const { store, now, metrics, wake, claimAlong } = deps;
  const publishAndClaim = store.publishAndClaim?.bind(store);
  return {
    async publish(events) {
      const claimsAlong = claimAlong !== undefined && publishAndClaim !== undefined;
      const handedOver = claimsAlong || deps.storeHandsOver === true;
      const results = claimsAlong
        ? (await claimAlong((claim) => publishAndClaim(events, claim.now, IDEMPOTENCY_WINDOW_MS, claim))).results
        : await store.publishEvents(events, now(), IDEMPOTENCY_WINDOW_MS);
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
        if (!handedOver) wake();
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
