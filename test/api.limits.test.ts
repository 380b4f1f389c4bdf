/**
 * Per-tenant caps of the API (contract §4, fairness): webhooks per application, and test
 * events per webhook per minute (429 with Retry-After past it).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createHarness, type Harness, type TestClient } from './helpers/harness.ts';

describe('per-tenant caps', () => {
  let h: Harness;
  let clock = Date.now();
  let owner: TestClient;

  before(async () => {
    h = await createHarness({ now: () => clock, flags: { maxWebhooksPerApplication: '3', testEventsPerWebhookPerMinute: '4' } });
    owner = await h.client();
  });
  after(() => h.close());

  const create = (who: TestClient) =>
    h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: who.auth }, payload: { callbackUrl: 'https://receiver.example.com/x', scope: 'Account', eventTypes: ['iModels.iModelCreated.v1'] } });

  it('an application gets no more webhooks than MAX_WEBHOOKS_PER_APPLICATION; deleting one makes room', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await create(owner);
      assert.equal(res.statusCode, 201, res.body);
      ids.push(res.json().id);
    }
    const refused = await create(owner);
    assert.equal(refused.statusCode, 422);
    assert.equal(refused.json().error.code, 'InvalidCreateWebhookRequest');
    assert.match(refused.json().error.details[0].message, /has 3 webhooks, the most it may have/);
    assert.equal((await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: owner.auth } })).json().webhooks.length, 3);
    assert.equal((await create(await h.client())).statusCode, 201, 'another application has its own count');
    assert.equal((await h.inject({ method: 'DELETE', url: `/webhooks/${ids[0]}`, headers: { authorization: owner.auth } })).statusCode, 204);
    assert.equal((await create(owner)).statusCode, 201);
  });

  it('test events of one webhook past TEST_EVENTS_PER_WEBHOOK_PER_MINUTE are answered 429 with Retry-After; other webhooks are not affected', async () => {
    const other = await h.client();
    const [a, b] = [(await create(other)).json().id, (await create(other)).json().id];
    const test = (id: string) => h.inject({ method: 'POST', url: `/webhooks/${id}/test`, headers: { authorization: other.auth } });
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) answers.push((await test(a)).statusCode);
    assert.deepEqual(answers, [202, 202, 202, 202, 429, 429]);
    const refused = await test(a);
    assert.equal(refused.json().error.code, 'TooManyRequests');
    assert.equal(refused.headers['retry-after'], '60');
    assert.equal((await h.server.deps.store.listDeliveries(a, undefined, 100, undefined)).items.length, 4, 'a refused test event stores nothing');
    assert.equal((await test(b)).statusCode, 202);
    clock += 30_000;
    assert.equal((await test(a)).headers['retry-after'], '30');
    clock += 30_001;
    assert.equal((await test(a)).statusCode, 202, 'a new minute');
    assert.equal((await h.inject({ method: 'POST', url: `/webhooks/${randomUUID()}/test`, headers: { authorization: other.auth } })).statusCode, 404);
  });
});
