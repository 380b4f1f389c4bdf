import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { SCOPES } from '../src/auth/scopes.ts';
import { MAX_JSON_DEPTH } from '../src/contract/jsonDepth.ts';
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
    for (const url of ['/nope', '/webhooks/a/b/c', '/webhook']) {
      assertError(await h.inject({ method: 'GET', url }), 404, 'RouteNotFound');
    }
  });

  it('GET / sends a browser to the API reference', async () => {
    const res = await h.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 302);
    assert.equal(res.headers.location, '/docs');
  });

  it('an iTwin the directory does not know and another account\'s iTwin answer alike: 403, so ids cannot be probed', async () => {
    const foreign = await h.itwin(randomUUID());
    const answers = [];
    for (const scopeId of [randomUUID(), foreign]) {
      const res = await h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: app.auth }, payload: { ...validBody, scope: 'iTwin', scopeId } });
      answers.push(assertError(res, 403, 'InsufficientPermissions'));
    }
    assert.deepEqual(answers[0], answers[1]);
  });

  it('QUERY (a body method) on a known path is a 405 with Allow, on an unknown one a 404, with or without a Content-Type', async () => {
    for (const headers of [{}, { 'content-type': 'application/json' }]) {
      const known = await h.inject({ method: 'QUERY' as 'GET', url: '/webhooks', headers: { authorization: app.auth, ...headers }, payload: headers['content-type'] === undefined ? undefined : '{}' });
      assertError(known, 405, 'MethodNotAllowed');
      assert.equal(known.headers.allow, 'GET, HEAD, POST');
      assertError(await h.inject({ method: 'QUERY' as 'GET', url: '/nope', headers }), 404, 'RouteNotFound');
    }
  });

  it(`422 naming the nesting limit for a body nested deeper than ${MAX_JSON_DEPTH} levels, on every JSON route`, async () => {
    const admin = await h.client({ scopes: [SCOPES.admin, SCOPES.publish, SCOPES.modify] });
    const hook = await h.webhook(admin, { callbackUrl: 'https://example.com/deep' }, false);
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const cases: Array<[string, string, string]> = [
      ['POST', '/webhooks', 'InvalidCreateWebhookRequest'],
      ['PATCH', `/webhooks/${hook.id}`, 'InvalidUpdateWebhookRequest'],
      ['POST', '/webhooks/events', 'InvalidEventRequest'],
      ['POST', '/webhooks/event-types', 'InvalidEventTypeRequest'],
      ['POST', `/webhooks/${hook.id}/test`, 'InvalidEventRequest'],
    ];
    for (const [method, url, code] of cases) {
      // The test route takes at most 4 KiB.
      for (const depth of [MAX_JSON_DEPTH, url.endsWith('/test') ? 2000 : 10_000]) {
        const res = await h.inject({ method: method as 'POST', url, headers: { authorization: admin.auth, 'content-type': 'application/json' }, payload: `{"x":${deep(depth)}}` });
        const e = assertError(res, 422, code);
        assert.deepEqual(e.details, [{ code: 'InvalidValue', target: 'body', message: `The body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels, the limit for every JSON body.` }]);
      }
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

/** One HTTP/1.1 request written byte for byte on a socket (no client that would normalise the path or refuse the method). */
function rawRequest(origin: string, text: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(origin).port), '127.0.0.1', () => socket.write(text));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = raw.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
  });
}

describe('requests refused before routing answer in the contract shape too (real socket)', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({ listen: true });
  });
  after(() => h.close());

  const expectError = (answer: { status: number; headers: Record<string, string>; body: string }, status: number, code: string) => {
    assert.equal(answer.status, status, answer.body);
    assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
    const body = JSON.parse(answer.body);
    assert.deepEqual(Object.keys(body), ['error']);
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message']);
    assert.equal(body.error.code, code);
  };

  it('an unknown method (FOO) is a 400 InvalidRequestBody, not Fastify\'s own body', async () => {
    expectError(await rawRequest(h.server.url, 'FOO /webhooks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 400, 'InvalidRequestBody');
  });

  it('a URL or headers over 16 KiB are a 431 RequestHeaderFieldsTooLarge', async () => {
    expectError(await rawRequest(h.server.url, `GET /webhooks?x=${'a'.repeat(17 * 1024)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`), 431, 'RequestHeaderFieldsTooLarge');
    expectError(await rawRequest(h.server.url, `GET /webhooks HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(17 * 1024)}\r\nConnection: close\r\n\r\n`), 431, 'RequestHeaderFieldsTooLarge');
  });

  it('CONNECT is a 405, not a dropped connection', async () => {
    expectError(await rawRequest(h.server.url, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'), 405, 'MethodNotAllowed');
  });

  it('a path out of the docs\' static folder is a 404 RouteNotFound (the static plugin\'s 403 was a 500)', async () => {
    for (const path of ['/docs/static/%2e%2e/%2e%2e/package.json', '/docs/static/../../package.json', '/docs/static/..%2f..%2fpackage.json']) {
      const answer = await rawRequest(h.server.url, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expectError(answer, 404, 'RouteNotFound');
      assert.ok(!answer.body.includes('itwin-webhooks"'), 'not the package file');
    }
    assert.equal(h.logs.filter((l) => l.includes('"level":50')).length, 0, 'nothing logged as an error');
  });
});
