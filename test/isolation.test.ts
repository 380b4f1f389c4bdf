import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import { createHarness, type Harness, type TestClient } from './helpers/harness.ts';
import { mintToken } from './helpers/tokens.ts';

/**
 * Tenant isolation, tested from the outside: two accounts, three applications. Nobody
 * can read, change or delete another application's webhook, or learn that it exists.
 */
describe('tenant isolation', () => {
  let h: Harness;
  const accountX = randomUUID();
  const accountY = randomUUID();
  let a1: TestClient; // account X
  let a2: TestClient; // account X, a different application
  let b: TestClient; // account Y
  let itwinX: string;
  let itwinY: string;
  let accountHook: string;
  let itwinHook: string;

  before(async () => {
    h = await createHarness();
    a1 = await h.client({ accountId: accountX, name: 'a1' });
    a2 = await h.client({ accountId: accountX, name: 'a2' });
    b = await h.client({ accountId: accountY, name: 'b' });
    itwinX = await h.itwin(accountX);
    itwinY = await h.itwin(accountY);
    await h.server.deps.store.grant(a1.clientId, itwinX, 'webhooks_maintainer', Date.now());
    const create = async (payload: object) => {
      const res = await h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: a1.auth }, payload });
      assert.equal(res.statusCode, 201, res.body);
      return res.json().id as string;
    };
    accountHook = await create({ callbackUrl: 'https://a1.example.com/account', scope: 'Account', eventTypes: ['iTwins.iTwinCreated.v1'] });
    itwinHook = await create({ callbackUrl: 'https://a1.example.com/itwin', scope: 'iTwin', scopeId: itwinX, eventTypes: ['iModels.iModelCreated.v1'] });
  });
  after(() => h.close());

  it('hides one application\'s webhooks from every other application, even in the same account', async () => {
    const unknown = randomUUID();
    for (const other of [a2, b]) {
      for (const id of [accountHook, itwinHook]) {
        for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
          const res = await h.inject({
            method,
            url: `/webhooks/${id}`,
            headers: { authorization: other.auth },
            ...(method === 'PATCH' ? { payload: { active: true } } : {}),
          });
          const probe = await h.inject({
            method,
            url: `/webhooks/${unknown}`,
            headers: { authorization: other.auth },
            ...(method === 'PATCH' ? { payload: { active: true } } : {}),
          });
          assert.equal(res.statusCode, 404, `${method} by ${other.clientId}`);
          // byte-for-byte the same as for an id that does not exist: nothing leaks
          assert.equal(res.body, probe.body);
          assert.deepEqual(
            Object.keys(res.headers).filter((k) => k !== 'date').sort(),
            Object.keys(probe.headers).filter((k) => k !== 'date').sort(),
          );
        }
      }
      const list = await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: other.auth } });
      assert.deepEqual(list.json().webhooks, []);
    }
    // and nothing changed
    const own = await h.inject({ method: 'GET', url: `/webhooks/${accountHook}`, headers: { authorization: a1.auth } });
    assert.equal(own.statusCode, 200);
    assert.equal(own.json().active, false);
    assert.equal((await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: a1.auth } })).json().webhooks.length, 2);
  });

  it('needs webhooks_maintainer on the iTwin, or Organization Administrator of its account', async () => {
    // Its own applications and iTwins: the webhooks it creates must not show up in the other tests' lists.
    const x = randomUUID();
    const y = randomUUID();
    const a1 = await h.client({ accountId: x, name: 'a1' });
    const a2 = await h.client({ accountId: x, name: 'a2' });
    const b = await h.client({ accountId: y, name: 'b' });
    const itwinX = await h.itwin(x);
    const itwinY = await h.itwin(y);
    await h.server.deps.store.grant(a1.clientId, itwinX, 'webhooks_maintainer', Date.now());
    const body = (itwinId: string) => ({ callbackUrl: 'https://x.example.com/h', scope: 'iTwin', scopeId: itwinId, eventTypes: ['iModels.iModelCreated.v1'] });
    const post = (c: TestClient, itwinId: string) => h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: c.auth }, payload: body(itwinId) });
    assert.equal((await post(a2, itwinX)).statusCode, 403, 'same account, no permission');
    assert.equal((await post(b, itwinX)).statusCode, 403, 'other account');
    assert.equal((await post(a1, itwinY)).statusCode, 403, 'maintainer of another iTwin only');

    await h.server.deps.store.addOrgAdmin(a2.clientId, x, Date.now());
    assert.equal((await post(a2, itwinX)).statusCode, 201, 'org admin of the owning account');
    assert.equal((await post(a2, itwinY)).statusCode, 403, 'org admin of X is nothing in Y');

    await h.server.deps.store.grant(b.clientId, itwinY, 'webhooks_maintainer', Date.now());
    assert.equal((await post(b, itwinY)).statusCode, 201);
  });

  it('checks the iTwin permission again on update and delete', async () => {
    const c = await h.client({ accountId: accountX });
    const itwin = await h.itwin(accountX);
    await h.server.deps.store.grant(c.clientId, itwin, 'webhooks_maintainer', Date.now());
    const id = (
      await h.inject({
        method: 'POST',
        url: '/webhooks',
        headers: { authorization: c.auth },
        payload: { callbackUrl: 'https://c.example.com/h', scope: 'iTwin', scopeId: itwin, eventTypes: ['iModels.iModelCreated.v1'] },
      })
    ).json().id;
    await h.server.deps.store.revoke(c.clientId, itwin, 'webhooks_maintainer', Date.now());
    assert.equal((await h.inject({ method: 'PATCH', url: `/webhooks/${id}`, headers: { authorization: c.auth }, payload: { active: true } })).statusCode, 403);
    assert.equal((await h.inject({ method: 'PATCH', url: `/webhooks/${id}`, headers: { authorization: c.auth }, payload: { callbackUrl: 'https://c.example.com/other' } })).statusCode, 403);
    assert.equal((await h.inject({ method: 'GET', url: `/webhooks/${id}`, headers: { authorization: c.auth } })).json().active, false);
    // The owner can always clean up: deactivating and deleting need only the scope.
    assert.equal((await h.inject({ method: 'PATCH', url: `/webhooks/${id}`, headers: { authorization: c.auth }, payload: { active: false } })).statusCode, 200);
    assert.equal((await h.inject({ method: 'DELETE', url: `/webhooks/${id}`, headers: { authorization: c.auth } })).statusCode, 204);
  });

  it('refuses user tokens and tokens without the needed scopes', async () => {
    const userToken = await mintToken(h, { client_id: a1.clientId, sub: randomUUID(), org: accountX, scope: 'itwin-platform webhooks:modify' });
    for (const [method, url] of [['GET', '/webhooks'], ['GET', `/webhooks/${accountHook}`], ['DELETE', `/webhooks/${accountHook}`]] as const) {
      const res = await h.inject({ method, url, headers: { authorization: `Bearer ${userToken}` } });
      assert.equal(res.statusCode, 403, `${method} ${url}`);
      assert.equal(res.json().error.code, 'InsufficientPermissions');
    }
    const noClient = await mintToken(h, { sub: a1.clientId, org: accountX, scope: 'itwin-platform' });
    assert.equal((await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: `Bearer ${noClient}` } })).statusCode, 403);

    const readOnly = await h.client({ accountId: accountX, scopes: [SCOPES.read] });
    assert.equal((await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: readOnly.auth } })).statusCode, 200);
    for (const [method, url, payload] of [
      ['POST', '/webhooks', { callbackUrl: 'https://x.example.com', scope: 'Account', eventTypes: ['iModels.iModelCreated.v1'] }],
      ['PATCH', `/webhooks/${accountHook}`, { active: true }],
      ['DELETE', `/webhooks/${accountHook}`, undefined],
    ] as const) {
      const res = await h.inject({ method, url, headers: { authorization: readOnly.auth }, ...(payload ? { payload } : {}) });
      assert.equal(res.statusCode, 403, `${method} ${url}`);
    }
    const noScopes = await mintToken(h, { client_id: a1.clientId, sub: a1.clientId, org: accountX, scope: 'openid profile' });
    assert.equal((await h.inject({ method: 'GET', url: '/webhooks/event-types', headers: { authorization: `Bearer ${noScopes}` } })).statusCode, 403);
  });
});
