import type { CallbackPolicy, DeliveryConfig } from '../../config/load.ts';
import { createSecretBox } from '../../crypto/secretBox.ts';
import { createDispatcher } from '../../delivery/dispatcher.ts';
import { createRemoteSender, type RemoteAttempt, type RemoteResult } from '../../delivery/remoteSender.ts';
import { createSender } from '../../delivery/sender.ts';
import { createSplitSender } from '../../delivery/splitSender.ts';
import { createDeliveryCounts } from '../../observability/deliveryCounts.ts';
import { createLogger } from '../../observability/logger.ts';
import type { ClaimedDelivery, ClaimRequest, DeliveryQueue, PublishedEvent } from '../types.ts';
import { asAsync, type SyncStore } from './store.ts';

/**
 * What the server hands the store thread so that the delivery worker runs there (plain
 * data: it crosses threads).
 */
export interface HostedDeliverySettings {
  delivery: DeliveryConfig;
  callbacks: CallbackPolicy;
  /** The encryption key, to open webhook secrets on this thread. */
  key: Uint8Array;
  userAgent: string;
  logLevel: string;
}

/** How the store thread reaches the main thread. */
export interface HostChannel {
  /** Attempts for the main thread's sender (see LOCAL_SHARE). */
  postAttempts(attempts: RemoteAttempt[]): void;
  /** The worker stops: the main thread aborts what it is still sending for it. */
  postClose(): void;
  /** One line of the worker's JSON log, for the server's logger. */
  postLog(line: string): void;
}

/** The calls the main thread makes on the hosted worker (threaded.ts names them `delivery.*`). */
export const CONTROL_METHODS = ['start', 'stop', 'wake', 'webhookState', 'counts'] as const;
export type ControlMethod = (typeof CONTROL_METHODS)[number];

export interface DeliveryHost {
  control(method: ControlMethod, args: unknown[]): unknown;
  /**
   * A publish from the API, leasing what it makes due in its own transaction (`commit` runs
   * it in the store thread's group commit). Resolves with what the API answers once the
   * publish is durable; its leased deliveries go out then.
   */
  publish(commit: (claim: ClaimRequest) => Promise<{ results: PublishedEvent[]; claimed: ClaimedDelivery[] }>): Promise<PublishedEvent[]>;
  /** Results of attempts the main thread made. */
  settle(results: RemoteResult[]): void;
}

/**
 * Share of DELIVERY_CONCURRENCY that this thread sends itself. Sending here costs no
 * message either way and no hop to another thread before a delivery leaves, so under a light
 * load everything goes out from here; the rest goes through the main thread's sender,
 * which is otherwise nearly idle (it only parses and answers API requests). With half, the
 * closed-loop benchmark delivered 6.5 – 9 % more than with the dispatcher on the main thread
 * in three alternating pairs, and more than with everything sent here (see BENCHMARKS.md).
 */
const LOCAL_SHARE = 0.5;

/**
 * The delivery worker of a server on the embedded store, run on the store's own thread:
 * claims and results are plain function calls into the store (no message, no copy of
 * each delivery to another thread and back), and the process's only writer is also its
 * only worker, as before. The dispatcher, the sender and the SSRF guard are the same code
 * as anywhere else; only where they run changes.
 */
export function hostDelivery(store: SyncStore, settings: HostedDeliverySettings, channel: HostChannel): DeliveryHost {
  const { delivery } = settings;
  const logger = createLogger(settings.logLevel, { write: (line: string) => channel.postLog(line) });
  const counts = createDeliveryCounts();
  const remote = createRemoteSender({ postAttempts: channel.postAttempts, postClose: channel.postClose });
  const local = createSender({
    delivery,
    callbacks: settings.callbacks,
    box: createSecretBox(Buffer.from(settings.key)),
    userAgent: settings.userAgent,
    now: Date.now,
    logger,
  });
  const sender = createSplitSender(local, remote, Math.max(1, Math.floor(delivery.concurrency * LOCAL_SHARE)));
  const dispatcher = createDispatcher({
    store: asAsync(store) as unknown as DeliveryQueue,
    sender,
    config: delivery,
    counts,
    logger,
    now: Date.now,
    // The only worker of this store: it may lease ahead (see the dispatcher).
    leaseAhead: delivery.maxInFlightPerWebhook,
  });

  return {
    control(method, args) {
      switch (method) {
        case 'start':
          return dispatcher.start();
        case 'stop':
          return dispatcher.stop(args[0] as number);
        case 'wake':
          return dispatcher.wake();
        case 'webhookState':
          return dispatcher.webhookState(args[0] as string, args[1] as boolean);
        case 'counts':
          return counts.snapshot();
      }
    },
    async publish(commit) {
      return (await dispatcher.claimAlong(commit)).results;
    },
    settle: (results) => remote.settle(results),
  };
}
