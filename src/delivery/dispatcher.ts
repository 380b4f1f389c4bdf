import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { DeliveryConfig } from '../config/load.ts';
import type { DeliveryCounts } from '../observability/deliveryCounts.ts';
import type { AttemptResult, ClaimedDelivery, ClaimRequest, DeliveryQueue } from '../store/types.ts';
import { createLeaseLedger } from './leaseLedger.ts';
import type { Sender } from './sender.ts';
import { atEndOfTurn } from '../runtime/endOfTurn.ts';

/**
 * The delivery worker of one process: claims due deliveries in batches under a lease,
 * sends them (at most `concurrency` leased at once), writes results back in batches,
 * renews its lease with a heartbeat and takes over the leases of workers that died.
 *
 * Fairness and the per-webhook cap across workers are the store's job (lanes). With
 * `leaseAhead` > 0 (a single delivery process, e.g. the embedded store) a worker may
 * lease that many more deliveries per webhook than it sends at once: when one finishes,
 * the next goes out at once instead of after a store round trip. It may also send while
 * earlier results wait for their commit (see UNRECORDED_FACTOR). The number being sent
 * to one webhook still never exceeds maxInFlightPerWebhook, nor the process's
 * requests in flight `concurrency`.
 *
 * Every loop survives its errors: it logs, counts, backs off and tries again.
 */
export interface DeliveryDispatcher extends DeliveryControl {
  readonly workerId: string;
  /** Deliveries being sent right now by this process. */
  inFlight(): number;
  /**
   * Runs a store call that leases due deliveries for this worker along with its own work
   * (a publish that claims what it made due), with as much room as the worker has, and
   * sends what it leased at once.
   */
  claimAlong<R extends { claimed: ClaimedDelivery[] }>(call: (claim: ClaimRequest) => Promise<R>): Promise<R>;
}

/** What the rest of a process asks of its delivery worker, wherever it runs (this thread or the embedded store's). */
export interface DeliveryControl {
  start(): Promise<void>;
  /** Something became due (a publish, a redelivery): claim now rather than at the next poll. */
  wake(): void;
  /** Stops claiming, lets in-flight attempts finish for up to `graceMs`, writes their results and releases the rest. */
  stop(graceMs: number): Promise<void>;
  /** The API changed a webhook's state: leased deliveries of an inactive one are not sent. */
  webhookState(webhookId: string, active: boolean): void;
}

export interface DispatcherDeps {
  store: DeliveryQueue;
  sender: Sender;
  config: DeliveryConfig;
  counts: DeliveryCounts;
  logger: Logger;
  now: () => number;
  workerId?: string;
  /** Deliveries a worker may lease per webhook beyond those it is sending (0: none). */
  leaseAhead?: number;
}

/**
 * With lease-ahead, a worker may hold up to this many times `concurrency` deliveries that
 * were sent but whose result is not committed yet, while never more than `concurrency`
 * requests are in flight. A result waits a few milliseconds for its commit (longer behind
 * a large publish); when that wait held the request's slot, a third to half of the slots
 * sat idle under load. It is also the bound on what a crash can make a worker send twice.
 * Workers sharing a store (no lease-ahead) keep counting a result against `concurrency`
 * until it is written: the store's lanes, which cap each webhook across workers, cannot
 * tell a delivery being sent from one being recorded.
 */
export const UNRECORDED_FACTOR = 2;
const FLUSH_BATCH = 128;
/**
 * Result writes in flight at once. One would cap throughput at one batch per store round
 * trip; more than two split results into more, smaller transactions that contend for the
 * same lane rows on PostgreSQL (4 instead of 2: 9 – 48 % fewer deliveries per second with
 * one and two PostgreSQL workers in `bench:steady`, no better on SQLite).
 */
const MAX_FLUSHES = 2;
const MAX_BACKOFF_MS = 30_000;
/** The shortest wait before the pump looks again on its own. */
const MIN_REPUMP_MS = 1;

export function createDispatcher(deps: DispatcherDeps): DeliveryDispatcher {
  const { store, sender, config, counts, now } = deps;
  const workerId = deps.workerId ?? `worker-${randomUUID()}`;
  const log = deps.logger.child({ component: 'dispatcher', workerId });

  let running = false;
  let inFlight = 0;
  let pumping = false;
  let pumpAgain = false;
  let pumpTimer: NodeJS.Timeout | undefined;
  const flushes = new Set<Promise<void>>();
  let flushScheduled = false;
  let results: AttemptResult[] = [];
  let flushingCount = 0;
  /** Deliveries this worker holds a lease on: being sent, or sent with the result not yet written. */
  const leased = () => inFlight + waiting + results.length + flushingCount + reserved;
  /** Room promised to claims made along other store calls (claimAlong) until they answer. */
  let reserved = 0;
  /** Sent but not yet recorded: in flight, or finished with the result not written yet. */
  const unrecorded = () => inFlight + results.length + flushingCount;
  const leaseAhead = deps.leaseAhead ?? 0;
  /** Most unrecorded deliveries at once; bounds what a crash can make this worker send twice. */
  const unrecordedCap = leaseAhead > 0 ? config.concurrency * UNRECORDED_FACTOR : config.concurrency;
  /** A new send waits while the process has `concurrency` requests in flight or too many results unwritten. */
  const full = () => inFlight >= config.concurrency || unrecorded() >= unrecordedCap;
  /** Leases per webhook: its sends and unwritten results plus, with lease-ahead, as many waiting. */
  const laneCap = leaseAhead > 0 ? config.maxInFlightPerWebhook * UNRECORDED_FACTOR + leaseAhead : config.maxInFlightPerWebhook;
  /** Leases this worker may hold: the unrecorded ones plus, with lease-ahead, as many waiting as it sends at once. */
  const leaseBudget = leaseAhead > 0 ? unrecordedCap + config.concurrency : config.concurrency;
  /** Per webhook: deliveries being sent, and leased ones waiting for a free slot. */
  const lanes = new Map<string, { sending: number; queue: ClaimedDelivery[] }>();
  let waiting = 0;
  /** Lanes with leased deliveries held back by the process-wide cap, in arrival order. */
  const blocked = new Set<string>();
  /** Webhooks the API deactivated or deleted while this worker held leases for them. */
  const inactive = new Set<string>();
  let toRelease: string[] = [];
  /** Only claims that were under way when a webhook went inactive can still bring its deliveries: forget it after a while. */
  const markInactive = (webhookId: string) => {
    inactive.add(webhookId);
    setTimeout(() => inactive.delete(webhookId), 60_000).unref();
  };
  const timers: NodeJS.Timeout[] = [];
  const failures = new Map<string, number>();

  /** What this worker holds, and what a lost answer may have leased to it unknowingly. */
  const leases = createLeaseLedger({ store, workerId, now });
  let drained: (() => void) | undefined;

  /** Records a loop failure; returns the back-off before that loop tries again. */
  const failed = (loop: string, err: unknown): number => {
    const n = (failures.get(loop) ?? 0) + 1;
    failures.set(loop, n);
    counts.loopFailed(loop, n);
    log.error({ err, loop, consecutive: n }, 'dispatcher loop failed; backing off');
    return Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(n, 10));
  };
  const succeeded = (loop: string) => {
    if ((failures.get(loop) ?? 0) !== 0) {
      failures.set(loop, 0);
      counts.loopRecovered(loop);
      log.info({ loop }, 'dispatcher loop recovered');
    }
  };

  let pumpSoon = false;
  /**
   * `immediately`: something became due (a wake-up), so claim in this turn of the event loop rather
   * than after a timer's millisecond. The pump's own next look is always a timer: when a
   * lane looks ready but the claim found nothing for it (another worker holds it, say),
   * looking again at once would spin.
   */
  const schedulePump = (delayMs: number, immediately = false) => {
    if (!running) return;
    if (pumpTimer !== undefined) clearTimeout(pumpTimer);
    pumpTimer = undefined;
    if (immediately) {
      if (!pumpSoon) {
        pumpSoon = true;
        atEndOfTurn(() => {
          pumpSoon = false;
          void pump();
        });
      }
      return;
    }
    pumpTimer = setTimeout(() => {
      pumpTimer = undefined;
      void pump();
    }, Math.max(MIN_REPUMP_MS, delayMs));
  };

  const send = (d: ClaimedDelivery, lane: { sending: number; queue: ClaimedDelivery[] }) => {
    lane.sending++;
    inFlight++;
    void sender.send(d).then((result) => {
      inFlight--;
      lane.sending--;
      counts.attempt(result.outcome, result.durationMs / 1000);
      results.push(result);
      if (result.outcome === 'gone') markInactive(d.webhookId);
      next(d.webhookId, lane);
      // A request slot is free even though the result is not written yet.
      if (blocked.size > 0) unblock();
      scheduleFlush();
      if (inFlight === 0 && drained !== undefined) drained();
    });
  };

  /** Sends the lane's next leased deliveries while the webhook and the process have free slots. */
  const next = (webhookId: string, lane: { sending: number; queue: ClaimedDelivery[] }) => {
    while (lane.sending < config.maxInFlightPerWebhook && lane.queue.length > 0) {
      if (running && !inactive.has(webhookId) && full()) {
        blocked.add(webhookId);
        break;
      }
      const d = lane.queue.shift()!;
      waiting--;
      if (!running || inactive.has(webhookId)) {
        leases.drop(d.id);
        toRelease.push(d.id);
        continue;
      }
      send(d, lane);
    }
    if (lane.queue.length === 0) blocked.delete(webhookId);
    if (lane.queue.length === 0 && lane.sending === 0) lanes.delete(webhookId);
    if (toRelease.length > 0) void releaseUnsent();
  };

  /** A request finished or results were written: lanes that waited for the process-wide caps may send again. */
  const unblock = () => {
    for (const webhookId of blocked) {
      if (full()) return;
      const lane = lanes.get(webhookId);
      if (lane === undefined) blocked.delete(webhookId);
      else next(webhookId, lane);
    }
  };

  const launch = (d: ClaimedDelivery) => {
    let lane = lanes.get(d.webhookId);
    if (lane === undefined) {
      lane = { sending: 0, queue: [] };
      lanes.set(d.webhookId, lane);
    }
    leases.hold(d.id);
    lane.queue.push(d);
    waiting++;
    next(d.webhookId, lane);
  };

  /** Gives leased deliveries that will not be sent back to the store (which cancels those of inactive webhooks). */
  async function releaseUnsent(): Promise<void> {
    const ids = toRelease;
    toRelease = [];
    try {
      await store.releaseDeliveries(workerId, ids, now());
    } catch (err) {
      // No longer held: the next look for orphaned leases returns them (or, should this
      // process die, they are reaped with its other leases).
      leases.lost(now());
      failed('release', err);
    }
  }

  /** Claims until the pipe is full or nothing is due, then sleeps until the next due time. */
  async function pump(): Promise<void> {
    if (pumping) {
      pumpAgain = true;
      return;
    }
    pumping = true;
    let next = config.pollMs;
    try {
      do {
        pumpAgain = false;
        while (running && leased() < leaseBudget) {
          const limit = Math.min(config.claimBatch, leaseBudget - leased());
          const at = now();
          const batch = await leases.claiming(at, () => store.claimDeliveries({ workerId, now: at, limit, maxInFlightPerWebhook: laneCap }));
          if (!running) {
            // Stopped while claiming: these were never sent; give them straight back.
            if (batch.length > 0) await store.releaseWorker(workerId, now());
            break;
          }
          for (const d of batch) launch(d);
          if (batch.length < limit) break;
        }
      } while (pumpAgain && running);
      succeeded('claim');
      if (leased() < leaseBudget) {
        const readyAt = await store.nextReadyAt(config.maxInFlightPerWebhook);
        if (readyAt !== undefined) next = Math.min(next, readyAt - now());
      }
    } catch (err) {
      next = failed('claim', err);
    } finally {
      pumping = false;
    }
    schedulePump(next);
  }

  function scheduleFlush() {
    if (flushScheduled) return;
    flushScheduled = true;
    // Results that finish in the same turn of the event loop share one transaction.
    atEndOfTurn(() => {
      flushScheduled = false;
      void flush();
    });
  }

  /**
   * Writes a batch of results and refills the freed slots in the same store call, up to
   * MAX_FLUSHES calls at once.
   */
  async function flush(): Promise<void> {
    if (results.length === 0 || flushes.size >= MAX_FLUSHES) return;
    const batch = results.splice(0, FLUSH_BATCH);
    flushingCount += batch.length;
    const done = (async () => {
      try {
        // The slots these results free are refilled in the same transaction.
        const limit = running ? Math.min(config.claimBatch, leaseBudget - (leased() - batch.length)) : 0;
        const at = now();
        const complete = () =>
          store.completeDeliveries(
            workerId,
            batch,
            { deactivateFailingAfterMs: config.deactivateFailingAfterMs },
            limit > 0 ? { now: at, limit, maxInFlightPerWebhook: laneCap } : undefined,
          );
        const effects = await (limit > 0 ? leases.claiming(at, complete) : complete());
        flushingCount -= batch.length;
        for (const r of batch) leases.drop(r.deliveryId);
        unblock();
        succeeded('complete');
        if (running) for (const d of effects.claimed) launch(d);
        else if (effects.claimed.length > 0) await store.releaseWorker(workerId, now());
        for (const d of effects.deactivated) {
          markInactive(d.webhookId);
          counts.deactivated(d.cause);
          log.warn({ webhookId: d.webhookId, cause: d.cause }, 'webhook deactivated by the delivery engine');
        }
        if (effects.stale > 0) log.warn({ stale: effects.stale }, 'results arrived after their leases were taken over');
      } catch (err) {
        flushingCount -= batch.length;
        const backOff = failed('complete', err);
        if (!running) {
          // Stopping, and the store does not take the results: give them up rather than
          // hold the shutdown. Their leases die with this process (or expire) and the
          // deliveries are sent again: at least once.
          for (const r of [...batch, ...results]) leases.drop(r.deliveryId);
          log.warn({ results: batch.length + results.length }, 'results not written at shutdown; those deliveries will be sent again');
          results = [];
          return;
        }
        // Keep the results: losing them would only cause re-sends, but there is no need to.
        results.unshift(...batch);
        await new Promise((r) => setTimeout(r, backOff));
      }
    })();
    flushes.add(done);
    await done;
    flushes.delete(done);
    if (results.length > 0) scheduleFlush();
    // The refill may have found less than it could take (more was due than fitted, or
    // another worker held a lane for a moment): top up.
    if (running && leased() < leaseBudget) void pump();
  }

  /** Something became due: claim now rather than at the next poll. */
  const wake = () => {
    if (!running) return;
    if (pumping) pumpAgain = true;
    else schedulePump(0, true);
  };

  const every = (loop: string, intervalMs: number, fn: () => Promise<void>) => {
    const timer = setInterval(() => {
      fn().then(
        () => succeeded(loop),
        (err: unknown) => failed(loop, err),
      );
    }, intervalMs);
    timers.push(timer);
  };

  return {
    workerId,
    inFlight: () => inFlight,
    async start() {
      running = true;
      await store.heartbeat(workerId, now());
      counts.leasesReaped(await store.reapExpiredLeases(now(), config.leaseTtlMs));
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
          void pump();
        }
        const returned = await leases.releaseOrphans();
        if (returned > 0) {
          log.warn({ returned }, 'returned leases whose claim answer was lost');
          void pump();
        }
      });
      log.info({ concurrency: config.concurrency, maxInFlightPerWebhook: config.maxInFlightPerWebhook }, 'dispatcher started');
      void pump();
    },
    webhookState(webhookId, active) {
      if (active) {
        inactive.delete(webhookId);
        return;
      }
      markInactive(webhookId);
      const lane = lanes.get(webhookId);
      if (lane !== undefined) {
        const unsent = lane.queue.splice(0);
        waiting -= unsent.length;
        for (const d of unsent) {
          leases.drop(d.id);
          toRelease.push(d.id);
        }
        if (lane.sending === 0) lanes.delete(webhookId);
        if (toRelease.length > 0) void releaseUnsent();
      }
    },
    async claimAlong<R extends { claimed: ClaimedDelivery[] }>(call: (claim: ClaimRequest) => Promise<R>): Promise<R> {
      const limit = running ? Math.max(0, Math.min(config.claimBatch, leaseBudget - leased())) : 0;
      const at = now();
      reserved += limit;
      let r: R;
      try {
        r = await leases.claiming(at, () => call({ workerId, now: at, limit, maxInFlightPerWebhook: laneCap }));
      } finally {
        reserved -= limit;
      }
      if (running) for (const d of r.claimed) launch(d);
      else if (r.claimed.length > 0) {
        // Stopped meanwhile: never sent, so straight back to the queue.
        await store.releaseDeliveries(workerId, r.claimed.map((d) => d.id), now()).catch((err: unknown) => {
          leases.lost(at);
          failed('release', err);
        });
      }
      // All it could take was due: there may be more than fitted (or no room at all).
      if (r.claimed.length >= limit) wake();
      return r;
    },
    wake,
    async stop(graceMs) {
      if (!running) return;
      running = false;
      if (pumpTimer !== undefined) clearTimeout(pumpTimer);
      for (const t of timers) clearInterval(t);
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          drained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      const unfinished = inFlight;
      await sender.close();
      while (results.length > 0 || flushes.size > 0) {
        await flush();
        await Promise.all(flushes);
      }
      try {
        const released = await store.releaseWorker(workerId, now());
        log.info({ released, unfinished }, 'dispatcher stopped');
      } catch (err) {
        // The leases expire on their own; another worker (or the next start) takes them over.
        log.error({ err }, 'could not release leases on shutdown');
      }
    },
  };
}
