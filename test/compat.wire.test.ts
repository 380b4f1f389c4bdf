/**
 * Bentley's published v2 samples for the hosted API (the Node/Express app and the C# Azure
 * Function), replayed against a real socket byte for byte: the form fields, header values and
 * body bytes those clients put on the wire, with nothing in between that could normalise a
 * difference away (no inject(), no JSON serialisation by a helper). Contract §1, §4, §5.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { registerClient } from '../src/auth/clients.ts';
import { MAINTAINER_PERMISSION, SCOPES } from '../src/auth/scopes.ts';
import { createHarness, LOOPBACK_CALLBACKS, type Harness } from './helpers/harness.ts';
import { Receiver } from './helpers/receiver.ts';

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

  before(async () => {
    h = await createHarness({ listen: true, flags: LOOPBACK_CALLBACKS });
    origin = h.server.url;
    client = await registerClient(h.server.deps.store, {
      name: 'bentley-sample',
      accountId: randomUUID(),
      scopes: [SCOPES.read, SCOPES.modify],
      now: Date.now(),
    });
  });
  after(() => h.close());

  /** The Node sample's token request: qs.stringify of its params, POSTed by axios to `${authority}/connect/token`. */
  const nodeSampleToken = async (): Promise<string> => {
    const res = await send(
      origin,
      'POST',
      '/connect/token',
      { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json, text/plain, */*', 'user-agent': 'axios/1.7.2' },
      `client_id=${client.clientId}&client_secret=${client.clientSecret}&grant_type=client_credentials&scope=webhooks%3Aread%20webhooks%3Amodify`,
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
});
