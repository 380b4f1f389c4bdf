import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, beforeEach, describe, it } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import type { DeliveryDetail } from '../src/store/types.ts';
import { createHarness, LOOPBACK_CALLBACKS, tempDir, type Harness, type TestClient } from './helpers/harness.ts';
import { quiescent } from './helpers/quiescence.ts';
import { eventually, Receiver } from './helpers/receiver.ts';

const TYPE = 'iModels.iModelCreated.v1';
const content = () => ({ imodelId: randomUUID(), userId: randomUUID() });
const TIMEOUT_MS = 400;

/** Each receiver fault in its own test (contract §4, delivery policy). */
describe('receiver faults', () => {
  let h: Harness;
  let r: Receiver;
  let sub: TestClient;
  let pub: TestClient;

  before(async () => {
    r = await new Receiver().start();
    h = await createHarness({ flags: { ...LOOPBACK_CALLBACKS, deliveryTimeout: `${TIMEOUT_MS}ms`, maxInFlightPerWebhook: '1' } });
  });
  // Each test has an account of its own: its publishes reach only its own webhook.
  beforeEach(async () => {
    sub = await h.client();
    pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
  });
  after(async () => {
    await h.close();
    await r.close();
  });

  /** Creates a webhook on `path`, publishes `n` events to it, and returns the webhook id. */
  const setup = async (path: string, n = 1) => {
    const hook = await h.webhook(sub, { callbackUrl: r.url(path), eventTypes: [TYPE] });
    for (let i = 0; i < n; i++) assert.equal((await h.publish(pub, { eventType: TYPE, iTwinId: randomUUID(), accountId: sub.accountId, content: content() })).statusCode, 202);
    return hook.id;
  };
  const onlyDelivery = async (webhookId: string): Promise<DeliveryDetail> => {
    const [d] = (await h.server.deps.store.listDeliveries(webhookId, undefined, 1, undefined)).items;
    return (await h.server.deps.store.getDelivery(webhookId, d!.id))!;
  };
  /** Waits for the first attempt to be written, and returns the delivery. */
  const firstAttempt = async (webhookId: string) => {
    await eventually(async () => (await onlyDelivery(webhookId)).attemptLog.length >= 1, 5000, 'first attempt recorded');
    return onlyDelivery(webhookId);
  };
  const assertRetryIn = (d: DeliveryDetail, expectedMs: number, spread = 0.2) => {
    assert.equal(d.status, 'pending');
    const a = d.attemptLog[0]!;
    const wait = d.nextAttemptAt! - (a.startedAt + a.durationMs);
    assert.ok(wait >= expectedMs * (1 - spread) - 1 && wait <= expectedMs * (1 + spread) + 1, `retry in ${wait} ms, expected ${expectedMs} ±${spread * 100}%`);
  };

  it('500: the attempt fails and is retried after 5 s ±20 %', async () => {
    r.on('/500', () => 500);
    const d = await firstAttempt(await setup('/500'));
    assert.equal(d.attemptLog[0]!.statusCode, 500);
    assert.equal(d.attemptLog[0]!.error, 'HTTP 500');
    assert.equal(d.lastStatusCode, 500);
    assertRetryIn(d, 5000);
  });

  it('a receiver that hangs past the timeout: the attempt times out', async () => {
    r.on('/hang', () => 'handled'); // never answers
    const d = await firstAttempt(await setup('/hang'));
    assert.equal(d.attemptLog[0]!.statusCode, undefined);
    assert.equal(d.attemptLog[0]!.error, `timed out after ${TIMEOUT_MS} ms`);
    assert.ok(d.attemptLog[0]!.durationMs >= TIMEOUT_MS - 5);
    assertRetryIn(d, 5000);
  });

  it('a connection reset fails the attempt', async () => {
    r.on('/reset', (req) => {
      req.socket.destroy();
      return 'handled';
    });
    const d = await firstAttempt(await setup('/reset'));
    assert.match(d.attemptLog[0]!.error!, /reset|closed|socket/i);
    assertRetryIn(d, 5000);
  });

  it('a 3xx is a failure and the redirect is not followed', async () => {
    r.on('/redirect', (_req, res) => {
      res.writeHead(302, { location: r.url('/redirect-target') });
      res.end();
      return 'handled';
    });
    const d = await firstAttempt(await setup('/redirect'));
    assert.equal(d.attemptLog[0]!.statusCode, 302);
    assert.match(d.attemptLog[0]!.error!, /redirect.*not followed/);
    assert.equal(r.at('/redirect-target').length, 0);
    assertRetryIn(d, 5000);
  });

  it('410 Gone deactivates the webhook at once and cancels its pending deliveries', async () => {
    // The 410 waits until all three events are published: a publish after the deactivation would match nothing.
    let publishedAll!: () => void;
    const allPublished = new Promise<void>((resolve) => (publishedAll = resolve));
    r.on('/gone', (_req, res) => {
      void allPublished.then(() => {
        res.statusCode = 410;
        res.end();
      });
      return 'handled';
    });
    const deactivatedBefore = (await h.server.deps.metrics.deactivated.get()).values.find((v) => v.labels.cause === 'gone')!.value;
    const id = await setup('/gone', 3); // cap 1 in flight: two stay pending behind the first
    publishedAll();
    await eventually(async () => !(await h.server.deps.store.getWebhook(sub.clientId, id))!.active, 5000, 'deactivated');
    const all = (await h.server.deps.store.listDeliveries(id, undefined, 10, undefined)).items;
    assert.deepEqual(all.map((d) => d.status).sort(), ['cancelled', 'cancelled', 'failed']);
    const get = await h.inject({ method: 'GET', url: `/webhooks/${id}`, headers: { authorization: sub.auth } });
    assert.equal(get.json().active, false);
    await quiescent(h.server);
    assert.equal(r.at('/gone').length, 1, 'cancelled deliveries are never sent');
    const deactivatedAfter = (await h.server.deps.metrics.deactivated.get()).values.find((v) => v.labels.cause === 'gone')!.value;
    assert.equal(deactivatedAfter - deactivatedBefore, 1);
  });

  it('429 with Retry-After in seconds is honoured (longer than the schedule)', async () => {
    r.on('/429', (_req, res) => {
      res.writeHead(429, { 'retry-after': '120' });
      res.end();
      return 'handled';
    });
    const d = await firstAttempt(await setup('/429'));
    assert.equal(d.attemptLog[0]!.statusCode, 429);
    assertRetryIn(d, 120_000, 0.001);
  });

  it('503 with Retry-After as an HTTP date is honoured, and capped at 24 h', async () => {
    r.on('/503', (_req, res) => {
      res.writeHead(503, { 'retry-after': new Date(Date.now() + 600_000).toUTCString() });
      res.end();
      return 'handled';
    });
    const d = await firstAttempt(await setup('/503'));
    assertRetryIn(d, 600_000, 0.01);
    r.on('/503-long', (_req, res) => {
      res.writeHead(503, { 'retry-after': String(30 * 86_400) });
      res.end();
      return 'handled';
    });
    assertRetryIn(await firstAttempt(await setup('/503-long')), 86_400_000, 0.001);
  });

  it('Retry-After on other statuses is ignored', async () => {
    r.on('/500-retry-after', (_req, res) => {
      res.writeHead(500, { 'retry-after': '3600' });
      res.end();
      return 'handled';
    });
    assertRetryIn(await firstAttempt(await setup('/500-retry-after')), 5000);
  });

  it('a slow body that outlasts the timeout fails the attempt, even after a 200', async () => {
    r.on('/slow-body', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial ');
      const timer = setInterval(() => res.write('.'), 50);
      setTimeout(() => {
        clearInterval(timer);
        res.end();
      }, TIMEOUT_MS * 3);
      return 'handled';
    });
    const d = await firstAttempt(await setup('/slow-body'));
    assert.equal(d.attemptLog[0]!.error, `timed out after ${TIMEOUT_MS} ms`);
    assert.equal(d.status, 'pending');
  });

  it('keeps the first 4 KiB of a response body', async () => {
    r.on('/big', (_req, res) => {
      res.end('x'.repeat(10_000));
      return 'handled';
    });
    const d = await firstAttempt(await setup('/big'));
    assert.equal(d.status, 'succeeded');
    assert.equal(d.attemptLog[0]!.responseBody!.length, 4096);
  });

  it('an endless body is read no further than 64 KiB: the status decides, before the timeout', async () => {
    const streams: Array<import('node:http').ServerResponse> = [];
    r.on('/endless', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      streams.push(res);
      const chunk = 'y'.repeat(16 * 1024);
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(chunk)), 5);
      return 'handled';
    });
    const d = await firstAttempt(await setup('/endless'));
    for (const s of streams) s.destroy();
    assert.equal(d.status, 'succeeded');
    assert.equal(d.attemptLog[0]!.error, undefined);
    assert.equal(d.attemptLog[0]!.responseBody, 'y'.repeat(4096));
  });

  it('1xx informational answers are skipped: the final status decides', async () => {
    r.on('/early-hints', (_req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      res.writeProcessing();
      setTimeout(() => res.end('done'), 20);
      return 'handled';
    });
    const d = await firstAttempt(await setup('/early-hints'));
    assert.equal(d.status, 'succeeded');
    assert.equal(d.attemptLog[0]!.statusCode, 200);
    assert.equal(d.attemptLog[0]!.responseBody, 'done');
  });

  it('deleting a webhook cancels its pending deliveries: they are never sent', async () => {
    // The first request is held open, so the second delivery (cap 1 in flight) is still pending.
    const held: Array<import('node:http').ServerResponse> = [];
    r.on('/deleted', (_req, res) => {
      held.push(res);
      return 'handled';
    });
    const id = await setup('/deleted', 2);
    await r.waitFor(() => r.at('/deleted').length === 1);
    const res = await h.inject({ method: 'DELETE', url: `/webhooks/${id}`, headers: { authorization: sub.auth } });
    assert.equal(res.statusCode, 204);
    assert.equal((await h.server.deps.store.listDeliveries(id, undefined, 10, undefined)).items.length, 0);
    for (const held1 of held) held1.end('ok');
    h.server.dispatcher!.wake();
    await quiescent(h.server);
    assert.equal(r.at('/deleted').length, 1);
  });

  it('deactivating a webhook cancels its pending deliveries', async () => {
    r.on('/deactivated', () => 500);
    const id = await setup('/deactivated', 2);
    // both attempted once and waiting for their retry (not in flight)
    await eventually(async () => {
      const items = (await h.server.deps.store.listDeliveries(id, 'pending', 10, undefined)).items;
      return items.length === 2 && items.every((d) => d.attempts === 1);
    }, 5000, 'both waiting for a retry');
    await h.inject({ method: 'PATCH', url: `/webhooks/${id}`, headers: { authorization: sub.auth }, payload: { active: false } });
    const statuses = (await h.server.deps.store.listDeliveries(id, undefined, 10, undefined)).items.map((d) => d.status);
    assert.deepEqual(statuses, ['cancelled', 'cancelled']);
    h.server.dispatcher!.wake();
    await quiescent(h.server);
    assert.equal(r.at('/deactivated').length, 2);
  });
});

describe('SSRF guard in the delivery pipeline', () => {
  it('an http:// callback the server no longer allows is refused, and the log says so once per webhook', async () => {
    const dataDir = tempDir();
    const first = await createHarness({ dataDir, flags: { allowInsecureCallbacks: true } });
    let sub: TestClient;
    let hookId: string;
    try {
      sub = await first.client();
      hookId = (await first.webhook(sub, { callbackUrl: 'http://receiver.example.com/plain', eventTypes: [TYPE] })).id;
    } finally {
      await first.close();
    }
    const h = await createHarness({ dataDir });
    try {
      const pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
      for (let i = 0; i < 2; i++) await h.publish(pub, { eventType: TYPE, iTwinId: randomUUID(), accountId: sub.accountId, content: content() });
      await eventually(async () => (await h.server.deps.store.listDeliveries(hookId, undefined, 10, undefined)).items.filter((d) => d.attempts === 1).length === 2);
      const warnings = h.logs.filter((l) => l.includes('refused by the callback policy') && l.includes(hookId)).map((l) => JSON.parse(l));
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.equal(warnings[0].level, 40);
      assert.equal(warnings[0].cause, 'insecure-callback');
    } finally {
      await h.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a loopback callback unless allowed, and records why', async () => {
    const r = await new Receiver().start();
    const h = await createHarness({ flags: { allowInsecureCallbacks: true } });
    try {
      const sub = await h.client();
      const pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
      const hook = await h.webhook(sub, { callbackUrl: r.url('/internal'), eventTypes: [TYPE] });
      await h.publish(pub, { eventType: TYPE, iTwinId: randomUUID(), accountId: sub.accountId, content: content() });
      await eventually(async () => {
        const [d] = (await h.server.deps.store.listDeliveries(hook.id, undefined, 1, undefined)).items;
        return (await h.server.deps.store.getDelivery(hook.id, d!.id))!.attemptLog.length === 1;
      });
      const [d] = (await h.server.deps.store.listDeliveries(hook.id, undefined, 1, undefined)).items;
      assert.match(d!.lastError!, /SSRF guard.*127\.0\.0\.1.*loopback/);
      assert.equal(r.received.length, 0);
    } finally {
      await h.close();
      await r.close();
    }
  });

  it('an allow-list opts in exactly its addresses: with 127.0.0.1/32 allowed, a receiver on 127.0.0.2 gets nothing and the attempt says why', async () => {
    const allowed = await new Receiver().start();
    const neighbour = await new Receiver().start('127.0.0.2');
    const h = await createHarness({ flags: { allowInsecureCallbacks: true, callbackAllowCidrs: '127.0.0.1/32' } });
    try {
      const sub = await h.client();
      const pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
      const refused = await h.webhook(sub, { callbackUrl: neighbour.url('/neighbour'), eventTypes: [TYPE] });
      await h.webhook(sub, { callbackUrl: allowed.url('/allowed'), eventTypes: [TYPE] });
      await h.publish(pub, { eventType: TYPE, iTwinId: randomUUID(), accountId: sub.accountId, content: content() });
      await allowed.waitFor(() => allowed.received.length === 1, 10_000, 'the delivery to the allowed address');
      await eventually(async () => {
        const [d] = (await h.server.deps.store.listDeliveries(refused.id, undefined, 1, undefined)).items;
        return d !== undefined && (await h.server.deps.store.getDelivery(refused.id, d.id))!.attemptLog.length === 1;
      });
      const [d] = (await h.server.deps.store.listDeliveries(refused.id, undefined, 1, undefined)).items;
      assert.match(d!.lastError!, /SSRF guard.*127\.0\.0\.2.*loopback/);
      await quiescent(h.server);
      assert.equal(neighbour.received.length, 0);
    } finally {
      await h.close();
      await allowed.close();
      await neighbour.close();
    }
  });

  it('a refused host name is recorded without what it resolved to: the tenant learns only that the address is not allowed', async () => {
    const r = await new Receiver().start();
    const h = await createHarness({ flags: { allowInsecureCallbacks: true }, lookup: async () => [{ address: '127.0.0.1', family: 4 }] });
    try {
      const sub = await h.client();
      const pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
      const hook = await h.webhook(sub, { callbackUrl: `http://internal.test:${r.port}/hook`, eventTypes: [TYPE] });
      for (let i = 0; i < 3; i++) await h.publish(pub, { eventType: TYPE, iTwinId: randomUUID(), accountId: sub.accountId, content: content() });
      await eventually(async () => {
        const page = (await h.server.deps.store.listDeliveries(hook.id, undefined, 10, undefined)).items;
        const attempts = await Promise.all(page.map(async (d) => (await h.server.deps.store.getDelivery(hook.id, d.id))!.attemptLog.length));
        return attempts.length === 3 && attempts.every((n) => n === 1);
      });
      // The operator's log says why, once for the webhook (not once per attempt), with the address.
      const warnings = h.logs.filter((l) => l.includes('refused by the callback policy') && l.includes(hook.id)).map((l) => JSON.parse(l));
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.equal(warnings[0].level, 40);
      assert.equal(warnings[0].cause, 'ssrf:loopback');
      assert.match(warnings[0].detail, /127\.0\.0\.1.*internal\.test/);
      const list = await h.inject({ method: 'GET', url: `/webhooks/${hook.id}/deliveries`, headers: { authorization: sub.auth } });
      const deliveryId = list.json().deliveries[0].id as string;
      const detail = await h.inject({ method: 'GET', url: `/webhooks/${hook.id}/deliveries/${deliveryId}`, headers: { authorization: sub.auth } });
      assert.equal(detail.statusCode, 200, detail.body);
      assert.match(detail.body, /SSRF guard: the address internal\.test resolves to is not allowed/);
      const health = await h.inject({ method: 'GET', url: `/webhooks/${hook.id}/health`, headers: { authorization: sub.auth } });
      assert.equal(health.statusCode, 200, health.body);
      assert.equal(health.json().lastAttempt.error, 'refused by the SSRF guard: the address internal.test resolves to is not allowed');
      for (const leak of ['127.0.0.1', 'loopback']) {
        for (const body of [list.body, detail.body, health.body]) assert.ok(!body.includes(leak), `no ${leak} in ${body}`);
      }
      assert.equal(r.received.length, 0);
    } finally {
      await h.close();
      await r.close();
    }
  });
});
