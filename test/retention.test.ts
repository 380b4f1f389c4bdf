/**
 * Retention (contract §6): the maintenance loop with a fake store (rounds, failures,
 * stopping), and end to end on both stores: with RETENTION=1s delivered history leaves the
 * store within a round of the loop, /metrics counts what went, a pending delivery stays,
 * and a removed event's messageId is still a duplicate.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import { createRetention } from '../src/delivery/retention.ts';
import { createLogger } from '../src/observability/logger.ts';
import type { PruneRequest, PruneResult, RetentionRepo } from '../src/store/retention.ts';
import { createHarness, LOOPBACK_CALLBACKS } from './helpers/harness.ts';
import { dropSchema, TEST_DATABASE_URL, testSchema } from './helpers/postgres.ts';
import { eventually, Receiver } from './helpers/receiver.ts';
import { Writable } from 'node:stream';

const silent = () => {
  const lines: string[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk, _e, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  return { logger, lines };
};

/** A store whose batches are scripted: each call takes the next answer (or throws it). */
function fakeStore(answers: Array<Partial<PruneResult> | Error>) {
  const calls: PruneRequest[] = [];
  const store: RetentionRepo = {
    async pruneHistory(request) {
      calls.push(request);
      const a = answers.shift() ?? {};
      if (a instanceof Error) throw a;
      return { deliveries: 0, attempts: 0, events: 0, messageIds: 0, more: false, ...a };
    },
  };
  return { store, calls };
}

describe('retention loop', () => {
  it('prunes batch after batch while more is due, with the cutoff RETENTION before now, and counts what went', async () => {
    const { store, calls } = fakeStore([{ deliveries: 3, attempts: 4, events: 2, more: true }, { deliveries: 1, messageIds: 5, more: true }, { events: 1 }]);
    const loop = createRetention({ store, retentionMs: 60_000, idempotencyWindowMs: 7_000, now: () => 1_000_000, logger: silent().logger, pauseMs: 0, batch: 7 });
    await loop.round();
    assert.deepEqual(
      calls.map((c) => [c.before, c.now, c.idempotencyWindowMs, c.limit]),
      [
        [940_000, 1_000_000, 7_000, 7],
        [940_000, 1_000_000, 7_000, 7],
        [940_000, 1_000_000, 7_000, 7],
      ],
      'one round: until nothing more is due',
    );
    assert.deepEqual(loop.counts(), { removed: { deliveries: 4, attempts: 4, events: 3, messageIds: 5 }, errors: 0, consecutiveErrors: 0, lastRoundAt: 1_000_000 });
  });

  it('survives failing batches: logs and counts them, backs off, and recovers', async () => {
    const { store, calls } = fakeStore([new Error('database down'), new Error('database down'), { deliveries: 2 }]);
    const { logger, lines } = silent();
    const loop = createRetention({ store, retentionMs: 1000, idempotencyWindowMs: 1000, now: Date.now, logger, intervalMs: 5, pauseMs: 0 });
    loop.start();
    try {
      await eventually(() => loop.counts().removed.deliveries === 2, 10_000, 'the batch after the failures');
      const c = loop.counts();
      assert.equal(c.errors, 2);
      assert.equal(c.consecutiveErrors, 0, 'healthy again');
      assert.ok(calls.length >= 3);
      assert.equal(lines.filter((l) => l.includes('retention batch failed')).length, 2);
      assert.ok(lines.some((l) => l.includes('retention works again')));
    } finally {
      await loop.stop();
    }
  });

  it('stop waits for the batch under way and starts no other', async () => {
    let release!: () => void;
    let started = 0;
    const store: RetentionRepo = {
      async pruneHistory() {
        started++;
        await new Promise<void>((r) => (release = r));
        return { deliveries: 1, attempts: 0, events: 0, messageIds: 0, more: true };
      },
    };
    const loop = createRetention({ store, retentionMs: 1000, idempotencyWindowMs: 1000, now: Date.now, logger: silent().logger, intervalMs: 5, pauseMs: 0 });
    loop.start();
    await eventually(() => started === 1, 10_000, 'a batch under way');
    let stopped = false;
    const stopping = loop.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(stopped, false, 'stop waits for the batch');
    release();
    await stopping;
    assert.equal(started, 1, 'no batch after stop');
  });
});

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`retention end to end (${kind})`, () => {
    it('removes delivered history within a round, counts it in /metrics, keeps pending deliveries and the idempotency window', { timeout: 120_000 }, async () => {
      const r = await new Receiver().start();
      r.on('/down', () => 503);
      const schema = testSchema('ret');
      const env = kind === 'postgres' ? { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, ENCRYPTION_KEY: 'ab'.repeat(32) } : {};
      const h = await createHarness({ flags: { ...LOOPBACK_CALLBACKS, retention: '1s' }, env });
      try {
        const sub = await h.client();
        const pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
        const ok = await h.webhook(sub, { callbackUrl: r.url('/ok') });
        const down = await h.webhook(sub, { callbackUrl: r.url('/down'), eventTypes: ['iModels.iModelDeleted.v1'] });
        const event = (eventType: string, messageId = randomUUID()) => ({ eventType, iTwinId: randomUUID(), accountId: sub.accountId, messageId, content: { imodelId: randomUUID(), userId: randomUUID() } });
        const repeated = event('iModels.iModelCreated.v1');
        const first = (await h.publish(pub, { events: [repeated, event('iModels.iModelCreated.v1'), event('iModels.iModelCreated.v1'), event('iModels.iModelDeleted.v1')] })).json() as {
          events: Array<{ enqueuedDateTime: string }>;
        };
        await r.waitFor(() => r.at('/ok').length >= 3 && r.at('/down').length >= 1);
        const history = async (webhookId: string) =>
          ((await h.inject({ method: 'GET', url: `/webhooks/${webhookId}/deliveries`, headers: { authorization: sub.auth } })).json() as { deliveries: Array<{ status: string }> }).deliveries;
        const metric = async (line: string) => {
          const text = (await h.inject({ method: 'GET', url: '/metrics' })).body;
          const found = text.split('\n').find((l) => l.startsWith(line));
          return found === undefined ? 0 : Number(found.slice(line.length).trim());
        };
        await eventually(async () => (await history(ok.id)).length === 0, 60_000, 'the delivered history removed');
        await eventually(async () => (await metric('itwin_webhooks_retention_removed_total{kind="deliveries"}')) >= 3, 10_000, 'counted');
        assert.ok((await metric('itwin_webhooks_retention_removed_total{kind="attempts"}')) >= 3);
        assert.ok((await metric('itwin_webhooks_retention_removed_total{kind="events"}')) >= 3);
        assert.equal(await metric('itwin_webhooks_retention_consecutive_errors'), 0);
        assert.ok((await metric('itwin_webhooks_retention_last_round_timestamp_seconds')) > 0);
        // The delivery being retried stays (with its event: it can still be sent).
        assert.deepEqual((await history(down.id)).map((d) => d.status), ['pending']);
        // The removed event's messageId is still a duplicate, answered with its first result.
        const again = (await h.publish(pub, repeated)).json() as { events: Array<{ enqueuedDateTime: string; matchedWebhooks: number }> };
        assert.deepEqual(again.events.map((e) => [e.enqueuedDateTime, e.matchedWebhooks]), [[first.events[0]!.enqueuedDateTime, 1]]);
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(r.at('/ok').length, 3, 'nothing sent again');
      } finally {
        await h.close();
        await r.close();
        if (kind === 'postgres') await dropSchema(schema);
      }
    });
  });
}
