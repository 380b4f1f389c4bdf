import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SCOPES } from '../src/auth/scopes.ts';
import { loadConfig } from '../src/config/load.ts';
import { classifyStatus, parseRetryAfter, retryDelayMs } from '../src/delivery/schedule.ts';
import { createHarness, LOOPBACK_CALLBACKS } from './helpers/harness.ts';
import { quiescent } from './helpers/quiescence.ts';
import { eventually, Receiver } from './helpers/receiver.ts';

const SCHEDULE = loadConfig({}, {}).delivery.retryScheduleMs;
const HOUR = 3_600_000;

describe('retry schedule (pure)', () => {
  it('is 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h by default (about 3 days), then nothing', () => {
    assert.deepEqual(SCHEDULE, [5000, 300_000, 1_800_000, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR, 20 * HOUR, 24 * HOUR]);
    const total = SCHEDULE.reduce((a, b) => a + b, 0);
    assert.ok(total > 3 * 24 * HOUR && total < 3.2 * 24 * HOUR);
    assert.equal(retryDelayMs(SCHEDULE.length + 1, SCHEDULE, 0.2), undefined, 'the 10th failed attempt is final');
  });

  it('spreads every delay by at most ±20 %, and uses the whole spread', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: SCHEDULE.length }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const base = SCHEDULE[attempt - 1]!;
        const delay = retryDelayMs(attempt, SCHEDULE, 0.2, () => r)!;
        return delay >= Math.floor(base * 0.8) && delay <= Math.ceil(base * 1.2);
      }),
      { numRuns: 2000 },
    );
    assert.equal(retryDelayMs(1, SCHEDULE, 0.2, () => 0), 4000);
    assert.equal(retryDelayMs(1, SCHEDULE, 0.2, () => 0.999999), 6000);
  });

  it('parses Retry-After as seconds or an HTTP date, and ignores anything else', () => {
    const now = Date.parse('2026-11-22T10:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('Sun, 22 Nov 2026 10:05:00 GMT', now), 300_000);
    assert.equal(parseRetryAfter('Sun, 22 Nov 2026 09:00:00 GMT', now), 0, 'a date in the past means now');
    for (const bad of [undefined, '', '-5', '1.5', 'soon', '12 apples']) assert.equal(parseRetryAfter(bad, now), undefined, String(bad));
    fc.assert(fc.property(fc.string(), (s) => {
      const v = parseRetryAfter(s, now);
      return v === undefined || (Number.isFinite(v) && v >= 0);
    }));
  });

  it('classifies statuses: 2xx succeeds, 410 is gone, the rest (3xx too) fails', () => {
    for (const s of [200, 201, 202, 204, 299]) assert.equal(classifyStatus(s), 'succeeded');
    assert.equal(classifyStatus(410), 'gone');
    for (const s of [100, 301, 302, 304, 307, 400, 401, 404, 429, 500, 502, 503]) assert.equal(classifyStatus(s), 'failure');
  });
});

describe('retry schedule with a controlled clock', () => {
  it('retries a failing delivery on schedule, 10 attempts in all, then fails it', async () => {
    let clock = Date.parse('2026-11-22T10:00:00Z');
    const r = await new Receiver().start();
    r.on('/always-500', () => 500);
    // random 0.5 makes the jitter factor exactly 1, so each wait is the schedule itself
    const h = await createHarness({ flags: LOOPBACK_CALLBACKS, now: () => clock, random: () => 0.5 });
    try {
      const sub = await h.client();
      const pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
      const hook = await h.webhook(sub, { callbackUrl: r.url('/always-500') });
      await h.publish(pub, { eventType: 'iModels.iModelCreated.v1', iTwinId: randomUUID(), accountId: sub.accountId, content: { imodelId: randomUUID(), userId: randomUUID() } });
      const delivery = async () => {
        const [d] = (await h.server.deps.store.listDeliveries(hook.id, undefined, 1, undefined)).items;
        return (await h.server.deps.store.getDelivery(hook.id, d!.id))!;
      };
      for (let attempt = 1; attempt <= SCHEDULE.length; attempt++) {
        await eventually(async () => (await delivery()).attemptLog.length === attempt, 5000, `attempt ${attempt} recorded`);
        const d = await delivery();
        assert.equal(d.status, 'pending');
        const last = d.attemptLog[attempt - 1]!;
        assert.equal(last.startedAt, clock, 'the attempt ran at the controlled time');
        assert.equal(d.nextAttemptAt! - last.startedAt - last.durationMs, SCHEDULE[attempt - 1], `wait after attempt ${attempt}`);
        // Just before the due time nothing happens...
        clock = d.nextAttemptAt! - 1;
        h.server.dispatcher!.wake();
        await quiescent(h.server);
        assert.equal(r.received.length, attempt, 'not retried early');
        // ...at the due time the next attempt goes out.
        clock = d.nextAttemptAt!;
        h.server.dispatcher!.wake();
      }
      await eventually(async () => (await delivery()).status === 'failed', 5000, 'failed');
      const d = await delivery();
      assert.equal(d.attemptLog.length, 10);
      assert.equal(d.attempts, 10);
      assert.equal(d.nextAttemptAt, undefined);
      assert.equal(r.received.length, 10);
      assert.ok(new Set(r.received.map((x) => x.body.messageId)).size === 1, 'the same messageId every time');
    } finally {
      await h.close();
      await r.close();
    }
  });

  it('deactivates a webhook whose every attempt failed for 5 days, and only then', async () => {
    let clock = Date.parse('2026-11-22T10:00:00Z');
    const day = 24 * HOUR;
    const r = await new Receiver().start();
    let healthy = false;
    r.on('/flaky', () => (healthy ? 200 : 500));
    const h = await createHarness({ flags: LOOPBACK_CALLBACKS, now: () => clock });
    try {
      const sub = await h.client();
      const hook = await h.webhook(sub, { callbackUrl: r.url('/flaky') });
      // Tokens expire on the controlled clock too: each publish gets a fresh one.
      const publish = async () => {
        const pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
        const res = await h.publish(pub, { eventType: 'iModels.iModelCreated.v1', iTwinId: randomUUID(), accountId: sub.accountId, content: { imodelId: randomUUID(), userId: randomUUID() } });
        assert.equal(res.statusCode, 202);
      };
      const active = async () => (await h.server.deps.store.getWebhook(sub.clientId, hook.id))!.active;

      await publish();
      await r.waitFor(() => r.received.length === 1);
      // day 3: one success resets the streak
      clock += 3 * day;
      healthy = true;
      await publish();
      h.server.dispatcher!.wake();
      await r.waitFor(() => r.received.length >= 3);
      healthy = false;
      // day 7: failing again, but only for 4 days at most: still active
      clock += 4 * day;
      await publish();
      await r.waitFor(() => r.received.length >= 4);
      await quiescent(h.server);
      assert.equal(await active(), true);
      // day 8.5: the streak that started on day 7 is young; day 12.1: it is 5 days old
      clock += 5 * day + 60_000;
      await publish();
      h.server.dispatcher!.wake();
      await eventually(async () => !(await active()), 5000, 'deactivated');
      const gone = (await h.server.deps.metrics.deactivated.get()).values.find((v) => v.labels.cause === 'failing')!.value;
      assert.equal(gone, 1);
      const pending = (await h.server.deps.store.listDeliveries(hook.id, 'pending', 100, undefined)).items;
      assert.equal(pending.length, 0, 'its pending deliveries are cancelled');
    } finally {
      await h.close();
      await r.close();
    }
  });
});
