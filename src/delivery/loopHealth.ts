import type { Logger } from 'pino';
import type { DeliveryCounts } from '../observability/deliveryCounts.ts';

/** Failures of the delivery worker's background loops: counted, logged, and turned into a back-off. */
export interface LoopHealth {
  /** Records a failure of `loop`; returns how long that loop waits before it tries again. */
  failed(loop: string, err: unknown): number;
  /** `loop` ran without error (logged once after failures). */
  succeeded(loop: string): void;
}

const MAX_BACKOFF_MS = 30_000;

export function createLoopHealth(counts: DeliveryCounts, log: Logger): LoopHealth {
  const failures = new Map<string, number>();
  return {
    failed(loop, err) {
      const n = (failures.get(loop) ?? 0) + 1;
      failures.set(loop, n);
      counts.loopFailed(loop, n);
      log.error({ err, loop, consecutive: n }, 'dispatcher loop failed; backing off');
      return Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(n, 10));
    },
    succeeded(loop) {
      if ((failures.get(loop) ?? 0) !== 0) {
        failures.set(loop, 0);
        counts.loopRecovered(loop);
        log.info({ loop }, 'dispatcher loop recovered');
      }
    },
  };
}
