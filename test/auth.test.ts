import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import { SCOPES } from '../src/auth/scopes.ts';
import { createHarness, type Harness } from './helpers/harness.ts';

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

describe('built-in OAuth2 issuer', () => {
  let h: Harness;
  let client: { clientId: string; clientSecret: string; accountId: string };

  before(async () => {
    h = await createHarness({ listen: true });
    client = await h.client({ scopes: [SCOPES.platform, SCOPES.read] });
  });
  after(() => h.close());

  const token = (payload: string, headers: Record<string, string> = {}) =>
    h.inject({ method: 'POST', url: '/oauth/token', headers: { ...FORM, ...headers }, payload });

  it('issues a verifiable RS256 token with the contract claims (form body)', async () => {
    const res = await token(form({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret }));
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'scope', 'token_type']);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 3600);
    assert.equal(body.scope, 'itwin-platform webhooks:read');
    // Verify it the way an outside party would: through the published JWKS over HTTP.
    const jwks = createRemoteJWKSet(new URL(`${h.server.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(body.access_token, jwks, { issuer: h.config.auth.issuer, audience: 'itwin-platform' });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.client_id, client.clientId);
    assert.equal(payload.sub, client.clientId);
    assert.equal(payload.org, client.accountId);
    assert.equal(payload.scope, 'itwin-platform webhooks:read');
  });

  it('accepts HTTP Basic client authentication and narrows scopes on request', async () => {
    const res = await token(form({ grant_type: 'client_credentials', scope: 'webhooks:read' }), { authorization: basic(client.clientId, client.clientSecret) });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().scope, 'webhooks:read');
  });

  it('answers standard OAuth2 errors', async () => {
    const cases: Array<[string, string, Record<string, string>, number, string]> = [
      ['wrong secret', form({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: 'wrong' }), {}, 401, 'invalid_client'],
      ['unknown client', form({ grant_type: 'client_credentials', client_id: 'service-nope', client_secret: 'x' }), {}, 401, 'invalid_client'],
      ['no credentials', form({ grant_type: 'client_credentials' }), {}, 401, 'invalid_client'],
      ['password grant', form({ grant_type: 'password', client_id: client.clientId, client_secret: client.clientSecret }), {}, 400, 'unsupported_grant_type'],
      ['no grant', form({ client_id: client.clientId, client_secret: client.clientSecret }), {}, 400, 'invalid_request'],
      ['scope not allowed', form({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret, scope: 'webhooks:admin' }), {}, 400, 'invalid_scope'],
      ['two methods', form({ grant_type: 'client_credentials', client_secret: client.clientSecret }), { authorization: basic(client.clientId, client.clientSecret) }, 400, 'invalid_request'],
      ['repeated parameter', `grant_type=client_credentials&grant_type=client_credentials&client_id=${client.clientId}&client_secret=${client.clientSecret}`, {}, 400, 'invalid_request'],
      ['json body', JSON.stringify({ grant_type: 'client_credentials' }), { 'content-type': 'application/json' }, 400, 'invalid_request'],
    ];
    for (const [name, payload, headers, status, code] of cases) {
      const res = await token(payload, headers);
      assert.equal(res.statusCode, status, `${name}: ${res.body}`);
      assert.equal(res.json().error, code, name);
      assert.equal(typeof res.json().error_description, 'string', name);
    }
    const basicWrong = await token(form({ grant_type: 'client_credentials' }), { authorization: basic(client.clientId, 'wrong') });
    assert.equal(basicWrong.statusCode, 401);
    assert.match(String(basicWrong.headers['www-authenticate']), /^Basic/);
  });

  it('publishes discovery documents', async () => {
    const conf = (await h.inject({ method: 'GET', url: '/.well-known/openid-configuration' })).json();
    assert.equal(conf.issuer, h.config.auth.issuer);
    assert.equal(new URL(conf.token_endpoint).pathname, '/connect/token');
    assert.ok(conf.jwks_uri.endsWith('/.well-known/jwks.json'));
    assert.deepEqual(conf.grant_types_supported, ['client_credentials']);
    const jwks = (await h.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0].kty, 'RSA');
    assert.equal(jwks.keys[0].d, undefined, 'never the private part');
  });

  it('stores client secrets hashed, never in clear', async () => {
    const stored = await h.server.deps.store.getClient(client.clientId);
    assert.ok(stored!.secretHash.startsWith('scrypt$'));
    assert.ok(!stored!.secretHash.includes(client.clientSecret));
    const [key] = await h.server.deps.store.listSigningKeys();
    assert.ok(key!.privateJwkSealed.startsWith('v1.'), 'signing key sealed at rest');
    assert.ok(!key!.privateJwkSealed.includes('"d"'));
  });
});

describe('external issuer (AUTH_JWKS_URL) with configurable claim names', () => {
  let jwksServer: Server;
  let privateKey: CryptoKey;
  let h: Harness;
  const issuer = 'https://ims.example.com';
  const account = randomUUID();

  before(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwksServer = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const port = (jwksServer.address() as AddressInfo).port;
    h = await createHarness({
      env: {
        AUTH_JWKS_URL: `http://127.0.0.1:${port}/jwks`,
        AUTH_ISSUER: issuer,
        AUTH_AUDIENCE: 'webhooks-api',
        AUTH_CLAIM_CLIENT_ID: 'azp',
        AUTH_CLAIM_ACCOUNT: 'tenant',
        AUTH_CLAIM_SCOPE: 'scp',
      },
    });
  });
  after(async () => {
    await h.close();
    jwksServer.close();
  });

  const sign = (claims: Record<string, unknown>, aud = 'webhooks-api') =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(issuer).setAudience(aud).setIssuedAt().setExpirationTime('5m').sign(privateKey);

  it('turns the built-in issuer off', async () => {
    assert.equal((await h.inject({ method: 'POST', url: '/oauth/token', headers: FORM, payload: 'grant_type=client_credentials' })).statusCode, 404);
  });

  it('accepts a service-application token from the external issuer, reading the configured claims', async () => {
    const app = await sign({ azp: 'app-1', sub: 'app-1', tenant: account, scp: ['webhooks:modify'] });
    const res = await h.inject({
      method: 'POST',
      url: '/webhooks',
      headers: { authorization: `Bearer ${app}` },
      payload: { callbackUrl: 'https://example.com/x', scope: 'Account', eventTypes: ['iModels.iModelCreated.v1'] },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().scopeId, account);
    // a token with no sub at all is still the application's own
    const noSub = await sign({ azp: 'app-1', tenant: account, scp: 'webhooks:read' });
    const list = await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: `Bearer ${noSub}` } });
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().webhooks.length, 1);
  });

  it('refuses user tokens, tokens for another audience and tokens signed by another key', async () => {
    const user = await sign({ azp: 'app-1', sub: 'user-42', tenant: account, scp: 'webhooks:modify' });
    assert.equal((await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: `Bearer ${user}` } })).statusCode, 403);
    const otherAud = await sign({ azp: 'app-1', sub: 'app-1', scp: 'webhooks:read' }, 'itwin-platform');
    assert.equal((await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: `Bearer ${otherAud}` } })).statusCode, 401);
    const rogue = await generateKeyPair('ES256');
    const forged = await new SignJWT({ azp: 'app-1', sub: 'app-1', scp: 'webhooks:read' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience('webhooks-api')
      .setExpirationTime('5m')
      .sign(rogue.privateKey);
    assert.equal((await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: `Bearer ${forged}` } })).statusCode, 401);
  });
});
