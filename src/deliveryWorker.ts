import type { Logger } from 'pino';
import type { Config } from './config/load.ts';
import type { SecretBox } from './crypto/secretBox.ts';
import type { LookupFn } from './delivery/connector.ts';
import { createDispatcher, type DeliveryDispatcher } from './delivery/dispatcher.ts';
import { createSender } from './delivery/sender.ts';
import type { PublishAlong } from './ingest/publisher.ts';
import { createDeliveryCounts, type DeliveryCountsSnapshot } from './observability/deliveryCounts.ts';
import type { Store, StoreCapabilities } from './store/types.ts';

/**
 * The delivery worker of one process, whatever the store: a dispatcher on this thread with
 * its sender, wired to what the store can do. The clock, the randomness of the retry jitter
 * and DNS are plain arguments here, so that a test that replaces them runs the very
 * topology a user runs.
 */
export interface DeliveryWorker {
  dispatcher: DeliveryDispatcher;
  /** What the worker has counted so far, for the metrics registry. */
  counts(): DeliveryCountsSnapshot;
  /** Set when the store leases a publish's deliveries in the publish itself (the embedded store). */
  publishAlong: PublishAlong | undefined;
  start(): Promise<void>;
  /** Stops claiming, lets in-flight attempts finish for up to `graceMs`, writes their results and releases the rest. */
  stop(graceMs: number): Promise<void>;
}

export interface DeliveryWorkerDeps {
  store: Store;
  capabilities: StoreCapabilities;
  box: SecretBox;
  userAgent: string;
  logger: Logger;
  now: () => number;
  random?: () => number;
  lookup?: LookupFn;
}

export function createDeliveryWorker(config: Config, deps: DeliveryWorkerDeps): DeliveryWorker {
  const { store, capabilities, box, userAgent, logger, now } = deps;
  const counts = createDeliveryCounts();
  const sender = createSender({ delivery: config.delivery, callbacks: config.callbacks, box, userAgent, now, lookup: deps.lookup, random: deps.random, logger });
  // The only worker of its store may lease ahead (see the dispatcher); workers sharing a
  // store (PostgreSQL) share each webhook's cap and lease only what they send.
  const leaseAhead = capabilities.soleDeliveryWorker ? config.delivery.maxInFlightPerWebhook : 0;
  const dispatcher = createDispatcher({ store, sender, config: config.delivery, counts, logger, now, leaseAhead });
  const claiming = capabilities.claimingPublish;
  let unsubscribe: (() => void) | undefined;
  return {
    dispatcher,
    counts: () => counts.snapshot(),
    publishAlong:
      claiming === undefined
        ? undefined
        : (events, windowMs) => dispatcher.claimAlong((claim) => claiming.publishAndClaim(events, claim.now, windowMs, claim)).then((r) => r.results),
    async start() {
      await dispatcher.start();
      // Other processes' publishes reach this worker through the store.
      unsubscribe = capabilities.dueNotifications?.subscribeDue(() => dispatcher.wake());
    },
    async stop(graceMs) {
      unsubscribe?.();
      await dispatcher.stop(graceMs);
    },
  };
}
