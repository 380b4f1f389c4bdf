import { Counter, Gauge, type Registry } from 'prom-client';

/** What the retention loop has done since the process started (plain numbers, read at scrape). */
export interface RetentionCountsSnapshot {
  removed: { deliveries: number; attempts: number; events: number; messageIds: number };
  errors: number;
  consecutiveErrors: number;
  /** When the last round that reached the end of the history finished (Unix ms; 0: none yet). */
  lastRoundAt: number;
}

/** The retention loop's metrics, read from its counts at scrape (undefined: this process does not prune). */
export function registerRetentionMetrics(registry: Registry, counts: () => RetentionCountsSnapshot | undefined): void {
  const applied = new Map<string, number>();
  new Counter({
    name: 'itwin_webhooks_retention_removed_total',
    help: 'History removed by retention (RETENTION): deliveries, their attempts, events, and remembered messageIds whose idempotency window ended.',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      const c = counts();
      if (c === undefined) return;
      for (const [kind, total] of Object.entries(c.removed)) {
        const delta = total - (applied.get(kind) ?? 0);
        if (delta <= 0) continue;
        applied.set(kind, total);
        this.inc({ kind }, delta);
      }
    },
  });
  let appliedErrors = 0;
  new Counter({
    name: 'itwin_webhooks_retention_errors_total',
    help: 'Retention batches that failed (the loop backs off and tries again).',
    registers: [registry],
    collect() {
      const c = counts();
      if (c === undefined || c.errors <= appliedErrors) return;
      this.inc(c.errors - appliedErrors);
      appliedErrors = c.errors;
    },
  });
  new Gauge({
    name: 'itwin_webhooks_retention_consecutive_errors',
    help: 'Consecutive failures of the retention loop (0 when healthy).',
    registers: [registry],
    collect() {
      const c = counts();
      if (c !== undefined) this.set(c.consecutiveErrors);
    },
  });
  new Gauge({
    name: 'itwin_webhooks_retention_last_round_timestamp_seconds',
    help: 'When retention last went through the whole history (Unix seconds; 0 before the first round).',
    registers: [registry],
    collect() {
      const c = counts();
      if (c !== undefined) this.set(c.lastRoundAt / 1000);
    },
  });
}
