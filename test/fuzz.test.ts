/**
 * Red-team fuzzing of every route (contract §1): generated requests of every kind, and the
 * server must never misbehave. For each one:
 * - never a 5xx;
 * - every non-2xx answer is the contract's error shape, exactly {"error": {"code", "message",
 *   "details"?}} as application/json (the OAuth2 token endpoint answers its own RFC 6749 shape,
 *   as OAuth client libraries expect), with no stack trace and nothing of Node's or Fastify's;
 * - after each property the server is healthy: it answers, creates, publishes, and logged no error.
 *
 * The routes are those the server's own OpenAPI document lists (so a route added later is
 * fuzzed without touching this file) plus the undocumented ones (/, /docs, /openapi.json).
 * Requests go through inject() where the socket does not matter, and over a real socket for
 * what only a socket shows: unknown methods (FOO), the 16 KiB limit on the URL and headers.
 *
 * Reproduce a failure with the seed printed at the start: FC_SEED=<seed> node --test test/fuzz.test.ts
 * Scale the number of requests with FC_RUNS=<factor> (e.g. 10 for a soak).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { MAINTAINER_PERMISSION, SCOPES } from '../src/auth/scopes.ts';
import { MAX_JSON_DEPTH } from '../src/contract/jsonDepth.ts';
import { createHarness, type Harness, type TestClient } from './helpers/harness.ts';

const SEED = process.env.FC_SEED !== undefined && process.env.FC_SEED !== '' ? Number(process.env.FC_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
const RUNS_FACTOR = Number(process.env.FC_RUNS ?? '1');
/** Requests per property; 2,000 and more per run in all. */
const RUNS = { inject: 1800, deep: 250, socket: 200 };
const runs = (n: number) => Math.max(1, Math.round(n * RUNS_FACTOR));
const params = <T>(n: number): fc.Parameters<T> => ({ numRuns: runs(n), seed: SEED });

const TOKEN_PATHS = new Set(['/oauth/token', '/connect/token']);
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'QUERY', 'HEAD', 'OPTIONS'] as const;

interface Route {
  /** OpenAPI template, e.g. /webhooks/{webhookId}/deliveries/{deliveryId}. */
  template: string;
  methods: string[];
  /** Property names of the JSON request bodies it documents. */
  bodyKeys: string[];
  /** The methods that take a body. */
  bodyMethods: string[];
  queryKeys: string[];
}

interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const describeRequest = (r: Sent) => `${r.method} ${r.url.slice(0, 300)}\nheaders ${JSON.stringify(r.headers).slice(0, 300)}\nbody ${String(r.payload).slice(0, 300)}`;

/** What every answer must satisfy, whatever was asked. */
function checkAnswer(sent: Sent, status: number, headers: Record<string, unknown>, text: string): void {
  const ctx = () => `${describeRequest(sent)}\n-> ${status} ${String(headers['content-type'])} ${text.slice(0, 400)}`;
  assert.ok(status >= 200 && status < 500, `status ${status}\n${ctx()}`);
  if (status >= 300 && status < 400) {
    assert.ok(typeof headers.location === 'string', `a redirect names where\n${ctx()}`);
    return;
  }
  if (status < 300 || sent.method === 'HEAD') return;
  assert.match(String(headers['content-type']), /^application\/json(;|$)/, `an error is JSON\n${ctx()}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`the error body is not JSON\n${ctx()}`);
  }
  assert.ok(!/\n\s+at |Maximum call stack|FST_|ERR_|statusCode/.test(text), `no stack trace or framework detail\n${ctx()}`);
  const path = sent.url.split('?')[0]!.replace(/\/$/, '');
  if (TOKEN_PATHS.has(path) && sent.method === 'POST' && isObject(body) && typeof body.error === 'string') {
    assert.deepEqual(Object.keys(body).sort(), ['error', 'error_description'], `RFC 6749 error\n${ctx()}`);
    assert.equal(typeof body.error_description, 'string', ctx());
    return;
  }
  assert.ok(isObject(body) && Object.keys(body).length === 1 && isObject(body.error), `exactly {"error": {...}}\n${ctx()}`);
  const e = body.error;
  assert.deepEqual(Object.keys(e).filter((k) => !['code', 'message', 'details'].includes(k)), [], `only code, message, details\n${ctx()}`);
  assert.match(String(e.code), /^[A-Z][A-Za-z]+$/, `error.code\n${ctx()}`);
  assert.ok(typeof e.message === 'string' && e.message.length > 0, `error.message\n${ctx()}`);
  if (status === 422) {
    assert.ok(Array.isArray(e.details) && e.details.length > 0, `a 422 lists its problems\n${ctx()}`);
    for (const d of e.details) {
      assert.deepEqual(Object.keys(d).sort(), ['code', 'message', 'target'], ctx());
      assert.ok(['MissingRequiredProperty', 'InvalidValue', 'ReadOnlyProperty', 'UnknownProperty'].includes(d.code), ctx());
    }
  } else {
    assert.equal(e.details, undefined, `details only on a 422\n${ctx()}`);
  }
  if (status === 405) assert.ok(typeof headers.allow === 'string', `a 405 says what is allowed\n${ctx()}`);
  if (status === 401) assert.ok(headers['www-authenticate'] !== undefined, `a 401 carries WWW-Authenticate\n${ctx()}`);
  if (status === 429) assert.match(String(headers['retry-after']), /^\d+$/, ctx());
}

/** JSON text nested `depth` levels of arrays and objects, wrapped in the route's own property when it has one. */
const deepJson = (depth: number, objects: boolean) => (objects ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth));

describe('fuzzing every route: no 5xx, the contract\'s error shape, a healthy server', () => {
  let h: Harness;
  let routes: Route[];
  let ids: Record<string, string[]>;
  let auths: string[];
  let sentCount = 0;
  let startedAt = 0;
  let owner: TestClient;
  let publisher: TestClient;
  let itwinId: string;

  before(async () => {
    console.log(`fuzz seed ${SEED} (replay: FC_SEED=${SEED} node --test test/fuzz.test.ts)`);
    startedAt = performance.now();
    h = await createHarness({ listen: true });
    owner = await h.client({ name: 'fuzz-owner', scopes: [SCOPES.platform, SCOPES.read, SCOPES.modify, SCOPES.publish, SCOPES.admin] });
    const reader = await h.client({ name: 'fuzz-reader', scopes: [SCOPES.read] });
    publisher = await h.client({ name: 'fuzz-publisher', accountId: owner.accountId, scopes: [SCOPES.publish] });
    const other = await h.client({ name: 'fuzz-other' });
    // The admin routes may delete, revoke or move what their path names: they get things of
    // their own, so that the owner's access (checked after the fuzzing) is not what they change.
    const victim = await h.client({ name: 'fuzz-victim' });
    const victimItwin = await h.itwin(victim.accountId);
    await h.server.deps.store.grant(victim.clientId, victimItwin, MAINTAINER_PERMISSION, Date.now());
    itwinId = await h.itwin(owner.accountId);
    await h.server.deps.store.grant(owner.clientId, itwinId, MAINTAINER_PERMISSION, Date.now());
    const own = await h.webhook(owner, { callbackUrl: 'https://receiver.example.com/own', eventTypes: ['iModels.iModelCreated.v1'] });
    const theirs = await h.webhook(other, { callbackUrl: 'https://receiver.example.com/theirs' });
    await h.publish(publisher, { eventType: 'iModels.iModelCreated.v1', iTwinId: itwinId, content: { imodelId: randomUUID(), userId: randomUUID() } });
    const deliveries = (await h.inject({ method: 'GET', url: `/webhooks/${own.id}/deliveries`, headers: { authorization: owner.auth } })).json().deliveries as Array<{ id: string }>;

    const doc = (await h.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, any> } };
    const deref = (schema: any): any => (typeof schema?.$ref === 'string' ? doc.components.schemas[schema.$ref.split('/').pop()] : schema);
    routes = Object.entries(doc.paths).map(([template, ops]) => {
      const bodyKeys = new Set<string>();
      const queryKeys = new Set<string>();
      const bodyMethods = Object.entries(ops).filter(([, op]) => op.requestBody !== undefined).map(([m]) => m.toUpperCase());
      for (const op of Object.values(ops)) {
        for (const media of Object.values((op.requestBody?.content ?? {}) as Record<string, { schema?: any }>)) {
          const schema = deref(media.schema);
          for (const s of [schema, ...(schema?.anyOf ?? []), ...(schema?.oneOf ?? [])].map(deref)) for (const k of Object.keys(s?.properties ?? {})) bodyKeys.add(k);
        }
        for (const p of (op.parameters ?? []) as Array<{ in: string; name: string }>) if (p.in === 'query') queryKeys.add(p.name);
      }
      return { template, methods: Object.keys(ops).map((m) => m.toUpperCase()), bodyKeys: [...bodyKeys], bodyMethods, queryKeys: [...queryKeys] };
    });
    for (const template of ['/', '/docs', '/docs/static/index.html', '/docs/static/{file}', '/openapi.json', '/ui/', '/ui/{file}', '/ui/vendor/{file}', '/nowhere', '/webhooks/{webhookId}/nowhere']) {
      routes.push({ template, methods: ['GET'], bodyKeys: [], bodyMethods: [], queryKeys: [] });
    }
    assert.ok(routes.length >= 15, 'the document lists the routes');
    ids = {
      webhookId: [own.id, theirs.id, own.id.toUpperCase()],
      deliveryId: deliveries.map((d) => d.id),
      clientId: [victim.clientId, 'fuzz-unknown-client'],
      itwinId: [victimItwin],
      accountId: [victim.accountId],
      file: ['..%2f..%2fpackage.json', '%2e%2e/%2e%2e/package.json', 'swagger-ui.css', 'index.html', '%00', 'nope.js'],
    };
    auths = ['', owner.auth, owner.auth, owner.auth, reader.auth, publisher.auth, other.auth, 'Bearer not.a.jwt', 'Bearer ', `Basic ${Buffer.from('a:b').toString('base64')}`, 'bearer x y z'];
  });

  after(async () => {
    await h?.close();
    const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
    console.log(`fuzz: ${sentCount} generated requests in ${seconds} s (seed ${SEED})`);
  });

  const segment = (name: string): fc.Arbitrary<string> =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...(ids[name] ?? [randomUUID()])) },
      { weight: 2, arbitrary: fc.uuid() },
      { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }).map(encodeURIComponent) },
      { weight: 1, arbitrary: fc.constantFrom('', '..', '%2e%2e', '%00', '%ZZ', '%', 'a%2Fb', '0', '-1', '1e9', '9'.repeat(40), 'null', '%F0%9F%98%80', 'x'.repeat(200), ':id', '{id}') },
    );

  const pathOf = (template: string): fc.Arbitrary<string> => {
    const names = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    return fc.tuple(...names.map(segment), fc.boolean()).map((parts) => {
      let i = 0;
      const path = template.replace(/\{[^}]+\}/g, () => parts[i++] as string);
      return parts[names.length] === true && !path.endsWith('/') ? `${path}/` : path;
    });
  };

  const queryOf = (keys: string[]): fc.Arbitrary<string> =>
    fc
      .array(
        fc.tuple(
          fc.oneof(fc.constantFrom(...keys, '$top', '$continuationToken', 'status', '$skip', 'x'), fc.string({ maxLength: 12 })),
          fc.oneof(
            fc.constantFrom('1', '0', '-1', '1000', '1001', '1.5', 'abc', '', 'true', 'null', 'pending', 'succeeded', 'failed', 'cancelled', '9'.repeat(30), randomUUID()),
            fc.string({ unit: 'binary', maxLength: 80 }),
          ),
          fc.boolean(),
        ),
        { maxLength: 4 },
      )
      .map((pairs) => pairs.map(([k, v, raw]) => (raw ? `${k}=${v}` : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join('&'));

  const bodyOf = (route: Route): fc.Arbitrary<{ payload?: string; contentType?: string }> => {
    const keys = route.bodyKeys.length > 0 ? route.bodyKeys : ['x'];
    const jsonText = fc.oneof(
      { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null') },
      { weight: 4, arbitrary: fc.dictionary(fc.constantFrom(...keys, 'events', 'id', 'created'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: keys.length + 1 }).map((v) => JSON.stringify(v)) },
      { weight: 1, arbitrary: fc.tuple(fc.integer({ min: MAX_JSON_DEPTH - 2, max: 5000 }), fc.boolean(), fc.constantFrom(...keys)).map(([d, o, k]) => `{"${k}":${deepJson(d, o)}}`) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
      { weight: 1, arbitrary: fc.constantFrom('', '{', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}', 'null', '[]', '"s"', '1e400', '{"a":1,"a":2}', '\u0000', '{"events":[]}', `{"events":[${'{},'.repeat(1200)}{}]}`) },
    );
    const contentType = fc.constantFrom(
      'application/json',
      'application/json',
      'application/json; charset=utf-8',
      'application/vnd.bentley.itwin-platform.v2+json',
      'application/x-www-form-urlencoded',
      'text/plain',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
      '',
      ';;;',
    );
    return fc.oneof(
      { weight: 1, arbitrary: fc.constant({}) },
      { weight: 6, arbitrary: fc.record({ payload: jsonText, contentType }) },
      {
        weight: TOKEN_PATHS.has(route.template) ? 6 : 0,
        arbitrary: fc
          .dictionary(fc.constantFrom('grant_type', 'client_id', 'client_secret', 'scope', 'x'), fc.oneof(fc.constantFrom('client_credentials', owner.clientId, 'webhooks:read'), fc.string({ maxLength: 30 })), { maxKeys: 4 })
          .map((form) => ({ payload: new URLSearchParams(form).toString(), contentType: 'application/x-www-form-urlencoded' })),
      },
    );
  };

  /** One arbitrary per route, built once: building fast-check arbitraries inside chain() cost more than the requests. */
  const requestArb = () => {
    const accept = fc.constantFrom(undefined, 'application/json', 'application/vnd.bentley.itwin-platform.v2+json', '*/*', 'text/html', 'application/xml', 'x');
    const extra = fc.dictionary(fc.stringMatching(/^x-[a-z]{1,10}$/), fc.string({ maxLength: 40 }).filter((v) => /^[\x20-\x7e]*$/.test(v)), { maxKeys: 2 });
    const auth = fc.constantFrom(...auths);
    return fc.oneof(
      ...routes.map((route) =>
        fc.record({
          method: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...route.methods) }, { weight: 2, arbitrary: fc.constantFrom(...METHODS) }),
          path: pathOf(route.template),
          query: fc.oneof({ weight: 3, arbitrary: fc.constant('') }, { weight: 2, arbitrary: queryOf(route.queryKeys) }),
          body: bodyOf(route),
          auth,
          accept,
          extra,
        }),
      ),
    );
  };

  /** The server after a property: it answers, creates, publishes and queues a delivery, and logged no error. */
  const assertHealthy = async () => {
    for (const url of ['/healthz', '/readyz']) assert.equal((await h.inject({ method: 'GET', url })).statusCode, 200, url);
    const created = await h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: owner.auth }, payload: { callbackUrl: 'https://receiver.example.com/after', scope: 'iTwin', scopeId: itwinId, eventTypes: ['iModels.iModelDeleted.v1'] } });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json().id as string;
    assert.equal((await h.inject({ method: 'PATCH', url: `/webhooks/${id}`, headers: { authorization: owner.auth }, payload: { active: true } })).statusCode, 200);
    const published = await h.publish(publisher, { eventType: 'iModels.iModelDeleted.v1', iTwinId: itwinId, content: { imodelId: randomUUID(), userId: randomUUID() } });
    assert.equal(published.statusCode, 202, published.body);
    assert.ok(published.json().events[0].matchedWebhooks >= 1);
    const list = await h.inject({ method: 'GET', url: `/webhooks/${id}/deliveries`, headers: { authorization: owner.auth } });
    assert.equal(list.json().deliveries.length, 1);
    const errorsLogged = h.logs.filter((l) => /"level":(50|60)/.test(l));
    assert.deepEqual(errorsLogged.map((l) => l.slice(0, 600)), [], 'no request made the server log an error');
  };

  it(`${runs(RUNS.inject)} generated requests through inject(): no 5xx, the contract's error shape`, async () => {
    const before = sentCount;
    await fc.assert(
      fc.asyncProperty(requestArb(), async (g) => {
        const headers: Record<string, string> = { ...g.extra };
        if (g.auth !== '') headers.authorization = g.auth;
        if (g.accept !== undefined) headers.accept = g.accept;
        if (g.body.contentType !== undefined && g.body.contentType !== '') headers['content-type'] = g.body.contentType;
        const sent: Sent = { method: g.method, url: g.query === '' ? g.path : `${g.path}?${g.query}`, headers, payload: g.body.payload };
        let res: LightMyRequestResponse;
        try {
          res = await h.inject({ method: sent.method as InjectOptions['method'], url: sent.url, headers, payload: sent.payload });
        } catch (err) {
          // light-my-request refuses some URLs itself (before the server sees them); nothing to check then.
          if (err instanceof TypeError || /Invalid URL|must be/.test((err as Error).message)) return;
          throw err;
        }
        sentCount++;
        checkAnswer(sent, res.statusCode, res.headers, res.body);
      }),
      params(RUNS.inject),
    );
    assert.ok(sentCount - before >= runs(RUNS.inject) * 0.9, `${sentCount - before} requests reached the server`);
    await assertHealthy();
  });

  it(`${runs(RUNS.deep)} bodies nested deeper than ${MAX_JSON_DEPTH} levels on every JSON route: 422 naming the limit, never a 500`, async () => {
    const bodyRoutes = routes.filter((r) => r.bodyKeys.length > 0 && r.bodyMethods.length > 0 && !TOKEN_PATHS.has(r.template));
    assert.ok(bodyRoutes.length >= 4);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...bodyRoutes),
        fc.integer({ min: MAX_JSON_DEPTH, max: 20_000 }),
        fc.boolean(),
        fc.nat(),
        async (route, depth, objects, pick) => {
          const method = route.bodyMethods[pick % route.bodyMethods.length]!;
          const path = route.template.replace(/\{([^}]+)\}/g, (_m, name: string) => ids[name]?.[0] ?? randomUUID());
          // Depth counts from the body's own object: the property adds one level.
          const key = route.bodyKeys[pick % route.bodyKeys.length]!;
          const payload = `{"${key}":${deepJson(depth, objects)}}`;
          const sent: Sent = { method, url: path, headers: { authorization: owner.auth, 'content-type': 'application/json' }, payload };
          const res = await h.inject({ method: method as InjectOptions['method'], url: path, headers: sent.headers, payload });
          sentCount++;
          checkAnswer(sent, res.statusCode, res.headers, res.body);
          if (res.statusCode === 413 || res.statusCode === 404) return; // a body over the route's size limit, or an id it does not know
          assert.equal(res.statusCode, 422, `${describeRequest(sent)}\n-> ${res.statusCode} ${res.body.slice(0, 300)}`);
          const details = res.json().error.details as Array<{ target: string; message: string }>;
          assert.ok(details.some((d) => d.target === 'body' && d.message.includes(`${MAX_JSON_DEPTH} levels`)), res.body);
        },
      ),
      params(RUNS.deep),
    );
    // One level under the limit is a body like any other (here: a content the schema refuses, not the depth).
    const atLimit = `{"eventType":"iModels.iModelCreated.v1","iTwinId":"${itwinId}","content":{"imodelId":${deepJson(MAX_JSON_DEPTH - 2, false)}}}`;
    const res = await h.inject({ method: 'POST', url: '/webhooks/events', headers: { authorization: publisher.auth, 'content-type': 'application/json' }, payload: atLimit });
    assert.equal(res.statusCode, 422, res.body);
    assert.ok((res.json().error.details as Array<{ target: string }>).every((d) => d.target !== 'body'), res.body);
    await assertHealthy();
  });

  /**
   * One raw HTTP/1.1 exchange on its own connection: the answer ends at its Content-Length, or
   * when the server closes. A server that neither answers nor closes fails the property (after
   * 20 s) instead of hanging the test.
   */
  const rawExchange = (text: string): Promise<{ status: number; headers: Record<string, string>; body: string }> =>
    new Promise((resolve, reject) => {
      const socket = connect(Number(new URL(h.server.url).port), '127.0.0.1', () => socket.write(text));
      let raw = Buffer.alloc(0);
      const guard = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer and no close: ${JSON.stringify(text.slice(0, 200))}`));
      }, 20_000);
      const parse = () => {
        const split = raw.indexOf('\r\n\r\n');
        const head = raw.subarray(0, split < 0 ? raw.length : split).toString('latin1');
        const [statusLine = '', ...lines] = head.split('\r\n');
        const headers: Record<string, string> = {};
        for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
        const body = split < 0 ? Buffer.alloc(0) : raw.subarray(split + 4);
        return { split, status: Number(statusLine.split(' ')[1] ?? 0), headers, body };
      };
      const finish = () => {
        clearTimeout(guard);
        const { status, headers, body } = parse();
        resolve({ status, headers, body: body.toString('utf8') });
        socket.destroy();
      };
      socket.on('data', (c: Buffer) => {
        raw = Buffer.concat([raw, c]);
        const { split, status, headers, body } = parse();
        // An answer to HEAD has no body, whatever its Content-Length says; nor has a 204 or 304,
        // which carries no Content-Length and, on a connection kept open (a request with
        // `Connection: Upgrade` that is answered as a plain request), is followed by no close.
        const bodiless = text.startsWith('HEAD ') || status === 204 || status === 304;
        const expected = bodiless ? 0 : Number(headers['content-length']);
        if (split >= 0 && (bodiless || headers['content-length'] !== undefined) && body.length >= expected) finish();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? undefined : reject(err)));
      socket.on('close', finish);
    });

  it(`${runs(RUNS.socket)} generated requests over a real socket (any method token, URLs and headers around the 16 KiB limit): no 5xx, the contract's error shape`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.oneof(fc.constantFrom(...METHODS), fc.constantFrom('FOO', 'PROPFIND', 'get', 'BREW', 'CONNECT', 'TRACE', 'G ET', 'SEARCH')),
        fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: 15_000, max: 40_000 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 16_000 }) }),
        fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: 15_000, max: 40_000 }) }),
        fc.integer({ min: 0, max: 150 }),
        fc.boolean(),
        fc.boolean(),
        fc.nat(),
        async (route, method, urlPad, headerPad, headerCount, withAuth, upgrade, pick) => {
          // Path ids as sent, never normalised by a client: `%2e%2e` stays what it is.
          const path = route.template.replace(/\{([^}]+)\}/g, (_m, name: string) => (ids[name] === undefined ? randomUUID() : ids[name]![pick % ids[name]!.length]!));
          const url = urlPad === 0 ? path : `${path}?pad=${'a'.repeat(urlPad)}`;
          const lines = [`${method} ${url} HTTP/1.1`, 'Host: 127.0.0.1', upgrade ? 'Connection: Upgrade' : 'Connection: close'];
          if (upgrade) lines.push('Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==');
          if (withAuth) lines.push(`Authorization: ${owner.auth}`);
          if (headerPad > 0) lines.push(`X-Pad: ${'b'.repeat(headerPad)}`);
          for (let i = 0; i < headerCount; i++) lines.push(`X-Many-${i}: ${i}`);
          const answer = await rawExchange(`${lines.join('\r\n')}\r\n\r\n`);
          sentCount++;
          const sent: Sent = { method, url, headers: { pad: String(headerPad), count: String(headerCount) } };
          assert.ok(answer.status > 0, `an answer, not a dropped connection\n${describeRequest(sent)}`);
          checkAnswer(sent, answer.status, answer.headers, answer.body);
          const size = url.length + headerPad + headerCount * 14;
          // An unknown method token is refused before the size is counted.
          if (size > 17_000 && (METHODS as readonly string[]).includes(method)) assert.equal(answer.status, 431, `over the 16 KiB limit\n${describeRequest(sent)}`);
        },
      ),
      params(RUNS.socket),
    );
    await assertHealthy();
  });

});
