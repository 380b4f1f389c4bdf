import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import { createHarness, LOOPBACK_CALLBACKS, type Harness, type TestClient } from './helpers/harness.ts';
import { quiescent } from './helpers/quiescence.ts';
import { eventually, Receiver } from './helpers/receiver.ts';

const IMODEL_CREATED = 'iModels.iModelCreated.v1';
const content = () => ({ imodelId: randomUUID(), userId: randomUUID() });

describe('publish and signed delivery (contract §4)', () => {
  let h: Harness;
  let r: Receiver;
  let sub: TestClient;
  let pub: TestClient;

  before(async () => {
    r = await new Receiver().start();
    h = await createHarness({ flags: LOOPBACK_CALLBACKS });
  });
  // Each test has an account of its own: webhooks another test created never match its events.
  beforeEach(async () => {
    sub = await h.client();
    pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
  });
  after(async () => {
    await h.close();
    await r.close();
  });

  it('delivers the exact body, signed twice over, and records the attempt', async () => {
    const itwinId = await h.itwin(sub.accountId);
    const hook = await h.webhook(sub, { callbackUrl: r.url('/signed'), eventTypes: ['iModels.iModelDeleted.v1'] });
    r.setSecret('/signed', hook.secret);
    const c = { imodelId: '72640bf2-2173-4276-b896-c157bee0df76', userId: 'e5c7ae4f-2d72-4319-b96a-d46492e4f860' };
    const res = await h.publish(pub, { eventType: 'iModels.iModelDeleted.v1', iTwinId: itwinId, content: c });
    assert.equal(res.statusCode, 202);
    const [accepted] = res.json().events;
    assert.equal(accepted.matchedWebhooks, 1);
    await r.waitFor(() => r.at('/signed').length === 1);
    const got = r.at('/signed')[0]!;
    assert.equal(got.signatureValid, true, 'Signature: sha256=<hex> verifies with our own HMAC');
    assert.equal(got.standardValid, true, 'webhook-* headers verify with the standardwebhooks package');
    assert.match(String(got.headers.signature), /^sha256=[0-9a-f]{64}$/);
    assert.equal(got.headers['content-type'], 'application/json');
    assert.match(String(got.headers['user-agent']), /^itwin-webhooks\/\d+\.\d+\.\d+$/);
    assert.equal(got.headers['webhook-id'], accepted.messageId);
    assert.equal(
      got.rawBody,
      JSON.stringify({ content: c, eventType: 'iModels.iModelDeleted.v1', enqueuedDateTime: accepted.enqueuedDateTime, iTwinId: itwinId, messageId: accepted.messageId, webhookId: hook.id }),
    );

    await eventually(async () => (await h.server.deps.store.listDeliveries(hook.id, 'succeeded', 10, undefined)).items.length === 1, 5000, 'succeeded');
    const list = await h.inject({ method: 'GET', url: `/webhooks/${hook.id}/deliveries`, headers: { authorization: sub.auth } });
    const [summary] = list.json().deliveries;
    assert.equal(summary.status, 'succeeded');
    assert.equal(summary.messageId, accepted.messageId);
    const detail = (await h.inject({ method: 'GET', url: `/webhooks/${hook.id}/deliveries/${summary.id}`, headers: { authorization: sub.auth } })).json();
    assert.equal(detail.attempts.length, 1);
    assert.equal(detail.attempts[0].statusCode, 200);
    assert.equal(detail.attempts[0].responseBody, 'ok');
    assert.equal(JSON.stringify(detail.payload), got.rawBody);
  });

  it('matches on scope, type and active state at publish time', async () => {
    const itwinA = await h.itwin(sub.accountId);
    const itwinB = await h.itwin(sub.accountId);
    await h.server.deps.store.grant(sub.clientId, itwinA, 'webhooks_maintainer', Date.now());
    await h.server.deps.store.grant(sub.clientId, itwinB, 'webhooks_maintainer', Date.now());
    const account = await h.webhook(sub, { callbackUrl: r.url('/m/account'), eventTypes: [IMODEL_CREATED] });
    const onA = await h.webhook(sub, { callbackUrl: r.url('/m/itwinA'), scope: 'iTwin', scopeId: itwinA, eventTypes: [IMODEL_CREATED] });
    await h.webhook(sub, { callbackUrl: r.url('/m/itwinB'), scope: 'iTwin', scopeId: itwinB, eventTypes: [IMODEL_CREATED] });
    await h.webhook(sub, { callbackUrl: r.url('/m/othertype'), eventTypes: ['iModels.iModelDeleted.v1'] });
    const inactive = await h.webhook(sub, { callbackUrl: r.url('/m/inactive'), eventTypes: [IMODEL_CREATED] }, false);
    const otherAccount = await h.client();
    await h.webhook(otherAccount, { callbackUrl: r.url('/m/foreign'), eventTypes: [IMODEL_CREATED] });

    const first = (await h.publish(pub, { eventType: IMODEL_CREATED, iTwinId: itwinA, content: content() })).json().events[0];
    assert.equal(first.matchedWebhooks, 2, 'the account webhook and the iTwin A webhook');
    await r.waitFor(() => r.at('/m/account').length === 1 && r.at('/m/itwinA').length === 1);
    // activated after the event was published: does not get it
    await h.inject({ method: 'PATCH', url: `/webhooks/${inactive.id}`, headers: { authorization: sub.auth }, payload: { active: true } });
    const second = (await h.publish(pub, { eventType: IMODEL_CREATED, iTwinId: itwinA, content: content() })).json().events[0];
    assert.equal(second.matchedWebhooks, 3);
    await r.waitFor(() => r.at('/m/inactive').length === 1);
    assert.equal(r.at('/m/inactive')[0]!.body.messageId, second.messageId);
    // an event of an iTwin the directory does not know, with its account: account webhooks only
    const unknownItwin = randomUUID();
    const third = (await h.publish(pub, { eventType: IMODEL_CREATED, iTwinId: unknownItwin, accountId: sub.accountId, content: content() })).json().events[0];
    assert.equal(third.matchedWebhooks, 2, 'account + the (now active) second account webhook');
    await r.waitFor(() => r.at('/m/account').length === 3);
    assert.equal(r.at('/m/account')[2]!.body.iTwinId, unknownItwin, 'the account webhook gets the event\'s iTwinId');
    await quiescent(h.server);
    for (const path of ['/m/itwinB', '/m/othertype', '/m/foreign']) assert.equal(r.at(path).length, 0, path);
    assert.deepEqual(r.at('/m/itwinA').map((x) => [x.body.webhookId, x.body.messageId]), [[onA.id, first.messageId], [onA.id, second.messageId]]);
    assert.deepEqual(r.at('/m/account').map((x) => [x.body.webhookId, x.body.messageId]), [[account.id, first.messageId], [account.id, second.messageId], [account.id, third.messageId]]);
    assert.deepEqual(r.at('/m/inactive').map((x) => x.body.messageId), [second.messageId, third.messageId], 'not the event published before its activation');
  });

  it('is idempotent on messageId: the same id again fans out nothing and returns the first result', async () => {
    await h.webhook(sub, { callbackUrl: r.url('/idem'), eventTypes: ['iTwins.iTwinDeleted.v1'] });
    const messageId = randomUUID();
    const body = { eventType: 'iTwins.iTwinDeleted.v1', iTwinId: randomUUID(), accountId: sub.accountId, content: { eventCreatedBy: randomUUID() }, messageId };
    const first = await h.publish(pub, body);
    const second = await h.publish(pub, { ...body, content: { eventCreatedBy: randomUUID() } });
    assert.equal(first.statusCode, 202);
    assert.equal(second.statusCode, 202);
    assert.deepEqual(second.json(), first.json());
    const batch = await h.publish(pub, { events: [body, body] });
    assert.deepEqual(batch.json().events, [first.json().events[0], first.json().events[0]]);
    await r.waitFor(() => r.at('/idem').length === 1);
    await quiescent(h.server);
    assert.equal(r.at('/idem').length, 1);
    assert.equal(r.at('/idem')[0]!.body.messageId, messageId);
  });

  it('publishes a batch of 1000 in one request and delivers every event', async () => {
    await h.webhook(sub, { callbackUrl: r.url('/batch'), eventTypes: ['realityModeling.jobCompleted.v1'] });
    const events = Array.from({ length: 1000 }, () => ({ eventType: 'realityModeling.jobCompleted.v1', iTwinId: randomUUID(), accountId: sub.accountId, content: { jobId: randomUUID(), status: 'Success' } }));
    const res = await h.publish(pub, { events });
    assert.equal(res.statusCode, 202);
    const ids = res.json().events.map((e: { messageId: string }) => e.messageId);
    assert.equal(new Set(ids).size, 1000);
    await r.waitFor(() => r.at('/batch').length >= 1000, 30_000, '1000 deliveries');
    assert.deepEqual(new Set(r.at('/batch').map((x) => x.body.messageId)), new Set(ids));
    const tooMany = await h.publish(pub, { events: [...events, events[0]] });
    assert.equal(tooMany.statusCode, 422);
  });

  it('rejects content that does not match the type schema, and stores nothing of the batch', async () => {
    await h.webhook(sub, { callbackUrl: r.url('/schema'), eventTypes: [IMODEL_CREATED] });
    const before = await h.server.deps.store.deliveryStats();
    const res = await h.publish(pub, {
      events: [
        { eventType: IMODEL_CREATED, iTwinId: randomUUID(), accountId: sub.accountId, content: content() },
        { eventType: IMODEL_CREATED, iTwinId: randomUUID(), accountId: sub.accountId, content: { imodelId: 'not-a-uuid' } },
        { eventType: 'nope.nope.v1', iTwinId: randomUUID(), accountId: sub.accountId, content: {} },
      ],
    });
    assert.equal(res.statusCode, 422);
    assert.equal(res.json().error.code, 'InvalidEventRequest');
    const targets = res.json().error.details.map((d: { target: string }) => d.target);
    assert.deepEqual(targets.sort(), ['events[1].content.imodelId', 'events[1].content.userId', 'events[2].eventType'].sort());
    assert.deepEqual(await h.server.deps.store.deliveryStats(), before);
    await quiescent(h.server);
    assert.equal(r.at('/schema').length, 0);
  });

  it('validates the rest of a publish request', async () => {
    const cases: Array<[object, string]> = [
      [{ eventType: IMODEL_CREATED, content: content() }, 'iTwinId'],
      [{ eventType: IMODEL_CREATED, iTwinId: randomUUID(), content: content() }, 'iTwinId'],
      [{ eventType: IMODEL_CREATED, iTwinId: randomUUID(), accountId: 'nope', content: content() }, 'accountId'],
      [{ eventType: IMODEL_CREATED, iTwinId: randomUUID(), accountId: sub.accountId, content: content(), messageId: 'x' }, 'messageId'],
      [{ eventType: IMODEL_CREATED, iTwinId: randomUUID(), accountId: sub.accountId, content: [] }, 'content'],
      [{ eventType: IMODEL_CREATED, iTwinId: randomUUID(), accountId: sub.accountId, content: content(), extra: 1 }, 'extra'],
      [{ events: [] }, 'events'],
    ];
    for (const [body, target] of cases) {
      const res = await h.publish(pub, body);
      assert.equal(res.statusCode, 422, JSON.stringify(body));
      assert.ok(res.json().error.details.some((d: { target: string }) => d.target === target), `${target}: ${res.body}`);
    }
    const itwin = await h.itwin(sub.accountId);
    const mismatch = await h.publish(pub, { eventType: IMODEL_CREATED, iTwinId: itwin, accountId: randomUUID(), content: content() });
    assert.equal(mismatch.statusCode, 422);
  });

  it('needs webhooks:publish to publish', async () => {
    assert.equal((await h.publish(sub, { eventType: IMODEL_CREATED, iTwinId: randomUUID(), accountId: sub.accountId, content: content() })).statusCode, 403);
  });

  it('sends a test event of a subscribed type to one webhook, even inactive', async () => {
    const hook = await h.webhook(sub, { callbackUrl: r.url('/test-event'), eventTypes: ['iModels.namedVersionCreated.v1'] }, false);
    r.setSecret('/test-event', hook.secret);
    const res = await h.inject({ method: 'POST', url: `/webhooks/${hook.id}/test`, headers: { authorization: sub.auth } });
    assert.equal(res.statusCode, 202, res.body);
    await r.waitFor(() => r.at('/test-event').length === 1);
    const got = r.at('/test-event')[0]!;
    assert.equal(got.signatureValid, true);
    assert.equal(got.body.eventType, 'iModels.namedVersionCreated.v1');
    assert.equal(got.body.messageId, res.json().messageId);
    assert.match(String(got.body.content.changesetId), /^[0-9a-f]{40}$/);
    const wrongType = await h.inject({ method: 'POST', url: `/webhooks/${hook.id}/test`, headers: { authorization: sub.auth }, payload: { eventType: IMODEL_CREATED } });
    assert.equal(wrongType.statusCode, 422);
  });

  it('redelivers a final delivery on request, as a new attempt with the same messageId', async () => {
    const hook = await h.webhook(sub, { callbackUrl: r.url('/again'), eventTypes: ['iTwins.iTwinCreated.v1'] });
    const ev = (await h.publish(pub, { eventType: 'iTwins.iTwinCreated.v1', iTwinId: randomUUID(), accountId: sub.accountId, content: {
      eventCreatedBy: randomUUID(), parentId: randomUUID(), accountOwnerId: sub.accountId, accountOwnerType: 'Organization', iTwinClass: 'Endeavor', iTwinSubClass: 'Project',
    } })).json().events[0];
    await r.waitFor(() => r.at('/again').length === 1);
    const [d] = (await h.server.deps.store.listDeliveries(hook.id, undefined, 1, undefined)).items;
    await eventually(async () => (await h.server.deps.store.getDelivery(hook.id, d!.id))!.status === 'succeeded', 5000, 'succeeded');
    const res = await h.inject({ method: 'POST', url: `/webhooks/${hook.id}/deliveries/${d!.id}/redeliver`, headers: { authorization: sub.auth } });
    assert.equal(res.statusCode, 202);
    await r.waitFor(() => r.at('/again').length === 2);
    assert.equal(r.at('/again')[1]!.body.messageId, ev.messageId);
    await eventually(async () => (await h.server.deps.store.getDelivery(hook.id, d!.id))!.attemptLog.length === 2, 5000, 'two attempts');
    const missing = await h.inject({ method: 'POST', url: `/webhooks/${hook.id}/deliveries/999999/redeliver`, headers: { authorization: sub.auth } });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'DeliveryNotFound');
  });

  it('keeps delivery history private to the webhook owner', async () => {
    const hook = await h.webhook(sub, { callbackUrl: r.url('/private'), eventTypes: [IMODEL_CREATED] });
    await h.publish(pub, { eventType: IMODEL_CREATED, iTwinId: randomUUID(), accountId: sub.accountId, content: content() });
    await r.waitFor(() => r.at('/private').length === 1);
    const [d] = (await h.server.deps.store.listDeliveries(hook.id, undefined, 1, undefined)).items;
    const stranger = await h.client({ accountId: sub.accountId });
    for (const [method, url] of [
      ['GET', `/webhooks/${hook.id}/deliveries`],
      ['GET', `/webhooks/${hook.id}/deliveries/${d!.id}`],
      ['POST', `/webhooks/${hook.id}/deliveries/${d!.id}/redeliver`],
      ['POST', `/webhooks/${hook.id}/test`],
    ] as const) {
      const res = await h.inject({ method, url, headers: { authorization: stranger.auth } });
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      assert.equal(res.json().error.code, 'WebhookNotFound');
    }
  });
});
