import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import { createHarness, LOOPBACK_CALLBACKS } from './helpers/harness.ts';
import { eventually, Receiver } from './helpers/receiver.ts';

test('GET /metrics exposes the delivery metrics in Prometheus text format, without a token', async () => {
  const r = await new Receiver().start();
  r.on('/fails', () => 500);
  const h = await createHarness({ flags: LOOPBACK_CALLBACKS });
  try {
    const sub = await h.client();
    const pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
    await h.webhook(sub, { callbackUrl: r.url('/ok') });
    await h.webhook(sub, { callbackUrl: r.url('/fails') });
    await h.publish(pub, { eventType: 'iModels.iModelCreated.v1', iTwinId: randomUUID(), accountId: sub.accountId, content: { imodelId: randomUUID(), userId: randomUUID() } });
    await r.waitFor(() => r.received.length >= 2);
    const value = async (line: string) => {
      const text = (await h.inject({ method: 'GET', url: '/metrics' })).body;
      const found = text.split('\n').find((l) => l.startsWith(line));
      return found === undefined ? undefined : Number(found.slice(line.length).trim());
    };
    await eventually(async () => (await value('itwin_webhooks_delivery_attempts_total{outcome="retry"}')) === 1, 5000, 'the retry counted');
    const res = await h.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.equal(await value('itwin_webhooks_delivery_attempts_total{outcome="succeeded"}'), 1);
    // Pending is read from the store: the success counts once its result is written (soon after it is counted).
    await eventually(async () => (await value('itwin_webhooks_deliveries_pending')) === 1, 5000, 'the failed one alone waiting for its retry');
    assert.ok((await value('itwin_webhooks_oldest_due_delivery_age_seconds')) !== undefined);
    assert.equal(await value('itwin_webhooks_events_published_total{result="accepted"}'), 1);
    assert.equal(await value('itwin_webhooks_deliveries_created_total'), 2);
    // A batch: two new events and one messageId seen before.
    const event = (messageId: string) => ({ eventType: 'iModels.iModelCreated.v1', iTwinId: randomUUID(), accountId: sub.accountId, messageId, content: { imodelId: randomUUID(), userId: randomUUID() } });
    const repeated = randomUUID();
    await h.publish(pub, event(repeated));
    await h.publish(pub, { events: [event(randomUUID()), event(repeated), event(randomUUID())] });
    assert.equal(await value('itwin_webhooks_events_published_total{result="accepted"}'), 4);
    assert.equal(await value('itwin_webhooks_events_published_total{result="duplicate"}'), 1);
    for (const name of [
      'itwin_webhooks_delivery_attempt_duration_seconds_bucket',
      'itwin_webhooks_dispatcher_loop_errors_total',
      'itwin_webhooks_dispatcher_consecutive_errors',
      'itwin_webhooks_webhooks_deactivated_total{cause="gone"}',
      'itwin_webhooks_webhooks_deactivated_total{cause="failing"}',
      'itwin_webhooks_leases_reaped_total',
      'itwin_webhooks_process_resident_memory_bytes',
    ]) {
      assert.ok(res.body.includes(name), name);
    }
  } finally {
    await h.close();
    await r.close();
  }
});
