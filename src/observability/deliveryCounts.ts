import type { AttemptOutcome, DeactivationCause } from '../store/types.ts';
import { observeInto, type HistogramSeries } from './countedHistogram.ts';

/** Upper bounds (seconds) of the attempt-duration histogram's buckets. */
export const ATTEMPT_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * What the delivery engine counts, in plain numbers; the metrics registry reads a snapshot
 * of these at scrape (metrics.ts). Plain counting is what keeps thousands of attempts per
 * second cheap: prom-client hashes the labels at every call.
 */
export interface DeliveryCounts {
  /** One finished attempt and how long it took. */
  attempt(outcome: AttemptOutcome, seconds: number): void;
  /** A background loop failed; `consecutive` counts its failures in a row. */
  loopFailed(loop: string, consecutive: number): void;
  /** A loop that had failed ran again without error. */
  loopRecovered(loop: string): void;
  deactivated(cause: DeactivationCause): void;
  leasesReaped(n: number): void;
}

/** Totals since the engine started (plain data). */
export interface DeliveryCountsSnapshot {
  attempts: Partial<Record<AttemptOutcome, number>>;
  durations: Array<[AttemptOutcome, HistogramSeries]>;
  loopErrors: Record<string, number>;
  consecutiveErrors: Record<string, number>;
  deactivated: Partial<Record<DeactivationCause, number>>;
  leasesReaped: number;
}

export function createDeliveryCounts(): DeliveryCounts & { snapshot(): DeliveryCountsSnapshot } {
  const bounds = [...ATTEMPT_DURATION_BUCKETS].sort((a, b) => a - b);
  const attempts: Partial<Record<AttemptOutcome, number>> = {};
  const durations = new Map<AttemptOutcome, HistogramSeries>();
  const loopErrors: Record<string, number> = {};
  const consecutiveErrors: Record<string, number> = {};
  const deactivated: Partial<Record<DeactivationCause, number>> = {};
  let leasesReaped = 0;
  return {
    attempt(outcome, seconds) {
      attempts[outcome] = (attempts[outcome] ?? 0) + 1;
      observeInto(durations, bounds, outcome, seconds);
    },
    loopFailed(loop, consecutive) {
      loopErrors[loop] = (loopErrors[loop] ?? 0) + 1;
      consecutiveErrors[loop] = consecutive;
    },
    loopRecovered(loop) {
      consecutiveErrors[loop] = 0;
    },
    deactivated(cause) {
      deactivated[cause] = (deactivated[cause] ?? 0) + 1;
    },
    leasesReaped(n) {
      leasesReaped += n;
    },
    snapshot() {
      return {
        attempts: { ...attempts },
        durations: [...durations].map(([o, s]) => [o, { buckets: [...s.buckets], sum: s.sum, count: s.count }]),
        loopErrors: { ...loopErrors },
        consecutiveErrors: { ...consecutiveErrors },
        deactivated: { ...deactivated },
        leasesReaped,
      };
    },
  };
}
