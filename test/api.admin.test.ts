/**
 * The admin API (contract §7) through inject() and over a real socket: service applications
 * with their secret shown once and rotated with an overlap, the directory (iTwins, grants,
 * Organization Administrators) listable and deletable, one account's directory synced; the
 * same validation, error shapes and paging as the rest; and isolation: only a service
 * application with webhooks:admin gets in, and being an admin gives no tenant's rights.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import { createHarness, type Harness, type TestClient } from './helpers/harness.ts';
import { mintToken } from './helpers/tokens.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
type Json = Record<string, any>;

describe('admin API', () => {
  let h: Harness;
  let clock = Date.now();
  let admin: TestClient;
  let tenant: TestClient;
  const A = () => ({ authorization: admin.auth });

  before(async () => {
    h = await createHarness({ now: () => clock, listen: true });
    admin = await h.client({ scopes: [SCOPES.admin] });
    tenant = await h.client();
  });
  after(() => h.close());

  const token = (id: string, secret: string) =>
    h.inject({ method: 'POST', url: '/oauth/token', headers: FORM, payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: secret }).toString() });
  const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = A()) =>
    h.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as Json }) });
  const relative = (href: string) => href.replace(/^https?:\/\/[^/]+/, '');

  describe('isolation', () => {
    const ROUTES: Array<[string, string]> = [
      ['POST', '/admin/clients'],
      ['GET', '/admin/clients'],
      ['GET', '/admin/clients/x'],
      ['DELETE', '/admin/clients/x'],
      ['POST', '/admin/clients/x/secret'],
      ['GET', '/admin/itwins'],
      ['GET', `/admin/itwins/${randomUUID()}`],
      ['PUT', `/admin/itwins/${randomUUID()}`],
      ['DELETE', `/admin/itwins/${randomUUID()}`],
      ['GET', '/admin/grants'],
      ['PUT', `/admin/grants/x/${randomUUID()}/webhooks_maintainer`],
      ['DELETE', `/admin/grants/x/${randomUUID()}/webhooks_maintainer`],
      ['GET', '/admin/org-admins'],
      ['PUT', `/admin/org-admins/x/${randomUUID()}`],
      ['DELETE', `/admin/org-admins/x/${randomUUID()}`],
      ['GET', `/admin/accounts/${randomUUID()}/directory`],
      ['PUT', `/admin/accounts/${randomUUID()}/directory`],
    ];

    it('answers 401 without a token and 403 to a tenant, to a user token with the admin scope, and to every scope but webhooks:admin', async () => {
      const user = await mintToken(h, { client_id: admin.clientId, sub: randomUUID(), org: admin.accountId, scope: 'webhooks:admin' });
      const everyOtherScope = await h.client({ scopes: [SCOPES.platform, SCOPES.read, SCOPES.modify, SCOPES.publish] });
      const before = (await call('GET', '/admin/clients?$top=1000')).json().clients.length;
      for (const [method, url] of ROUTES) {
        const none = await h.inject({ method: method as 'GET', url });
        assert.equal(none.statusCode, 401, `${method} ${url} without a token`);
        assert.equal(none.json().error.code, 'HeaderNotFound');
        for (const [who, auth] of [['tenant', tenant.auth], ['user', `Bearer ${user}`], ['every other scope', everyOtherScope.auth]]) {
          const res = await h.inject({ method: method as 'GET', url, headers: { authorization: auth! }, payload: { name: 'x', accountId: randomUUID() } });
          assert.equal(res.statusCode, 403, `${method} ${url} as ${who}: ${res.body}`);
          assert.equal(res.json().error.code, 'InsufficientPermissions');
        }
      }
      assert.equal((await call('GET', '/admin/clients?$top=1000')).json().clients.length, before, 'nothing was created');
    });

    it('an admin is no tenant: it sees only its own webhooks and cannot touch a tenant\'s', async () => {
      const itwin = await h.itwin(tenant.accountId);
      await h.server.deps.store.grant(tenant.clientId, itwin, 'webhooks_maintainer', clock);
      const hook = await h.webhook(tenant, { callbackUrl: 'https://receiver.example.com/t', scope: 'iTwin', scopeId: itwin }, false);
      const adminAsTenant = await h.client({ scopes: [SCOPES.admin, SCOPES.platform] });
      assert.deepEqual((await call('GET', '/webhooks', undefined, { authorization: adminAsTenant.auth })).json().webhooks, []);
      for (const method of ['GET', 'DELETE'] as const) {
        const res = await call(method, `/webhooks/${hook.id}`, undefined, { authorization: adminAsTenant.auth });
        assert.equal(res.statusCode, 404, `${method}: ${res.body}`);
      }
      // Nor may it create a webhook on the tenant's iTwin: the directory, not the admin scope, decides.
      const create = await call('POST', '/webhooks', { callbackUrl: 'https://receiver.example.com/a', scope: 'iTwin', scopeId: itwin, eventTypes: ['iModels.iModelCreated.v1'] }, { authorization: adminAsTenant.auth });
      assert.equal(create.statusCode, 403);
      assert.equal((await call('GET', `/webhooks/${hook.id}`, undefined, { authorization: tenant.auth })).statusCode, 200);
    });

    it('an admin of another deployment is a stranger here', async () => {
      const other = await createHarness();
      try {
        const foreign = await other.client({ scopes: [SCOPES.admin] });
        const res = await call('GET', '/admin/clients', undefined, { authorization: foreign.auth });
        assert.equal(res.statusCode, 401);
        assert.equal(res.json().error.code, 'InvalidAuthorizationToken');
      } finally {
        await other.close();
      }
    });
  });

  describe('service applications', () => {
    it('creates a client whose secret is shown once and works, lists and gets it without any secret, deletes it', async () => {
      const accountId = randomUUID();
      const created = await call('POST', '/admin/clients', { name: '  Reporting  ', accountId: accountId.toUpperCase(), scopes: ['webhooks:read'] });
      assert.equal(created.statusCode, 201, created.body);
      const c = created.json();
      assert.deepEqual(Object.keys(c).sort(), ['accountId', 'clientId', 'clientSecret', 'created', 'name', 'scopes']);
      assert.equal(c.name, 'Reporting');
      assert.equal(c.accountId, accountId);
      assert.equal(created.headers.location, `/admin/clients/${c.clientId}`);
      const issued = await token(c.clientId, c.clientSecret);
      assert.equal(issued.statusCode, 200);
      assert.equal(issued.json().scope, 'webhooks:read');
      const got = await call('GET', `/admin/clients/${c.clientId}`);
      assert.equal(got.statusCode, 200);
      const { clientSecret: _secret, ...shown } = c;
      assert.deepEqual(got.json(), shown);
      assert.ok(!got.body.includes(c.clientSecret) && !got.body.includes('scrypt'));
      const listed = (await call('GET', `/admin/clients?accountId=${accountId}`)).json();
      assert.deepEqual(listed.clients, [shown]);
      assert.equal((await call('DELETE', `/admin/clients/${c.clientId}`)).statusCode, 204);
      assert.equal((await call('GET', `/admin/clients/${c.clientId}`)).json().error.code, 'ClientNotFound');
      assert.equal((await call('DELETE', `/admin/clients/${c.clientId}`)).statusCode, 404);
      assert.equal((await token(c.clientId, c.clientSecret)).statusCode, 401);
    });

    it('pages the list with $top and continuation links', async () => {
      const accountId = randomUUID();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        clock += 1; // oldest first
        ids.push((await call('POST', '/admin/clients', { name: `c${i}`, accountId })).json().clientId);
      }
      const seen: string[] = [];
      let url: string | undefined = `/admin/clients?accountId=${accountId}&$top=2`;
      let pages = 0;
      while (url !== undefined) {
        const page: Json = (await call('GET', url)).json();
        seen.push(...page.clients.map((x: Json) => x.clientId));
        url = page._links.next === undefined ? undefined : relative(page._links.next.href);
        if (url !== undefined) assert.match(url, new RegExp(`accountId=${accountId}`), 'the filter stays in the next link');
        pages++;
      }
      assert.deepEqual(seen, ids);
      assert.equal(pages, 3);
    });

    it('validates like the rest of the API: one detail per problem, nothing created', async () => {
      const before = (await call('GET', '/admin/clients?$top=1000')).json().clients.length;
      const cases: Array<[unknown, string[]]> = [
        [{ name: 'x', accountId: 'not-a-uuid' }, ['accountId']],
        [{ name: '', accountId: randomUUID() }, ['name']],
        [{ accountId: randomUUID(), secret: 'mine' }, ['name', 'secret']],
        [{ name: 'x', accountId: randomUUID(), scopes: ['webhooks:everything'] }, ['scopes']],
        [{ name: 'x', accountId: randomUUID(), scopes: [] }, ['scopes']],
      ];
      for (const [payload, targets] of cases) {
        const res = await call('POST', '/admin/clients', payload);
        assert.equal(res.statusCode, 422, JSON.stringify(payload));
        assert.equal(res.json().error.code, 'InvalidCreateClientRequest');
        assert.deepEqual(res.json().error.details.map((d: Json) => d.target).sort(), targets, JSON.stringify(payload));
      }
      const badToken = await call('GET', '/admin/clients?$continuationToken=bm9wZQ&$top=0');
      assert.equal(badToken.statusCode, 422);
      assert.equal(badToken.json().error.code, 'InvalidClientsRequest');
      assert.equal((await call('POST', '/admin/clients', '{"name":', { ...A(), 'content-type': 'application/json' })).statusCode, 400);
      assert.equal((await call('GET', '/admin/clients?$top=1000')).json().clients.length, before);
    });

    it('rotates a secret: both work during the overlap, only the new one after it; the new one is shown once', async () => {
      const c = (await call('POST', '/admin/clients', { name: 'rotating', accountId: randomUUID() })).json();
      const rotated = await call('POST', `/admin/clients/${c.clientId}/secret`, { overlapSeconds: 3600 });
      assert.equal(rotated.statusCode, 200, rotated.body);
      const r = rotated.json();
      assert.equal(r.tokensRevoked, false);
      assert.equal(r.previousSecretExpiresDateTime, new Date(clock + 3_600_000).toISOString());
      assert.notEqual(r.clientSecret, c.clientSecret);
      assert.equal((await call('GET', `/admin/clients/${c.clientId}`)).json().previousSecretExpiresDateTime, r.previousSecretExpiresDateTime);
      assert.equal((await token(c.clientId, c.clientSecret)).statusCode, 200, 'the old secret during the overlap');
      assert.equal((await token(c.clientId, r.clientSecret)).statusCode, 200, 'the new secret');
      clock += 3_600_001;
      assert.equal((await token(c.clientId, c.clientSecret)).statusCode, 401, 'the old secret after the overlap');
      assert.equal((await token(c.clientId, r.clientSecret)).statusCode, 200);
      // No body: the default overlap of a day.
      const byDefault = (await call('POST', `/admin/clients/${c.clientId}/secret`)).json();
      assert.equal(byDefault.previousSecretExpiresDateTime, new Date(clock + 86_400_000).toISOString());
      assert.equal((await call('POST', `/admin/clients/${c.clientId}/secret`, { overlapSeconds: -1 })).json().error.code, 'InvalidRotateSecretRequest');
      assert.equal((await call('POST', '/admin/clients/service-nope/secret', {})).json().error.code, 'ClientNotFound');
    });

    it('rotating with revokeTokens ends the tokens issued before, at once, and the old secret with overlap 0', async () => {
      const c = (await call('POST', '/admin/clients', { name: 'leaked', accountId: randomUUID() })).json();
      const old = `Bearer ${(await token(c.clientId, c.clientSecret)).json().access_token}`;
      assert.equal((await call('GET', '/webhooks', undefined, { authorization: old })).statusCode, 200);
      const r = (await call('POST', `/admin/clients/${c.clientId}/secret`, { overlapSeconds: 0, revokeTokens: true })).json();
      assert.equal(r.tokensRevoked, true);
      assert.equal(r.previousSecretExpiresDateTime, undefined);
      const refused = await call('GET', '/webhooks', undefined, { authorization: old });
      assert.equal(refused.statusCode, 401);
      assert.equal(refused.json().error.code, 'InvalidAuthorizationToken');
      assert.equal((await token(c.clientId, c.clientSecret)).statusCode, 401);
      const fresh = `Bearer ${(await token(c.clientId, r.clientSecret)).json().access_token}`;
      assert.equal((await call('GET', '/webhooks', undefined, { authorization: fresh })).statusCode, 200);
    });
  });

  describe('the directory', () => {
    it('puts, gets, lists and removes iTwins; a move says so through the grants it dropped', async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const itwin = randomUUID();
      const put = await call('PUT', `/admin/itwins/${itwin.toUpperCase()}`, { accountId: a });
      assert.equal(put.statusCode, 201, put.body);
      assert.deepEqual(put.json(), { itwinId: itwin, accountId: a, created: new Date(clock).toISOString() });
      assert.equal((await call('PUT', `/admin/itwins/${itwin}`, { accountId: a })).statusCode, 200);
      assert.equal((await call('PUT', `/admin/grants/app-1/${itwin}/webhooks_maintainer`)).statusCode, 201);
      assert.equal((await call('PUT', `/admin/grants/app-1/${itwin}/webhooks_maintainer`)).statusCode, 200);
      const moved = await call('PUT', `/admin/itwins/${itwin}`, { accountId: b });
      assert.equal(moved.statusCode, 200);
      assert.equal(moved.json().accountId, b);
      assert.deepEqual((await call('GET', `/admin/grants?itwinId=${itwin}`)).json().grants, []);
      assert.deepEqual((await call('GET', `/admin/itwins?accountId=${b}`)).json().itwins.map((i: Json) => i.itwinId), [itwin]);
      assert.equal((await call('GET', `/admin/itwins/${itwin}`)).json().accountId, b);
      assert.equal((await call('DELETE', `/admin/itwins/${itwin}`)).statusCode, 204);
      for (const res of [await call('DELETE', `/admin/itwins/${itwin}`), await call('GET', `/admin/itwins/${itwin}`), await call('GET', '/admin/itwins/not-a-uuid')]) {
        assert.equal(res.statusCode, 404);
        assert.equal(res.json().error.code, 'ItwinNotFound');
      }
      const bad = await call('PUT', '/admin/itwins/not-a-uuid', { accountId: 'nope', extra: 1 });
      assert.equal(bad.statusCode, 422);
      assert.equal(bad.json().error.code, 'InvalidItwinRequest');
    });

    it('grants and organization administrators: put, list with filters, delete; unknown ones are 404, malformed ones 422', async () => {
      const account = randomUUID();
      const itwin = randomUUID();
      assert.equal((await call('PUT', `/admin/grants/app-2/${itwin}/webhooks_maintainer`)).json().error.code, 'ItwinNotFound');
      await call('PUT', `/admin/itwins/${itwin}`, { accountId: account });
      const grant = await call('PUT', `/admin/grants/app-2/${itwin}/webhooks_maintainer`);
      assert.deepEqual(grant.json(), { clientId: 'app-2', itwinId: itwin, permission: 'webhooks_maintainer', created: new Date(clock).toISOString() });
      const badGrant = await call('PUT', `/admin/grants/app%202/not-a-uuid/owner`);
      assert.equal(badGrant.statusCode, 422);
      assert.deepEqual(badGrant.json().error.details.map((d: Json) => d.target), ['clientId', 'itwinId', 'permission']);
      assert.deepEqual((await call('GET', '/admin/grants?clientId=app-2')).json().grants, [grant.json()]);
      assert.equal((await call('GET', '/admin/grants?itwinId=nope')).json().error.code, 'InvalidGrantsRequest');
      assert.equal((await call('DELETE', `/admin/grants/app-2/${itwin}/webhooks_maintainer`)).statusCode, 204);
      assert.equal((await call('DELETE', `/admin/grants/app-2/${itwin}/webhooks_maintainer`)).json().error.code, 'GrantNotFound');

      assert.equal((await call('PUT', `/admin/org-admins/app-3/${account}`)).statusCode, 201);
      assert.equal((await call('PUT', `/admin/org-admins/app-3/${account}`)).statusCode, 200);
      assert.deepEqual((await call('GET', `/admin/org-admins?accountId=${account}`)).json().orgAdmins.map((o: Json) => o.clientId), ['app-3']);
      assert.equal((await call('PUT', `/admin/org-admins/app-3/nope`)).json().error.code, 'InvalidOrgAdminRequest');
      assert.equal((await call('DELETE', `/admin/org-admins/app-3/${account}`)).statusCode, 204);
      assert.equal((await call('DELETE', `/admin/org-admins/app-3/${account}`)).json().error.code, 'OrgAdminNotFound');
    });

    it('syncs one account\'s whole directory idempotently and says what changed', async () => {
      const account = randomUUID();
      const [i1, i2, i3] = [randomUUID(), randomUUID(), randomUUID()];
      const body = { itwins: [i1, i2], grants: [{ clientId: 'app-4', itwinId: i1, permission: 'webhooks_maintainer' }], orgAdmins: ['app-5'] };
      const first = await call('PUT', `/admin/accounts/${account}/directory`, body);
      assert.equal(first.statusCode, 200, first.body);
      assert.deepEqual(first.json(), {
        accountId: account,
        itwins: { added: [i1, i2], removed: [], moved: [] },
        grants: { added: body.grants, removed: [] },
        orgAdmins: { added: ['app-5'], removed: [] },
        webhooksDeactivated: [],
      });
      const again = (await call('PUT', `/admin/accounts/${account}/directory`, body)).json();
      assert.deepEqual(again, { accountId: account, itwins: { added: [], removed: [], moved: [] }, grants: { added: [], removed: [] }, orgAdmins: { added: [], removed: [] }, webhooksDeactivated: [] });
      const next = { itwins: [i2, i3], grants: [], orgAdmins: [] };
      const changed = (await call('PUT', `/admin/accounts/${account}/directory`, next)).json();
      assert.deepEqual(changed.itwins, { added: [i3], removed: [i1], moved: [] });
      assert.deepEqual(changed.grants.removed, body.grants);
      assert.deepEqual(changed.orgAdmins.removed, ['app-5']);
      const state = (await call('GET', `/admin/accounts/${account}/directory`)).json();
      assert.deepEqual({ ...state, itwins: [...state.itwins].sort() }, { accountId: account, itwins: [i2, i3].sort(), grants: [], orgAdmins: [] });
    });

    it('refuses a directory that cannot be, naming each problem, and changes nothing', async () => {
      const account = randomUUID();
      const i1 = randomUUID();
      const res = await call('PUT', `/admin/accounts/${account}/directory`, {
        itwins: [i1, i1],
        grants: [{ clientId: 'app-6', itwinId: randomUUID(), permission: 'webhooks_maintainer' }, { clientId: 'app-6', itwinId: i1, permission: 'owner' }],
        orgAdmins: ['a', 'a'],
      });
      assert.equal(res.statusCode, 422, res.body);
      assert.equal(res.json().error.code, 'InvalidDirectorySyncRequest');
      assert.deepEqual(res.json().error.details.map((d: Json) => d.target).sort(), ['grants[0].itwinId', 'grants[1].permission', 'itwins[1]', 'orgAdmins[1]']);
      const shape = await call('PUT', `/admin/accounts/${account}/directory`, { itwins: ['x'], grants: [] });
      assert.deepEqual(shape.json().error.details.map((d: Json) => d.target).sort(), ['itwins[0]', 'orgAdmins']);
      assert.equal((await call('PUT', '/admin/accounts/nope/directory', { itwins: [], grants: [], orgAdmins: [] })).statusCode, 422);
      assert.deepEqual((await call('GET', `/admin/accounts/${account}/directory`)).json(), { accountId: account, itwins: [], grants: [], orgAdmins: [] });
    });
  });

  describe('over a real socket', () => {
    it('creates a client, syncs its directory and lets it work, with the same answers as through inject()', async () => {
      const base = h.server.url;
      const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as Json });
      const headers = { authorization: admin.auth, 'content-type': 'application/json' };
      const account = randomUUID();
      const itwin = randomUUID();
      const created = await json(await fetch(`${base}/admin/clients`, { method: 'POST', headers, body: JSON.stringify({ name: 'socket', accountId: account }) }));
      assert.equal(created.status, 201);
      const synced = await json(
        await fetch(`${base}/admin/accounts/${account}/directory`, {
          method: 'PUT',
          headers,
          body: JSON.stringify({ itwins: [itwin], grants: [{ clientId: created.body.clientId, itwinId: itwin, permission: 'webhooks_maintainer' }], orgAdmins: [] }),
        }),
      );
      assert.equal(synced.status, 200);
      assert.deepEqual(synced.body.itwins.added, [itwin]);
      const tok = await json(
        await fetch(`${base}/oauth/token`, {
          method: 'POST',
          headers: FORM,
          body: new URLSearchParams({ grant_type: 'client_credentials', client_id: created.body.clientId, client_secret: created.body.clientSecret }),
        }),
      );
      const hook = await fetch(`${base}/webhooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tok.body.access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ callbackUrl: 'https://receiver.example.com/s', scope: 'iTwin', scopeId: itwin, eventTypes: ['iModels.iModelCreated.v1'] }),
      });
      assert.equal(hook.status, 201);
      const forbidden = await fetch(`${base}/admin/clients`, { headers: { authorization: `Bearer ${tok.body.access_token}` } });
      assert.equal(forbidden.status, 403);
      assert.equal(((await forbidden.json()) as Json).error.code, 'InsufficientPermissions');
      const none = await fetch(`${base}/admin/grants`);
      assert.equal(none.status, 401);
      const deleted = await fetch(`${base}/admin/clients/${created.body.clientId}`, { method: 'DELETE', headers: { authorization: admin.auth } });
      assert.equal(deleted.status, 204);
      const after = await fetch(`${base}/webhooks`, { headers: { authorization: `Bearer ${tok.body.access_token}` } });
      assert.equal(after.status, 401, 'the deleted client\'s token fails at once');
    });
  });
});
