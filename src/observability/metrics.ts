import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { AttemptOutcome, DeactivationCause, DeliveryQueue } from '../store/types.ts';
import { countedHistogram } from './countedHistogram.ts';

/** The Prometheus metrics of one process, in a registry of its own (no global state). */
export interface Metrics {
  registry: Registry;
  /** Counts one finished delivery attempt and its duration. */
  recordAttempt(outcome: AttemptOutcome, seconds: number): void;
  eventsPublished: Counter<'result'>;
  deliveriesCreated: Counter;
  loopErrors: Counter<'loop'>;
  loopConsecutiveErrors: Gauge<'loop'>;
  deactivated: Counter<'cause'>;
  leasesReaped: Counter;
}

/** Upper bounds (seconds) of the attempt-duration histogram's buckets. */
export const ATTEMPT_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(queue: Pick<DeliveryQueue, 'deliveryStats'>, now: () => number): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'itwin_webhooks_' });
  const outcomes: AttemptOutcome[] = ['succeeded', 'retry', 'failed', 'gone'];
  // Counted in plain numbers and handed to prom-client when scraped: it validates and
  // hashes the labels at every call, and attempts run by the thousand per second.
  const uncounted: Record<AttemptOutcome, number> = { succeeded: 0, retry: 0, failed: 0, gone: 0 };
  const attempts = new Counter({
    name: 'itwin_webhooks_delivery_attempts_total',
    help: 'Delivery attempts by outcome: succeeded, retry (failed, will be retried), failed (no retries left), gone (410, webhook deactivated).',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      for (const o of outcomes) {
        this.inc({ outcome: o }, uncounted[o]);
        uncounted[o] = 0;
      }
    },
  });
  const attemptDuration = countedHistogram<AttemptOutcome>(registry, {
    name: 'itwin_webhooks_delivery_attempt_duration_seconds',
    help: 'Duration of delivery attempts, from connect to the end of the response body.',
    labelName: 'outcome',
    buckets: ATTEMPT_DURATION_BUCKETS,
  });
  const eventsPublished = new Counter({
    name: 'itwin_webhooks_events_published_total',
    help: 'Published events: accepted (new) or duplicate (same messageId inside the idempotency window).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const deliveriesCreated = new Counter({ name: 'itwin_webhooks_deliveries_created_total', help: 'Deliveries created by fan-out.', registers: [registry] });
  const loopErrors = new Counter({
    name: 'itwin_webhooks_dispatcher_loop_errors_total',
    help: 'Errors of the dispatcher loops (claim, complete, heartbeat, reaper).',
    labelNames: ['loop'] as const,
    registers: [registry],
  });
  const loopConsecutiveErrors = new Gauge({
    name: 'itwin_webhooks_dispatcher_consecutive_errors',
    help: 'Consecutive failures of each dispatcher loop (0 when healthy).',
    labelNames: ['loop'] as const,
    registers: [registry],
  });
  const deactivated = new Counter({
    name: 'itwin_webhooks_webhooks_deactivated_total',
    help: 'Webhooks deactivated by the delivery engine, by cause: gone (410) or failing (every attempt failed for too long).',
    labelNames: ['cause'] as const,
    registers: [registry],
  });
  const causes: DeactivationCause[] = ['gone', 'failing'];
  for (const c of causes) deactivated.inc({ cause: c }, 0);
  const leasesReaped = new Counter({
    name: 'itwin_webhooks_leases_reaped_total',
    help: 'Deliveries taken back from workers presumed dead.',
    registers: [registry],
  });

  // Queue depth is read from the store at scrape time, so every process reports the same truth.
  let stats: Promise<{ pending: number; oldestDueAt: number | undefined }> | undefined;
  const currentStats = () => {
    stats ??= queue.deliveryStats().finally(() => setTimeout(() => (stats = undefined), 0));
    return stats;
  };
  new Gauge({
    name: 'itwin_webhooks_deliveries_pending',
    help: 'Deliveries not yet in a final state (waiting or being sent).',
    registers: [registry],
    async collect() {
      this.set((await currentStats()).pending);
    },
  });
  new Gauge({
    name: 'itwin_webhooks_oldest_due_delivery_age_seconds',
    help: 'How long the oldest due delivery has been waiting (0 when none is due).',
    registers: [registry],
    async collect() {
      const oldest = (await currentStats()).oldestDueAt;
      this.set(oldest === undefined ? 0 : Math.max(0, (now() - oldest) / 1000));
    },
  });

  const recordAttempt = (outcome: AttemptOutcome, seconds: number) => {
    uncounted[outcome]++;
    attemptDuration.observe(outcome, seconds);
  };
  return { registry, recordAttempt, eventsPublished, deliveriesCreated, loopErrors, loopConsecutiveErrors, deactivated, leasesReaped };
}
