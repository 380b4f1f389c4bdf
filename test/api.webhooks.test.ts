import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import { createHarness, type Harness, type TestClient } from './helpers/harness.ts';
import { sealedFor } from '../src/crypto/secretBox.ts';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const WEBHOOK_KEYS = ['active', 'callbackUrl', 'created', 'eventTypes', 'id', 'modified', 'scope', 'scopeId'];

describe('webhooks CRUD (contract §2)', () => {
  let h: Harness;
  let app: TestClient;

  before(async () => {
    h = await createHarness();
    app = await h.client();
  });
  after(() => h.close());

  const create = (auth: string, payload: unknown) => h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: auth }, payload: payload as object });

  it('follows the flow of a client written for the hosted API', async () => {
    // 1. token with client credentials, HTTP Basic, scope itwin-platform as hosted clients ask
    const client = await h.client({ scopes: [SCOPES.platform] });
    const tokenRes = await h.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
      },
      payload: 'grant_type=client_credentials&scope=itwin-platform',
    });
    assert.equal(tokenRes.statusCode, 200);
    const token = tokenRes.json().access_token as string;
    const auth = `Bearer ${token}`;
    const headers = { authorization: auth, accept: 'application/vnd.bentley.itwin-platform.v2+json' };

    // 2. create an Account webhook: 201, flat, with secret, Location
    const created = await h.inject({
      method: 'POST',
      url: '/webhooks',
      headers,
      payload: { callbackUrl: 'https://receiver.example.com/hook', scope: 'Account', eventTypes: ['iModels.iModelDeleted.v1'] },
    });
    assert.equal(created.statusCode, 201);
    assert.match(String(created.headers['content-type']), /^application\/json/);
    const body = created.json();
    assert.deepEqual(Object.keys(body).sort(), [...WEBHOOK_KEYS, 'secret'].sort());
    assert.match(body.id, UUID_V4);
    assert.equal(created.headers.location, `/webhooks/${body.id}`);
    assert.equal(body.active, false);
    assert.equal(body.scope, 'Account');
    assert.equal(body.scopeId, client.accountId);
    assert.match(body.secret, /^[0-9a-f]{64}$/);
    assert.match(body.created, ISO_MS);
    assert.equal(body.created, body.modified);

    // 3. activate
    const patched = await h.inject({ method: 'PATCH', url: `/webhooks/${body.id}`, headers, payload: { active: true } });
    assert.equal(patched.statusCode, 200);
    assert.equal(patched.json().active, true);
    assert.equal(patched.json().secret, undefined);

    // 4. get: flat, no secret
    const got = await h.inject({ method: 'GET', url: `/webhooks/${body.id}`, headers });
    assert.equal(got.statusCode, 200);
    assert.deepEqual(Object.keys(got.json()).sort(), WEBHOOK_KEYS);
    assert.equal(got.json().active, true);

    // 5. list
    const list = await h.inject({ method: 'GET', url: '/webhooks', headers });
    assert.equal(list.statusCode, 200);
    assert.deepEqual(list.json().webhooks.map((w: { id: string }) => w.id), [body.id]);
    assert.equal(list.json().webhooks[0].secret, undefined);
    assert.ok(list.json()._links.self.href.endsWith('/webhooks'));
    assert.equal(list.json()._links.next, undefined);

    // 6. delete: 204, no body; then 404
    const deleted = await h.inject({ method: 'DELETE', url: `/webhooks/${body.id}`, headers });
    assert.equal(deleted.statusCode, 204);
    assert.equal(deleted.body, '');
    const gone = await h.inject({ method: 'GET', url: `/webhooks/${body.id}`, headers });
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.json().error.code, 'WebhookNotFound');
  });

  it('creates an iTwin webhook for a maintainer of the iTwin', async () => {
    const itwinId = await h.itwin(app.accountId);
    await h.server.deps.store.grant(app.clientId, itwinId, 'webhooks_maintainer', Date.now());
    const res = await create(app.auth, {
      callbackUrl: 'https://receiver.example.com/itwin',
      scope: 'iTwin',
      scopeId: itwinId.toUpperCase(),
      eventTypes: ['iModels.iModelCreated.v1', 'iModels.namedVersionCreated.v1'],
      secret: 'a-secret-of-thirty-two-characters!',
    });
    assert.equal(res.statusCode, 201);
    assert.equal(res.json().scopeId, itwinId, 'UUIDs are stored in canonical lower case');
    assert.equal(res.json().secret, 'a-secret-of-thirty-two-characters!');
    assert.deepEqual(res.json().eventTypes, ['iModels.iModelCreated.v1', 'iModels.namedVersionCreated.v1']);
  });

  it('accepts an Account webhook whose scopeId is the caller\'s own account and refuses another', async () => {
    const ok = await create(app.auth, { callbackUrl: 'https://r.example.com/a', scope: 'Account', scopeId: app.accountId, eventTypes: ['iTwins.iTwinCreated.v1'] });
    assert.equal(ok.statusCode, 201);
    const bad = await create(app.auth, { callbackUrl: 'https://r.example.com/a', scope: 'Account', scopeId: randomUUID(), eventTypes: ['iTwins.iTwinCreated.v1'] });
    assert.equal(bad.statusCode, 422);
    assert.equal(bad.json().error.code, 'InvalidCreateWebhookRequest');
    assert.deepEqual(bad.json().error.details.map((d: { target: string }) => d.target), ['scopeId']);
  });

  it('validates a create body with one detail per problem', async () => {
    const res = await create(app.auth, {
      callbackUrl: 'http://insecure.example.com/hook',
      scope: 'itwin',
      eventTypes: ['iModels.iModelCreated.v1', 'nope.nope.v1'],
      secret: 'short',
      active: true,
      colour: 'blue',
    });
    assert.equal(res.statusCode, 422);
    const error = res.json().error;
    assert.equal(error.code, 'InvalidCreateWebhookRequest');
    assert.equal(error.message, 'Cannot create a webhook. Make sure the request body is valid.');
    const byTarget = Object.fromEntries(error.details.map((d: { target: string; code: string }) => [d.target, d.code]));
    // schema problems and semantic problems together, so one answer lists everything to fix
    assert.deepEqual(byTarget, {
      active: 'ReadOnlyProperty',
      callbackUrl: 'InvalidValue',
      colour: 'UnknownProperty',
      'eventTypes[1]': 'InvalidValue',
      scope: 'InvalidValue',
      secret: 'InvalidValue',
    });
  });

  it('checks the semantic rules once the shape is right', async () => {
    const res = await create(app.auth, {
      callbackUrl: 'http://insecure.example.com/hook',
      scope: 'iTwin',
      eventTypes: ['iModels.iModelCreated.v1', 'nope.nope.v1'],
    });
    assert.equal(res.statusCode, 422);
    const details = res.json().error.details as Array<{ target: string; code: string; message: string }>;
    assert.deepEqual(
      details.map((d) => [d.target, d.code]),
      [
        ['callbackUrl', 'InvalidValue'],
        ['eventTypes[1]', 'InvalidValue'],
        ['scopeId', 'MissingRequiredProperty'],
      ],
    );
    assert.equal(details[0]!.message, 'callbackUrl must use https.');
  });

  for (const [url, why] of [
    ['not a url', 'spaces'],
    ['/relative/path', 'relative'],
    ['ftp://example.com/x', 'not https'],
    ['https://user:pass@example.com/x', 'credentials'],
    ['https://example.com/x#frag', 'fragment'],
    [`https://example.com/${'a'.repeat(2048)}`, 'too long'],
  ] as const) {
    it(`refuses callbackUrl ${why}`, async () => {
      const res = await create(app.auth, { callbackUrl: url, scope: 'Account', eventTypes: ['iModels.iModelCreated.v1'] });
      assert.equal(res.statusCode, 422);
      assert.equal(res.json().error.details[0].target, 'callbackUrl');
    });
  }

  it('with insecure callbacks allowed, a scheme that is neither https nor http says both are accepted', async () => {
    const insecure = await createHarness({ flags: { allowInsecureCallbacks: true } });
    try {
      const c = await insecure.client();
      for (const [callbackUrl, message] of [
        ['ftp://receiver.example.com/x', 'callbackUrl must use https or http.'],
        ['http://receiver.example.com/x', undefined],
      ] as const) {
        const res = await insecure.inject({ method: 'POST', url: '/webhooks', headers: { authorization: c.auth }, payload: { callbackUrl, scope: 'Account', eventTypes: ['iModels.iModelCreated.v1'] } });
        if (message === undefined) assert.equal(res.statusCode, 201, res.body);
        else assert.deepEqual(res.json().error.details, [{ code: 'InvalidValue', target: 'callbackUrl', message }]);
      }
    } finally {
      await insecure.close();
    }
  });

  it('refuses duplicate, empty and oversized eventTypes', async () => {
    for (const eventTypes of [[], ['iModels.iModelCreated.v1', 'iModels.iModelCreated.v1'], Array.from({ length: 101 }, () => 'iModels.iModelCreated.v1')]) {
      const res = await create(app.auth, { callbackUrl: 'https://example.com/x', scope: 'Account', eventTypes });
      assert.equal(res.statusCode, 422, JSON.stringify(eventTypes).slice(0, 80));
      assert.equal(res.json().error.details[0].target, 'eventTypes');
    }
  });

  it('updates each updatable property, returning the secret only when it changed', async () => {
    const id = (await create(app.auth, { callbackUrl: 'https://example.com/1', scope: 'Account', eventTypes: ['iModels.iModelCreated.v1'] })).json().id;
    const before = (await h.inject({ method: 'GET', url: `/webhooks/${id}`, headers: { authorization: app.auth } })).json();
    await new Promise((r) => setTimeout(r, 5));
    const res = await h.inject({
      method: 'PATCH',
      url: `/webhooks/${id}`,
      headers: { authorization: app.auth },
      payload: { callbackUrl: 'https://example.com/2', eventTypes: ['iModels.iModelDeleted.v1', 'iTwins.iTwinDeleted.v1'], secret: 'Z'.repeat(40) },
    });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.callbackUrl, 'https://example.com/2');
    assert.deepEqual(body.eventTypes, ['iModels.iModelDeleted.v1', 'iTwins.iTwinDeleted.v1']);
    assert.equal(body.secret, 'Z'.repeat(40));
    assert.equal(body.created, before.created);
    assert.ok(body.modified > before.modified);
    const stored = await h.server.deps.store.getWebhook(app.clientId, id);
    assert.equal(h.server.deps.box.open(stored!.secretSealed, sealedFor.webhookSecret(id)), 'Z'.repeat(40));
    assert.ok(!stored!.secretSealed.includes('ZZZZ'), 'secret is encrypted at rest');
  });

  it('refuses read-only, unknown and empty updates without changing anything', async () => {
    const id = (await create(app.auth, { callbackUrl: 'https://example.com/1', scope: 'Account', eventTypes: ['iModels.iModelCreated.v1'] })).json().id;
    const stored = await h.server.deps.store.getWebhook(app.clientId, id);
    for (const payload of [{ id: randomUUID() }, { scope: 'iTwin' }, { scopeId: randomUUID() }, { created: 'x' }, { modified: 'x' }, { active: true, nope: 1 }, {}]) {
      const res = await h.inject({ method: 'PATCH', url: `/webhooks/${id}`, headers: { authorization: app.auth }, payload });
      assert.equal(res.statusCode, 422, JSON.stringify(payload));
      assert.equal(res.json().error.code, 'InvalidUpdateWebhookRequest');
      const key = Object.keys(payload).at(-1);
      const expected = key === undefined ? 'InvalidValue' : ['id', 'scope', 'scopeId', 'created', 'modified'].includes(key) ? 'ReadOnlyProperty' : 'UnknownProperty';
      assert.ok(res.json().error.details.some((d: { code: string }) => d.code === expected), `${JSON.stringify(payload)} → ${res.body}`);
    }
    assert.deepEqual(await h.server.deps.store.getWebhook(app.clientId, id), stored);
  });

  it('pages the list with $top and an opaque continuation token, stable under inserts', async () => {
    const pager = await h.client();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push((await create(pager.auth, { callbackUrl: `https://example.com/${i}`, scope: 'Account', eventTypes: ['iModels.iModelCreated.v1'] })).json().id);
    }
    const seen: string[] = [];
    let url: string | undefined = '/webhooks?$top=3';
    let pages = 0;
    while (url !== undefined) {
      const res = await h.inject({ method: 'GET', url, headers: { authorization: pager.auth } });
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.ok(body.webhooks.length <= 3);
      seen.push(...body.webhooks.map((w: { id: string }) => w.id));
      if (pages === 0) {
        // a webhook created while paging appears once, at the end
        ids.push((await create(pager.auth, { callbackUrl: 'https://example.com/late', scope: 'Account', eventTypes: ['iModels.iModelCreated.v1'] })).json().id);
      }
      pages++;
      url = body._links.next === undefined ? undefined : new URL(body._links.next.href).pathname + new URL(body._links.next.href).search;
      if (url !== undefined) assert.match(url, /^\/webhooks\?\$top=3&\$continuationToken=[A-Za-z0-9_-]+$/);
    }
    assert.deepEqual(seen, ids);
    assert.equal(pages, 3);
  });

  it('defaults $top to 100 and caps it at 1000', async () => {
    const res = await h.inject({ method: 'GET', url: '/webhooks?$top=1001', headers: { authorization: app.auth } });
    assert.equal(res.statusCode, 422);
    assert.equal(res.json().error.code, 'InvalidWebhooksRequest');
    assert.equal(res.json().error.details[0].target, '$top');
    for (const q of ['$top=0', '$top=abc', '$top=1.5', '$continuationToken=forged', '$skip=3']) {
      const r = await h.inject({ method: 'GET', url: `/webhooks?${q}`, headers: { authorization: app.auth } });
      assert.equal(r.statusCode, 422, q);
      assert.equal(r.json().error.code, 'InvalidWebhooksRequest', q);
    }
  });

  it('uses PUBLIC_URL for links when configured', async () => {
    const other = await createHarness({ flags: { publicUrl: 'https://hooks.example.com/' } });
    try {
      const c = await other.client();
      const res = await other.inject({ method: 'GET', url: '/webhooks?$top=5', headers: { authorization: c.auth } });
      assert.equal(res.json()._links.self.href, 'https://hooks.example.com/webhooks?$top=5');
    } finally {
      await other.close();
    }
  });

  it('answers 404 WebhookNotFound for unknown and malformed ids on every by-id route', async () => {
    for (const id of [randomUUID(), 'not-a-uuid', '..%2F..%2Fetc']) {
      for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
        const res = await h.inject({ method, url: `/webhooks/${id}`, headers: { authorization: app.auth }, ...(method === 'PATCH' ? { payload: { active: true } } : {}) });
        assert.equal(res.statusCode, 404, `${method} ${id}`);
        assert.deepEqual(res.json(), { error: { code: 'WebhookNotFound', message: 'Requested webhook is not available.' } });
      }
    }
  });
});
