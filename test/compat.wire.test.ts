/**
 * Bentley's published v2 samples for the hosted API (the Node/Express app and the C# Azure
 * Function), replayed against a real socket byte for byte: the form fields, header values and
 * body bytes those clients put on the wire, with nothing in between that could normalise a
 * difference away (no inject(), no JSON serialisation by a helper). Contract §1, §4, §5.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { registerClient } from '../src/auth/clients.ts';
import { MAINTAINER_PERMISSION, SCOPES } from '../src/auth/scopes.ts';
import { createHarness, LOOPBACK_CALLBACKS, type Harness } from './helpers/harness.ts';
import { Receiver } from './helpers/receiver.ts';
import { sealedFor } from '../src/crypto/secretBox.ts';

interface WireAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One HTTP/1.1 request with exactly these header values and body bytes. */
function send(origin: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<WireAnswer> {
  return new Promise((resolve, reject) => {
    const bytes = body === undefined ? undefined : Buffer.from(body, 'utf8');
    const req = request(`${origin}${path}`, { method, headers: bytes === undefined ? headers : { ...headers, 'content-length': String(bytes.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(bytes);
  });
}

const json = (a: WireAnswer) => JSON.parse(a.text) as Record<string, any>;

/** The Accept header both samples send on every API call. */
const V2_ACCEPT = 'application/vnd.bentley.itwin-platform.v2+json';

describe('wire compatibility with the hosted API\'s published clients', () => {
  let h: Harness;
  let origin: string;
  let client: { clientId: string; clientSecret: string; accountId: string };
  let receiver: Receiver;

  before(async () => {
    receiver = await new Receiver().start();
    h = await createHarness({ listen: true, flags: LOOPBACK_CALLBACKS });
    origin = h.server.url;
  });
  // Each test has an application (and account) of its own: the webhooks another test created are not in its lists.
  beforeEach(async () => {
    client = await registerClient(h.server.deps.store, {
      name: 'bentley-sample',
      accountId: randomUUID(),
      scopes: [SCOPES.read, SCOPES.modify],
      now: Date.now(),
    });
  });
  after(async () => {
    await h.close();
    await receiver.close();
  });

  /** The Node sample's token request: qs.stringify of its params, POSTed by axios to `${authority}/connect/token`. */
  const nodeSampleToken = async (c = client): Promise<string> => {
    const res = await send(
      origin,
      'POST',
      '/connect/token',
      { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json, text/plain, */*', 'user-agent': 'axios/1.7.2' },
      `client_id=${c.clientId}&client_secret=${c.clientSecret}&grant_type=client_credentials&scope=webhooks%3Aread%20webhooks%3Amodify`,
    );
    assert.equal(res.status, 200, res.text);
    return json(res).access_token as string;
  };

  it('token path: POST /connect/token with the credentials in the form body (the Node sample) issues a usable token', async () => {
    const token = await nodeSampleToken();
    const list = await send(origin, 'GET', '/webhooks', { authorization: `Bearer ${token}`, accept: V2_ACCEPT });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(json(list).webhooks, []);
  });

  it('token path: POST /connect/token with HTTP Basic credentials and a .NET-encoded form answers like /oauth/token', async () => {
    const basic = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;
    // FormUrlEncodedContent writes a space as '+'.
    const body = 'scope=webhooks%3Amodify+webhooks%3Aread&grant_type=client_credentials';
    const headers = { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' };
    const connect = await send(origin, 'POST', '/connect/token', headers, body);
    const oauth = await send(origin, 'POST', '/oauth/token', headers, body);
    assert.equal(connect.status, 200, connect.text);
    assert.equal(oauth.status, 200, oauth.text);
    assert.equal(json(connect).scope, 'webhooks:modify webhooks:read');
    assert.deepEqual(Object.keys(json(connect)).sort(), Object.keys(json(oauth)).sort());
    assert.equal(connect.headers['cache-control'], 'no-store');
    // A wrong secret is refused in the OAuth2 shape at both paths.
    const wrong = { ...headers, authorization: `Basic ${Buffer.from(`${client.clientId}:nope`).toString('base64')}` };
    for (const path of ['/connect/token', '/oauth/token']) {
      const refused = await send(origin, 'POST', path, wrong, body);
      assert.equal(refused.status, 401, path);
      assert.equal(json(refused).error, 'invalid_client', path);
    }
  });

  it('token path: discovery names /connect/token, and it answers there', async () => {
    const discovery = json(await send(origin, 'GET', '/.well-known/openid-configuration', { accept: 'application/json' }));
    assert.equal(discovery.token_endpoint, `${origin}/connect/token`);
    const path = new URL(discovery.token_endpoint as string).pathname;
    const res = await send(origin, 'POST', path, { 'content-type': 'application/x-www-form-urlencoded' }, `grant_type=client_credentials&client_id=${client.clientId}&client_secret=${client.clientSecret}`);
    assert.equal(res.status, 200, res.text);
  });

  it('trailing slash: the C# sample\'s base address /webhooks/ lists, creates, gets, patches and deletes', async () => {
    const token = await nodeSampleToken();
    const auth = { authorization: `Bearer ${token}`, accept: V2_ACCEPT };
    const jsonType = { ...auth, 'content-type': 'application/json; charset=utf-8' };
    // HttpClient with BaseAddress "https://api.bentley.com/webhooks/": GetAsync("") and PostAsync("") hit /webhooks/.
    const list = await send(origin, 'GET', '/webhooks/', auth);
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(Object.keys(json(list)), ['webhooks', '_links']);
    const created = await send(origin, 'POST', '/webhooks/', jsonType, '{"callbackUrl":"https://receiver.example.com/hook","scope":"Account","eventTypes":["iModels.iModelDeleted.v1"]}');
    assert.equal(created.status, 201, created.text);
    const id = json(created).id as string;
    assert.equal(created.headers.location, `/webhooks/${id}`);
    for (const path of [`/webhooks/${id}`, `/webhooks/${id}/`]) {
      const got = await send(origin, 'GET', path, auth);
      assert.equal(got.status, 200, `${path}: ${got.text}`);
      assert.equal(json(got).id, id);
    }
    const patched = await send(origin, 'PATCH', `/webhooks/${id}/`, jsonType, '{"active":true}');
    assert.equal(patched.status, 200, patched.text);
    assert.equal(json(patched).active, true);
    const listed = json(await send(origin, 'GET', '/webhooks/', auth));
    assert.deepEqual((listed.webhooks as Array<{ id: string }>).map((w) => w.id), [id]);
    const deleted = await send(origin, 'DELETE', `/webhooks/${id}/`, auth);
    assert.equal(deleted.status, 204, deleted.text);
    assert.equal((await send(origin, 'GET', `/webhooks/${id}`, auth)).status, 404);
  });

  it('trailing slash: every route of the API document answers the same with and without one', async () => {
    const token = await nodeSampleToken();
    const doc = json(await send(origin, 'GET', '/openapi.json', {}));
    const paths = Object.keys(doc.paths as object);
    assert.ok(paths.length >= 10, 'the document lists the routes');
    const unknownId = randomUUID();
    for (const template of paths) {
      const path = template.replace(/\{[^}]+\}/g, unknownId);
      for (const method of Object.keys(doc.paths[template] as object).map((m) => m.toUpperCase())) {
        // Bodies that no route accepts, so that nothing changes: the answers must still match.
        const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: V2_ACCEPT };
        const body = method === 'GET' || method === 'DELETE' ? undefined : '{"unknownProperty":1}';
        if (body !== undefined) headers['content-type'] = path.endsWith('/token') ? 'application/x-www-form-urlencoded' : 'application/json';
        const bare = await send(origin, method, path, headers, body);
        const slashed = await send(origin, method, `${path}/`, headers, body);
        assert.equal(slashed.status, bare.status, `${method} ${path}/ answers ${slashed.status}, without the slash ${bare.status}: ${slashed.text}`);
        if (bare.status >= 400) {
          const code = (b: WireAnswer) => json(b).error?.code ?? json(b).error;
          assert.notEqual(code(bare), 'RouteNotFound', `${method} ${path} is routed`);
          assert.equal(code(slashed), code(bare), `${method} ${path}/ gives the same error`);
        }
      }
    }
  });

  it('null members: the C# sample activates with {"active":true,"callbackUrl":null,"secret":null,"eventTypes":null}', async () => {
    const auth = { authorization: `Bearer ${await nodeSampleToken()}`, accept: V2_ACCEPT };
    const jsonType = { ...auth, 'content-type': 'application/json; charset=utf-8' };
    const created = await send(origin, 'POST', '/webhooks/', jsonType, '{"callbackUrl":"https://receiver.example.com/cs","scope":"Account","eventTypes":["iModels.iModelDeleted.v1"]}');
    assert.equal(created.status, 201, created.text);
    const before = json(created);
    // System.Text.Json serialising WebhookPatchRequest { Active = true }, byte for byte.
    const patched = await send(origin, 'PATCH', `/webhooks/${before.id}`, jsonType, '{"active":true,"callbackUrl":null,"secret":null,"eventTypes":null}');
    assert.equal(patched.status, 200, patched.text);
    const after = json(patched);
    assert.equal(after.active, true);
    assert.equal(after.callbackUrl, before.callbackUrl, 'a null callbackUrl leaves it as it was');
    assert.deepEqual(after.eventTypes, before.eventTypes, 'null eventTypes leave them as they were');
    assert.equal(after.secret, undefined, 'a null secret is not a new secret');
    // The secret did not change either: it is still the one the create answered.
    const stored = await h.server.deps.store.getWebhook(client.clientId, after.id as string);
    assert.equal(h.server.deps.box.open(stored!.secretSealed, sealedFor.webhookSecret(after.id)), before.secret);
    // Deactivating the same way.
    const off = await send(origin, 'PATCH', `/webhooks/${before.id}`, jsonType, '{"active":false,"callbackUrl":null,"secret":null,"eventTypes":null}');
    assert.equal(off.status, 200, off.text);
    assert.equal(json(off).active, false);
    // Nothing but nulls is no change at all: the update must set something.
    const empty = await send(origin, 'PATCH', `/webhooks/${before.id}`, jsonType, '{"active":null,"callbackUrl":null,"secret":null,"eventTypes":null}');
    assert.equal(empty.status, 422, empty.text);
    assert.equal(json(empty).error.code, 'InvalidUpdateWebhookRequest');
  });

  it('null members: the C# sample creates with "secret":null and gets a generated secret', async () => {
    const auth = { authorization: `Bearer ${await nodeSampleToken()}`, accept: V2_ACCEPT, 'content-type': 'application/json; charset=utf-8' };
    // WebhookCreateRequest's members in declaration order; scopeId is not one of them, a .NET client with it would send null.
    const created = await send(origin, 'POST', '/webhooks/', auth, '{"callbackUrl":"https://receiver.example.com/cs-create","scope":"Account","secret":null,"eventTypes":["iModels.iModelDeleted.v1"]}');
    assert.equal(created.status, 201, created.text);
    assert.match(String(json(created).secret), /^[0-9a-f]{64}$/);
    const withScopeId = await send(origin, 'POST', '/webhooks/', auth, '{"callbackUrl":"https://receiver.example.com/cs-create","scope":"Account","scopeId":null,"secret":null,"eventTypes":["iModels.iModelDeleted.v1"]}');
    assert.equal(withScopeId.status, 201, withScopeId.text);
    assert.equal(json(withScopeId).scopeId, client.accountId);
  });

  it('null members: a required member sent as null is a 422 MissingRequiredProperty naming it; nothing is created', async () => {
    const token = await nodeSampleToken();
    const auth = { authorization: `Bearer ${token}`, accept: V2_ACCEPT, 'content-type': 'application/json; charset=utf-8' };
    const count = async () => (json(await send(origin, 'GET', '/webhooks?$top=1000', auth)).webhooks as unknown[]).length;
    const before = await count();
    const res = await send(origin, 'POST', '/webhooks/', auth, '{"callbackUrl":null,"scope":"Account","secret":null,"eventTypes":null}');
    assert.equal(res.status, 422, res.text);
    const body = json(res);
    assert.equal(body.error.code, 'InvalidCreateWebhookRequest');
    assert.deepEqual(
      (body.error.details as Array<{ code: string; target: string }>).map((d) => [d.code, d.target]).sort(),
      [['MissingRequiredProperty', 'callbackUrl'], ['MissingRequiredProperty', 'eventTypes']],
    );
    // An unknown member is refused whatever its value, null included.
    const unknown = await send(origin, 'POST', '/webhooks/', auth, '{"callbackUrl":"https://receiver.example.com/x","scope":"Account","eventTypes":["iModels.iModelDeleted.v1"],"description":null}');
    assert.equal(unknown.status, 422, unknown.text);
    assert.deepEqual(json(unknown).error.details.map((d: { code: string; target: string }) => [d.code, d.target]), [['UnknownProperty', 'description']]);
    assert.equal(await count(), before);
  });

  /** A producer's token, through the API's own token endpoint, for publishing. */
  const producerToken = async (): Promise<string> => {
    const producer = await registerClient(h.server.deps.store, { name: 'producer', accountId: randomUUID(), scopes: [SCOPES.publish], now: Date.now() });
    const res = await send(origin, 'POST', '/oauth/token', { 'content-type': 'application/x-www-form-urlencoded' }, `grant_type=client_credentials&client_id=${producer.clientId}&client_secret=${producer.clientSecret}`);
    assert.equal(res.status, 200, res.text);
    return json(res).access_token as string;
  };

  /** A new application in an account of its own, with an active Account webhook that delivers to `path` of the receiver. */
  const accountWebhook = async (path: string): Promise<{ id: string; auth: Record<string, string>; owner: { clientId: string; accountId: string } }> => {
    const owner = await registerClient(h.server.deps.store, { name: 'sample', accountId: randomUUID(), scopes: [SCOPES.read, SCOPES.modify], now: Date.now() });
    const auth = { authorization: `Bearer ${await nodeSampleToken(owner)}`, accept: V2_ACCEPT, 'content-type': 'application/json' };
    const created = await send(origin, 'POST', '/webhooks', auth, `{"callbackUrl":"${receiver.url(path)}","scope":"Account","eventTypes":["iModels.iModelDeleted.v1","accessControl.memberAdded.v1"]}`);
    assert.equal(created.status, 201, created.text);
    const { id, secret } = json(created) as { id: string; secret: string };
    receiver.setSecret(path, secret);
    assert.equal((await send(origin, 'PATCH', `/webhooks/${id}`, auth, '{"active":true}')).status, 200);
    return { id, auth, owner };
  };

  const SIX_MEMBERS = ['content', 'eventType', 'enqueuedDateTime', 'iTwinId', 'messageId', 'webhookId'];

  it('envelope: an event published with only an account is refused, naming iTwinId; nothing is delivered', async () => {
    const hook = await accountWebhook('/envelope/refused');
    const token = await producerToken();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    for (const body of [
      `{"eventType":"iModels.iModelDeleted.v1","accountId":"${hook.owner.accountId}","content":{"imodelId":"${randomUUID()}","userId":"${randomUUID()}"}}`,
      `{"eventType":"iModels.iModelDeleted.v1","iTwinId":null,"accountId":"${hook.owner.accountId}","content":{"imodelId":"${randomUUID()}","userId":"${randomUUID()}"}}`,
      `{"events":[{"eventType":"iModels.iModelDeleted.v1","accountId":"${hook.owner.accountId}","content":{"imodelId":"${randomUUID()}","userId":"${randomUUID()}"}}]}`,
    ]) {
      const res = await send(origin, 'POST', '/webhooks/events', headers, body);
      assert.equal(res.status, 422, res.text);
      const details = json(res).error.details as Array<{ code: string; target: string }>;
      assert.ok(details.some((d) => d.code === 'MissingRequiredProperty' && /(^|\.)iTwinId$/.test(d.target)), res.text);
    }
    const deliveries = await send(origin, 'GET', `/webhooks/${hook.id}/deliveries`, hook.auth);
    assert.deepEqual(json(deliveries).deliveries, [], 'nothing was queued');
  });

  it('envelope: every delivery body has all six members, in the hosted API\'s order, and the Node sample reads iTwinId', async () => {
    const hook = await accountWebhook('/envelope/six');
    const token = await producerToken();
    // An iTwin the directory does not know: accountId says whose it is.
    const itwinId = randomUUID();
    const imodelId = randomUUID();
    const res = await send(
      origin,
      'POST',
      '/webhooks/events',
      { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      `{"eventType":"iModels.iModelDeleted.v1","iTwinId":"${itwinId}","accountId":"${hook.owner.accountId}","content":{"imodelId":"${imodelId}","userId":"${randomUUID()}"}}`,
    );
    assert.equal(res.status, 202, res.text);
    const test = await send(origin, 'POST', `/webhooks/${hook.id}/test`, hook.auth, '{"eventType":"accessControl.memberAdded.v1"}');
    assert.equal(test.status, 202, test.text);
    await receiver.waitFor(() => receiver.at('/envelope/six').length === 2, 10_000, 'the event and the test event');
    for (const got of receiver.at('/envelope/six')) {
      assert.equal(got.signatureValid, true);
      const body = JSON.parse(got.rawBody) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), SIX_MEMBERS, got.rawBody);
      assert.match(String(body.iTwinId), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, got.rawBody);
      assert.equal(body.webhookId, hook.id);
    }
    const published = receiver.at('/envelope/six').find((r) => r.body.eventType === 'iModels.iModelDeleted.v1')!;
    const event = JSON.parse(published.rawBody) as { iTwinId: string; content: { imodelId: string } };
    // What the Node sample prints for this event type.
    assert.equal(`iModel (ID: ${event.content.imodelId}) in itwin (ID: ${event.iTwinId}) was deleted`, `iModel (ID: ${imodelId}) in itwin (ID: ${itwinId}) was deleted`);
  });

  it('envelope: an event of a known iTwin may omit accountId; its Account and iTwin webhooks both get the iTwinId', async () => {
    const hook = await accountWebhook('/envelope/known-account');
    const itwinId = await h.itwin(hook.owner.accountId);
    await h.server.deps.store.grant(hook.owner.clientId, itwinId, MAINTAINER_PERMISSION, Date.now());
    const created = await send(origin, 'POST', '/webhooks', hook.auth, `{"callbackUrl":"${receiver.url('/envelope/known-itwin')}","scope":"iTwin","scopeId":"${itwinId}","eventTypes":["iModels.iModelDeleted.v1"]}`);
    assert.equal(created.status, 201, created.text);
    receiver.setSecret('/envelope/known-itwin', json(created).secret as string);
    assert.equal((await send(origin, 'PATCH', `/webhooks/${json(created).id}`, hook.auth, '{"active":true}')).status, 200);
    const res = await send(
      origin,
      'POST',
      '/webhooks/events',
      { authorization: `Bearer ${await producerToken()}`, 'content-type': 'application/json' },
      `{"eventType":"iModels.iModelDeleted.v1","iTwinId":"${itwinId}","content":{"imodelId":"${randomUUID()}","userId":"${randomUUID()}"}}`,
    );
    assert.equal(res.status, 202, res.text);
    assert.equal(json(res).events[0].matchedWebhooks, 2);
    await receiver.waitFor(() => receiver.at('/envelope/known-account').length === 1 && receiver.at('/envelope/known-itwin').length === 1);
    for (const path of ['/envelope/known-account', '/envelope/known-itwin']) {
      const body = JSON.parse(receiver.at(path)[0]!.rawBody) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), SIX_MEMBERS, path);
      assert.equal(body.iTwinId, itwinId, path);
    }
  });
});
