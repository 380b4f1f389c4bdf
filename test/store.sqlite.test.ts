import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore, openSqliteSync } from '../src/store/sqlite/store.ts';
import { openThreadedSqliteStore } from '../src/store/sqlite/threaded.ts';
import type { NewEvent, Store } from '../src/store/types.ts';
import { storeConformance, type StoreFactory } from './helpers/storeConformance.ts';

/** A store in its own temporary DATA_DIR, removed again by cleanup(). */
function sqliteFactory(name: string, open: (dataDir: string) => Store | Promise<Store>): StoreFactory {
  return {
    name,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'itwh-store-'));
      let store: Store;
      try {
        store = await open(dir);
      } catch (err) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
      return {
        store,
        async cleanup() {
          try {
            await store.close();
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      };
    },
  };
}

storeConformance(sqliteFactory('sqlite (in-thread)', (dir) => openSqliteStore(dir)));
storeConformance(sqliteFactory('sqlite (threaded)', (dir) => openThreadedSqliteStore(dir)));

describe('sqlite: deliveries recorded before migration 3', () => {
  it('keep their attempts in delivery_attempts, and later attempts join them in order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'itwh-store-'));
    const { db, store } = openSqliteSync(dir);
    try {
      const t0 = Date.UTC(2026, 0, 1);
      const itwin = randomUUID();
      store.putItwin(itwin, 'account', t0);
      store.upsertBuiltinEventTypes([{ type: 'a.b.v1', service: 'a', description: 'd', contentSchema: {}, example: {}, builtin: true, createdAt: t0 }]);
      const webhookId = randomUUID();
      store.createWebhook({ id: webhookId, ownerClientId: 'owner', scope: 'iTwin', scopeId: itwin, active: true, callbackUrl: 'https://r.example.com/', eventTypes: ['a.b.v1'], secretSealed: 's', createdAt: t0, modifiedAt: t0 });
      store.publishEvents([{ messageId: randomUUID(), eventType: 'a.b.v1', itwinId: itwin, accountId: 'account', contentJson: '{}', publisherClientId: 'publisher' }], t0, 60_000);
      store.heartbeat('w1', t0);
      const attempt = (n: number, outcome: 'retry' | 'succeeded', at: number) => {
        const [d] = store.claimDeliveries({ workerId: 'w1', now: at, limit: 1, maxInFlightPerWebhook: 1, maxInFlightPerApplication: 1000 });
        assert.equal(d!.attempt, n);
        const statusCode = outcome === 'retry' ? 503 : 200;
        store.completeDeliveries('w1', [{ deliveryId: d!.id, webhookId, attempt: n, startedAt: at, durationMs: n, statusCode, error: undefined, responseBody: `answer ${n}`, outcome, nextAttemptAt: outcome === 'retry' ? at + 1000 : undefined }], { deactivateFailingAfterMs: 1e9 });
        return d!.id;
      };
      const id = attempt(1, 'retry', t0);
      // What schema version 2 left behind: every attempt in delivery_attempts, none on the row.
      db.exec(`INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_body)
               SELECT id, attempts, last_started_at, last_duration_ms, last_status, last_error, last_response_body FROM deliveries`);
      db.exec('UPDATE deliveries SET last_started_at = NULL, last_duration_ms = NULL, last_response_body = NULL');
      attempt(2, 'retry', t0 + 1000);
      attempt(3, 'succeeded', t0 + 2000);
      // The same completion written again (a worker whose answer was lost retries it) is stale and not recorded twice.
      const again = { deliveryId: id, webhookId, attempt: 3, startedAt: t0 + 2000, durationMs: 3, statusCode: 200, error: undefined, responseBody: 'answer 3', outcome: 'succeeded' as const, nextAttemptAt: undefined };
      assert.equal(store.completeDeliveries('w1', [again], { deactivateFailingAfterMs: 1e9 }).stale, 1);
      const log = store.getDelivery(webhookId, id)!.attemptLog;
      assert.deepEqual(log.map((a) => [a.attempt, a.statusCode, a.durationMs, a.responseBody]), [
        [1, 503, 1, 'answer 1'],
        [2, 503, 2, 'answer 2'],
        [3, 200, 3, 'answer 3'],
      ]);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sqlite: publishAndClaim', () => {
  it('leases what the publish made due in the same transaction, within the limit and the per-webhook cap', () => {
    const dir = mkdtempSync(join(tmpdir(), 'itwh-store-'));
    const { store } = openSqliteSync(dir);
    try {
      const t0 = Date.UTC(2026, 0, 1);
      const itwin = randomUUID();
      store.putItwin(itwin, 'account', t0);
      store.upsertBuiltinEventTypes([{ type: 'a.b.v1', service: 'a', description: 'd', contentSchema: {}, example: {}, builtin: true, createdAt: t0 }]);
      const hooks = [randomUUID(), randomUUID()];
      for (const id of hooks) {
        store.createWebhook({ id, ownerClientId: 'owner', scope: 'iTwin', scopeId: itwin, active: true, callbackUrl: 'https://r.example.com/', eventTypes: ['a.b.v1'], secretSealed: 's', createdAt: t0, modifiedAt: t0 });
      }
      store.heartbeat('w1', t0);
      const event = () => ({ messageId: randomUUID(), eventType: 'a.b.v1', itwinId: itwin, accountId: 'account', contentJson: '{}', publisherClientId: 'publisher' });
      const batch = [event(), event(), event()];
      // 3 events × 2 webhooks = 6 deliveries; the cap lets 2 per webhook go, the limit 3 in all.
      const { results, claimed } = store.publishAndClaim(batch, t0, 60_000, { workerId: 'w1', now: t0, limit: 3, maxInFlightPerWebhook: 2, maxInFlightPerApplication: 1000 });
      assert.deepEqual(results.map((r) => [r.messageId, r.matchedWebhooks, r.duplicate]), batch.map((e) => [e.messageId, 2, false]));
      assert.equal(claimed.length, 3);
      assert.ok(hooks.every((h) => claimed.filter((d) => d.webhookId === h).length <= 2));
      assert.ok(claimed.every((d) => batch.some((e) => e.messageId === d.messageId) && d.attempt === 1));
      // With no room it is a plain publish; a duplicate leases nothing new either.
      const again = store.publishAndClaim([batch[0]!, event()], t0 + 1, 60_000, { workerId: 'w1', now: t0 + 1, limit: 0, maxInFlightPerWebhook: 2, maxInFlightPerApplication: 1000 });
      assert.deepEqual(again.results.map((r) => r.duplicate), [true, false]);
      assert.deepEqual(again.claimed, []);
      // Everything published is there: 3 leased, the other 5 pending and claimable.
      const rest = store.claimDeliveries({ workerId: 'w1', now: t0 + 2, limit: 100, maxInFlightPerWebhook: 100, maxInFlightPerApplication: 1000 });
      assert.equal(rest.length, 5);
      assert.equal(new Set([...claimed, ...rest].map((d) => d.id)).size, 8);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** An embedded store in a new DATA_DIR with one iTwin webhook for type a.b.v1 and `events` published at t0. */
function seededSync(dir: string, t0: number, events: number) {
  const opened = openSqliteSync(dir);
  const { store } = opened;
  const itwin = randomUUID();
  store.putItwin(itwin, 'account', t0);
  store.upsertBuiltinEventTypes([{ type: 'a.b.v1', service: 'a', description: 'd', contentSchema: {}, example: {}, builtin: true, createdAt: t0 }]);
  const webhookId = randomUUID();
  store.createWebhook({ id: webhookId, ownerClientId: 'owner', scope: 'iTwin', scopeId: itwin, active: true, callbackUrl: 'https://r.example.com/', eventTypes: ['a.b.v1'], secretSealed: 's', createdAt: t0, modifiedAt: t0 });
  const batch = Array.from({ length: events }, () => ({ messageId: randomUUID(), eventType: 'a.b.v1', itwinId: itwin, accountId: 'account', contentJson: '{}', publisherClientId: 'p' }));
  store.publishEvents(batch, t0, 60_000);
  return { ...opened, webhookId };
}

describe('sqlite: leases live in the server\'s memory', () => {
  it('a lease writes nothing on the row, and leases die with the process: after a restart the deliveries are claimed at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'itwh-store-'));
    const t0 = Date.UTC(2026, 0, 1);
    const first = seededSync(dir, t0, 3);
    try {
      const before = first.db.all('SELECT * FROM deliveries ORDER BY id');
      first.store.heartbeat('w1', t0);
      const leased = first.store.claimDeliveries({ workerId: 'w1', now: t0, limit: 10, maxInFlightPerWebhook: 2, maxInFlightPerApplication: 1000 });
      assert.equal(leased.length, 2, 'the cap holds');
      assert.deepEqual(first.db.all('SELECT * FROM deliveries ORDER BY id'), before, 'no delivery row changed');
      assert.deepEqual(first.store.claimDeliveries({ workerId: 'w2', now: t0 + 1, limit: 10, maxInFlightPerWebhook: 3, maxInFlightPerApplication: 1000 }).map((d) => d.id), [
        String(before.at(-1)!.id),
      ], 'only the one nobody holds');
    } finally {
      // A crash: the process goes without releasing anything, and its heartbeat is fresh.
      first.store.close();
    }
    const second = openSqliteSync(dir);
    try {
      const again = second.store.claimDeliveries({ workerId: 'w3', now: t0 + 2, limit: 10, maxInFlightPerWebhook: 16, maxInFlightPerApplication: 1000 });
      assert.equal(again.length, 3, 'every delivery is claimable again, without waiting for a lease to expire');
      assert.ok(again.every((d) => d.attempt === 1));
    } finally {
      second.store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a claim or a result whose transaction rolls back leaves the leases as they were', () => {
    const dir = mkdtempSync(join(tmpdir(), 'itwh-store-'));
    const t0 = Date.UTC(2026, 0, 1);
    const { db, store, webhookId } = seededSync(dir, t0, 2);
    try {
      store.heartbeat('w1', t0);
      const claim = () => store.claimDeliveries({ workerId: 'w1', now: t0, limit: 1, maxInFlightPerWebhook: 16, maxInFlightPerApplication: 1000 });
      let undone: string | undefined;
      assert.throws(() => db.tx(() => {
        undone = claim()[0]!.id;
        throw new Error('the commit failed');
      }));
      const [d] = claim();
      assert.equal(d!.id, undone, 'the rolled-back claim holds nothing: its delivery is claimed again');
      const success = { deliveryId: d!.id, webhookId, attempt: 1, startedAt: t0, durationMs: 1, statusCode: 200, error: undefined, responseBody: undefined, outcome: 'succeeded' as const, nextAttemptAt: undefined };
      assert.throws(() => db.tx(() => {
        store.completeDeliveries('w1', [success], { deactivateFailingAfterMs: 1e9 });
        throw new Error('the commit failed');
      }));
      assert.equal(store.completeDeliveries('w1', [success], { deactivateFailingAfterMs: 1e9 }).stale, 0, 'still held after the rollback');
      assert.equal(store.getDelivery(webhookId, d!.id)!.status, 'succeeded');
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('migration 5 makes the deliveries an older server had leased due again, and their lanes ready', () => {
    const dir = mkdtempSync(join(tmpdir(), 'itwh-store-'));
    const t0 = Date.UTC(2026, 0, 1);
    const s = seededSync(dir, t0, 3);
    try {
      // Back to what schema version 4 left: leases on the rows, counted on the lanes.
      s.db.exec(`ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
                 CREATE INDEX deliveries_leased ON deliveries (lease_owner) WHERE status = 'inflight';
                 ALTER TABLE delivery_lanes ADD COLUMN inflight INTEGER NOT NULL DEFAULT 0;
                 UPDATE deliveries SET status = 'inflight', lease_owner = 'old-worker';
                 UPDATE delivery_lanes SET ready_at = NULL, inflight = 3;
                 DELETE FROM schema_migrations WHERE version = 5;`);
    } finally {
      s.store.close();
    }
    const { db, store } = openSqliteSync(dir);
    try {
      assert.equal(db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'`)!.n, 3);
      assert.equal(store.nextReadyAt(16, 1000), t0, 'the lane is ready');
      assert.equal(store.claimDeliveries({ workerId: 'w1', now: t0 + 1, limit: 10, maxInFlightPerWebhook: 16, maxInFlightPerApplication: 1000 }).length, 3);
      assert.deepEqual(db.all(`SELECT name FROM pragma_table_info('deliveries') WHERE name = 'lease_owner'`), []);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The threaded store with one iTwin webhook for type a.b.v1; `event` makes an event for it (null content cannot be stored). */
async function withThreadedStore(t0: number, fn: (store: Store, event: (contentJson: string | null) => NewEvent) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'itwh-store-'));
  const store = await openThreadedSqliteStore(dir);
  try {
    const itwin = randomUUID();
    await store.putItwin(itwin, 'account', t0);
    await store.upsertBuiltinEventTypes([{ type: 'a.b.v1', service: 'a', description: 'd', contentSchema: {}, example: {}, builtin: true, createdAt: t0 }]);
    await store.createWebhook({ id: randomUUID(), ownerClientId: 'owner', scope: 'iTwin', scopeId: itwin, active: true, callbackUrl: 'https://r.example.com/', eventTypes: ['a.b.v1'], secretSealed: 's', createdAt: t0, modifiedAt: t0 });
    await fn(store, (contentJson) => ({ messageId: randomUUID(), eventType: 'a.b.v1', itwinId: itwin, accountId: 'account', contentJson: contentJson as string, publisherClientId: 'p' }));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('sqlite (threaded): publishes that arrive together', () => {
  it('share one commit, yet one that fails changes nothing and undoes none of the others', async () => {
    const t0 = Date.UTC(2026, 0, 1);
    await withThreadedStore(t0, async (store, event) => {
      // The middle batch cannot be stored (content is NOT NULL) after its first event was.
      const batches = [[event('{"n":1}')], [event('{"n":2}'), event(null)], [event('{"n":3}')]];
      // Sent without waiting in between, so the store thread takes them in one go.
      const outcomes = await Promise.allSettled(batches.map((b) => store.publishEvents(b, t0, 60_000)));
      assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
      // The failed batch left nothing behind: its first event is new when published again.
      const again = await store.publishEvents([batches[1]![0]!, batches[0]![0]!], t0 + 1, 60_000);
      assert.deepEqual(again.map((r) => r.duplicate), [false, true]);
      // Three stored events, three deliveries: those of batches 1 and 3, and the re-published one.
      await store.heartbeat('w1', t0);
      const claimed = await store.claimDeliveries({ workerId: 'w1', now: t0 + 2, limit: 10, maxInFlightPerWebhook: 10, maxInFlightPerApplication: 1000 });
      assert.deepEqual(claimed.map((d) => d.contentJson).sort(), ['{"n":1}', '{"n":2}', '{"n":3}']);
    });
  });

  it('alone, one that fails halfway leaves nothing behind, and publishes sent during a commit are all answered', async () => {
    const t0 = Date.UTC(2026, 0, 1);
    await withThreadedStore(t0, async (store, event) => {
      const broken = [event('{"n":0}'), event(null)];
      await assert.rejects(store.publishEvents(broken, t0, 60_000));
      assert.deepEqual((await store.publishEvents([broken[0]!], t0 + 1, 60_000)).map((r) => r.duplicate), [false], 'the failed publish stored nothing');
      // Many publishes in flight at once: some commit while others wait for a sync; every one is answered, once.
      const many = Array.from({ length: 40 }, (_, i) => [event(`{"n":${i + 1}}`)]);
      const results = await Promise.all(many.map((b) => store.publishEvents(b, t0 + 2, 60_000)));
      assert.deepEqual(results.map((r) => r[0]!.duplicate), many.map(() => false));
      await store.heartbeat('w1', t0);
      const claimed = await store.claimDeliveries({ workerId: 'w1', now: t0 + 3, limit: 100, maxInFlightPerWebhook: 100, maxInFlightPerApplication: 1000 });
      assert.equal(claimed.length, 41);
    });
  });
});

describe('sqlite (threaded): calls made in one turn of the event loop', () => {
  it('travel together, yet each is answered with its own result or error', async () => {
    const t0 = Date.UTC(2026, 0, 1);
    await withThreadedStore(t0, async (store, event) => {
      const id = randomUUID();
      const hook = { id, ownerClientId: 'owner', scope: 'iTwin' as const, scopeId: randomUUID(), active: true, callbackUrl: 'https://r.example.com/', eventTypes: ['a.b.v1'], secretSealed: 's', createdAt: t0, modifiedAt: t0 };
      await store.createWebhook(hook);
      const first = event('{"n":1}');
      // All issued before any answer can arrive: one message to the store thread, replies in as few.
      const [created, dup, found, missing, published, broken, republished] = await Promise.allSettled([
        store.createWebhook({ ...hook, id: randomUUID() }),
        store.createWebhook(hook),
        store.getWebhook('owner', id),
        store.getWebhook('owner', randomUUID()),
        store.publishEvents([first], t0, 60_000),
        store.publishEvents([event(null)], t0, 60_000),
        store.publishEvents([first], t0, 60_000),
      ]);
      assert.equal(created.status, 'fulfilled');
      assert.equal(dup.status, 'rejected', 'a second webhook with the same id is refused');
      assert.equal(found.status === 'fulfilled' && found.value?.id, id);
      assert.deepEqual(missing, { status: 'fulfilled', value: undefined });
      assert.equal(published.status === 'fulfilled' && published.value[0]!.duplicate, false);
      assert.equal(broken.status, 'rejected');
      assert.equal(republished.status === 'fulfilled' && republished.value[0]!.duplicate, true);
    });
  });

  it('and a call whose arguments cannot be copied to the store thread fails alone', async () => {
    const t0 = Date.UTC(2026, 0, 1);
    await withThreadedStore(t0, async (store) => {
      const id = randomUUID();
      await store.createWebhook({ id, ownerClientId: 'owner', scope: 'iTwin', scopeId: randomUUID(), active: true, callbackUrl: 'https://r.example.com/', eventTypes: ['a.b.v1'], secretSealed: 's', createdAt: t0, modifiedAt: t0 });
      const [before, uncopyable, after] = await Promise.allSettled([
        store.getWebhook('owner', id),
        store.getWebhook('owner', (() => id) as unknown as string),
        store.getWebhook('owner', id),
      ]);
      assert.equal(before.status === 'fulfilled' && before.value?.id, id);
      assert.equal(uncopyable.status, 'rejected');
      assert.match(String((uncopyable as PromiseRejectedResult).reason), /could not be cloned/);
      assert.equal(after.status === 'fulfilled' && after.value?.id, id);
    });
  });
});
