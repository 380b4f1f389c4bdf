// The dispatcher of a worker sharing its store with others (no lease-ahead), against a fake
// store and a fake sender whose answers the test gives by hand: when it claims and when it
// looks up the next ready time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config/load.ts';
import { createDispatcher, type DeliveryDispatcher } from '../src/delivery/dispatcher.ts';
import type { Sender } from '../src/delivery/sender.ts';
import { createDeliveryCounts } from '../src/observability/deliveryCounts.ts';
import { createLogger } from '../src/observability/logger.ts';
import type { AttemptResult, ClaimedDelivery, ClaimRequest, CompletionEffects, DeliveryQueue } from '../src/store/types.ts';
import { eventually } from './helpers/receiver.ts';

let seq = 0;
function delivery(webhookId = 'hook-1'): ClaimedDelivery {
  const id = String(++seq);
  return { id, webhookId, ownerClientId: 'app', attempt: 1, callbackUrl: `https://receiver.example.com/${webhookId}`, secretSealed: 's', messageId: `m${id}`, eventType: 'iModels.iModelCreated.v1', itwinId: undefined, contentJson: '{}', enqueuedAt: 0 };
}

type Effects = CompletionEffects & { claimed: ClaimedDelivery[] };
const NO_EFFECTS: Effects = { deactivated: [], stale: 0, claimed: [] };

/**
 * A store that answers each claim with the next batch of `batches` (then nothing), and
 * each result write when the test says so (`writesWait`) or at once. It logs the calls of
 * interest in `calls`.
 */
function fakeStore(batches: ClaimedDelivery[][], writesWait: boolean, claimsByHand = false) {
  let wait = writesWait;
  const calls: string[] = [];
  const claims: ClaimRequest[] = [];
  /** With claimsByHand, the claims waiting for the test's answer (their batch). */
  const pendingClaims: Array<(batch: ClaimedDelivery[]) => void> = [];
  const writes: Array<{ results: AttemptResult[]; finish: (e?: Effects) => void }> = [];
  const store: DeliveryQueue = {
    async heartbeat() {},
    async claimDeliveries(req) {
      calls.push('claim');
      claims.push(req);
      if (claimsByHand) return new Promise<ClaimedDelivery[]>((resolve) => pendingClaims.push(resolve));
      return batches.shift() ?? [];
    },
    completeDeliveries(_workerId, results) {
      calls.push('complete');
      if (!wait) return Promise.resolve(NO_EFFECTS);
      return new Promise<Effects>((resolve) => writes.push({ results, finish: (e = NO_EFFECTS) => resolve(e) }));
    },
    async releaseWorker() {
      return 0;
    },
    async releaseDeliveries() {
      return 0;
    },
    async releaseOrphanedLeases() {
      return 0;
    },
    async repairLanes() {
      return 0;
    },
    async reapExpiredLeases() {
      return 0;
    },
    async nextReadyAt() {
      calls.push('nextReadyAt');
      return undefined;
    },
    async deliveryStats() {
      return { pending: 0, oldestDueAt: undefined };
    },
  };
  /** Lets every write still waiting finish, and those to come at once (for the clean-up). */
  const finishAll = () => {
    wait = false;
    writes.forEach((w) => w.finish());
    claimsByHand = false;
    pendingClaims.splice(0).forEach((answer) => answer([]));
  };
  return { store, calls, claims, writes, pendingClaims, finishAll };
}

/** A sender whose requests stay open until the test answers them (200). */
function handSender() {
  const open: Array<{ d: ClaimedDelivery; answer: () => void }> = [];
  const sender: Sender = {
    send(d) {
      return new Promise<AttemptResult>((resolve) => {
        open.push({
          d,
          answer: () => resolve({ deliveryId: d.id, webhookId: d.webhookId, attempt: d.attempt, startedAt: 0, durationMs: 1, statusCode: 200, error: undefined, responseBody: 'ok', outcome: 'succeeded', nextAttemptAt: undefined }),
        });
      });
    },
    async close() {},
  };
  const answerAll = () => open.splice(0).forEach((o) => o.answer());
  return { sender, open, answerAll };
}

/** Lets the end-of-turn work, timers of 0 ms and promise chains in flight run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 20));
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

/** No lease-ahead (workers sharing a store); the poll and the maintenance loops too slow to step in. */
function sharedStoreDispatcher(store: DeliveryQueue, sender: Sender, pollInterval = '10m'): DeliveryDispatcher {
  const config = loadConfig({ pollInterval, heartbeatInterval: '5m', leaseTtl: '1h', claimBatch: '4', deliveryConcurrency: '4', maxInFlightPerWebhook: '4', maxInFlightPerApplication: '4' }, {});
  return createDispatcher({ store, sender, config: config.delivery, counts: createDeliveryCounts(), logger: createLogger('silent'), now: Date.now });
}

describe('dispatcher on a shared store: claims and result writes of one worker', () => {
  it('a wake-up while a result write is under way claims only once the write is done, and is not lost', async () => {
    const fake = fakeStore([[delivery()]], true);
    const { sender, open, answerAll } = handSender();
    const dispatcher = sharedStoreDispatcher(fake.store, sender);
    const writesAndClaims = () => fake.calls.filter((c) => c !== 'nextReadyAt');
    try {
      await dispatcher.start();
      await eventually(() => open.length === 1, 10_000, 'the first claim\'s delivery being sent');
      // Its result's write starts and waits.
      answerAll();
      await eventually(() => fake.writes.length === 1, 10_000, 'the result write under way');
      assert.deepEqual(writesAndClaims(), ['claim', 'complete']);

      dispatcher.wake();
      await settle();
      assert.deepEqual(writesAndClaims(), ['claim', 'complete'], 'no claim while the worker\'s own result write is under way');

      fake.writes[0]!.finish();
      await eventually(() => writesAndClaims().length >= 3, 10_000, 'the claim the wake-up asked for');
      assert.deepEqual(writesAndClaims(), ['claim', 'complete', 'claim'], 'the wake-up claims once the write is done');
      assert.equal(fake.claims[1]!.limit, 4, 'with the whole room the write freed');
    } finally {
      fake.finishAll();
      answerAll();
      await dispatcher.stop(1000);
    }
  });

  it('a result that arrives while a claim is under way is written once the claim is answered, not beside it', async () => {
    const fake = fakeStore([], false, true);
    const { sender, open, answerAll } = handSender();
    const dispatcher = sharedStoreDispatcher(fake.store, sender);
    const writesAndClaims = () => fake.calls.filter((c) => c !== 'nextReadyAt');
    try {
      await dispatcher.start();
      await eventually(() => fake.pendingClaims.length === 1, 10_000, 'the first claim');
      fake.pendingClaims.shift()!([delivery()]);
      await eventually(() => open.length === 1, 10_000, 'its delivery being sent');
      // A wake-up's claim is under way when the delivery's result arrives.
      dispatcher.wake();
      await eventually(() => fake.pendingClaims.length === 1, 10_000, 'the wake-up\'s claim');
      answerAll();
      await settle();
      assert.deepEqual(writesAndClaims(), ['claim', 'claim'], 'no result write while the worker\'s own claim is under way');
      fake.pendingClaims.shift()!([]);
      await eventually(() => writesAndClaims().includes('complete'), 10_000, 'the result write after the claim');
      assert.deepEqual(writesAndClaims().slice(0, 3), ['claim', 'claim', 'complete'], 'then the write goes (and a claim after it, room being left)');
    } finally {
      fake.finishAll();
      answerAll();
      await dispatcher.stop(1000);
    }
  });

  it('results write one batch at a time: those that finish during a write go together in the next', async () => {
    const fake = fakeStore([[delivery('hook-1'), delivery('hook-2'), delivery('hook-3')]], true);
    const { sender, open } = handSender();
    const dispatcher = sharedStoreDispatcher(fake.store, sender);
    try {
      await dispatcher.start();
      await eventually(() => open.length === 3, 10_000, 'the three deliveries being sent');
      open.shift()!.answer();
      await eventually(() => fake.writes.length === 1, 10_000, 'the first result\'s write');
      // Two more results arrive while that write is under way.
      open.splice(0).forEach((o) => o.answer());
      await settle();
      assert.equal(fake.writes.length, 1, 'no second write beside the one under way');
      fake.writes[0]!.finish();
      await eventually(() => fake.writes.length === 2, 10_000, 'the next write');
      assert.deepEqual(fake.writes.map((w) => w.results.length), [1, 2], 'the two results in one write');
    } finally {
      fake.finishAll();
      await dispatcher.stop(1000);
    }
  });

  it('the results that ended during a write go to the store before the deliveries that write refilled are sent', async () => {
    const fake = fakeStore([[delivery('hook-1'), delivery('hook-2'), delivery('hook-3')]], true);
    const hand = handSender();
    const sender: Sender = {
      send(d) {
        fake.calls.push(`send ${d.webhookId}`);
        return hand.sender.send(d);
      },
      close: () => hand.sender.close(),
    };
    const dispatcher = sharedStoreDispatcher(fake.store, sender);
    try {
      await dispatcher.start();
      await eventually(() => hand.open.length === 3, 10_000, 'the three deliveries being sent');
      hand.open.shift()!.answer();
      await eventually(() => fake.writes.length === 1, 10_000, 'the first result\'s write');
      hand.open.splice(0).forEach((o) => o.answer());
      await settle();
      // The write answers with a refill; the two results that ended meanwhile wait.
      fake.writes[0]!.finish({ ...NO_EFFECTS, claimed: [delivery('hook-4')] });
      await eventually(() => hand.open.some((o) => o.d.webhookId === 'hook-4'), 10_000, 'the refilled delivery being sent');
      const after = fake.calls.slice(fake.calls.indexOf('complete') + 1).filter((c) => c !== 'nextReadyAt');
      assert.deepEqual(after.slice(0, 2), ['complete', 'send hook-4'], 'the next write first, then the refill\'s send');
      assert.deepEqual(fake.writes.map((w) => w.results.length), [1, 2]);
    } finally {
      fake.finishAll();
      hand.answerAll();
      await dispatcher.stop(1000);
    }
  });

  it('the next ready time is looked up after a pump only while nothing is being sent', async () => {
    const fake = fakeStore([[delivery()]], false);
    const { sender, open, answerAll } = handSender();
    const dispatcher = sharedStoreDispatcher(fake.store, sender);
    try {
      await dispatcher.start();
      await eventually(() => open.length === 1, 10_000, 'the first claim\'s delivery being sent');
      await settle();
      // Room is left (one of four slots taken), but one delivery is being sent: its result's
      // write and the pump after it come anyway.
      assert.deepEqual(fake.calls, ['claim'], 'no look-up of the next ready time while a delivery is being sent');

      dispatcher.wake();
      await eventually(() => fake.calls.length >= 2, 10_000, 'the claim the wake-up asked for');
      await settle();
      assert.deepEqual(fake.calls, ['claim', 'claim'], 'a pump that found nothing, with a send in flight, does not look it up either');
      assert.equal(dispatcher.counts().sending, 1);

      // The send finishes: its result is written, and the pump after it, with nothing being
      // sent any more, looks up when to claim next.
      answerAll();
      await eventually(() => fake.calls.includes('nextReadyAt'), 10_000, 'the look-up of the next ready time');
      assert.deepEqual(fake.calls, ['claim', 'claim', 'complete', 'claim', 'nextReadyAt']);
    } finally {
      answerAll();
      await dispatcher.stop(1000);
    }
  });

  it('a pump put off behind a result write that leaves no room still runs: the worker goes on polling once room is back', async () => {
    const d2 = delivery();
    const fake = fakeStore([[delivery()]], true);
    const { sender, open, answerAll } = handSender();
    // A short poll: only the poll brings the worker back to the store here.
    const dispatcher = sharedStoreDispatcher(fake.store, sender, '10ms');
    let answerPublish!: () => void;
    let publish: Promise<unknown> | undefined;
    const claimCount = () => fake.calls.filter((c) => c === 'claim').length;
    try {
      await dispatcher.start();
      await eventually(() => open.length === 1, 10_000, 'the first claim\'s delivery being sent');
      answerAll();
      await eventually(() => fake.writes.length === 1, 10_000, 'the result write under way');
      // A publish claims along (its claim holds the rest of the room: 3 of 4) while the
      // write waits, and a wake-up comes: its pump waits for the write.
      publish = dispatcher.claimAlong((req) => {
        assert.equal(req.limit, 3);
        return new Promise<{ claimed: ClaimedDelivery[] }>((resolve) => (answerPublish = () => resolve({ claimed: [] })));
      });
      dispatcher.wake();
      await settle();
      // The write refills the one slot it frees: no room is left.
      fake.writes[0]!.finish({ deactivated: [], stale: 0, claimed: [d2] });
      await eventually(() => open.length === 1, 10_000, 'the refill\'s delivery being sent');
      assert.equal(dispatcher.counts().leased, 4);
      await settle();
      const before = claimCount();
      // The publish's claim answers with nothing (no wake-up of its own): room is back, and
      // the poll, which the put-off pump kept going, claims again while the refill's
      // delivery is still being sent.
      answerPublish();
      await publish;
      await eventually(() => claimCount() > before, 5_000, 'a claim once room is back');
      assert.equal(open.length, 1, 'the refill\'s delivery is still being sent');
    } finally {
      answerPublish?.();
      fake.finishAll();
      answerAll();
      await publish;
      await dispatcher.stop(1000);
    }
  });
});
