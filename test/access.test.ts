/**
 * Access ends when it is taken away (issue 19, contract §5), end to end: each finding of the
 * red-team pass, reproduced against a running server, with the change made the way an
 * operator makes it (the CLI in another process, or the admin API), on SQLite and on
 * PostgreSQL with several processes.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import { cleanEnv, runCli, startServe, tokenFor, type ChildServer } from './helpers/child.ts';
import { createHarness, LOOPBACK_CALLBACKS, type Harness, type TestClient } from './helpers/harness.ts';
import { dropSchema, TEST_DATABASE_URL, testSchema } from './helpers/postgres.ts';
import { eventually, Receiver } from './helpers/receiver.ts';

type Json = Record<string, any>;
const TYPE = 'iModels.iModelCreated.v1';
const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('access that ends, on the embedded store, changed by the CLI next to the running server', () => {
  let h: Harness;
  let publisher: TestClient;
  const cli = (...args: string[]) => runCli(args, {}, { base: cleanEnv({ DATA_DIR: h.dataDir }), track: children });

  before(async () => {
    h = await createHarness({ flags: LOOPBACK_CALLBACKS });
    publisher = await h.client({ scopes: [SCOPES.publish] });
  });
  after(() => h.close());

  const publish = async (itwinId: string) => {
    const res = await h.publish(publisher, { eventType: TYPE, iTwinId: itwinId, content: { imodelId: randomUUID(), userId: randomUUID() } });
    assert.equal(res.statusCode, 202, res.body);
    return (res.json() as Json).events[0].matchedWebhooks as number;
  };
  const health = async (owner: TestClient, id: string) => (await h.inject({ method: 'GET', url: `/webhooks/${id}/health`, headers: { authorization: owner.auth } })).json() as Json;

  /** A client maintaining an iTwin of its account, with an active webhook there. */
  async function maintainer() {
    const owner = await h.client();
    const itwin = await h.itwin(owner.accountId);
    await h.server.deps.store.grant(owner.clientId, itwin, 'webhooks_maintainer', Date.now());
    const hook = await h.webhook(owner, { callbackUrl: 'https://receiver.example.com/hook', scope: 'iTwin', scopeId: itwin });
    assert.equal(await publish(itwin), 1);
    return { owner, itwin, hook };
  }

  it('a deleted client\'s token stops working, and nothing can be created with it', async () => {
    const { owner, hook } = await maintainer();
    const r = await cli('clients', 'delete', owner.clientId);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /and its 1 webhook\(s\)/);
    // The server learns of a change made by another process within a second (clientLiveness.ts).
    await eventually(async () => (await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: owner.auth } })).statusCode === 401, 5000, 'the token to fail');
    const create = await h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: owner.auth }, payload: { callbackUrl: 'https://r.example.com/x', scope: 'Account', eventTypes: [TYPE] } });
    assert.equal(create.statusCode, 401);
    assert.equal(create.json().error.code, 'InvalidAuthorizationToken');
    assert.equal(await h.server.deps.store.getWebhook(owner.clientId, hook.id), undefined);
    assert.equal((await cli('clients', 'delete', owner.clientId)).code, 1, 'a second delete finds nothing');
  });

  it('a revoked webhooks_maintainer stops the webhook at once and says why; its owner can still deactivate and delete it', async () => {
    const { owner, itwin, hook } = await maintainer();
    const r = await cli('directory', 'revoke', owner.clientId, '--itwin', itwin, '--permission', 'webhooks_maintainer');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Deactivated 1 webhook\\(s\\).*${hook.id}`));
    assert.equal(await publish(itwin), 0, 'the iTwin\'s events no longer match');
    const got = (await h.inject({ method: 'GET', url: `/webhooks/${hook.id}`, headers: { authorization: owner.auth } })).json();
    assert.equal(got.active, false);
    assert.deepEqual(Object.keys(got).sort(), ['active', 'callbackUrl', 'created', 'eventTypes', 'id', 'modified', 'scope', 'scopeId'], 'nothing added to the webhook');
    assert.equal((await health(owner, hook.id)).deactivated.cause, 'accessRevoked');
    const reactivate = await h.inject({ method: 'PATCH', url: `/webhooks/${hook.id}`, headers: { authorization: owner.auth }, payload: { active: true } });
    assert.equal(reactivate.statusCode, 403);
    assert.equal((await h.inject({ method: 'PATCH', url: `/webhooks/${hook.id}`, headers: { authorization: owner.auth }, payload: { active: false } })).statusCode, 200);
    assert.equal((await health(owner, hook.id)).deactivated.cause, 'accessRevoked', 'deactivating an inactive webhook keeps why it stopped');
    assert.equal((await h.inject({ method: 'DELETE', url: `/webhooks/${hook.id}`, headers: { authorization: owner.auth } })).statusCode, 204);
  });

  it('moving an iTwin to another account drops the old account\'s grants and stops its webhooks there', async () => {
    const { owner, itwin, hook } = await maintainer();
    const newAccount = randomUUID();
    const r = await cli('directory', 'itwin', 'add', itwin, '--account', newAccount);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /moved from account .* the permissions granted on it were removed/);
    assert.equal(await publish(itwin), 0, 'A\'s webhook gets none of B\'s events');
    assert.equal((await health(owner, hook.id)).deactivated.cause, 'itwinMoved');
    assert.deepEqual(await h.server.deps.store.listGrants({ itwinId: itwin }), []);
    const create = await h.inject({
      method: 'POST',
      url: '/webhooks',
      headers: { authorization: owner.auth },
      payload: { callbackUrl: 'https://receiver.example.com/again', scope: 'iTwin', scopeId: itwin, eventTypes: [TYPE] },
    });
    assert.equal(create.statusCode, 403, 'A may not create new ones there');
  });

  it('the same changes through the admin API reach the delivery worker too, and a deleted client\'s token fails at once', async () => {
    const admin = await h.client({ scopes: [SCOPES.admin] });
    const receiver = await new Receiver().start();
    try {
      // The receiver answers every delivery only after being told to: they stay in flight.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      receiver.on('/slow', async () => {
        await held;
        return 200;
      });
      const owner = await h.client();
      const hook = await h.webhook(owner, { callbackUrl: receiver.url('/slow'), scope: 'Account' });
      for (let i = 0; i < 5; i++) {
        await h.publish(publisher, { eventType: TYPE, iTwinId: randomUUID(), accountId: owner.accountId, content: { imodelId: randomUUID(), userId: randomUUID() } });
      }
      await eventually(() => receiver.at('/slow').length >= 1, 10_000, 'a delivery in flight');
      const del = await h.inject({ method: 'DELETE', url: `/admin/clients/${owner.clientId}`, headers: { authorization: admin.auth } });
      assert.equal(del.statusCode, 204);
      assert.equal((await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: owner.auth } })).statusCode, 401, 'at once');
      assert.equal(await h.server.deps.store.getWebhook(owner.clientId, hook.id), undefined);
      assert.deepEqual((await h.server.deps.store.listDeliveries(hook.id, undefined, 100, undefined)).items, [], 'its deliveries went with it');
      const sent = receiver.at('/slow').length;
      release();
      // What was in flight finishes; nothing more of the deleted webhook is sent.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(receiver.at('/slow').length, sent);
    } finally {
      await receiver.close();
    }
  });

  it('a receiver answering 410 Gone deactivates the webhook, and its health says so', async () => {
    const receiver = await new Receiver().start();
    try {
      receiver.on('/gone', () => 410);
      const owner = await h.client();
      const hook = await h.webhook(owner, { callbackUrl: receiver.url('/gone'), scope: 'Account' });
      await h.publish(publisher, { eventType: TYPE, iTwinId: randomUUID(), accountId: owner.accountId, content: { imodelId: randomUUID(), userId: randomUUID() } });
      await eventually(async () => (await health(owner, hook.id)).deactivated?.cause === 'gone', 10_000, 'the deactivation');
      assert.match((await health(owner, hook.id)).deactivated.message, /410/);
    } finally {
      await receiver.close();
    }
  });
});

describe('access that ends, on PostgreSQL with several processes', () => {
  const schema = testSchema('access');
  const base = () => cleanEnv({ DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, ENCRYPTION_KEY: 'cd'.repeat(32) });
  let api: ChildServer;
  let other: ChildServer;
  let adminAuth: string;
  const cli = (...args: string[]) => runCli(args, {}, { base: base(), track: children });
  const request = async (server: ChildServer, method: string, path: string, auth: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as Json };
  };

  before(async () => {
    const created = await cli('clients', 'create', '--name', 'platform', '--account', randomUUID(), '--scopes', 'webhooks:admin webhooks:publish', '--json');
    assert.equal(created.code, 0, created.stderr);
    const admin = JSON.parse(created.stdout) as { clientId: string; clientSecret: string };
    // Two API processes on one database: what one changes, the other must honour.
    [api, other] = await Promise.all([startServe(['--role', 'api'], base() as Record<string, string>), startServe(['--role', 'api'], base() as Record<string, string>)]);
    for (const s of [api, other]) children.add(s.proc);
    adminAuth = `Bearer ${await tokenFor(api.url, admin.clientId, admin.clientSecret)}`;
  });
  after(async () => {
    for (const s of [api, other]) {
      s?.proc.kill('SIGTERM');
      await s?.exited;
    }
    await dropSchema(schema);
  });

  it('a client deleted through one process is refused by the other within a second, its webhooks gone with it', async () => {
    const account = randomUUID();
    const c = (await request(api, 'POST', '/admin/clients', adminAuth, { name: 'tenant', accountId: account })).body;
    const auth = `Bearer ${await tokenFor(other.url, c.clientId, c.clientSecret)}`;
    const hook = await request(other, 'POST', '/webhooks', auth, { callbackUrl: 'https://receiver.example.com/h', scope: 'Account', eventTypes: [TYPE] });
    assert.equal(hook.status, 201);
    assert.equal((await request(other, 'GET', '/webhooks', auth)).status, 200, 'the other process knows the token (and caches it)');
    assert.equal((await request(api, 'DELETE', `/admin/clients/${c.clientId}`, adminAuth)).status, 204);
    assert.equal((await request(api, 'GET', '/webhooks', auth)).status, 401, 'the process that deleted it: at once');
    // The other process hears of it through NOTIFY; the cache it would otherwise trust holds a second at most.
    await eventually(async () => (await request(other, 'GET', '/webhooks', auth)).status === 401, 5000, 'the other process to refuse the token');
    const again = await request(other, 'POST', '/webhooks', auth, { callbackUrl: 'https://receiver.example.com/h', scope: 'Account', eventTypes: [TYPE] });
    assert.equal(again.status, 401);
    assert.equal((await request(api, 'GET', `/admin/clients/${c.clientId}`, adminAuth)).body.error.code, 'ClientNotFound');
  });

  it('tokens revoked by a rotation fail in the other process too', async () => {
    const c = (await request(api, 'POST', '/admin/clients', adminAuth, { name: 'leaky', accountId: randomUUID() })).body;
    const auth = `Bearer ${await tokenFor(other.url, c.clientId, c.clientSecret)}`;
    assert.equal((await request(other, 'GET', '/webhooks', auth)).status, 200);
    assert.equal((await request(api, 'POST', `/admin/clients/${c.clientId}/secret`, adminAuth, { overlapSeconds: 0, revokeTokens: true })).status, 200);
    await eventually(async () => (await request(other, 'GET', '/webhooks', auth)).status === 401, 5000, 'the other process to refuse the token');
  });

  it('a revocation made by the CLI stops matching in every process at once', async () => {
    const account = randomUUID();
    const itwin = randomUUID();
    const c = (await request(api, 'POST', '/admin/clients', adminAuth, { name: 'maintainer', accountId: account })).body;
    await request(api, 'PUT', `/admin/accounts/${account}/directory`, adminAuth, { itwins: [itwin], grants: [{ clientId: c.clientId, itwinId: itwin, permission: 'webhooks_maintainer' }], orgAdmins: [] });
    const auth = `Bearer ${await tokenFor(other.url, c.clientId, c.clientSecret)}`;
    const hook = (await request(other, 'POST', '/webhooks', auth, { callbackUrl: 'https://receiver.example.com/m', scope: 'iTwin', scopeId: itwin, eventTypes: [TYPE] })).body;
    assert.equal((await request(other, 'PATCH', `/webhooks/${hook.id}`, auth, { active: true })).status, 200);
    const event = () => ({ eventType: TYPE, iTwinId: itwin, content: { imodelId: randomUUID(), userId: randomUUID() } });
    assert.equal((await request(api, 'POST', '/webhooks/events', adminAuth, event())).body.events[0].matchedWebhooks, 1);
    const r = await cli('directory', 'revoke', c.clientId, '--itwin', itwin, '--permission', 'webhooks_maintainer');
    assert.equal(r.code, 0, r.stderr);
    for (const s of [api, other]) assert.equal((await request(s, 'POST', '/webhooks/events', adminAuth, event())).body.events[0].matchedWebhooks, 0);
    assert.equal((await request(other, 'GET', `/webhooks/${hook.id}/health`, auth)).body.deactivated.cause, 'accessRevoked');
    assert.equal((await request(api, 'DELETE', `/webhooks/${hook.id}`, auth)).status, 204, 'its owner may still delete it');
  });
});
