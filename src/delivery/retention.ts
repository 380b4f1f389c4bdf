import type { Logger } from 'pino';
import type { RetentionCountsSnapshot } from '../observability/retentionMetrics.ts';
import type { RetentionRepo } from '../store/retention.ts';

export interface RetentionDeps {
  store: RetentionRepo;
  retentionMs: number;
  idempotencyWindowMs: number;
  now: () => number;
  logger: Logger;
  /** Between rounds (a round goes through the history once): well under a minute. */
  intervalMs?: number;
  /** Rows of each kind one batch looks at. */
  batch?: number;
  /** Between the batches of a round, so that publishes and deliveries go first. */
  pauseMs?: number;
}

export interface RetentionLoop {
  start(): void;
  /** Stops between two batches; resolves once the one under way (if any) has ended. */
  stop(): Promise<void>;
  /** One round now, to its end (tests, and the loop itself). */
  round(): Promise<void>;
  counts(): RetentionCountsSnapshot;
}

const MAX_BACKOFF_MS = 5 * 60_000;

/**
 * Retention's maintenance loop (contract §6): every `intervalMs` it goes through the
 * store's history in batches (RetentionRepo.pruneHistory), pausing between them, so that
 * expired history goes within a minute and no batch holds anything up for long. It never
 * throws: a failed batch is logged and counted, and the loop backs off and tries again.
 */
export function createRetention(deps: RetentionDeps): RetentionLoop {
  const intervalMs = deps.intervalMs ?? 10_000;
  const batch = deps.batch ?? 500;
  const pauseMs = deps.pauseMs ?? 20;
  const log = deps.logger.child({ component: 'retention' });
  const counts: RetentionCountsSnapshot = { removed: { deliveries: 0, attempts: 0, events: 0, messageIds: 0 }, errors: 0, consecutiveErrors: 0, lastRoundAt: 0 };
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let stopped = false;
  let current: Promise<void> | undefined;

  const round = async () => {
    for (;;) {
      const now = deps.now();
      const r = await deps.store.pruneHistory({ before: now - deps.retentionMs, now, idempotencyWindowMs: deps.idempotencyWindowMs, limit: batch });
      counts.removed.deliveries += r.deliveries;
      counts.removed.attempts += r.attempts;
      counts.removed.events += r.events;
      counts.removed.messageIds += r.messageIds;
      if (!r.more) break;
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      if (stopped) return;
    }
    counts.lastRoundAt = deps.now();
  };

  const schedule = (delayMs: number) => {
    if (!running) return;
    timer = setTimeout(() => {
      timer = undefined;
      current = round().then(
        () => {
          if (counts.consecutiveErrors > 0) log.info({ after: counts.consecutiveErrors }, 'retention works again');
          counts.consecutiveErrors = 0;
          schedule(intervalMs);
        },
        (err: unknown) => {
          counts.errors++;
          counts.consecutiveErrors++;
          const backoff = Math.min(MAX_BACKOFF_MS, intervalMs * 2 ** Math.min(10, counts.consecutiveErrors - 1));
          log.error({ err, consecutive: counts.consecutiveErrors, retryInMs: backoff }, 'retention batch failed');
          schedule(backoff);
        },
      );
      void current.finally(() => (current = undefined));
    }, delayMs);
  };

  return {
    start() {
      if (running) return;
      running = true;
      // The first round soon after start: a server that was down may have much to catch up on.
      schedule(Math.min(intervalMs, 1000));
    },
    async stop() {
      running = false;
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await current?.catch(() => {});
    },
    round,
    counts: () => structuredClone(counts),
  };
}
