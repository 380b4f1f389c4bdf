import type { Logger } from 'pino';
import type { DeliveryConfig } from '../config/load.ts';
import type { DeliveryCounts } from '../observability/deliveryCounts.ts';
import type { DeliveryQueue } from '../store/types.ts';
import type { LeaseLedger } from './leaseLedger.ts';
import type { LoopHealth } from './loopHealth.ts';

/**
 * The delivery worker's timers: its heartbeat (its leases stay valid while it beats), and
 * the reaper, which repairs idle lanes, takes over the leases of workers that stopped
 * beating and returns the leases of claims whose answer was lost. `onWork` hears when
 * that made deliveries claimable.
 */
export function startMaintenance(deps: {
  store: DeliveryQueue;
  workerId: string;
  config: DeliveryConfig;
  counts: DeliveryCounts;
  log: Logger;
  leases: LeaseLedger;
  health: LoopHealth;
  now: () => number;
  onWork: () => void;
}): { stop(): void } {
  const { store, workerId, config, counts, log, leases, health, now, onWork } = deps;
  const timers: NodeJS.Timeout[] = [];
  const every = (loop: string, intervalMs: number, fn: () => Promise<void>) => {
    timers.push(
      setInterval(() => {
        fn().then(
          () => health.succeeded(loop),
          (err: unknown) => health.failed(loop, err),
        );
      }, intervalMs),
    );
  };
  every('heartbeat', config.heartbeatMs, () => store.heartbeat(workerId, now()));
  every('reaper', Math.max(config.heartbeatMs, Math.floor(config.leaseTtlMs / 2)), async () => {
    // Renew our own heartbeat first, so that a stall of this process never makes it
    // take its own leases for a dead worker's.
    await store.heartbeat(workerId, now());
    const repaired = await store.repairLanes(now());
    if (repaired > 0) log.warn({ repaired }, 'found idle lanes with pending deliveries');
    const reaped = await store.reapExpiredLeases(now(), config.leaseTtlMs);
    if (reaped > 0) {
      counts.leasesReaped(reaped);
      log.warn({ reaped }, 'took over deliveries of a worker that stopped heartbeating');
      onWork();
    }
    const returned = await leases.releaseOrphans();
    if (returned > 0) {
      log.warn({ returned }, 'returned leases whose claim answer was lost');
      onWork();
    }
  });
  return {
    stop() {
      for (const t of timers) clearInterval(t);
    },
  };
}
