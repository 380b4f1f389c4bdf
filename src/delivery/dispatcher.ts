import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { DeliveryConfig } from '../config/load.ts';
import type { DeliveryCounts } from '../observability/deliveryCounts.ts';
import type { AttemptResult, ClaimedDelivery, ClaimRequest, DeliveryQueue } from '../store/types.ts';
import { createLeaseLedger } from './leaseLedger.ts';
import { createLoopHealth } from './loopHealth.ts';
import { startMaintenance } from './maintenance.ts';
import { atEndOfTurn } from '../runtime/endOfTurn.ts';
import type { Sender } from './sender.ts';
import { createScheduler, type SchedulerAction, type SchedulerCounts } from './scheduler.ts';

/**
 * The delivery worker of one process: claims due deliveries in batches under a lease,
 * sends them (at most `concurrency` leased at once), writes results back in batches,
 * renews its lease with a heartbeat and takes over the leases of workers that died.
 *
 * What may be sent when is decided by the pure scheduler (scheduler.ts): this module is
 * the async shell around it (the pump that claims, the flush that writes results, the
 * maintenance loops), doing the I/O the scheduler asks for.
 *
 * Fairness between tenants has two halves: inside the process the scheduler takes turns
 * between applications, then between their webhooks; across workers the store's claim
 * leases at most the per-webhook and per-application caps (lanes), so that one
 * application's backlog cannot fill any worker's lease budget. With
 * `leaseAhead` > 0 (a single delivery process, e.g. the embedded store) a worker may
 * lease that many more deliveries per webhook than it sends at once: when one finishes,
 * the next goes out at once instead of after a store round trip. It may also send while
 * earlier results wait for their commit (see UNRECORDED_FACTOR). The number being sent
 * to one webhook still never exceeds maxInFlightPerWebhook, to one application
 * maxInFlightPerApplication, nor the process's requests in flight `concurrency`.
 *
 * Every loop survives its errors: it logs, counts, backs off and tries again.
 */
export interface DeliveryDispatcher {
  readonly workerId: string;
  start(): Promise<void>;
  /** Something became due (a publish, a redelivery): claim now rather than at the next poll. */
  wake(): void;
  /** Stops claiming, lets in-flight attempts finish for up to `graceMs`, writes their results and releases the rest. */
  stop(graceMs: number): Promise<void>;
  /** The API changed a webhook's state: leased deliveries of an inactive one are not sent. */
  webhookState(webhookId: string, active: boolean): void;
  /** What the scheduler holds right now (see scheduler.ts). */
  counts(): SchedulerCounts;
  /**
   * Resolves once this worker is quiescent: it holds no lease, and no claim, result write
   * or release is under way. With nothing due in the store, nothing more will be sent
   * until something becomes due (tests wait on this instead of sleeping).
   */
  idle(): Promise<void>;
  /**
   * Runs a store call that leases due deliveries for this worker along with its own work
   * (a publish that claims what it made due), with as much room as the worker has, and
   * sends what it leased at once.
   */
  claimAlong<R extends { claimed: ClaimedDelivery[] }>(call: (claim: ClaimRequest) => Promise<R>): Promise<R>;
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
 * Result writes in flight at once, with lease-ahead (the embedded store). One would cap
 * throughput at one batch per store round trip; more than two split results into more,
 * smaller transactions (no better on SQLite). Workers sharing a store write one at a time
 * (see claimsWaitForResults): on PostgreSQL a worker's writes take turns on its row anyway,
 * so a second one only waited there, and split the results into batches half the size
 * (1 instead of 2: 10 – 20 % less database CPU per delivery in `bench:steady --system=pg1`,
 * 0.3 s less on a fan-out to 10,000 webhooks).
 */
const MAX_FLUSHES_LEASING_AHEAD = 2;
/** The shortest wait before the pump looks again on its own. */
const MIN_REPUMP_MS = 1;
/** How long a webhook the worker saw go inactive stays so: only claims under way then can still bring its deliveries. */
const INACTIVE_MEMORY_MS = 60_000;

export function createDispatcher(deps: DispatcherDeps): DeliveryDispatcher {
  const { store, sender, config, counts, now } = deps;
  const workerId = deps.workerId ?? `worker-${randomUUID()}`;
  const log = deps.logger.child({ component: 'dispatcher', workerId });
  const leaseAhead = deps.leaseAhead ?? 0;
  /** Most unrecorded deliveries at once; bounds what a crash can make this worker send twice. */
  const unrecordedCap = leaseAhead > 0 ? config.concurrency * UNRECORDED_FACTOR : config.concurrency;
  const scheduler = createScheduler({
    concurrency: config.concurrency,
    maxInFlightPerWebhook: config.maxInFlightPerWebhook,
    maxInFlightPerApplication: config.maxInFlightPerApplication,
    unrecordedCap,
    // The unrecorded ones plus, with lease-ahead, as many waiting as it sends at once.
    leaseBudget: leaseAhead > 0 ? unrecordedCap + config.concurrency : config.concurrency,
  });
  /** What a claim asks the store to lease per webhook: its sends and unwritten results plus, with lease-ahead, as many waiting. */
  const laneCap = leaseAhead > 0 ? config.maxInFlightPerWebhook * UNRECORDED_FACTOR + leaseAhead : config.maxInFlightPerWebhook;
  /** What it asks per application: likewise, its sends and unwritten results plus, with lease-ahead, as many waiting as it sends at once. */
  const appCap = leaseAhead > 0 ? config.maxInFlightPerApplication * (UNRECORDED_FACTOR + 1) : config.maxInFlightPerApplication;
  const caps = { maxInFlightPerWebhook: laneCap, maxInFlightPerApplication: appCap };
  /**
   * Workers sharing a store (no lease-ahead) never claim and write results at once: a claim
   * waits for the result writes under way (which refill what they free; the claim follows
   * if room is left), and a result write waits for the claim under way. Racing each other,
   * one counted the caps before the other freed them and passed over lanes it read as
   * full, or skipped the lanes the other held locked, and its cursor moved past them: on a
   * fan-out to thousands of webhooks those waited a whole round of the lanes (seconds).
   * On PostgreSQL both take turns on the worker's row anyway.
   */
  const claimsWaitForResults = leaseAhead === 0;
  const maxFlushes = claimsWaitForResults ? 1 : MAX_FLUSHES_LEASING_AHEAD;
  /**
   * Writing one result batch at a time, the results that ended during a write go to the
   * store as soon as it answers, before the deliveries it refilled are sent: the store works
   * on them while this process sends (2 – 3 ms per 64 deliveries in a fan-out: signing, a
   * syscall per request). When they waited for those sends, a fan-out to 10,000 webhooks on
   * PostgreSQL took 1.9 – 2.9 s; this way 1.8 – 2.4 s (alternating runs, a warm system).
   * With two writes at once (lease-ahead) the second already overlaps the sends, and
   * sending later cost the embedded store 10 – 15 % more CPU per delivery.
   */
  const writeBeforeSending = maxFlushes === 1;

  let running = false;
  let pumping = false;
  let pumpAgain = false;
  let pumpSoon = false;
  let pumpTimer: NodeJS.Timeout | undefined;
  /** A pump that waits for the result writes under way, and a result write that waits for the pump (claimsWaitForResults). */
  let pumpAfterFlush = false;
  let flushAfterPump = false;
  /** Finished attempts whose results wait for a write. */
  let results: AttemptResult[] = [];
  let flushScheduled = false;
  const flushes = new Set<Promise<void>>();
  let toRelease: string[] = [];
  let releasing = 0;
  let maintenance: { stop(): void } | undefined;
  const forgetTimers = new Map<string, NodeJS.Timeout>();
  const { failed, succeeded } = createLoopHealth(counts, log);
  /** What this worker holds, and what a lost answer may have leased to it unknowingly. */
  const leases = createLeaseLedger({ store, workerId, now });
  let drained: (() => void) | undefined;
  let idleWaiters: Array<() => void> = [];

  const isIdle = () => scheduler.counts().leased === 0 && !pumping && flushes.size === 0 && results.length === 0 && releasing === 0 && toRelease.length === 0;
  const checkIdle = () => {
    if (idleWaiters.length > 0 && isIdle()) for (const resolve of idleWaiters.splice(0)) resolve();
  };

  /** Only claims that were under way when a webhook went inactive can still bring its deliveries: forget it after a while. */
  const markInactive = (webhookId: string) => {
    apply(scheduler.deactivate(webhookId));
    clearTimeout(forgetTimers.get(webhookId));
    const timer = setTimeout(() => {
      forgetTimers.delete(webhookId);
      scheduler.activate(webhookId);
    }, INACTIVE_MEMORY_MS);
    timer.unref();
    forgetTimers.set(webhookId, timer);
  };

  /** Does what the scheduler said. */
  function apply(actions: SchedulerAction[]): void {
    for (const a of actions) {
      if (a.kind === 'send') send(a.delivery);
      else {
        for (const id of a.deliveryIds) {
          leases.drop(id);
          toRelease.push(id);
        }
      }
    }
    if (toRelease.length > 0) void releaseUnsent();
  }

  const send = (d: ClaimedDelivery) => {
    void sender.send(d).then((result) => {
      counts.attempt(result.outcome, result.durationMs / 1000);
      results.push(result);
      // 410: none of the webhook's waiting deliveries may go out with the slot this one frees.
      if (result.outcome === 'gone') markInactive(d.webhookId);
      // A request slot is free even though the result is not written yet.
      apply(scheduler.finish(d));
      scheduleFlush();
      if (drained !== undefined && scheduler.counts().sending === 0) drained();
    });
  };

  /** Deliveries leased to this worker arrive: held, and what the caps allow is to be sent. */
  const offer = (claimed: readonly ClaimedDelivery[]) => {
    for (const d of claimed) leases.hold(d.id);
    return scheduler.offer(claimed);
  };
  /** Holds deliveries leased to this worker and sends them as the caps allow. */
  const launch = (claimed: readonly ClaimedDelivery[]) => apply(offer(claimed));

  /** Gives leased deliveries that will not be sent back to the store (which cancels those of inactive webhooks). */
  async function releaseUnsent(): Promise<void> {
    const ids = toRelease;
    toRelease = [];
    releasing++;
    try {
      await store.releaseDeliveries(workerId, ids, now());
    } catch (err) {
      // No longer held: the next look for orphaned leases returns them (or, should this
      // process die, they are reaped with its other leases).
      leases.lost(now());
      failed('release', err);
    } finally {
      releasing--;
      checkIdle();
    }
  }

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

  /** Claims until the pipe is full or nothing is due, then sleeps until the next due time. */
  async function pump(): Promise<void> {
    if (pumping) {
      pumpAgain = true;
      return;
    }
    if (claimsWaitForResults && flushes.size > 0) {
      pumpAfterFlush = true;
      return;
    }
    pumpAfterFlush = false;
    pumping = true;
    let next = config.pollMs;
    try {
      do {
        pumpAgain = false;
        while (running && scheduler.room() > 0) {
          const limit = Math.min(config.claimBatch, scheduler.room());
          const at = now();
          const batch = await leases.claiming(at, () => store.claimDeliveries({ workerId, now: at, limit, ...caps }));
          if (!running) {
            // Stopped while claiming: these were never sent; give them straight back.
            if (batch.length > 0) await store.releaseWorker(workerId, now());
            break;
          }
          launch(batch);
          if (batch.length < limit) break;
        }
      } while (pumpAgain && running);
      succeeded('claim');
      // While deliveries are being sent, the next one to finish brings the next pump (its
      // result's write refills, then pumps): the next ready time is looked up only when none
      // is. It reads every awake lane (on PostgreSQL 64 ms with the 10,000 lanes of a
      // fan-out, after each of its pumps), and the poll still bounds the wait.
      if (scheduler.room() > 0 && scheduler.counts().sending === 0) {
        const readyAt = await store.nextReadyAt(config.maxInFlightPerWebhook, config.maxInFlightPerApplication);
        if (readyAt !== undefined) next = Math.min(next, readyAt - now());
      }
    } catch (err) {
      next = failed('claim', err);
    } finally {
      pumping = false;
      if (flushAfterPump) {
        flushAfterPump = false;
        scheduleFlush();
      }
    }
    schedulePump(next);
    checkIdle();
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
   * maxFlushes calls at once.
   */
  async function flush(): Promise<void> {
    if (results.length === 0 || flushes.size >= maxFlushes) return;
    if (claimsWaitForResults && pumping && running) {
      flushAfterPump = true;
      return;
    }
    const batch = results.splice(0, FLUSH_BATCH);
    const done = (async () => {
      try {
        // The slots these results free are refilled in the same transaction.
        const limit = running ? Math.min(config.claimBatch, scheduler.room() + batch.length) : 0;
        const at = now();
        const complete = () =>
          store.completeDeliveries(
            workerId,
            batch,
            { deactivateFailingAfterMs: config.deactivateFailingAfterMs },
            limit > 0 ? { now: at, limit, ...caps } : undefined,
          );
        const effects = await (limit > 0 ? leases.claiming(at, complete) : complete());
        for (const r of batch) leases.drop(r.deliveryId);
        const freed = scheduler.recorded(batch.length);
        succeeded('complete');
        for (const d of effects.deactivated) {
          markInactive(d.webhookId);
          counts.deactivated(d.cause);
          log.warn({ webhookId: d.webhookId, cause: d.cause }, 'webhook deactivated by the delivery engine');
        }
        if (running && writeBeforeSending) {
          // Sent once flush() below has started the next write; what goes back to the store goes at once.
          const actions = [...freed, ...offer(effects.claimed)];
          apply(actions.filter((a) => a.kind !== 'send'));
          const sends = actions.filter((a) => a.kind === 'send');
          if (sends.length > 0) setImmediate(() => apply(sends));
        } else if (running) {
          apply(freed);
          launch(effects.claimed);
        } else {
          apply(freed);
          if (effects.claimed.length > 0) await store.releaseWorker(workerId, now());
        }
        if (effects.stale > 0) log.warn({ stale: effects.stale }, 'results arrived after their leases were taken over');
      } catch (err) {
        const backOff = failed('complete', err);
        if (!running) {
          // Stopping, and the store does not take the results: give them up rather than
          // hold the shutdown. Their leases die with this process (or expire) and the
          // deliveries are sent again: at least once.
          const given = [...batch, ...results.splice(0)];
          for (const r of given) leases.drop(r.deliveryId);
          apply(scheduler.recorded(given.length));
          log.warn({ results: given.length }, 'results not written at shutdown; those deliveries will be sent again');
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
    if (results.length > 0) {
      if (writeBeforeSending) void flush();
      else scheduleFlush();
    }
    // The refill may have found less than it could take (more was due than fitted, or
    // another worker held a lane for a moment): top up.
    if (running && (scheduler.room() > 0 || pumpAfterFlush)) void pump();
    checkIdle();
  }

  /** Something became due: claim now rather than at the next poll. */
  const wake = () => {
    if (!running) return;
    if (pumping) pumpAgain = true;
    else schedulePump(0, true);
  };

  return {
    workerId,
    counts: () => scheduler.counts(),
    idle() {
      if (isIdle()) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    async start() {
      running = true;
      await store.heartbeat(workerId, now());
      counts.leasesReaped(await store.reapExpiredLeases(now(), config.leaseTtlMs));
      maintenance = startMaintenance({ store, workerId, config, counts, log, leases, health: { failed, succeeded }, now, onWork: () => void pump() });
      const { concurrency, maxInFlightPerWebhook, maxInFlightPerApplication } = config;
      log.info({ concurrency, maxInFlightPerWebhook, maxInFlightPerApplication }, 'dispatcher started');
      if (maxInFlightPerApplication >= concurrency) {
        log.warn({ concurrency, maxInFlightPerApplication }, 'MAX_IN_FLIGHT_PER_APPLICATION is not below DELIVERY_CONCURRENCY: one application whose receivers hang can hold every delivery slot of this worker');
      }
      void pump();
    },
    webhookState(webhookId, active) {
      if (!active) markInactive(webhookId);
      else {
        clearTimeout(forgetTimers.get(webhookId));
        forgetTimers.delete(webhookId);
        scheduler.activate(webhookId);
      }
    },
    async claimAlong<R extends { claimed: ClaimedDelivery[] }>(call: (claim: ClaimRequest) => Promise<R>): Promise<R> {
      const limit = scheduler.reserve(running ? config.claimBatch : 0);
      const at = now();
      let r: R;
      try {
        r = await leases.claiming(at, () => call({ workerId, now: at, limit, ...caps }));
      } finally {
        scheduler.unreserve(limit);
      }
      if (running) launch(r.claimed);
      else if (r.claimed.length > 0) {
        // Stopped meanwhile: never sent, so straight back to the queue.
        await store.releaseDeliveries(workerId, r.claimed.map((d) => d.id), now()).catch((err: unknown) => {
          leases.lost(at);
          failed('release', err);
        });
      }
      // All it could take was due: there may be more than fitted (or no room at all).
      if (r.claimed.length >= limit) wake();
      checkIdle();
      return r;
    },
    wake,
    async stop(graceMs) {
      if (!running) return;
      running = false;
      if (pumpTimer !== undefined) clearTimeout(pumpTimer);
      maintenance?.stop();
      for (const t of forgetTimers.values()) clearTimeout(t);
      // What waits is never sent: releaseWorker below gives it back with the rest.
      for (const id of scheduler.stop()) leases.drop(id);
      if (scheduler.counts().sending > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          drained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      const unfinished = scheduler.counts().sending;
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
      checkIdle();
    },
  };
}
