import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { AttemptOutcome, DeactivationCause, DeliveryQueue } from '../store/types.ts';
import { registerSeriesHistogram } from './countedHistogram.ts';
import { ATTEMPT_DURATION_BUCKETS, type DeliveryCountsSnapshot } from './deliveryCounts.ts';

export { ATTEMPT_DURATION_BUCKETS };

/** The Prometheus metrics of one process, in a registry of its own (no global state). */
export interface Metrics {
  registry: Registry;
  eventsPublished: Counter<'result'>;
  deliveriesCreated: Counter;
  /** These three, the attempts and their durations are read from the delivery engine's counts at scrape. */
  loopErrors: Counter<'loop'>;
  loopConsecutiveErrors: Gauge<'loop'>;
  deactivated: Counter<'cause'>;
  leasesReaped: Counter;
}

/** The delivery engine's counts (deliveryCounts.ts), read at scrape. Undefined where this process delivers nothing. */
export type DeliveryCountsSource = () => DeliveryCountsSnapshot | undefined;

/**
 * Moves a counter up to a total counted elsewhere. A counter only goes up, so what has been
 * applied is remembered per label value.
 */
function follower<L extends string>(counter: Counter<L>, labelName: L | undefined) {
  const applied = new Map<string, number>();
  return (value: string | undefined, total: number | undefined) => {
    const key = value ?? '';
    const delta = (total ?? 0) - (applied.get(key) ?? 0);
    if (delta <= 0) return;
    applied.set(key, total!);
    if (labelName === undefined || value === undefined) counter.inc(delta);
    else counter.inc({ [labelName]: value } as Partial<Record<L, string | number>>, delta);
  };
}

export function createMetrics(queue: Pick<DeliveryQueue, 'deliveryStats'>, now: () => number, delivery: DeliveryCountsSource = () => undefined): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'itwin_webhooks_' });

  // One snapshot serves every metric of a scrape.
  let counts: Promise<DeliveryCountsSnapshot | undefined> | undefined;
  const currentCounts = () => {
    counts ??= Promise.resolve()
      .then(delivery)
      .finally(() => setTimeout(() => (counts = undefined), 0));
    return counts;
  };

  const outcomes: AttemptOutcome[] = ['succeeded', 'retry', 'failed', 'gone'];
  const attempts: Counter<'outcome'> = new Counter({
    name: 'itwin_webhooks_delivery_attempts_total',
    help: 'Delivery attempts by outcome: succeeded, retry (failed, will be retried), failed (no retries left), gone (410, webhook deactivated).',
    labelNames: ['outcome'] as const,
    registers: [registry],
    async collect() {
      const c = await currentCounts();
      if (c !== undefined) for (const o of outcomes) followAttempts(o, c.attempts[o]);
    },
  });
  const followAttempts = follower(attempts, 'outcome');
  registerSeriesHistogram<AttemptOutcome>(
    registry,
    {
      name: 'itwin_webhooks_delivery_attempt_duration_seconds',
      help: 'Duration of delivery attempts, from connect to the end of the response body.',
      labelName: 'outcome',
      buckets: ATTEMPT_DURATION_BUCKETS,
    },
    async () => (await currentCounts())?.durations ?? [],
  );
  const eventsPublished = new Counter({
    name: 'itwin_webhooks_events_published_total',
    help: 'Published events: accepted (new) or duplicate (same messageId inside the idempotency window).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const deliveriesCreated = new Counter({ name: 'itwin_webhooks_deliveries_created_total', help: 'Deliveries created by fan-out.', registers: [registry] });
  const loopErrors: Counter<'loop'> = new Counter({
    name: 'itwin_webhooks_dispatcher_loop_errors_total',
    help: 'Errors of the dispatcher loops (claim, complete, heartbeat, reaper).',
    labelNames: ['loop'] as const,
    registers: [registry],
    async collect() {
      const c = await currentCounts();
      if (c !== undefined) for (const [loop, n] of Object.entries(c.loopErrors)) followLoopErrors(loop, n);
    },
  });
  const followLoopErrors = follower(loopErrors, 'loop');
  const loopConsecutiveErrors = new Gauge({
    name: 'itwin_webhooks_dispatcher_consecutive_errors',
    help: 'Consecutive failures of each dispatcher loop (0 when healthy).',
    labelNames: ['loop'] as const,
    registers: [registry],
    async collect() {
      const c = await currentCounts();
      if (c !== undefined) for (const [loop, n] of Object.entries(c.consecutiveErrors)) this.set({ loop }, n);
    },
  });
  const causes: DeactivationCause[] = ['gone', 'failing'];
  const deactivated: Counter<'cause'> = new Counter({
    name: 'itwin_webhooks_webhooks_deactivated_total',
    help: 'Webhooks deactivated by the delivery engine, by cause: gone (410) or failing (every attempt failed for too long).',
    labelNames: ['cause'] as const,
    registers: [registry],
    async collect() {
      const c = await currentCounts();
      if (c !== undefined) for (const cause of causes) followDeactivated(cause, c.deactivated[cause]);
    },
  });
  const followDeactivated = follower(deactivated, 'cause');
  for (const c of causes) deactivated.inc({ cause: c }, 0);
  const leasesReaped: Counter = new Counter({
    name: 'itwin_webhooks_leases_reaped_total',
    help: 'Deliveries taken back from workers presumed dead.',
    registers: [registry],
    async collect() {
      const c = await currentCounts();
      if (c !== undefined) followReaped(undefined, c.leasesReaped);
    },
  });
  const followReaped = follower(leasesReaped, undefined);

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

  return { registry, eventsPublished, deliveriesCreated, loopErrors, loopConsecutiveErrors, deactivated, leasesReaped };
}
