import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { BUILTIN_EVENT_TYPES } from '../src/catalog/builtinEventTypes.ts';
import { loadConfig } from '../src/config/load.ts';
import { createDispatcher } from '../src/delivery/dispatcher.ts';
import type { Sender } from '../src/delivery/sender.ts';
import { createLogger } from '../src/observability/logger.ts';
import { createDeliveryCounts } from '../src/observability/deliveryCounts.ts';
import { openSqliteStore } from '../src/store/sqlite/store.ts';
import type { AttemptResult, ClaimedDelivery, Store } from '../src/store/types.ts';
import { tempDir } from './helpers/harness.ts';
import { eventually } from './helpers/receiver.ts';

const ACCOUNT = '0a000000-0000-4000-8000-000000000001';
const TYPE = 'iModels.iModelCreated.v1';

/** A sender that answers 200 at once and remembers what it sent. */
function recordingSender(sent: ClaimedDelivery[]): Sender {
  return {
    async send(d): Promise<AttemptResult> {
      sent.push(d);
      await new Promise((r) => setTimeout(r, 1));
      return {
        deliveryId: d.id,
        webhookId: d.webhookId,
        attempt: d.attempt,
        startedAt: Date.now(),
        durationMs: 1,
        statusCode: 200,
        error: undefined,
        responseBody: 'ok',
        outcome: 'succeeded',
        nextAttemptAt: undefined,
      };
    },
    async close() {},
  };
}

/**
 * The store, except that the first `lose` claims (plain, or the refill of a completion)
 * commit and then fail, as when the connection drops between the commit and the answer.
 */
function losingAnswers(store: Store, lose: { claims: number; refills: number }): Store {
  const lost = new Error('Connection terminated unexpectedly');
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'claimDeliveries') {
        return async (...args: Parameters<Store['claimDeliveries']>) => {
          const claimed = await target.claimDeliveries(...args);
          if (claimed.length > 0 && lose.claims > 0) {
            lose.claims--;
            throw lost;
          }
          return claimed;
        };
      }
      if (key === 'completeDeliveries') {
        return async (...args: Parameters<Store['completeDeliveries']>) => {
          const effects = await target.completeDeliveries(...args);
          if (effects.claimed.length > 0 && lose.refills > 0) {
            lose.refills--;
            throw lost;
          }
          return effects;
        };
      }
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

describe('dispatcher: claims whose answer was lost', () => {
  it('returns the leases it never heard of, so a live worker still delivers every event, once', async () => {
    const dataDir = tempDir();
    const store = openSqliteStore(dataDir);
    const logs: string[] = [];
    const logger = createLogger('info', new Writable({ write: (c, _e, done) => (logs.push(String(c)), done()) }));
    const config = loadConfig({ leaseTtl: '1s', heartbeatInterval: '200ms', pollInterval: '50ms', claimBatch: '20', maxInFlightPerWebhook: '4' }, {});
    const lose = { claims: 2, refills: 2 };
    const sent: ClaimedDelivery[] = [];
    const dispatcher = createDispatcher({
      store: losingAnswers(store, lose),
      sender: recordingSender(sent),
      config: config.delivery,
      counts: createDeliveryCounts(),
      logger,
      now: Date.now,
    });
    try {
      await store.upsertBuiltinEventTypes(BUILTIN_EVENT_TYPES.map((t) => ({ ...t, builtin: true, createdAt: Date.now() })));
      const hooks = [randomUUID(), randomUUID(), randomUUID()];
      for (const id of hooks) {
        await store.createWebhook({
          id,
          ownerClientId: 'app',
          scope: 'Account',
          scopeId: ACCOUNT,
          active: true,
          callbackUrl: `https://receiver.example.com/${id}`,
          eventTypes: [TYPE],
          secretSealed: 'sealed',
          createdAt: Date.now(),
          modifiedAt: Date.now(),
        });
      }
      const events = Array.from({ length: 100 }, () => ({
        messageId: randomUUID(),
        eventType: TYPE,
        itwinId: undefined,
        accountId: ACCOUNT,
        contentJson: '{}',
        publisherClientId: undefined,
      }));
      await store.publishEvents(events, Date.now(), 7 * 86_400_000);
      await dispatcher.start();

      const expected = events.length * hooks.length;
      const key = (d: ClaimedDelivery) => `${d.webhookId}/${d.messageId}`;
      await eventually(async () => new Set(sent.map(key)).size === expected, 20_000, `all ${expected} deliveries sent`);
      assert.equal(lose.claims + lose.refills, 0, 'answers were lost on the way');
      assert.equal(sent.length, expected, 'none sent twice: a lost answer\'s deliveries were never sent before being returned');
      await eventually(async () => (await store.deliveryStats()).pending === 0, 10_000, 'every result written');
      for (const id of hooks) assert.equal((await store.listDeliveries(id, 'succeeded', 1000, undefined)).items.length, events.length);
      assert.ok(logs.some((l) => l.includes('returned leases whose claim answer was lost')));
    } finally {
      await dispatcher.stop(1000);
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('dispatcher: requests in flight and results not yet written', () => {
  it('sends at most `concurrency` at once (and the per-webhook cap), keeps sending while results wait for their commit, up to twice that unwritten', async () => {
    const CONCURRENCY = 8;
    const PER_WEBHOOK = 4;
    const dataDir = tempDir();
    const store = openSqliteStore(dataDir);
    const config = loadConfig({ pollInterval: '50ms', claimBatch: '50', maxInFlightPerWebhook: String(PER_WEBHOOK), deliveryConcurrency: String(CONCURRENCY) }, {});
    // Completions are held back until `commits` opens, as if the store were slow to commit.
    let openCommits!: () => void;
    const commits = new Promise<void>((r) => (openCommits = r));
    let committed = 0;
    const slowCommits = new Proxy(store, {
      get(target, key, receiver) {
        if (key === 'completeDeliveries') {
          return async (...args: Parameters<Store['completeDeliveries']>) => {
            await commits;
            committed += args[1].length;
            return target.completeDeliveries(...args);
          };
        }
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    // Every request stays open until the test answers it.
    const open: Array<{ d: ClaimedDelivery; answer: () => void }> = [];
    const sent: ClaimedDelivery[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const perWebhook = new Map<string, number>();
    let maxPerWebhook = 0;
    const sender: Sender = {
      send(d) {
        sent.push(d);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        perWebhook.set(d.webhookId, (perWebhook.get(d.webhookId) ?? 0) + 1);
        maxPerWebhook = Math.max(maxPerWebhook, perWebhook.get(d.webhookId)!);
        return new Promise<AttemptResult>((resolve) => {
          open.push({
            d,
            answer: () => {
              inFlight--;
              perWebhook.set(d.webhookId, perWebhook.get(d.webhookId)! - 1);
              resolve({ deliveryId: d.id, webhookId: d.webhookId, attempt: d.attempt, startedAt: Date.now(), durationMs: 1, statusCode: 200, error: undefined, responseBody: 'ok', outcome: 'succeeded', nextAttemptAt: undefined });
            },
          });
        });
      },
      async close() {},
    };
    const answerAll = () => open.splice(0).forEach((o) => o.answer());
    const dispatcher = createDispatcher({
      store: slowCommits,
      sender,
      config: config.delivery,
      counts: createDeliveryCounts(),
      logger: createLogger('silent'),
      now: Date.now,
      leaseAhead: PER_WEBHOOK,
    });
    try {
      await store.upsertBuiltinEventTypes(BUILTIN_EVENT_TYPES.map((t) => ({ ...t, builtin: true, createdAt: Date.now() })));
      const hooks = [randomUUID(), randomUUID(), randomUUID()];
      for (const id of hooks) {
        await store.createWebhook({ id, ownerClientId: 'app', scope: 'Account', scopeId: ACCOUNT, active: true, callbackUrl: `https://receiver.example.com/${id}`, eventTypes: [TYPE], secretSealed: 'sealed', createdAt: Date.now(), modifiedAt: Date.now() });
      }
      const events = Array.from({ length: 40 }, () => ({ messageId: randomUUID(), eventType: TYPE, itwinId: undefined, accountId: ACCOUNT, contentJson: '{}', publisherClientId: undefined }));
      await store.publishEvents(events, Date.now(), 7 * 86_400_000);
      await dispatcher.start();

      // No result can be written: the worker fills its request slots, and each time they are
      // answered it sends more, until twice `concurrency` results wait for their commit.
      await eventually(async () => open.length === CONCURRENCY, 10_000, `${CONCURRENCY} requests in flight`);
      answerAll();
      await eventually(async () => open.length === CONCURRENCY, 10_000, 'the next requests in flight while the first results wait');
      answerAll();
      // The worker is now at its cap of unwritten results, with nothing in flight: no request
      // can start until a commit (the scheduler's property tests hold it to that).
      await eventually(() => {
        const c = dispatcher.counts();
        return c.sending === 0 && c.unrecorded === 2 * CONCURRENCY;
      }, 10_000, 'twice `concurrency` results waiting for their commit');
      assert.equal(committed, 0, 'nothing was committed yet');
      assert.equal(open.length, 0, 'no request started with twice `concurrency` results unwritten');
      assert.equal(sent.length, 2 * CONCURRENCY);

      // Commits resume: everything else goes out, once, and is recorded.
      openCommits();
      const expected = events.length * hooks.length;
      const deadline = Date.now() + 20_000;
      while (new Set(sent.map((d) => d.id)).size < expected || open.length > 0) {
        assert.ok(Date.now() < deadline, `all ${expected} deliveries sent (${new Set(sent.map((d) => d.id)).size} so far)`);
        answerAll();
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(sent.length, expected, 'none sent twice');
      await eventually(async () => (await store.deliveryStats()).pending === 0, 10_000, 'every result written');
      assert.equal(maxInFlight, CONCURRENCY, 'requests in flight reached the process cap and never passed it');
      assert.ok(maxPerWebhook <= PER_WEBHOOK, `at most ${PER_WEBHOOK} in flight to one webhook, saw ${maxPerWebhook}`);
    } finally {
      openCommits();
      answerAll();
      await dispatcher.stop(1000);
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
