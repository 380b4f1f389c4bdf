// The delivery worker under a load past its caps, and what a receiver and an operator see
// of it: every delivery once and signed, the process-wide and per-webhook caps held, its
// log lines in the server's log and its counts in the metrics.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import { createHarness, LOOPBACK_CALLBACKS } from './helpers/harness.ts';
import { quiescent } from './helpers/quiescence.ts';
import { eventually, Receiver } from './helpers/receiver.ts';

const TYPE = 'iModels.iModelCreated.v1';

describe('delivery worker', () => {
  it('under a load past both caps: every delivery once, signed, within DELIVERY_CONCURRENCY and MAX_IN_FLIGHT_PER_WEBHOOK', async () => {
    const r = await new Receiver().start();
    let inFlight = 0;
    let most = 0;
    const perPath = new Map<string, number>();
    let mostPerPath = 0;
    const slow = async (req: import('node:http').IncomingMessage) => {
      const path = req.url!;
      inFlight++;
      perPath.set(path, (perPath.get(path) ?? 0) + 1);
      most = Math.max(most, inFlight);
      mostPerPath = Math.max(mostPerPath, perPath.get(path)!);
      await new Promise((res) => setTimeout(res, 20));
      inFlight--;
      perPath.set(path, perPath.get(path)! - 1);
      return 200;
    };
    // 6 requests in flight at most, 2 to one webhook.
    const h = await createHarness({ flags: { ...LOOPBACK_CALLBACKS, deliveryConcurrency: '6', maxInFlightPerWebhook: '2' } });
    try {
      const sub = await h.client();
      const pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
      const paths = ['/a', '/b', '/c', '/d'];
      for (const path of paths) {
        r.on(path, slow);
        const hook = await h.webhook(sub, { callbackUrl: r.url(path), eventTypes: [TYPE] });
        r.setSecret(path, hook.secret);
      }
      const events = Array.from({ length: 40 }, () => ({ eventType: TYPE, iTwinId: randomUUID(), accountId: sub.accountId, messageId: randomUUID(), content: { imodelId: randomUUID(), userId: randomUUID() } }));
      assert.equal((await h.publish(pub, { events })).statusCode, 202);
      await r.waitFor(() => r.received.length >= 160, 30_000, 'all 160 deliveries');
      await quiescent(h.server);
      assert.equal(r.received.length, 160, 'nothing sent twice');
      for (const path of paths) {
        assert.deepEqual(new Set(r.at(path).map((x) => x.body.messageId)), new Set(events.map((e) => e.messageId)), path);
      }
      assert.ok(r.received.every((x) => x.signatureValid === true && x.standardValid === true), 'every signature verifies');
      assert.ok(most <= 6, `at most DELIVERY_CONCURRENCY in flight (${most})`);
      assert.ok(mostPerPath <= 2, `at most MAX_IN_FLIGHT_PER_WEBHOOK to one webhook (${mostPerPath})`);
      // Every result was written: nothing is left pending or in flight.
      const hooks = (await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: sub.auth } })).json().webhooks as Array<{ id: string }>;
      await eventually(async () => {
        for (const hook of hooks) {
          if ((await h.server.deps.store.listDeliveries(hook.id, 'succeeded', 100, undefined)).items.length !== 40) return false;
        }
        return true;
      }, 10_000, 'all 160 recorded as succeeded');
    } finally {
      await h.close();
      await r.close();
    }
  });

  it('its log lines reach the server\'s log, and its counts the metrics', async () => {
    const r = await new Receiver().start();
    r.on('/gone', () => 410);
    const h = await createHarness({ flags: LOOPBACK_CALLBACKS });
    try {
      const sub = await h.client();
      const pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
      const hook = await h.webhook(sub, { callbackUrl: r.url('/gone'), eventTypes: [TYPE] });
      await h.publish(pub, { eventType: TYPE, iTwinId: randomUUID(), accountId: sub.accountId, content: { imodelId: randomUUID(), userId: randomUUID() } });
      await eventually(async () => h.logs.some((l) => l.includes('webhook deactivated by the delivery engine')), 5000, 'the warning logged');
      const line = JSON.parse(h.logs.find((l) => l.includes('webhook deactivated by the delivery engine'))!) as Record<string, unknown>;
      assert.equal(line.level, 40);
      assert.equal(line.webhookId, hook.id);
      assert.equal(line.cause, 'gone');
      assert.equal(line.service, 'itwin-webhooks');
      const metrics = (await h.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /^itwin_webhooks_webhooks_deactivated_total\{cause="gone"\} 1$/m);
      assert.match(metrics, /^itwin_webhooks_delivery_attempts_total\{outcome="gone"\} 1$/m);
      assert.match(metrics, /^itwin_webhooks_delivery_attempt_duration_seconds_count\{outcome="gone"\} 1$/m);
      // A second scrape does not count the same attempts again.
      const again = (await h.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(again, /^itwin_webhooks_delivery_attempts_total\{outcome="gone"\} 1$/m);
    } finally {
      await h.close();
      await r.close();
    }
  });
});
