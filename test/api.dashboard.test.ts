import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import { percentiles, summarizeStatistics } from '../src/api/routes/statistics.ts';
import { createHarness, LOOPBACK_CALLBACKS, type Harness, type TestClient } from './helpers/harness.ts';
import { eventually, Receiver } from './helpers/receiver.ts';

const CREATED = 'iModels.iModelCreated.v1';
const DELETED = 'iModels.iModelDeleted.v1';
const content = () => ({ imodelId: randomUUID(), userId: randomUUID() });

/** The read-only routes the dashboard uses: health, statistics, signed requests, the event-type filter. */
describe('dashboard reads through the API', () => {
  let h: Harness;
  let r: Receiver;
  let sub: TestClient;
  let other: TestClient;
  let pub: TestClient;
  let itwinId: string;

  const get = (who: TestClient, url: string) => h.inject({ method: 'GET', url, headers: { authorization: who.auth } });
  const attemptsOf = async (webhookId: string) => {
    const page = await h.server.deps.store.listDeliveries(webhookId, undefined, 100, undefined);
    return page.items.reduce((n, d) => n + d.attempts, 0);
  };

  /**
   * A webhook of its own at `path`, which got one event of `eventType` per entry of
   * `answers` and answered each with that status (a 500 is retried only an hour later).
   */
  async function deliveredHook(path: string, answers: number[], eventType = CREATED) {
    const hook = await h.webhook(sub, { callbackUrl: r.url(path), eventTypes: [CREATED, DELETED] });
    r.setSecret(path, hook.secret);
    const statusOf = new Map<string, number>();
    r.on(path, (req) => statusOf.get(String(req.headers['webhook-id'])) ?? 200);
    for (const status of answers) {
      const messageId = randomUUID();
      statusOf.set(messageId, status);
      assert.equal((await h.publish(pub, { eventType, iTwinId: itwinId, content: content(), messageId })).statusCode, 202);
    }
    await r.waitFor(() => r.at(path).length >= answers.length);
    await eventually(async () => (await attemptsOf(hook.id)) === answers.length, 10_000, 'the attempts recorded');
    return hook;
  }

  before(async () => {
    r = await new Receiver().start();
    h = await createHarness({ flags: { ...LOOPBACK_CALLBACKS, retrySchedule: '1h' } });
    sub = await h.client();
    other = await h.client({ accountId: sub.accountId });
    pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
    itwinId = await h.itwin(sub.accountId);
  });
  after(async () => {
    await h.close();
    await r.close();
  });

  it('health: nothing before the first attempt, then the last attempt and the day\'s success rate', async () => {
    const fresh = await h.webhook(sub, { callbackUrl: r.url('/fresh'), eventTypes: [CREATED] }, false);
    const empty = await get(sub, `/webhooks/${fresh.id}/health`);
    assert.equal(empty.statusCode, 200);
    assert.deepEqual(empty.json(), { last24Hours: { attempts: 0, succeeded: 0 } });

    const hook = await deliveredHook('/health', [500, 200, 200]);
    const health = (await get(sub, `/webhooks/${hook.id}/health`)).json();
    assert.equal(health.last24Hours.succeeded, 2);
    assert.equal(health.last24Hours.successRate, 2 / 3);
    assert.equal(typeof health.lastAttempt.deliveryId, 'string');
    assert.equal(health.lastAttempt.succeeded, health.lastAttempt.statusCode === 200);
    assert.ok(Date.parse(health.lastAttempt.dateTime) <= Date.now());

    assert.equal((await get(other, `/webhooks/${hook.id}/health`)).statusCode, 404, 'another application sees nothing');
    assert.equal((await get(sub, `/webhooks/${randomUUID()}/health`)).json().error.code, 'WebhookNotFound');
  });

  it('statistics: per minute for one webhook and for all the caller\'s, never another application\'s', async () => {
    const hook = await deliveredHook('/statistics', [200, 503, 200]);
    const one = await get(sub, `/webhooks/${hook.id}/statistics?minutes=5`);
    assert.equal(one.statusCode, 200, one.body);
    const s = one.json();
    assert.equal(s.bucketSeconds, 60);
    assert.equal(s.buckets.length, 5);
    assert.equal(Date.parse(s.to) - Date.parse(s.from), 5 * 60_000);
    assert.ok(Date.parse(s.to) > Date.now(), 'the last bucket is the current minute');
    assert.deepEqual(s.totals.deliveries, { succeeded: 2, failed: 0, cancelled: 0, retrying: 1, pending: 0 }, 'the failed attempt waits an hour for its retry');
    assert.equal(s.totals.attempts.succeeded, 2);
    assert.equal(s.totals.attempts.failed, 1);
    assert.equal(s.totals.attempts.succeeded + s.totals.attempts.failed, s.buckets.reduce((n: number, b: { attempts: { succeeded: number; failed: number } }) => n + b.attempts.succeeded + b.attempts.failed, 0));
    assert.ok(s.totals.attempts.durationMs.p50 <= s.totals.attempts.durationMs.p99);

    const mine = (await get(sub, '/webhooks/statistics')).json();
    assert.equal(mine.buckets.length, 60, 'an hour by default');
    assert.ok(mine.totals.deliveries.succeeded >= s.totals.deliveries.succeeded);
    const theirs = (await get(other, '/webhooks/statistics')).json();
    assert.deepEqual(theirs.totals.deliveries, { succeeded: 0, failed: 0, cancelled: 0, retrying: 0, pending: 0 });
    assert.equal((await get(other, `/webhooks/${hook.id}/statistics`)).statusCode, 404);

    for (const bad of ['0', '1441', 'ten']) {
      const res = await get(sub, `/webhooks/statistics?minutes=${bad}`);
      assert.equal(res.statusCode, 422, bad);
      assert.equal(res.json().error.code, 'InvalidStatisticsRequest');
      assert.equal(res.json().error.details[0].target, 'minutes');
    }
  });

  it('signed request: exactly the body and signature headers the receiver got', async () => {
    const hook = await deliveredHook('/signed', [200], DELETED);
    const [got] = r.at('/signed');
    const [delivery] = (await get(sub, `/webhooks/${hook.id}/deliveries?eventType=${DELETED}`)).json().deliveries;
    assert.equal(delivery.messageId, got!.headers['webhook-id']);
    const res = await get(sub, `/webhooks/${hook.id}/deliveries/${delivery.id}/attempts/1/request`);
    assert.equal(res.statusCode, 200, res.body);
    const signed = res.json();
    assert.equal(signed.body, got!.rawBody);
    for (const name of ['content-type', 'signature', 'webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      assert.equal(signed.headers[name], got!.headers[name], name);
    }
    assert.equal(signed.webhookModifiedSince, false);
    assert.equal((await get(sub, `/webhooks/${hook.id}/deliveries/${delivery.id}/attempts/2/request`)).json().error.code, 'AttemptNotFound');
    assert.equal((await get(sub, `/webhooks/${hook.id}/deliveries/${delivery.id}/attempts/x/request`)).statusCode, 404);
    assert.equal((await get(other, `/webhooks/${hook.id}/deliveries/${delivery.id}/attempts/1/request`)).json().error.code, 'WebhookNotFound');

    const rotated = await h.inject({ method: 'PATCH', url: `/webhooks/${hook.id}`, headers: { authorization: sub.auth }, payload: { secret: 'a'.repeat(40) } });
    assert.equal(rotated.statusCode, 200);
    assert.equal((await get(sub, `/webhooks/${hook.id}/deliveries/${delivery.id}/attempts/1/request`)).json().webhookModifiedSince, true);
  });

  it('deliveries: the event-type filter, with status, and kept in the next link', async () => {
    const hook = await deliveredHook('/filter', [200, 200]);
    const deleted = await h.publish(pub, { eventType: DELETED, iTwinId: itwinId, content: content() });
    assert.equal(deleted.statusCode, 202);
    await eventually(async () => (await attemptsOf(hook.id)) === 3, 10_000, 'the third attempt');
    const onlyCreated = (await get(sub, `/webhooks/${hook.id}/deliveries?eventType=${CREATED}&$top=1`)).json();
    assert.deepEqual(onlyCreated.deliveries.map((d: { eventType: string }) => d.eventType), [CREATED]);
    assert.match(onlyCreated._links.next.href, new RegExp(`deliveries\\?eventType=${CREATED.replace(/\./g, '\\.')}&\\$top=1&\\$continuationToken=`));
    const next = (await get(sub, new URL(onlyCreated._links.next.href).pathname + new URL(onlyCreated._links.next.href).search)).json();
    assert.ok(next.deliveries.every((d: { eventType: string }) => d.eventType === CREATED));
    const both = (await get(sub, `/webhooks/${hook.id}/deliveries?status=succeeded&eventType=${DELETED}`)).json();
    assert.ok(both.deliveries.length >= 1 && both.deliveries.every((d: { eventType: string; status: string }) => d.eventType === DELETED && d.status === 'succeeded'));
    assert.equal((await get(sub, `/webhooks/${hook.id}/deliveries?eventType=`)).statusCode, 422);
  });

  it('the new routes are in the OpenAPI document', async () => {
    const doc = (await h.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const path of ['/webhooks/{webhookId}/health', '/webhooks/statistics', '/webhooks/{webhookId}/statistics', '/webhooks/{webhookId}/deliveries/{deliveryId}/attempts/{attempt}/request']) {
      assert.ok(doc.paths[path]?.get, path);
    }
    assert.ok(doc.paths['/webhooks/{webhookId}/deliveries'].get.parameters.some((p: { name: string }) => p.name === 'eventType'));
  });
});

describe('operator reads (/admin/webhooks, scope webhooks:admin)', () => {
  let h: Harness;
  let r: Receiver;
  before(async () => {
    r = await new Receiver().start();
    h = await createHarness({ flags: LOOPBACK_CALLBACKS });
  });
  after(async () => {
    await h.close();
    await r.close();
  });

  it('an operator reads every application\'s webhooks and their history, and changes nothing', async () => {
    const alpha = await h.client();
    const bravo = await h.client();
    const operator = await h.client({ scopes: [SCOPES.admin] });
    const pub = await h.client({ accountId: alpha.accountId, scopes: [SCOPES.publish] });
    const itwinId = await h.itwin(alpha.accountId);
    const a = await h.webhook(alpha, { callbackUrl: r.url('/op-a') });
    const b = await h.webhook(bravo, { callbackUrl: r.url('/op-b') });
    assert.equal((await h.publish(pub, { eventType: CREATED, iTwinId: itwinId, content: content() })).statusCode, 202);
    await r.waitFor(() => r.at('/op-a').length === 1);
    const get = (who: TestClient, url: string) => h.inject({ method: 'GET', url, headers: { authorization: who.auth } });

    const all = (await get(operator, '/admin/webhooks?$top=1000')).json();
    const owners = new Map(all.webhooks.map((x: { ownerClientId: string; webhook: { id: string } }) => [x.webhook.id, x.ownerClientId]));
    assert.equal(owners.get(a.id), alpha.clientId);
    assert.equal(owners.get(b.id), bravo.clientId);
    assert.equal(all.webhooks[0].webhook.secret, undefined, 'never a secret');
    const onlyBravo = (await get(operator, `/admin/webhooks?clientId=${bravo.clientId}`)).json();
    assert.deepEqual(onlyBravo.webhooks.map((x: { webhook: { id: string } }) => x.webhook.id), [b.id]);
    const paged = (await get(operator, '/admin/webhooks?$top=1')).json();
    assert.match(paged._links.next.href, /\/admin\/webhooks\?\$top=1&\$continuationToken=/);

    const one = (await get(operator, `/admin/webhooks/${a.id}`)).json();
    assert.equal(one.ownerClientId, alpha.clientId);
    assert.deepEqual(one.webhook, (await get(alpha, `/webhooks/${a.id}`)).json(), 'the webhook exactly as its owner sees it');
    await eventually(async () => (await get(operator, `/admin/webhooks/${a.id}/deliveries?status=succeeded`)).json().deliveries.length === 1, 10_000, 'the delivery');
    const [delivery] = (await get(operator, `/admin/webhooks/${a.id}/deliveries`)).json().deliveries;
    assert.deepEqual((await get(operator, `/admin/webhooks/${a.id}/deliveries/${delivery.id}`)).json(), (await get(alpha, `/webhooks/${a.id}/deliveries/${delivery.id}`)).json());
    assert.equal((await get(operator, `/admin/webhooks/${a.id}/health`)).json().last24Hours.attempts, 1);
    assert.equal((await get(operator, `/admin/webhooks/${a.id}/deliveries/${delivery.id}/attempts/1/request`)).statusCode, 200);
    assert.ok((await get(operator, '/admin/statistics?minutes=5')).json().totals.deliveries.succeeded >= 1);
    assert.equal((await get(operator, `/admin/webhooks/${a.id}/statistics`)).json().totals.deliveries.succeeded, 1);
    assert.equal((await get(operator, `/admin/webhooks/${randomUUID()}`)).json().error.code, 'WebhookNotFound');

    for (const method of ['PATCH', 'DELETE'] as const) {
      const res = await h.inject({ method, url: `/admin/webhooks/${a.id}`, headers: { authorization: operator.auth }, payload: { active: false } });
      assert.equal(res.statusCode, 405, `${method} is not an operator's`);
    }
    assert.equal((await h.inject({ method: 'POST', url: `/admin/webhooks/${a.id}/deliveries/${delivery.id}/redeliver`, headers: { authorization: operator.auth } })).statusCode, 404);
    assert.equal((await get(alpha, `/webhooks/${a.id}`)).json().active, true);
    assert.equal((await get(operator, `/webhooks/${a.id}`)).statusCode, 403, 'an admin-only client has no subscriber scope');
  });

  it('an application without webhooks:admin reads nothing there', async () => {
    const alpha = await h.client();
    const mine = await h.webhook(alpha, { callbackUrl: r.url('/op-mine') });
    for (const url of ['/admin/webhooks', `/admin/webhooks/${mine.id}`, `/admin/webhooks/${mine.id}/deliveries`, `/admin/webhooks/${mine.id}/health`, '/admin/statistics']) {
      const res = await h.inject({ method: 'GET', url, headers: { authorization: alpha.auth } });
      assert.equal(res.statusCode, 403, url);
      assert.equal(res.json().error.code, 'InsufficientPermissions');
    }
  });
});

describe('statistics arithmetic', () => {
  it('percentiles by nearest rank over a histogram', () => {
    assert.equal(percentiles(new Map()), undefined);
    assert.deepEqual(percentiles(new Map([[7, 1]])), { p50: 7, p90: 7, p99: 7, max: 7 });
    const h = new Map<number, number>();
    for (let v = 1; v <= 100; v++) h.set(v, 1);
    assert.deepEqual(percentiles(h), { p50: 50, p90: 90, p99: 99, max: 100 });
    assert.deepEqual(percentiles(new Map([[10, 98], [2000, 2]])), { p50: 10, p90: 10, p99: 2000, max: 2000 });
  });

  it('dense buckets with totals; pending splits into retrying and not yet attempted', () => {
    const from = Date.UTC(2026, 10, 22, 10);
    const s = summarizeStatistics(
      {
        deliveries: [
          { bucket: 0, status: 'succeeded', attempted: true, count: 3 },
          { bucket: 2, status: 'pending', attempted: true, count: 1 },
          { bucket: 2, status: 'pending', attempted: false, count: 2 },
          { bucket: 9, status: 'failed', attempted: true, count: 1 },
        ],
        attempts: [
          { bucket: 0, succeeded: true, durationMs: 5, count: 3 },
          { bucket: 2, succeeded: false, durationMs: 5000, count: 1 },
        ],
      },
      from,
      60_000,
      3,
    );
    assert.equal(s.buckets.length, 3);
    assert.equal(s.buckets[1]!.start, new Date(from + 60_000).toISOString());
    assert.deepEqual(s.buckets[1]!.deliveries, { succeeded: 0, failed: 0, cancelled: 0, retrying: 0, pending: 0 });
    assert.deepEqual(s.buckets[1]!.attempts, { succeeded: 0, failed: 0 });
    assert.deepEqual(s.buckets[2]!.deliveries, { succeeded: 0, failed: 1, cancelled: 0, retrying: 1, pending: 2 }, 'a row past the end joins the last bucket');
    assert.deepEqual(s.totals.attempts, { succeeded: 3, failed: 1, durationMs: { p50: 5, p90: 5000, p99: 5000, max: 5000 } });
    assert.deepEqual(s.totals.deliveries, { succeeded: 3, failed: 1, cancelled: 0, retrying: 1, pending: 2 });
  });
});
