import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { SCOPES } from '../src/auth/scopes.ts';
import { createHarness, type Harness, type TestClient } from './helpers/harness.ts';
import { mintToken } from './helpers/tokens.ts';

/** Every non-2xx answer: exactly {error: {code, message, details?}}, JSON. */
function assertError(res: LightMyRequestResponse, status: number, code: string): { code: string; message: string; details?: unknown[] } {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, 'string');
  for (const key of Object.keys(body.error)) assert.ok(['code', 'message', 'details'].includes(key), key);
  return body.error;
}

const validBody = { callbackUrl: 'https://example.com/hook', scope: 'Account', eventTypes: ['iModels.iModelCreated.v1'] };

describe('every error row of the contract', () => {
  let h: Harness;
  let app: TestClient;

  before(async () => {
    h = await createHarness();
    app = await h.client();
  });
  after(() => h.close());

  it('400 InvalidRequestBody for unparseable JSON, an empty JSON body and prototype poisoning', async () => {
    for (const payload of ['{"callbackUrl":', '', '{"__proto__": {"x": 1}}']) {
      const res = await h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: app.auth, 'content-type': 'application/json' }, payload });
      assertError(res, 400, 'InvalidRequestBody');
    }
  });

  it('401 HeaderNotFound without an Authorization header, with WWW-Authenticate', async () => {
    for (const [method, url] of [['GET', '/webhooks'], ['POST', '/webhooks'], ['GET', `/webhooks/${randomUUID()}`], ['GET', '/webhooks/event-types']] as const) {
      const res = await h.inject({ method, url });
      assertError(res, 401, 'HeaderNotFound');
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    }
  });

  it('401 InvalidAuthorizationToken for bad, expired, foreign and non-bearer tokens', async () => {
    const claims = { client_id: app.clientId, sub: app.clientId, org: app.accountId, scope: 'itwin-platform' };
    const cases: Record<string, string> = {
      garbage: 'Bearer not.a.jwt',
      'basic scheme': `Basic ${Buffer.from('a:b').toString('base64')}`,
      'empty bearer': 'Bearer ',
      expired: `Bearer ${await mintToken(h, claims, { expiresIn: -120 })}`,
      'wrong issuer': `Bearer ${await mintToken(h, claims, { issuer: 'https://evil.example.com' })}`,
      'wrong audience': `Bearer ${await mintToken(h, claims, { audience: 'someone-else' })}`,
      'not yet valid': `Bearer ${await mintToken(h, claims, { notBefore: 600 })}`,
      'tampered signature': `${app.auth.slice(0, -4)}AAAA`,
      'tampered claims': (() => {
        const [head, , sig] = app.token.split('.');
        const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'webhooks:admin', exp: 9999999999 })).toString('base64url');
        return `Bearer ${head}.${forged}.${sig}`;
      })(),
    };
    for (const [name, header] of Object.entries(cases)) {
      const res = await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: header } });
      assertError(res, 401, 'InvalidAuthorizationToken');
      assert.ok(!res.body.includes('at '), `${name}: no stack trace`);
    }
  });

  it('403 InsufficientPermissions for a missing scope, a user token, and an iTwin without permission', async () => {
    const readOnly = await h.client({ scopes: [SCOPES.read] });
    assertError(await h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: readOnly.auth }, payload: validBody }), 403, 'InsufficientPermissions');
    const publisher = await h.client({ scopes: [SCOPES.publish] });
    assertError(await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: publisher.auth } }), 403, 'InsufficientPermissions');
    const user = await mintToken(h, { client_id: app.clientId, sub: randomUUID(), org: app.accountId, scope: 'itwin-platform' });
    assertError(await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: `Bearer ${user}` } }), 403, 'InsufficientPermissions');
    const itwinId = await h.itwin(app.accountId);
    const res = await h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: app.auth }, payload: { ...validBody, scope: 'iTwin', scopeId: itwinId } });
    assertError(res, 403, 'InsufficientPermissions');
  });

  it('404 RouteNotFound for unknown paths, in the contract shape', async () => {
    for (const url of ['/', '/nope', '/webhooks/a/b/c', '/webhook']) {
      assertError(await h.inject({ method: 'GET', url }), 404, 'RouteNotFound');
    }
  });

  it('405 with Allow for a wrong method on a known path', async () => {
    const res = await h.inject({ method: 'PUT', url: '/webhooks' });
    assertError(res, 405, 'MethodNotAllowed');
    assert.equal(res.headers.allow, 'GET, HEAD, POST');
    const byId = await h.inject({ method: 'POST', url: `/webhooks/${randomUUID()}` });
    assertError(byId, 405, 'MethodNotAllowed');
    assert.equal(byId.headers.allow, 'DELETE, GET, HEAD, PATCH');
  });

  it('409 EventTypeAlreadyExists when registering a built-in or existing type', async () => {
    const admin = await h.client({ scopes: [SCOPES.admin] });
    const res = await h.inject({
      method: 'POST',
      url: '/webhooks/event-types',
      headers: { authorization: admin.auth },
      payload: { type: 'iModels.iModelCreated.v1', description: 'dup', contentSchema: { type: 'object' }, example: {} },
    });
    assertError(res, 409, 'EventTypeAlreadyExists');
  });

  it('413 PayloadTooLarge over the route limit', async () => {
    const payload = JSON.stringify({ ...validBody, callbackUrl: `https://example.com/${'x'.repeat(70 * 1024)}` });
    const res = await h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: app.auth, 'content-type': 'application/json' }, payload });
    const error = assertError(res, 413, 'PayloadTooLarge');
    assert.match(error.message, /65536 bytes/);
  });

  it('415 UnsupportedMediaType for non-JSON bodies; +json types are JSON', async () => {
    for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: app.auth, 'content-type': type }, payload: 'a=b' });
      assertError(res, 415, 'UnsupportedMediaType');
    }
    const vendor = await h.inject({
      method: 'POST',
      url: '/webhooks',
      headers: { authorization: app.auth, 'content-type': 'application/vnd.bentley.itwin-platform.v2+json' },
      payload: JSON.stringify(validBody),
    });
    assert.equal(vendor.statusCode, 201);
  });

  it('422 with the code of each request kind', async () => {
    const created = (await h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: app.auth }, payload: validBody })).json();
    assertError(await h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: app.auth }, payload: {} }), 422, 'InvalidCreateWebhookRequest');
    assertError(
      await h.inject({ method: 'PATCH', url: `/webhooks/${created.id}`, headers: { authorization: app.auth }, payload: { active: 'yes' } }),
      422,
      'InvalidUpdateWebhookRequest',
    );
    assertError(await h.inject({ method: 'GET', url: '/webhooks?$top=-1', headers: { authorization: app.auth } }), 422, 'InvalidWebhooksRequest');
    const admin = await h.client({ scopes: [SCOPES.admin] });
    assertError(
      await h.inject({ method: 'POST', url: '/webhooks/event-types', headers: { authorization: admin.auth }, payload: { type: 'Bad Name' } }),
      422,
      'InvalidEventTypeRequest',
    );
  });

  it('500 InternalServerError without internals, and the cause is logged', async () => {
    const store = h.server.deps.store;
    const original = store.listWebhooks;
    store.listWebhooks = async () => {
      throw new Error('database exploded at /var/lib/secret-path');
    };
    try {
      const res = await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: app.auth } });
      const error = assertError(res, 500, 'InternalServerError');
      assert.equal(error.message, 'The server encountered an unexpected error.');
      assert.ok(!res.body.includes('secret-path') && !res.body.includes('.ts:'));
      assert.ok(h.logs.some((l) => l.includes('database exploded')), 'the cause is in the log');
    } finally {
      store.listWebhooks = original;
    }
  });
});

describe('429 TooManyRequests', () => {
  it('limits each application separately and says when to retry', async () => {
    const h = await createHarness({ flags: { rateLimitMax: '3', rateLimitWindowSeconds: '60' } });
    try {
      const a = await h.client();
      const b = await h.client();
      for (let i = 0; i < 3; i++) assert.equal((await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: a.auth } })).statusCode, 200);
      const limited = await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: a.auth } });
      assertError(limited, 429, 'TooManyRequests');
      const retryAfter = Number(limited.headers['retry-after']);
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, String(limited.headers['retry-after']));
      assert.equal((await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: b.auth } })).statusCode, 200, 'another application is not limited');
      assert.equal((await h.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'health is never limited');
    } finally {
      await h.close();
    }
  });
});
