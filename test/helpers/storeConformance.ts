/**
 * The Store conformance suite: every implementation (SQLite in-thread, SQLite threaded,
 * PostgreSQL) must pass it unchanged. It only uses the Store interface and fixed `now`
 * values; each test opens a fresh store from the factory and cleans it up afterwards.
 *
 * Ids that the API would hand to the store as UUIDs (webhooks, iTwins, accounts,
 * messages) are UUIDs here too, so an implementation may use uuid columns; delivery ids
 * are opaque strings and may arrive as anything (they come straight from a URL).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type {
  AttemptOutcome,
  AttemptResult,
  ClaimedDelivery,
  ClientRecord,
  DeliveryStatus,
  DeliverySummary,
  EventTypeRecord,
  NewEvent,
  SigningKeyRecord,
  Store,
  WebhookPatch,
  WebhookRecord,
} from '../../src/store/types.ts';

export interface StoreFactory {
  name: string;
  open(): Promise<{ store: Store; cleanup(): Promise<void> }>;
}

// ---------------------------------------------------------------------------------------
// Fixtures

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WINDOW = 7 * DAY;
const POLICY = { deactivateFailingAfterMs: 5 * DAY };

const ACCOUNT_1 = '0a000000-0000-4000-8000-000000000001';
const ACCOUNT_2 = '0a000000-0000-4000-8000-000000000002';
const ITWIN_1 = '1b000000-0000-4000-8000-000000000001';
const ITWIN_2 = '1b000000-0000-4000-8000-000000000002';
const ITWIN_3 = '1b000000-0000-4000-8000-000000000003';
const OWNER_A = 'app-alpha-0001';
const OWNER_B = 'app-bravo-0002';
const TYPE_A = 'iModels.iModelCreated.v1';
const TYPE_B = 'iModels.iModelDeleted.v1';
const TYPE_CUSTOM = 'custom.thingHappened.v1';
const W1 = 'worker-one';
const W2 = 'worker-two';

/** Content with unusual spacing, key order and escapes: it must come back byte for byte. */
const ODD_CONTENT = '{ "z": 1,"a" : [ 1.50, 2e3 ],\n  "s": "\\u00e9\u00e9 \u{1F600} \\"q\\"", "n": null }';

function client(clientId: string, accountId: string, createdAt = T0, scopes = ['webhooks:read', 'webhooks:modify']): ClientRecord {
  return { clientId, name: `Application ${clientId}`, accountId, scopes, secretHash: `scrypt$${clientId}$hash`, tokenGeneration: 0, createdAt };
}

function eventType(type: string, overrides: Partial<EventTypeRecord> = {}): EventTypeRecord {
  return {
    type,
    service: type.split('.')[0]!,
    description: `The ${type} event.`,
    contentSchema: { type: 'object', properties: { imodelId: { type: 'string' } }, required: ['imodelId'] },
    example: { imodelId: '72640bf2-2173-4276-b896-c157bee0df76' },
    builtin: true,
    createdAt: T0,
    ...overrides,
  };
}

let hookCounter = 0;
function webhookRecord(overrides: Partial<WebhookRecord> = {}): WebhookRecord {
  hookCounter++;
  return {
    id: randomUUID(),
    ownerClientId: OWNER_A,
    scope: 'iTwin',
    scopeId: ITWIN_1,
    active: true,
    callbackUrl: `https://receiver.example.com/hook/${hookCounter}`,
    eventTypes: [TYPE_A],
    secretSealed: `sealed-secret-${hookCounter}`,
    createdAt: T0,
    modifiedAt: T0,
    ...overrides,
  };
}

function newEvent(overrides: Partial<NewEvent> = {}): NewEvent {
  return {
    messageId: randomUUID(),
    eventType: TYPE_A,
    itwinId: ITWIN_1,
    accountId: ACCOUNT_1,
    contentJson: '{"imodelId":"72640bf2-2173-4276-b896-c157bee0df76","userId":"e5c7ae4f-2d72-4319-b96a-d46492e4f860"}',
    publisherClientId: 'publisher-app',
    ...overrides,
  };
}

const STATUS_OF: Record<AttemptOutcome, number> = { succeeded: 200, retry: 503, failed: 500, gone: 410 };

/** The result of sending a claimed delivery: it ends 10 ms after `startedAt`. */
function result(d: ClaimedDelivery, outcome: AttemptOutcome, startedAt: number, overrides: Partial<AttemptResult> = {}): AttemptResult {
  return {
    deliveryId: d.id,
    webhookId: d.webhookId,
    attempt: d.attempt,
    startedAt,
    durationMs: 10,
    statusCode: STATUS_OF[outcome],
    error: outcome === 'succeeded' ? undefined : `HTTP ${STATUS_OF[outcome]}`,
    responseBody: outcome === 'succeeded' ? 'ok' : 'nope',
    outcome,
    nextAttemptAt: outcome === 'retry' ? startedAt + 5 * SECOND : undefined,
    ...overrides,
  };
}

// ---------------------------------------------------------------------------------------
// Small helpers over the store

/**
 * Two clients in two accounts, three iTwins (two in account 1), two built-in event types;
 * each client maintains the webhooks of its account's iTwins (so that they may be activated).
 */
async function seed(store: Store): Promise<void> {
  await store.createClient(client(OWNER_A, ACCOUNT_1));
  await store.createClient(client(OWNER_B, ACCOUNT_2));
  await store.putItwin(ITWIN_1, ACCOUNT_1, T0);
  await store.putItwin(ITWIN_2, ACCOUNT_1, T0);
  await store.putItwin(ITWIN_3, ACCOUNT_2, T0);
  for (const [owner, itwin] of [[OWNER_A, ITWIN_1], [OWNER_A, ITWIN_2], [OWNER_B, ITWIN_3]] as const) await store.grant(owner, itwin, 'webhooks_maintainer', T0);
  await store.upsertBuiltinEventTypes([eventType(TYPE_A), eventType(TYPE_B)]);
}

async function hook(store: Store, overrides: Partial<WebhookRecord> = {}): Promise<WebhookRecord> {
  const w = webhookRecord(overrides);
  await store.createWebhook(w);
  return w;
}

async function publish(store: Store, now: number, ...events: NewEvent[]) {
  return store.publishEvents(events, now, WINDOW);
}

/** No cap per application unless a test sets one. */
const NO_APP_CAP = 1_000_000;

async function claim(store: Store, workerId: string, now: number, limit = 100, cap = 16, appCap = NO_APP_CAP): Promise<ClaimedDelivery[]> {
  return store.claimDeliveries({ workerId, now, limit, maxInFlightPerWebhook: cap, maxInFlightPerApplication: appCap });
}

async function complete(
  store: Store,
  workerId: string,
  results: AttemptResult[],
  claimOpts?: { now: number; limit: number; maxInFlightPerWebhook: number; maxInFlightPerApplication?: number },
) {
  return store.completeDeliveries(workerId, results, POLICY, claimOpts && { maxInFlightPerApplication: NO_APP_CAP, ...claimOpts });
}

async function deliveries(store: Store, webhookId: string, status?: DeliveryStatus): Promise<DeliverySummary[]> {
  const out: DeliverySummary[] = [];
  let cursor: number | undefined;
  do {
    const page = await store.listDeliveries(webhookId, status, 1000, cursor);
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return out;
}

async function statusOf(store: Store, webhookId: string, deliveryId: string): Promise<DeliveryStatus | undefined> {
  return (await store.getDelivery(webhookId, deliveryId))?.status;
}

function countBy<T>(items: T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return m;
}

const byKey = <T>(key: (t: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

// ---------------------------------------------------------------------------------------

export function storeConformance(factory: StoreFactory): void {
  /** A test on a fresh, empty store. */
  const test = (name: string, fn: (store: Store) => Promise<void>) =>
    it(name, async () => {
      const { store, cleanup } = await factory.open();
      try {
        await fn(store);
      } finally {
        await cleanup();
      }
    });
  /** A test on a fresh store holding the seed (clients, iTwins, event types). */
  const seeded = (name: string, fn: (store: Store) => Promise<void>) =>
    test(name, async (store) => {
      await seed(store);
      await fn(store);
    });

  describe(`Store conformance: ${factory.name}`, () => {
    // -----------------------------------------------------------------------------------
    describe('basics: kind, ping, meta, signing keys', () => {
      test('says what it is and answers ping', async (store) => {
        assert.ok(store.kind === 'sqlite' || store.kind === 'postgres');
        await store.ping();
      });

      test('meta: unknown keys are undefined; setMetaIfAbsent keeps the first value', async (store) => {
        assert.equal(await store.getMeta('check'), undefined);
        assert.equal(await store.setMetaIfAbsent('check', 'first'), 'first');
        assert.equal(await store.setMetaIfAbsent('check', 'second'), 'first', 'the first value wins');
        assert.equal(await store.getMeta('check'), 'first');
        assert.equal(await store.setMetaIfAbsent('other', 'x'), 'x', 'keys are independent');
        assert.equal(await store.getMeta('other'), 'x');
        assert.equal(await store.getMeta('check'), 'first');
      });

      test('meta: concurrent setMetaIfAbsent calls all agree on one value', async (store) => {
        const values = await Promise.all(Array.from({ length: 8 }, (_, i) => store.setMetaIfAbsent('k', `v${i}`)));
        assert.equal(new Set(values).size, 1, `all callers see the same value: ${values.join(',')}`);
        assert.equal(await store.getMeta('k'), values[0]);
      });

      test('signing keys: insertFirstSigningKey inserts only when none exists', async (store) => {
        assert.deepEqual(await store.listSigningKeys(), []);
        const first: SigningKeyRecord = {
          kid: 'kid-1',
          alg: 'ES256',
          publicJwk: { kty: 'EC', crv: 'P-256', x: 'abc', y: 'def', nested: { a: [1, 2] } },
          privateJwkSealed: 'sealed-private-1',
          createdAt: T0,
        };
        await store.insertFirstSigningKey(first);
        await store.insertFirstSigningKey({ ...first, kid: 'kid-2', privateJwkSealed: 'sealed-private-2', createdAt: T0 + 1 });
        assert.deepEqual(await store.listSigningKeys(), [first], 'the second call keeps the first key');
      });

      test('signing keys: processes starting together agree on one key', async (store) => {
        await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            store.insertFirstSigningKey({ kid: `kid-${i}`, alg: 'ES256', publicJwk: { i }, privateJwkSealed: `p${i}`, createdAt: T0 + i }),
          ),
        );
        assert.equal((await store.listSigningKeys()).length, 1);
      });
    });

    // -----------------------------------------------------------------------------------
    describe('clients', () => {
      test('create, get and list', async (store) => {
        const a = client(OWNER_A, ACCOUNT_1, T0, ['webhooks:read', 'webhooks:modify', 'itwin-platform']);
        const b = client(OWNER_B, ACCOUNT_2, T0 + 1, ['webhooks:publish']);
        await store.createClient(a);
        await store.createClient(b);
        assert.deepEqual(await store.getClient(OWNER_A), a);
        assert.deepEqual(await store.getClient(OWNER_B), b);
        assert.equal(await store.getClient('nobody'), undefined);
        const list = await store.listClients();
        assert.deepEqual([...list].sort(byKey((c) => c.clientId)), [a, b]);
      });

      test('a duplicate client id is rejected and the first client is kept', async (store) => {
        const a = client(OWNER_A, ACCOUNT_1);
        await store.createClient(a);
        await assert.rejects(store.createClient({ ...a, name: 'Impostor', accountId: ACCOUNT_2 }));
        assert.deepEqual(await store.getClient(OWNER_A), a);
        assert.equal((await store.listClients()).length, 1);
      });

      seeded('delete removes the client, its grants, org-admin rows and webhooks, and counts the webhooks', async (store) => {
        await store.grant(OWNER_A, ITWIN_1, 'webhooks_maintainer', T0);
        await store.grant(OWNER_A, ITWIN_2, 'webhooks_maintainer', T0);
        await store.grant(OWNER_B, ITWIN_1, 'webhooks_maintainer', T0);
        await store.addOrgAdmin(OWNER_A, ACCOUNT_1, T0);
        await store.addOrgAdmin(OWNER_B, ACCOUNT_1, T0);
        const a1 = await hook(store, { ownerClientId: OWNER_A });
        const a2 = await hook(store, { ownerClientId: OWNER_A, scope: 'Account', scopeId: ACCOUNT_1 });
        const b1 = await hook(store, { ownerClientId: OWNER_B });
        await publish(store, T0, newEvent());

        const deleted = await store.deleteClient(OWNER_A);
        assert.deepEqual({ ...deleted, webhookIds: [...deleted.webhookIds].sort() }, { deleted: true, webhooks: 2, webhookIds: [a1.id, a2.id].sort() });

        assert.equal(await store.getClient(OWNER_A), undefined);
        assert.deepEqual(await store.listGrants({ clientId: OWNER_A }), []);
        assert.equal(await store.isOrgAdmin(OWNER_A, ACCOUNT_1), false);
        assert.equal(await store.getWebhook(OWNER_A, a1.id), undefined);
        assert.equal(await store.getWebhook(OWNER_A, a2.id), undefined);
        assert.deepEqual((await store.listWebhooks(OWNER_A, 100, undefined)).items, []);
        assert.deepEqual(await deliveries(store, a1.id), [], 'the deleted webhooks take their deliveries with them');
        // The other client keeps everything.
        assert.ok(await store.getClient(OWNER_B));
        assert.equal(await store.hasGrant(OWNER_B, ITWIN_1, 'webhooks_maintainer'), true);
        assert.equal(await store.isOrgAdmin(OWNER_B, ACCOUNT_1), true);
        assert.ok(await store.getWebhook(OWNER_B, b1.id));
        assert.equal((await deliveries(store, b1.id)).length, 1);
        assert.equal((await store.deliveryStats()).pending, 1);
        const claimed = await claim(store, W1, T0 + 1);
        assert.deepEqual(claimed.map((d) => d.webhookId), [b1.id], 'nothing of the deleted webhooks is ever sent');
      });

      test('deleting an unknown client deletes nothing', async (store) => {
        await store.createClient(client(OWNER_A, ACCOUNT_1));
        assert.deepEqual(await store.deleteClient('nobody'), { deleted: false, webhooks: 0, webhookIds: [] });
        assert.equal((await store.listClients()).length, 1);
      });
    });

    // -----------------------------------------------------------------------------------
    describe('directory', () => {
      test('putItwin, getItwinAccount and listItwins (with the account filter)', async (store) => {
        await store.putItwin(ITWIN_1, ACCOUNT_1, T0);
        await store.putItwin(ITWIN_2, ACCOUNT_1, T0 + 1);
        await store.putItwin(ITWIN_3, ACCOUNT_2, T0 + 2);
        assert.equal(await store.getItwinAccount(ITWIN_1), ACCOUNT_1);
        assert.equal(await store.getItwinAccount(ITWIN_3), ACCOUNT_2);
        assert.equal(await store.getItwinAccount(randomUUID()), undefined);
        const all = (await store.listItwins()).sort(byKey((i) => i.itwinId));
        assert.deepEqual(all, [
          { itwinId: ITWIN_1, accountId: ACCOUNT_1, createdAt: T0 },
          { itwinId: ITWIN_2, accountId: ACCOUNT_1, createdAt: T0 + 1 },
          { itwinId: ITWIN_3, accountId: ACCOUNT_2, createdAt: T0 + 2 },
        ]);
        assert.deepEqual((await store.listItwins({ accountId: ACCOUNT_1 })).map((i) => i.itwinId).sort(), [ITWIN_1, ITWIN_2]);
        assert.deepEqual((await store.listItwins({ accountId: ACCOUNT_2 })).map((i) => i.itwinId), [ITWIN_3]);
        assert.deepEqual(await store.listItwins({ accountId: randomUUID() }), []);
      });

      test('putItwin of a known iTwin moves it to the new account and keeps its creation time', async (store) => {
        await store.putItwin(ITWIN_1, ACCOUNT_1, T0);
        await store.putItwin(ITWIN_1, ACCOUNT_2, T0 + HOUR);
        assert.equal(await store.getItwinAccount(ITWIN_1), ACCOUNT_2);
        assert.deepEqual(await store.listItwins({ accountId: ACCOUNT_1 }), []);
        assert.deepEqual(await store.listItwins({ accountId: ACCOUNT_2 }), [{ itwinId: ITWIN_1, accountId: ACCOUNT_2, createdAt: T0 }]);
        await store.putItwin(ITWIN_1, ACCOUNT_2, T0 + 2 * HOUR);
        assert.equal((await store.listItwins()).length, 1, 'idempotent');
      });

      test('getItwinAccounts resolves a batch; unknown iTwins are absent', async (store) => {
        await store.putItwin(ITWIN_1, ACCOUNT_1, T0);
        await store.putItwin(ITWIN_3, ACCOUNT_2, T0);
        const unknown = randomUUID();
        assert.deepEqual(await store.getItwinAccounts([ITWIN_1, unknown, ITWIN_3, ITWIN_1]), { [ITWIN_1]: ACCOUNT_1, [ITWIN_3]: ACCOUNT_2 });
        assert.deepEqual(await store.getItwinAccounts([unknown]), {});
        assert.deepEqual(await store.getItwinAccounts([]), {});
      });

      test('removeItwin removes the iTwin and its grants, and nothing else', async (store) => {
        await store.createClient(client(OWNER_A, ACCOUNT_1));
        await store.putItwin(ITWIN_1, ACCOUNT_1, T0);
        await store.putItwin(ITWIN_2, ACCOUNT_1, T0);
        await store.grant(OWNER_A, ITWIN_1, 'webhooks_maintainer', T0);
        await store.grant(OWNER_A, ITWIN_1, 'other_permission', T0);
        await store.grant(OWNER_A, ITWIN_2, 'webhooks_maintainer', T0);
        await store.addOrgAdmin(OWNER_A, ACCOUNT_1, T0);
        assert.equal((await store.removeItwin(ITWIN_1, T0)).removed, true);
        assert.equal(await store.getItwinAccount(ITWIN_1), undefined);
        assert.deepEqual(await store.listGrants({ itwinId: ITWIN_1 }), []);
        assert.equal(await store.hasGrant(OWNER_A, ITWIN_1, 'webhooks_maintainer'), false);
        assert.equal(await store.hasGrant(OWNER_A, ITWIN_2, 'webhooks_maintainer'), true);
        assert.equal(await store.isOrgAdmin(OWNER_A, ACCOUNT_1), true);
        assert.deepEqual((await store.listItwins()).map((i) => i.itwinId), [ITWIN_2]);
        assert.equal((await store.removeItwin(ITWIN_1, T0)).removed, false, 'a second removal finds nothing');
        assert.equal((await store.removeItwin(randomUUID(), T0)).removed, false);
      });

      test('grant, hasGrant and revoke; granting twice is idempotent', async (store) => {
        await store.createClient(client(OWNER_A, ACCOUNT_1));
        await store.putItwin(ITWIN_1, ACCOUNT_1, T0);
        assert.equal(await store.hasGrant(OWNER_A, ITWIN_1, 'webhooks_maintainer'), false);
        await store.grant(OWNER_A, ITWIN_1, 'webhooks_maintainer', T0);
        await store.grant(OWNER_A, ITWIN_1, 'webhooks_maintainer', T0 + 5);
        assert.deepEqual(await store.listGrants({}), [{ clientId: OWNER_A, itwinId: ITWIN_1, permission: 'webhooks_maintainer', createdAt: T0 }]);
        assert.equal(await store.hasGrant(OWNER_A, ITWIN_1, 'webhooks_maintainer'), true);
        assert.equal(await store.hasGrant(OWNER_A, ITWIN_1, 'another_permission'), false, 'grants are per permission');
        assert.equal(await store.hasGrant(OWNER_B, ITWIN_1, 'webhooks_maintainer'), false, 'grants are per client');
        assert.equal(await store.hasGrant(OWNER_A, ITWIN_2, 'webhooks_maintainer'), false, 'grants are per iTwin');
        assert.equal((await store.revoke(OWNER_A, ITWIN_1, 'another_permission', T0)).revoked, false);
        assert.equal((await store.revoke(OWNER_A, ITWIN_1, 'webhooks_maintainer', T0)).revoked, true);
        assert.equal((await store.revoke(OWNER_A, ITWIN_1, 'webhooks_maintainer', T0)).revoked, false);
        assert.equal(await store.hasGrant(OWNER_A, ITWIN_1, 'webhooks_maintainer'), false);
        assert.deepEqual(await store.listGrants({}), []);
      });

      test('listGrants filters by client, by iTwin, by both, or not at all', async (store) => {
        await store.createClient(client(OWNER_A, ACCOUNT_1));
        await store.createClient(client(OWNER_B, ACCOUNT_2));
        await store.putItwin(ITWIN_1, ACCOUNT_1, T0);
        await store.putItwin(ITWIN_2, ACCOUNT_1, T0);
        await store.grant(OWNER_A, ITWIN_1, 'p1', T0);
        await store.grant(OWNER_A, ITWIN_1, 'p2', T0 + 1);
        await store.grant(OWNER_A, ITWIN_2, 'p1', T0 + 2);
        await store.grant(OWNER_B, ITWIN_1, 'p1', T0 + 3);
        const key = (g: { clientId: string; itwinId: string; permission: string }) => `${g.clientId}|${g.itwinId}|${g.permission}`;
        const keys = async (filter: { clientId?: string; itwinId?: string }) => (await store.listGrants(filter)).map(key).sort();
        assert.deepEqual(await keys({}), [`${OWNER_A}|${ITWIN_1}|p1`, `${OWNER_A}|${ITWIN_1}|p2`, `${OWNER_A}|${ITWIN_2}|p1`, `${OWNER_B}|${ITWIN_1}|p1`]);
        assert.deepEqual(await keys({ clientId: OWNER_A }), [`${OWNER_A}|${ITWIN_1}|p1`, `${OWNER_A}|${ITWIN_1}|p2`, `${OWNER_A}|${ITWIN_2}|p1`]);
        assert.deepEqual(await keys({ itwinId: ITWIN_1 }), [`${OWNER_A}|${ITWIN_1}|p1`, `${OWNER_A}|${ITWIN_1}|p2`, `${OWNER_B}|${ITWIN_1}|p1`]);
        assert.deepEqual(await keys({ clientId: OWNER_B, itwinId: ITWIN_1 }), [`${OWNER_B}|${ITWIN_1}|p1`]);
        assert.deepEqual(await keys({ clientId: OWNER_B, itwinId: ITWIN_2 }), []);
        const one = (await store.listGrants({ clientId: OWNER_B }))[0];
        assert.deepEqual(one, { clientId: OWNER_B, itwinId: ITWIN_1, permission: 'p1', createdAt: T0 + 3 });
      });

      test('org admins: add (idempotent), isOrgAdmin, list with filter, remove', async (store) => {
        await store.createClient(client(OWNER_A, ACCOUNT_1));
        await store.createClient(client(OWNER_B, ACCOUNT_2));
        assert.equal(await store.isOrgAdmin(OWNER_A, ACCOUNT_1), false);
        await store.addOrgAdmin(OWNER_A, ACCOUNT_1, T0);
        await store.addOrgAdmin(OWNER_A, ACCOUNT_1, T0 + 9);
        await store.addOrgAdmin(OWNER_A, ACCOUNT_2, T0 + 1);
        await store.addOrgAdmin(OWNER_B, ACCOUNT_2, T0 + 2);
        assert.equal(await store.isOrgAdmin(OWNER_A, ACCOUNT_1), true);
        assert.equal(await store.isOrgAdmin(OWNER_B, ACCOUNT_1), false);
        assert.deepEqual(await store.listOrgAdmins({ accountId: ACCOUNT_1 }), [{ clientId: OWNER_A, accountId: ACCOUNT_1, createdAt: T0 }]);
        assert.deepEqual((await store.listOrgAdmins({ accountId: ACCOUNT_2 })).map((a) => a.clientId).sort(), [OWNER_A, OWNER_B]);
        assert.equal((await store.listOrgAdmins()).length, 3);
        assert.deepEqual(await store.listOrgAdmins({ accountId: randomUUID() }), []);
        assert.equal((await store.removeOrgAdmin(OWNER_A, ACCOUNT_2, T0)).removed, true);
        assert.equal((await store.removeOrgAdmin(OWNER_A, ACCOUNT_2, T0)).removed, false);
        assert.equal(await store.isOrgAdmin(OWNER_A, ACCOUNT_2), false);
        assert.equal(await store.isOrgAdmin(OWNER_A, ACCOUNT_1), true);
        assert.equal((await store.listOrgAdmins()).length, 2);
      });
    });

    // -----------------------------------------------------------------------------------
    describe('event types', () => {
      test('insertEventType adds a type once; false when it exists (and the first is kept)', async (store) => {
        const custom = eventType(TYPE_CUSTOM, {
          builtin: false,
          service: 'custom',
          contentSchema: { type: 'object', properties: { n: { type: 'integer', minimum: 0 } }, additionalProperties: false },
          example: { n: 3, nested: { list: [true, null, 'x'] } },
        });
        assert.equal(await store.insertEventType(custom), true);
        assert.equal(await store.insertEventType({ ...custom, description: 'changed', createdAt: T0 + 1 }), false);
        assert.deepEqual(await store.getEventTypes([TYPE_CUSTOM]), [custom]);
        assert.deepEqual(await store.listEventTypes(), [custom]);
      });

      test('upsertBuiltinEventTypes inserts the missing types and refreshes the present ones', async (store) => {
        await store.upsertBuiltinEventTypes([eventType(TYPE_A)]);
        assert.deepEqual(await store.listEventTypes(), [eventType(TYPE_A)]);
        const custom = eventType(TYPE_CUSTOM, { builtin: false });
        await store.insertEventType(custom);
        const refreshedA = eventType(TYPE_A, {
          service: 'iModelsV2',
          description: 'Refreshed.',
          contentSchema: { type: 'object', required: ['imodelId', 'userId'] },
          example: { imodelId: 'x', userId: 'y' },
          createdAt: T0 + DAY,
        });
        await store.upsertBuiltinEventTypes([refreshedA, eventType(TYPE_B, { createdAt: T0 + DAY })]);
        const all = (await store.listEventTypes()).sort(byKey((t) => t.type));
        assert.deepEqual(
          all,
          [{ ...refreshedA, createdAt: T0 }, eventType(TYPE_B, { createdAt: T0 + DAY }), custom].sort(byKey((t) => t.type)),
          'refreshed content, original creation time; custom types untouched',
        );
      });

      test('getEventTypes returns the known subset; unknown types are absent', async (store) => {
        await store.upsertBuiltinEventTypes([eventType(TYPE_A), eventType(TYPE_B)]);
        await store.insertEventType(eventType(TYPE_CUSTOM, { builtin: false }));
        const got = (await store.getEventTypes([TYPE_CUSTOM, 'unknown.type.v1', TYPE_A])).sort(byKey((t) => t.type));
        assert.deepEqual(got, [eventType(TYPE_CUSTOM, { builtin: false }), eventType(TYPE_A)].sort(byKey((t) => t.type)));
        assert.deepEqual(await store.getEventTypes(['unknown.type.v1']), []);
        assert.deepEqual(await store.getEventTypes([]), []);
        assert.equal((await store.listEventTypes()).length, 3);
      });
    });

    // -----------------------------------------------------------------------------------
    describe('webhooks', () => {
      seeded('create and get round-trip every field; only the owner sees the webhook', async (store) => {
        const w = webhookRecord({ eventTypes: [TYPE_A, TYPE_B], active: false, createdAt: T0 + 1, modifiedAt: T0 + 2 });
        await store.createWebhook(w);
        const acct = webhookRecord({ scope: 'Account', scopeId: ACCOUNT_1 });
        await store.createWebhook(acct);
        assert.deepEqual(await store.getWebhook(OWNER_A, w.id), w);
        assert.deepEqual(await store.getWebhook(OWNER_A, acct.id), acct);
        assert.equal(await store.getWebhook(OWNER_B, w.id), undefined, 'another owner gets nothing, like a missing webhook');
        assert.equal(await store.getWebhook(OWNER_A, randomUUID()), undefined);
      });

      seeded('a duplicate webhook id is rejected', async (store) => {
        const w = await hook(store);
        await assert.rejects(store.createWebhook({ ...w, ownerClientId: OWNER_B, callbackUrl: 'https://evil.example.com/' }));
        assert.deepEqual(await store.getWebhook(OWNER_A, w.id), w);
        assert.equal(await store.getWebhook(OWNER_B, w.id), undefined);
      });

      seeded('listWebhooks pages by keyset: limit, nextCursor only when more remain, only the owner\'s', async (store) => {
        const mine: WebhookRecord[] = [];
        for (let i = 0; i < 5; i++) {
          mine.push(await hook(store, { ownerClientId: OWNER_A }));
          await hook(store, { ownerClientId: OWNER_B });
        }
        const p1 = await store.listWebhooks(OWNER_A, 2, undefined);
        assert.deepEqual(p1.items, mine.slice(0, 2));
        assert.notEqual(p1.nextCursor, undefined);
        const p2 = await store.listWebhooks(OWNER_A, 2, p1.nextCursor);
        assert.deepEqual(p2.items, mine.slice(2, 4));
        assert.notEqual(p2.nextCursor, undefined);
        const p3 = await store.listWebhooks(OWNER_A, 2, p2.nextCursor);
        assert.deepEqual(p3.items, mine.slice(4));
        assert.equal(p3.nextCursor, undefined);
        // A page that ends exactly at the last item has no next cursor.
        const exact = await store.listWebhooks(OWNER_A, 5, undefined);
        assert.deepEqual(exact.items, mine);
        assert.equal(exact.nextCursor, undefined);
        const big = await store.listWebhooks(OWNER_A, 1000, undefined);
        assert.equal(big.items.length, 5);
        assert.equal(big.nextCursor, undefined);
        assert.deepEqual(await store.listWebhooks('nobody', 10, undefined), { items: [], nextCursor: undefined });
      });

      seeded('listWebhooks pages stay stable when webhooks are inserted between pages', async (store) => {
        const first: WebhookRecord[] = [];
        for (let i = 0; i < 4; i++) first.push(await hook(store));
        const p1 = await store.listWebhooks(OWNER_A, 2, undefined);
        assert.deepEqual(p1.items.map((w) => w.id), first.slice(0, 2).map((w) => w.id));
        const later = [await hook(store), await hook(store, { ownerClientId: OWNER_B }), await hook(store)];
        const seen = [...p1.items];
        let cursor = p1.nextCursor;
        while (cursor !== undefined) {
          const p = await store.listWebhooks(OWNER_A, 2, cursor);
          seen.push(...p.items);
          cursor = p.nextCursor;
        }
        assert.deepEqual(
          seen.map((w) => w.id),
          [...first, later[0]!, later[2]!].map((w) => w.id),
          'nothing skipped, nothing repeated, the new ones last',
        );
      });

      seeded('updateWebhook changes each field, sets modifiedAt and persists', async (store) => {
        const w = await hook(store, { active: false });
        const steps: Array<[WebhookPatch, Partial<WebhookRecord>]> = [
          [{ active: true }, { active: true }],
          [{ callbackUrl: 'https://other.example.com/x?y=1' }, { callbackUrl: 'https://other.example.com/x?y=1' }],
          [{ eventTypes: [TYPE_B, TYPE_A] }, { eventTypes: [TYPE_B, TYPE_A] }],
          [{ secretSealed: 'sealed-new' }, { secretSealed: 'sealed-new' }],
          [{}, {}],
          [
            { active: false, callbackUrl: 'https://third.example.com/', eventTypes: [TYPE_A], secretSealed: 'sealed-3' },
            { active: false, callbackUrl: 'https://third.example.com/', eventTypes: [TYPE_A], secretSealed: 'sealed-3' },
          ],
        ];
        let expected: WebhookRecord = w;
        let now = T0 + MINUTE;
        for (const [patch, change] of steps) {
          now += MINUTE;
          // Deactivating records who did it and when.
          const deactivation = patch.active === false && expected.active ? { deactivation: { cause: 'owner' as const, at: now } } : {};
          expected = { ...expected, ...change, ...deactivation, modifiedAt: now };
          const updated = await store.updateWebhook(OWNER_A, w.id, patch, now);
          assert.deepEqual(updated, expected, JSON.stringify(patch));
          assert.deepEqual(await store.getWebhook(OWNER_A, w.id), expected);
        }
        assert.equal(expected.createdAt, T0);
      });

      seeded('updateWebhook of another owner\'s or an unknown webhook returns undefined and changes nothing', async (store) => {
        const w = await hook(store);
        assert.equal(await store.updateWebhook(OWNER_B, w.id, { active: false, callbackUrl: 'https://evil.example.com/' }, T0 + 1), undefined);
        assert.equal(await store.updateWebhook(OWNER_A, randomUUID(), { active: false }, T0 + 1), undefined);
        assert.deepEqual(await store.getWebhook(OWNER_A, w.id), w);
      });

      seeded('changing eventTypes changes what the webhook matches', async (store) => {
        const w = await hook(store, { eventTypes: [TYPE_A] });
        assert.equal((await publish(store, T0, newEvent({ eventType: TYPE_B })))[0]!.matchedWebhooks, 0);
        await store.updateWebhook(OWNER_A, w.id, { eventTypes: [TYPE_B] }, T0 + 1);
        assert.equal((await publish(store, T0 + 2, newEvent({ eventType: TYPE_B })))[0]!.matchedWebhooks, 1);
        assert.equal((await publish(store, T0 + 3, newEvent({ eventType: TYPE_A })))[0]!.matchedWebhooks, 0);
        await store.updateWebhook(OWNER_A, w.id, { callbackUrl: 'https://moved.example.com/' }, T0 + 4);
        assert.equal((await publish(store, T0 + 5, newEvent({ eventType: TYPE_B })))[0]!.matchedWebhooks, 1, 'other patches keep the subscriptions');
        const claimed = await claim(store, W1, T0 + 6);
        assert.equal(claimed.length, 2);
        assert.ok(claimed.every((d) => d.eventType === TYPE_B && d.callbackUrl === 'https://moved.example.com/'), 'claims send to the current callback');
      });

      seeded('deactivating cancels the pending deliveries; reactivating does not bring them back', async (store) => {
        const w = await hook(store);
        const other = await hook(store);
        await publish(store, T0, newEvent(), newEvent());
        assert.equal((await deliveries(store, w.id, 'pending')).length, 2);
        await store.updateWebhook(OWNER_A, w.id, { active: false }, T0 + 1);
        assert.equal((await deliveries(store, w.id, 'pending')).length, 0);
        assert.equal((await deliveries(store, w.id, 'cancelled')).length, 2);
        assert.equal((await publish(store, T0 + 2, newEvent()))[0]!.matchedWebhooks, 1, 'an inactive webhook matches nothing');
        await store.updateWebhook(OWNER_A, w.id, { active: true }, T0 + 3);
        assert.equal((await deliveries(store, w.id, 'pending')).length, 0, 'events published before activation are not delivered');
        const claimed = await claim(store, W1, T0 + 4);
        assert.ok(claimed.every((d) => d.webhookId === other.id));
        assert.equal(claimed.length, 3);
        assert.equal((await store.deliveryStats()).pending, 3);
      });

      seeded('deleteWebhook is owner-scoped and deletes the webhook\'s deliveries', async (store) => {
        const w = await hook(store);
        const other = await hook(store);
        await publish(store, T0, newEvent(), newEvent());
        const [one] = await deliveries(store, w.id);
        assert.equal(await store.deleteWebhook(OWNER_B, w.id), false, 'not the owner');
        assert.ok(await store.getWebhook(OWNER_A, w.id));
        assert.equal(await store.deleteWebhook(OWNER_A, w.id), true);
        assert.equal(await store.deleteWebhook(OWNER_A, w.id), false, 'already gone');
        assert.equal(await store.deleteWebhook(OWNER_A, randomUUID()), false);
        assert.equal(await store.getWebhook(OWNER_A, w.id), undefined);
        assert.deepEqual(await deliveries(store, w.id), []);
        assert.equal(await store.getDelivery(w.id, one!.id), undefined);
        assert.equal(await store.redeliver(w.id, one!.id, T0 + 1), undefined);
        assert.deepEqual(await store.deliveryStats(), { pending: 2, oldestDueAt: T0 });
        const claimed = await claim(store, W1, T0 + 1);
        assert.deepEqual(claimed.map((d) => d.webhookId), [other.id, other.id], 'pending deliveries of a deleted webhook are never sent');
        assert.equal((await publish(store, T0 + 2, newEvent()))[0]!.matchedWebhooks, 1);
      });

      seeded('deleting a webhook while it has leased deliveries: late results are stale and harmless', async (store) => {
        const w = await hook(store);
        await publish(store, T0, newEvent(), newEvent());
        await store.heartbeat(W1, T0);
        const claimed = await claim(store, W1, T0 + 1, 100, 2);
        assert.equal(claimed.length, 2);
        assert.equal(await store.deleteWebhook(OWNER_A, w.id), true);
        const effects = await complete(store, W1, [result(claimed[0]!, 'succeeded', T0 + 2), result(claimed[1]!, 'retry', T0 + 2)]);
        assert.deepEqual(effects, { deactivated: [], stale: 2, claimed: [] });
        assert.deepEqual(await store.deliveryStats(), { pending: 0, oldestDueAt: undefined });
        assert.equal(await store.nextReadyAt(2, NO_APP_CAP), undefined);
        // A webhook created with the same scope afterwards starts with a clean slate.
        const fresh = await hook(store);
        await publish(store, T0 + 3, newEvent(), newEvent());
        assert.equal((await claim(store, W1, T0 + 4, 100, 2)).filter((d) => d.webhookId === fresh.id).length, 2);
      });
    });

    // -----------------------------------------------------------------------------------
    describe('publishEvents: matching and fan-out', () => {
      seeded('an iTwin webhook matches events of its iTwin; an Account webhook events of its account', async (store) => {
        const onItwin1 = await hook(store, { scope: 'iTwin', scopeId: ITWIN_1 });
        const onItwin2 = await hook(store, { scope: 'iTwin', scopeId: ITWIN_2 });
        const onAccount1 = await hook(store, { scope: 'Account', scopeId: ACCOUNT_1 });
        const onAccount2 = await hook(store, { scope: 'Account', scopeId: ACCOUNT_2, ownerClientId: OWNER_B });
        const [e1, e2, e3] = await publish(
          store,
          T0,
          newEvent({ itwinId: ITWIN_1, accountId: ACCOUNT_1 }),
          newEvent({ itwinId: ITWIN_2, accountId: ACCOUNT_1 }),
          newEvent({ itwinId: ITWIN_3, accountId: ACCOUNT_2 }),
        );
        assert.equal(e1!.matchedWebhooks, 2);
        assert.equal(e2!.matchedWebhooks, 2);
        assert.equal(e3!.matchedWebhooks, 1);
        const msgs = async (w: WebhookRecord) => (await deliveries(store, w.id)).map((d) => d.messageId).sort();
        assert.deepEqual(await msgs(onItwin1), [e1!.messageId]);
        assert.deepEqual(await msgs(onItwin2), [e2!.messageId]);
        assert.deepEqual(await msgs(onAccount1), [e1!.messageId, e2!.messageId].sort());
        assert.deepEqual(await msgs(onAccount2), [e3!.messageId]);
      });

      seeded('matching uses the event\'s own iTwinId and accountId (an absent one matches nothing)', async (store) => {
        const onItwin = await hook(store, { scope: 'iTwin', scopeId: ITWIN_1 });
        const onAccount = await hook(store, { scope: 'Account', scopeId: ACCOUNT_1 });
        const [itwinOnly, accountOnly] = await publish(
          store,
          T0,
          newEvent({ itwinId: ITWIN_1, accountId: undefined }),
          newEvent({ itwinId: undefined, accountId: ACCOUNT_1 }),
        );
        assert.equal(itwinOnly!.matchedWebhooks, 1);
        assert.equal(accountOnly!.matchedWebhooks, 1);
        assert.deepEqual((await deliveries(store, onItwin.id)).map((d) => d.messageId), [itwinOnly!.messageId]);
        assert.deepEqual((await deliveries(store, onAccount.id)).map((d) => d.messageId), [accountOnly!.messageId]);
        // An Account webhook whose scopeId equals the event's iTwinId is not an iTwin match.
        await hook(store, { scope: 'Account', scopeId: ITWIN_2 });
        assert.equal((await publish(store, T0 + 1, newEvent({ itwinId: ITWIN_2, accountId: undefined })))[0]!.matchedWebhooks, 0);
      });

      seeded('only active webhooks subscribed to the type match; other accounts never do', async (store) => {
        const match = await hook(store, { eventTypes: [TYPE_B, TYPE_A] });
        await hook(store, { eventTypes: [TYPE_B] });
        await hook(store, { active: false });
        await hook(store, { scope: 'Account', scopeId: ACCOUNT_2, ownerClientId: OWNER_B });
        await hook(store, { scope: 'iTwin', scopeId: ITWIN_3, ownerClientId: OWNER_B });
        const [r] = await publish(store, T0, newEvent({ eventType: TYPE_A }));
        assert.equal(r!.matchedWebhooks, 1);
        const claimed = await claim(store, W1, T0);
        assert.deepEqual(claimed.map((d) => d.webhookId), [match.id]);
      });

      seeded('one pending delivery per matching webhook, with the published result fields', async (store) => {
        const hooks = [await hook(store), await hook(store), await hook(store, { scope: 'Account', scopeId: ACCOUNT_1 })];
        const e = newEvent();
        const [r] = await publish(store, T0 + 7, e);
        assert.deepEqual(r, { messageId: e.messageId, eventType: TYPE_A, enqueuedAt: T0 + 7, matchedWebhooks: 3, duplicate: false });
        for (const w of hooks) {
          const list = await deliveries(store, w.id);
          assert.equal(list.length, 1);
          const d = list[0]!;
          assert.equal(d.webhookId, w.id);
          assert.equal(d.messageId, e.messageId);
          assert.equal(d.eventType, TYPE_A);
          assert.equal(d.status, 'pending');
          assert.equal(d.attempts, 0);
          assert.equal(d.createdAt, T0 + 7);
          assert.equal(d.nextAttemptAt, T0 + 7);
          assert.equal(d.lastStatusCode, undefined);
          assert.equal(d.lastError, undefined);
        }
        assert.deepEqual(await store.deliveryStats(), { pending: 3, oldestDueAt: T0 + 7 });
      });

      seeded('a batch answers each event in order; an event that matches nothing is still accepted', async (store) => {
        await hook(store, { eventTypes: [TYPE_A] });
        await hook(store, { eventTypes: [TYPE_A, TYPE_B] });
        const events = [newEvent({ eventType: TYPE_B }), newEvent({ eventType: TYPE_A }), newEvent({ itwinId: ITWIN_3, accountId: ACCOUNT_2 })];
        const results = await publish(store, T0, ...events);
        assert.deepEqual(
          results.map((r) => [r.messageId, r.eventType, r.matchedWebhooks, r.duplicate, r.enqueuedAt]),
          [
            [events[0]!.messageId, TYPE_B, 1, false, T0],
            [events[1]!.messageId, TYPE_A, 2, false, T0],
            [events[2]!.messageId, TYPE_A, 0, false, T0],
          ],
        );
        assert.equal((await store.deliveryStats()).pending, 3);
        assert.deepEqual(await publish(store, T0, ...[]), [], 'an empty batch is a no-op');
      });

      seeded('the content reaches the claim and the history as the exact JSON text published', async (store) => {
        const w = await hook(store, { scope: 'Account', scopeId: ACCOUNT_1 });
        const e = newEvent({ contentJson: ODD_CONTENT, itwinId: undefined });
        await publish(store, T0, e);
        const [d] = await claim(store, W1, T0);
        assert.equal(d!.contentJson, ODD_CONTENT);
        assert.equal(d!.itwinId, undefined);
        const detail = await store.getDelivery(w.id, d!.id);
        assert.equal(detail!.contentJson, ODD_CONTENT);
        assert.equal(detail!.itwinId, undefined);
      });
    });

    // -----------------------------------------------------------------------------------
    describe('publishEvents: idempotency and atomicity', () => {
      seeded('the same messageId inside the window returns the first result and fans out nothing new', async (store) => {
        const w = await hook(store);
        const e = newEvent();
        const [first] = await publish(store, T0, e);
        assert.equal(first!.duplicate, false);
        await hook(store); // a new matching webhook must not receive the replay either
        const [again] = await publish(store, T0 + DAY, { ...e, eventType: TYPE_B, contentJson: '{"other":true}' });
        assert.deepEqual(again, { ...first, duplicate: true });
        assert.equal((await deliveries(store, w.id)).length, 1);
        assert.equal((await store.deliveryStats()).pending, 1);
        const [d] = await claim(store, W1, T0 + DAY);
        assert.equal(d!.contentJson, e.contentJson, 'the first content is the one sent');
      });

      seeded('an event that matched nothing is still remembered for idempotency', async (store) => {
        const e = newEvent({ itwinId: ITWIN_3, accountId: ACCOUNT_2 });
        assert.equal((await publish(store, T0, e))[0]!.matchedWebhooks, 0);
        await hook(store, { scope: 'iTwin', scopeId: ITWIN_3, ownerClientId: OWNER_B });
        const [again] = await publish(store, T0 + 1, e);
        assert.deepEqual(again, { messageId: e.messageId, eventType: TYPE_A, enqueuedAt: T0, matchedWebhooks: 0, duplicate: true });
        assert.equal((await store.deliveryStats()).pending, 0);
      });

      seeded('duplicates inside one batch are answered as duplicates of the first', async (store) => {
        await hook(store);
        const e = newEvent();
        const results = await publish(store, T0, e, newEvent(), { ...e, contentJson: '{"x":2}' });
        assert.deepEqual(results[0], { messageId: e.messageId, eventType: TYPE_A, enqueuedAt: T0, matchedWebhooks: 1, duplicate: false });
        assert.equal(results[1]!.duplicate, false);
        assert.deepEqual(results[2], { ...results[0], duplicate: true });
        assert.equal((await store.deliveryStats()).pending, 2);
      });

      seeded('after the window the same messageId is a new event', async (store) => {
        const w = await hook(store);
        const e = newEvent();
        await publish(store, T0, e);
        const [justInside] = await publish(store, T0 + WINDOW - 1, e);
        assert.equal(justInside!.duplicate, true);
        const [later] = await publish(store, T0 + WINDOW + SECOND, e);
        assert.deepEqual(later, { messageId: e.messageId, eventType: TYPE_A, enqueuedAt: T0 + WINDOW + SECOND, matchedWebhooks: 1, duplicate: false });
        assert.equal((await deliveries(store, w.id)).length, 2);
        // ... and the window now runs from the new event.
        assert.equal((await publish(store, T0 + WINDOW + 2 * SECOND, e))[0]!.enqueuedAt, T0 + WINDOW + SECOND);
      });

      seeded('concurrent publishes of one messageId fan out exactly once', async (store) => {
        const w = await hook(store);
        const e = newEvent();
        const all = await Promise.all(Array.from({ length: 6 }, (_, i) => publish(store, T0 + i, e)));
        const results = all.map((r) => r[0]!);
        assert.equal(results.filter((r) => !r.duplicate).length, 1, 'exactly one publish is the original');
        const original = results.find((r) => !r.duplicate)!;
        for (const r of results) assert.deepEqual({ ...r, duplicate: false }, original);
        assert.equal((await deliveries(store, w.id)).length, 1);
      });

      seeded('a publish that fails stores nothing of its batch', async (store) => {
        const w = await hook(store);
        const good = newEvent();
        const bad = newEvent({ contentJson: null as unknown as string });
        await assert.rejects(publish(store, T0, good, bad));
        assert.deepEqual(await store.deliveryStats(), { pending: 0, oldestDueAt: undefined });
        assert.deepEqual(await deliveries(store, w.id), []);
        assert.deepEqual(await claim(store, W1, T0 + 1), []);
        const [retried] = await publish(store, T0 + 2, good);
        assert.equal(retried!.duplicate, false, 'the good event of the failed batch was not remembered');
        assert.equal(retried!.matchedWebhooks, 1);
      });

      seeded('a failing publish does not undo a concurrent one', async (store) => {
        const w = await hook(store);
        const good = newEvent();
        const [ok, failed] = await Promise.allSettled([
          publish(store, T0, good),
          publish(store, T0, newEvent(), newEvent({ contentJson: null as unknown as string })),
        ]);
        assert.equal(ok.status, 'fulfilled');
        assert.equal(failed.status, 'rejected');
        assert.deepEqual((await deliveries(store, w.id)).map((d) => d.messageId), [good.messageId]);
      });
    });

    // -----------------------------------------------------------------------------------
    describe('publishTestEvent', () => {
      seeded('stores exactly one delivery to the given webhook, even inactive or not subscribed', async (store) => {
        const target = await hook(store, { active: false, eventTypes: [TYPE_B] });
        const bystander = await hook(store);
        const e = newEvent({ eventType: TYPE_A, contentJson: ODD_CONTENT });
        const r = await store.publishTestEvent(e, target.id, T0 + 3);
        assert.equal(r.enqueuedAt, T0 + 3);
        assert.equal(typeof r.deliveryId, 'string');
        assert.deepEqual(await deliveries(store, bystander.id), []);
        const list = await deliveries(store, target.id);
        assert.deepEqual(list.map((d) => [d.id, d.messageId, d.status]), [[r.deliveryId, e.messageId, 'pending']]);
        const claimed = await claim(store, W1, T0 + 3);
        assert.equal(claimed.length, 1);
        assert.equal(claimed[0]!.id, r.deliveryId);
        assert.equal(claimed[0]!.webhookId, target.id);
        assert.equal(claimed[0]!.contentJson, ODD_CONTENT);
        assert.equal(claimed[0]!.enqueuedAt, T0 + 3);
        assert.equal(claimed[0]!.callbackUrl, target.callbackUrl);
      });
    });

    // -----------------------------------------------------------------------------------
    describe('claimDeliveries', () => {
      seeded('returns everything needed to send, with attempt = attempts + 1', async (store) => {
        const w = await hook(store, { callbackUrl: 'https://receiver.example.com/a?b=c', secretSealed: 'sealed-xyz' });
        const e = newEvent({ contentJson: ODD_CONTENT });
        await publish(store, T0, e);
        await store.heartbeat(W1, T0);
        const [d] = await claim(store, W1, T0 + 1);
        assert.deepEqual({ ...d, id: 'x' }, {
          id: 'x',
          webhookId: w.id,
          ownerClientId: OWNER_A,
          attempt: 1,
          callbackUrl: 'https://receiver.example.com/a?b=c',
          secretSealed: 'sealed-xyz',
          messageId: e.messageId,
          eventType: TYPE_A,
          itwinId: ITWIN_1,
          contentJson: ODD_CONTENT,
          enqueuedAt: T0,
        });
        assert.equal(typeof d!.id, 'string');
        await complete(store, W1, [result(d!, 'retry', T0 + 2, { nextAttemptAt: T0 + MINUTE })]);
        await store.updateWebhook(OWNER_A, w.id, { secretSealed: 'sealed-rotated' }, T0 + 3);
        const [again] = await claim(store, W1, T0 + MINUTE);
        assert.equal(again!.id, d!.id);
        assert.equal(again!.attempt, 2);
        assert.equal(again!.secretSealed, 'sealed-rotated', 'the current secret is used');
        assert.equal(again!.enqueuedAt, T0);
      });

      seeded('nothing is claimed before it is due', async (store) => {
        await hook(store);
        await publish(store, T0, newEvent());
        assert.deepEqual(await claim(store, W1, T0 - 1), [], 'published at T0: not due at T0 - 1');
        assert.equal((await claim(store, W1, T0)).length, 1);
        assert.deepEqual(await claim(store, W1, T0 + HOUR), [], 'a leased delivery is not claimed twice');
        assert.deepEqual(await claim(store, W2, T0 + HOUR), []);
      });

      seeded('an empty queue claims nothing', async (store) => {
        await hook(store);
        assert.deepEqual(await claim(store, W1, T0), []);
      });

      seeded('never more than maxInFlightPerWebhook leased per webhook, across workers', async (store) => {
        const busy = await hook(store, { eventTypes: [TYPE_A] });
        const quiet = await hook(store, { eventTypes: [TYPE_B] });
        for (let i = 0; i < 5; i++) await publish(store, T0, newEvent({ eventType: TYPE_A }));
        await publish(store, T0, newEvent({ eventType: TYPE_B }));
        const a = await claim(store, W1, T0 + 1, 100, 2);
        assert.deepEqual(countBy(a, (d) => d.webhookId), new Map([[busy.id, 2], [quiet.id, 1]]));
        assert.deepEqual(await claim(store, W1, T0 + 2, 100, 2), []);
        assert.deepEqual(await claim(store, W2, T0 + 2, 100, 2), [], 'the cap counts every worker\'s leases');
        const b = await claim(store, W2, T0 + 3, 100, 3);
        assert.deepEqual(b.map((d) => d.webhookId), [busy.id], 'a higher cap lets one more out');
        await complete(store, W1, [result(a.find((d) => d.webhookId === busy.id)!, 'succeeded', T0 + 4)]);
        assert.deepEqual(await claim(store, W2, T0 + 5, 100, 2), [], 'still two in flight: one of W1, one of W2');
        assert.equal((await claim(store, W2, T0 + 5, 100, 3)).length, 1);
      });

      seeded('never more than maxInFlightPerApplication leased per application, across workers; the others are still served', async (store) => {
        const busy = [await hook(store), await hook(store), await hook(store)];
        const other = await hook(store, { ownerClientId: OWNER_B, scopeId: ITWIN_3 });
        for (let i = 0; i < 5; i++) await publish(store, T0, newEvent());
        for (let i = 0; i < 2; i++) await publish(store, T0, newEvent({ itwinId: ITWIN_3, accountId: ACCOUNT_2 }));
        const a = await claim(store, W1, T0 + 1, 100, 16, 4);
        assert.deepEqual(countBy(a, (d) => d.ownerClientId), new Map([[OWNER_A, 4], [OWNER_B, 2]]));
        assert.ok(a.every((d) => d.ownerClientId === (d.webhookId === other.id ? OWNER_B : OWNER_A)), 'each delivery names its webhook\'s owner');
        assert.deepEqual(await claim(store, W2, T0 + 2, 100, 16, 4), [], 'the cap counts every worker\'s leases');
        // The application at its cap is passed over: the idle timer does not wake for it.
        assert.equal(await store.nextReadyAt(16, 4), undefined);
        assert.ok((await store.nextReadyAt(16, 5))! <= T0 + 2, 'with room for one more, its lanes are ready');
        await complete(store, W1, [result(a.find((d) => d.ownerClientId === OWNER_A)!, 'succeeded', T0 + 3)]);
        const b = await claim(store, W2, T0 + 4, 100, 16, 4);
        assert.deepEqual(b.map((d) => d.ownerClientId), [OWNER_A], 'one result written: one more');
        const refill = await complete(store, W1, a.filter((d) => d.ownerClientId === OWNER_A).slice(1, 3).map((d) => result(d, 'succeeded', T0 + 5)), {
          now: T0 + 6, limit: 100, maxInFlightPerWebhook: 16, maxInFlightPerApplication: 4,
        });
        assert.equal(refill.claimed.length, 2, 'a refill along a completion keeps to the cap too');
        const all = [...a, ...b, ...refill.claimed].filter((d) => d.ownerClientId === OWNER_A);
        assert.equal(new Set(all.map((d) => d.id)).size, 7, 'no delivery leased twice');
        assert.ok(all.every((d) => busy.some((w) => w.id === d.webhookId)));
      });

      seeded('the lanes of an application at its cap do not hide another application\'s lane from small claims', async (store) => {
        for (let i = 0; i < 100; i++) await hook(store);
        await publish(store, T0, newEvent());
        const other = await hook(store, { ownerClientId: OWNER_B, scopeId: ITWIN_3 });
        await publish(store, T0, newEvent({ itwinId: ITWIN_3, accountId: ACCOUNT_2 }));
        assert.deepEqual((await claim(store, W1, T0 + 1, 1, 16, 1)).map((d) => d.ownerClientId), [OWNER_A]);
        // 99 lanes of OWNER_A have due work and no room; each small claim passes over some of them.
        const served: ClaimedDelivery[] = [];
        for (let i = 0; i < 5 && served.length === 0; i++) served.push(...(await claim(store, W1, T0 + 2 + i, 2, 16, 1)));
        assert.deepEqual(served.map((d) => d.webhookId), [other.id]);
      });

      seeded('the lanes a claim passed over when its application\'s room ran out keep their turn: every lane is served once before any twice', async (store) => {
        // One application, 20 webhooks with two due deliveries each; cap 1 per webhook and 2
        // per application, claims of 4. A claim leases from two lanes, and reads on (it is
        // not full) past lanes that have room but whose application has none: those must be
        // the next ones served, not wait for a whole round of the lanes behind the ones just
        // served.
        const hooks: WebhookRecord[] = [];
        for (let i = 0; i < 20; i++) hooks.push(await hook(store));
        await publish(store, T0, newEvent(), newEvent());
        const served: string[] = [];
        for (let i = 0; i < hooks.length / 2; i++) {
          const batch = await claim(store, W1, T0 + 1 + 2 * i, 4, 1, 2);
          assert.equal(batch.length, 2, `claim ${i + 1} leases up to the application's cap`);
          served.push(...batch.map((d) => d.webhookId));
          await complete(store, W1, batch.map((d) => result(d, 'succeeded', T0 + 2 + 2 * i)));
        }
        assert.equal(new Set(served).size, hooks.length, `ten claims of two serve each of the 20 lanes once (served: ${served.map((id) => hooks.findIndex((w) => w.id === id)).join(' ')})`);
      });

      seeded('concurrent claims never lease one delivery twice nor exceed the cap', async (store) => {
        const hooks = [await hook(store), await hook(store), await hook(store)];
        for (let i = 0; i < 10; i++) await publish(store, T0, newEvent());
        const workers = Array.from({ length: 8 }, (_, i) => `worker-${i}`);
        for (const wk of workers) await store.heartbeat(wk, T0);
        const batches = await Promise.all(workers.map((wk, i) => claim(store, wk, T0 + 1 + i, 3, 4)));
        for (const b of batches) assert.ok(b.length <= 3);
        // A claim may pass over a lane another claim holds at that instant (SKIP LOCKED):
        // what is left is taken by the next claim, never more than the cap.
        const rest = await claim(store, 'worker-late', T0 + 20, 12, 4);
        const all = [...batches.flat(), ...rest];
        assert.equal(new Set(all.map((d) => d.id)).size, all.length, 'no delivery leased twice');
        const perHook = countBy(all, (d) => d.webhookId);
        for (const w of hooks) assert.equal(perHook.get(w.id), 4, 'each webhook filled exactly to its cap');
      });

      seeded('limit is respected', async (store) => {
        await hook(store);
        await hook(store);
        for (let i = 0; i < 5; i++) await publish(store, T0, newEvent());
        assert.equal((await claim(store, W1, T0, 3, 16)).length, 3);
        assert.equal((await claim(store, W1, T0, 4, 16)).length, 4);
        assert.equal((await claim(store, W1, T0, 100, 16)).length, 3);
      });

      seeded('round-robin: with limit 3 and cap 1, the first claims cover all three webhooks', async (store) => {
        const hooks = [await hook(store), await hook(store), await hook(store)];
        for (let i = 0; i < 10; i++) await publish(store, T0, newEvent());
        const first = await claim(store, W1, T0 + 1, 3, 1);
        assert.deepEqual(first.map((d) => d.webhookId).sort(), hooks.map((w) => w.id).sort());
        // Freeing one slot of each webhook lets each of them send one more.
        await complete(store, W1, first.map((d) => result(d, 'succeeded', T0 + 2)));
        const second = await claim(store, W1, T0 + 3, 3, 1);
        assert.deepEqual(second.map((d) => d.webhookId).sort(), hooks.map((w) => w.id).sort());
      });

      seeded('round-robin: successive small claims rotate across webhooks', async (store) => {
        const hooks = [await hook(store), await hook(store), await hook(store)];
        for (let i = 0; i < 10; i++) await publish(store, T0, newEvent());
        const served = new Set<string>();
        for (let i = 1; i <= 3; i++) for (const d of await claim(store, W1, T0 + i, 2, 16)) served.add(d.webhookId);
        assert.deepEqual([...served].sort(), hooks.map((w) => w.id).sort());
      });

      seeded('round-robin: successive small claims at the same instant rotate across webhooks', async (store) => {
        const hooks = [await hook(store), await hook(store), await hook(store)];
        for (let i = 0; i < 10; i++) await publish(store, T0, newEvent());
        const served = new Set<string>();
        // All three lanes became ready at T0 and every claim happens at T0 too (a busy
        // dispatcher claims several times within one millisecond).
        for (let i = 1; i <= 3; i++) for (const d of await claim(store, W1, T0, 2, 16)) served.add(d.webhookId);
        assert.deepEqual([...served].sort(), hooks.map((w) => w.id).sort(), 'a lane just served goes behind the others that are ready');
      });

      seeded('a backlogged webhook does not starve a newcomer', async (store) => {
        const backlog = await hook(store, { eventTypes: [TYPE_A] });
        const newcomer = await hook(store, { eventTypes: [TYPE_B] });
        for (let i = 0; i < 20; i++) await publish(store, T0, newEvent({ eventType: TYPE_A }));
        assert.deepEqual(countBy(await claim(store, W1, T0 + 1, 3, 16), (d) => d.webhookId), new Map([[backlog.id, 3]]));
        await publish(store, T0 + 2, newEvent({ eventType: TYPE_B }));
        const next = [...(await claim(store, W1, T0 + 3, 3, 16)), ...(await claim(store, W1, T0 + 4, 3, 16))];
        assert.ok(next.some((d) => d.webhookId === newcomer.id), 'the newcomer is served within the next two claims');
      });

      seeded('oldest due first within a webhook', async (store) => {
        const w = await hook(store);
        const events = [newEvent(), newEvent(), newEvent()];
        for (const [i, e] of events.entries()) await publish(store, T0 + i, e);
        await store.heartbeat(W1, T0);
        const first: string[] = [];
        for (let i = 0; i < 3; i++) first.push((await claim(store, W1, T0 + 10, 1, 16))[0]!.messageId);
        assert.deepEqual(first, events.map((e) => e.messageId), 'published order when due in that order');
        const leased = await deliveries(store, w.id);
        // Retries due in another order than the publish order.
        const due = new Map([[events[0]!.messageId, T0 + 100], [events[1]!.messageId, T0 + 50], [events[2]!.messageId, T0 + 75]]);
        await complete(
          store,
          W1,
          leased.map((d) =>
            result({ id: d.id, webhookId: w.id, attempt: 1 } as ClaimedDelivery, 'retry', T0 + 20, { nextAttemptAt: due.get(d.messageId) }),
          ),
        );
        const late = newEvent();
        await publish(store, T0 + 60, late);
        const order: string[] = [];
        for (;;) {
          const [d] = await claim(store, W1, T0 + 200, 1, 16);
          if (d === undefined) break;
          order.push(d.messageId);
        }
        assert.deepEqual(order, [events[1]!.messageId, late.messageId, events[2]!.messageId, events[0]!.messageId]);
        assert.equal((await deliveries(store, w.id, 'pending')).length, 4);
      });
    });

    // -----------------------------------------------------------------------------------
    describe('completeDeliveries', () => {
      seeded('succeeded: final, recorded, the slot is free', async (store) => {
        const w = await hook(store);
        await publish(store, T0, newEvent(), newEvent());
        await store.heartbeat(W1, T0);
        const [d] = await claim(store, W1, T0 + 1, 1, 1);
        const effects = await complete(store, W1, [result(d!, 'succeeded', T0 + 2, { durationMs: 42, responseBody: 'thanks' })]);
        assert.deepEqual(effects, { deactivated: [], stale: 0, claimed: [] });
        const detail = await store.getDelivery(w.id, d!.id);
        assert.equal(detail!.status, 'succeeded');
        assert.equal(detail!.attempts, 1);
        assert.equal(detail!.nextAttemptAt, undefined);
        assert.equal(detail!.lastStatusCode, 200);
        assert.equal(detail!.lastError, undefined);
        assert.deepEqual(detail!.attemptLog, [{ attempt: 1, startedAt: T0 + 2, durationMs: 42, statusCode: 200, error: undefined, responseBody: 'thanks' }]);
        assert.equal((await store.deliveryStats()).pending, 1);
        const [next] = await claim(store, W1, T0 + 3, 1, 1);
        assert.notEqual(next, undefined, 'cap 1: the freed slot takes the next delivery');
        assert.notEqual(next!.id, d!.id);
      });

      seeded('failed: final, with the error; never claimed again', async (store) => {
        const w = await hook(store);
        await publish(store, T0, newEvent());
        await store.heartbeat(W1, T0);
        const [d] = await claim(store, W1, T0);
        await complete(store, W1, [result(d!, 'failed', T0 + 1, { statusCode: undefined, error: 'ECONNREFUSED', responseBody: undefined })]);
        const detail = await store.getDelivery(w.id, d!.id);
        assert.equal(detail!.status, 'failed');
        assert.equal(detail!.lastStatusCode, undefined);
        assert.equal(detail!.lastError, 'ECONNREFUSED');
        assert.deepEqual(detail!.attemptLog, [{ attempt: 1, startedAt: T0 + 1, durationMs: 10, statusCode: undefined, error: 'ECONNREFUSED', responseBody: undefined }]);
        assert.deepEqual(await claim(store, W1, T0 + DAY), []);
        assert.deepEqual(await store.deliveryStats(), { pending: 0, oldestDueAt: undefined });
        assert.equal((await store.getWebhook(OWNER_A, w.id))!.active, true, 'one failure does not deactivate');
      });

      seeded('retry: pending until nextAttemptAt, claimable from then on, with the next attempt number', async (store) => {
        const w = await hook(store);
        await publish(store, T0, newEvent());
        await store.heartbeat(W1, T0);
        const [d] = await claim(store, W1, T0);
        const effects = await complete(store, W1, [result(d!, 'retry', T0 + 1, { nextAttemptAt: T0 + 5 * MINUTE })]);
        assert.deepEqual(effects, { deactivated: [], stale: 0, claimed: [] });
        const s = (await deliveries(store, w.id))[0]!;
        assert.equal(s.status, 'pending');
        assert.equal(s.attempts, 1);
        assert.equal(s.nextAttemptAt, T0 + 5 * MINUTE);
        assert.equal(s.lastStatusCode, 503);
        assert.deepEqual(await claim(store, W1, T0 + 5 * MINUTE - 1), []);
        const [again] = await claim(store, W1, T0 + 5 * MINUTE);
        assert.equal(again!.id, d!.id);
        assert.equal(again!.attempt, 2);
      });

      seeded('every attempt of a delivery is in its history, in order, with its own details', async (store) => {
        const w = await hook(store);
        await publish(store, T0, newEvent());
        await store.heartbeat(W1, T0);
        let at = T0;
        for (const [outcome, body] of [['retry', 'busy'], ['retry', 'still busy'], ['succeeded', 'thanks']] as const) {
          const [d] = await claim(store, W1, at);
          assert.notEqual(d, undefined, `attempt due at ${at}`);
          const r = result(d!, outcome, at + 1, { responseBody: body, durationMs: d!.attempt * 7 });
          await complete(store, W1, [r]);
          at = r.nextAttemptAt ?? at;
        }
        const detail = await store.getDelivery(w.id, (await deliveries(store, w.id))[0]!.id);
        assert.equal(detail!.status, 'succeeded');
        assert.equal(detail!.attempts, 3);
        assert.deepEqual(
          detail!.attemptLog.map((a) => [a.attempt, a.statusCode, a.durationMs, a.responseBody]),
          [
            [1, 503, 7, 'busy'],
            [2, 503, 14, 'still busy'],
            [3, 200, 21, 'thanks'],
          ],
        );
      });

      seeded('gone: the webhook is deactivated at once and its other pending deliveries cancelled', async (store) => {
        const w = await hook(store);
        const other = await hook(store, { scope: 'Account', scopeId: ACCOUNT_1 });
        for (let i = 0; i < 4; i++) await publish(store, T0, newEvent());
        await store.heartbeat(W1, T0);
        const leased = await claim(store, W1, T0 + 1, 100, 2);
        const mine = leased.filter((d) => d.webhookId === w.id);
        assert.equal(mine.length, 2);
        const effects = await complete(store, W1, [result(mine[0]!, 'gone', T0 + 2)]);
        assert.deepEqual(effects, { deactivated: [{ webhookId: w.id, cause: 'gone' }], stale: 0, claimed: [] });
        assert.equal((await store.getWebhook(OWNER_A, w.id))!.active, false);
        assert.equal(await statusOf(store, w.id, mine[0]!.id), 'failed');
        assert.equal((await deliveries(store, w.id, 'cancelled')).length, 2, 'the two never-sent ones');
        assert.equal((await deliveries(store, w.id, 'pending')).length, 1, 'the one still in flight');
        // The in-flight one's retry is cancelled: the webhook is inactive now.
        await complete(store, W1, [result(mine[1]!, 'retry', T0 + 3)]);
        assert.equal(await statusOf(store, w.id, mine[1]!.id), 'cancelled');
        assert.equal((await store.getWebhook(OWNER_A, other.id))!.active, true);
        assert.equal((await deliveries(store, other.id, 'pending')).length, 4);
        assert.ok((await claim(store, W1, T0 + 4)).every((d) => d.webhookId === other.id));
        assert.equal((await publish(store, T0 + 5, newEvent()))[0]!.matchedWebhooks, 1);
      });

      seeded('several gone results for one webhook in a batch deactivate it once', async (store) => {
        const w = await hook(store);
        for (let i = 0; i < 3; i++) await publish(store, T0, newEvent());
        await store.heartbeat(W1, T0);
        const leased = await claim(store, W1, T0);
        const effects = await complete(store, W1, leased.map((d) => result(d, 'gone', T0 + 1)));
        assert.deepEqual(effects.deactivated, [{ webhookId: w.id, cause: 'gone' }]);
        assert.equal((await deliveries(store, w.id, 'failed')).length, 3);
      });

      seeded('retries of a webhook deactivated meanwhile are cancelled; final outcomes still apply', async (store) => {
        const w = await hook(store);
        for (let i = 0; i < 3; i++) await publish(store, T0, newEvent());
        await store.heartbeat(W1, T0);
        const [a, b, c] = await claim(store, W1, T0);
        await store.updateWebhook(OWNER_A, w.id, { active: false }, T0 + 1);
        assert.equal((await deliveries(store, w.id, 'pending')).length, 3, 'leased deliveries stay pending until their result');
        const effects = await complete(store, W1, [result(a!, 'retry', T0 + 2), result(b!, 'succeeded', T0 + 2), result(c!, 'failed', T0 + 2)]);
        assert.equal(effects.stale, 0);
        assert.deepEqual(effects.deactivated, []);
        assert.equal(await statusOf(store, w.id, a!.id), 'cancelled');
        assert.equal(await statusOf(store, w.id, b!.id), 'succeeded');
        assert.equal(await statusOf(store, w.id, c!.id), 'failed');
        assert.equal((await store.getDelivery(w.id, a!.id))!.attemptLog.length, 1, 'the attempt itself is history');
        assert.deepEqual(await claim(store, W1, T0 + DAY), []);
        assert.deepEqual(await store.deliveryStats(), { pending: 0, oldestDueAt: undefined });
      });

      seeded('a result from a worker that lost its lease is stale: recorded, but it changes nothing', async (store) => {
        const w = await hook(store);
        await publish(store, T0, newEvent());
        await store.heartbeat(W1, T0);
        const [d1] = await claim(store, W1, T0, 100, 1);
        await store.heartbeat(W2, T0 + 2 * MINUTE);
        assert.equal(await store.reapExpiredLeases(T0 + 2 * MINUTE, MINUTE), 1);
        const [d2] = await claim(store, W2, T0 + 2 * MINUTE, 100, 1);
        assert.equal(d2!.id, d1!.id);
        // W1 was only slow: its result arrives now. W2's lease is what counts.
        const late = await complete(store, W1, [result(d1!, 'gone', T0 + MINUTE)], { now: T0 + 3 * MINUTE, limit: 10, maxInFlightPerWebhook: 1 });
        assert.deepEqual(late, { deactivated: [], stale: 1, claimed: [] }, 'no state change and no slot freed by a stale result');
        assert.equal((await store.getWebhook(OWNER_A, w.id))!.active, true);
        assert.equal(await statusOf(store, w.id, d1!.id), 'pending');
        assert.equal((await store.getDelivery(w.id, d1!.id))!.attemptLog.length, 1, 'the late attempt is in the history');
        const effects = await complete(store, W2, [result(d2!, 'succeeded', T0 + 3 * MINUTE)]);
        assert.equal(effects.stale, 0);
        const detail = await store.getDelivery(w.id, d1!.id);
        assert.equal(detail!.status, 'succeeded');
        assert.deepEqual(detail!.attemptLog.map((a) => a.statusCode), [410, 200]);
        // The same completion again (its answer was lost and the worker retried it) is stale, and its attempt is not recorded twice.
        assert.equal((await complete(store, W2, [result(d2!, 'succeeded', T0 + 3 * MINUTE)])).stale, 1);
        assert.deepEqual((await store.getDelivery(w.id, d1!.id))!.attemptLog.map((a) => a.statusCode), [410, 200]);
        // A duplicate of a result already written is stale too.
        assert.equal((await complete(store, W2, [result(d2!, 'failed', T0 + 4 * MINUTE)])).stale, 1);
        assert.equal(await statusOf(store, w.id, d1!.id), 'succeeded');
      });

      seeded('results for a lease the worker never held, or for unknown deliveries, are stale', async (store) => {
        const w = await hook(store);
        await publish(store, T0, newEvent());
        await store.heartbeat(W1, T0);
        await store.heartbeat(W2, T0);
        const [d] = await claim(store, W1, T0);
        const forged = await complete(store, W2, [result(d!, 'succeeded', T0 + 1)]);
        assert.equal(forged.stale, 1);
        assert.equal(await statusOf(store, w.id, d!.id), 'pending');
        const ghost: ClaimedDelivery = { ...d!, id: '987654321' };
        assert.equal((await complete(store, W1, [result(ghost, 'succeeded', T0 + 1)])).stale, 1);
        assert.equal((await complete(store, W1, [result(d!, 'succeeded', T0 + 2)])).stale, 0);
        assert.equal(await statusOf(store, w.id, d!.id), 'succeeded');
      });

      seeded('a failing streak deactivates the webhook once deactivateFailingAfterMs has passed since its first failure', async (store) => {
        const w = await hook(store);
        const other = await hook(store, { scope: 'Account', scopeId: ACCOUNT_1 });
        await store.heartbeat(W1, T0);
        /** Publishes one event, then every due delivery of `w` fails at `at`; the other webhook's succeed. */
        const failOnce = async (at: number, outcome: AttemptOutcome = 'retry') => {
          await publish(store, at, newEvent());
          const leased = await claim(store, W1, at);
          return complete(store, W1, leased.map((d) => result(d, d.webhookId === w.id ? outcome : 'succeeded', at)));
        };
        assert.deepEqual((await failOnce(T0)).deactivated, []);
        assert.deepEqual((await failOnce(T0 + 2 * DAY, 'failed')).deactivated, []);
        assert.deepEqual((await failOnce(T0 + 5 * DAY - MINUTE)).deactivated, [], 'not yet five days');
        assert.equal((await store.getWebhook(OWNER_A, w.id))!.active, true);
        const effects = await failOnce(T0 + 5 * DAY + MINUTE);
        assert.deepEqual(effects.deactivated, [{ webhookId: w.id, cause: 'failing' }]);
        assert.equal((await store.getWebhook(OWNER_A, w.id))!.active, false);
        assert.deepEqual(await deliveries(store, w.id, 'pending'), [], 'its pending deliveries (the retries just written) are cancelled');
        assert.ok((await deliveries(store, w.id, 'cancelled')).length >= 1);
        assert.equal((await store.getWebhook(OWNER_A, other.id))!.active, true);
        assert.deepEqual((await failOnce(T0 + 6 * DAY)).deactivated, [], 'reported once');
      });

      seeded('a success ends the failing streak', async (store) => {
        const w = await hook(store);
        await store.heartbeat(W1, T0);
        /** Publishes one event, then every due delivery gets `outcome` at `at`. */
        const attempt = async (at: number, outcome: AttemptOutcome) => {
          await publish(store, at, newEvent());
          const leased = await claim(store, W1, at);
          return complete(store, W1, leased.map((d) => result(d, outcome, at)));
        };
        await attempt(T0, 'retry');
        await attempt(T0 + 3 * DAY, 'succeeded');
        assert.deepEqual((await attempt(T0 + 4 * DAY, 'retry')).deactivated, []);
        assert.deepEqual((await attempt(T0 + 6 * DAY, 'retry')).deactivated, [], 'the streak started at day 4, not day 0');
        assert.equal((await store.getWebhook(OWNER_A, w.id))!.active, true);
        assert.deepEqual((await attempt(T0 + 9 * DAY + MINUTE, 'failed')).deactivated, [{ webhookId: w.id, cause: 'failing' }]);
      });

      seeded('the claim argument leases new deliveries in the same call, within the freed slots', async (store) => {
        const w = await hook(store);
        for (let i = 0; i < 5; i++) await publish(store, T0, newEvent());
        await store.heartbeat(W1, T0);
        const opts = { limit: 10, maxInFlightPerWebhook: 2 };
        const [a, b] = await claim(store, W1, T0, 10, 2);
        const r1 = await complete(store, W1, [result(a!, 'succeeded', T0 + 1)], { now: T0 + 2, ...opts });
        assert.equal(r1.claimed.length, 1, 'one slot freed, one still held by b');
        assert.equal(r1.claimed[0]!.webhookId, w.id);
        assert.equal(r1.claimed[0]!.attempt, 1);
        assert.notEqual(r1.claimed[0]!.id, b!.id);
        const r2 = await complete(store, W1, [result(b!, 'succeeded', T0 + 3), result(r1.claimed[0]!, 'retry', T0 + 3, { nextAttemptAt: T0 + HOUR })], {
          now: T0 + 4,
          ...opts,
        });
        assert.equal(r2.claimed.length, 2, 'the retry is not due yet; the two freed slots take the last two');
        const ids = new Set([a!.id, b!.id, r1.claimed[0]!.id, ...r2.claimed.map((d) => d.id)]);
        assert.equal(ids.size, 5);
        const r3 = await complete(store, W1, r2.claimed.map((d) => result(d, 'succeeded', T0 + 5)), { now: T0 + 6, ...opts });
        assert.deepEqual(r3.claimed, []);
        const r4 = await complete(store, W1, [], { now: T0 + HOUR, ...opts });
        assert.deepEqual(r4.claimed.map((d) => [d.id, d.attempt]), [[r1.claimed[0]!.id, 2]], 'an empty batch can still claim');
      });

      seeded('the claim argument respects its limit and serves other webhooks too', async (store) => {
        const w1 = await hook(store, { eventTypes: [TYPE_A] });
        const w2 = await hook(store, { eventTypes: [TYPE_B] });
        await publish(store, T0, newEvent({ eventType: TYPE_A }), newEvent({ eventType: TYPE_A }));
        await store.heartbeat(W1, T0);
        const [a] = await claim(store, W1, T0, 1, 16);
        await publish(store, T0 + 1, newEvent({ eventType: TYPE_B }), newEvent({ eventType: TYPE_B }), newEvent({ eventType: TYPE_B }));
        const r = await complete(store, W1, [result(a!, 'succeeded', T0 + 2)], { now: T0 + 3, limit: 2, maxInFlightPerWebhook: 16 });
        assert.equal(r.claimed.length, 2);
        assert.ok(r.claimed.some((d) => d.webhookId === w2.id));
        const rest = await claim(store, W1, T0 + 4, 100, 16);
        assert.equal(rest.length, 2);
        assert.equal(countBy([...r.claimed, ...rest], (d) => d.webhookId).get(w1.id), 1);
      });
    });

    // -----------------------------------------------------------------------------------
    describe('leases: heartbeat, reaping and release', () => {
      seeded('an expired worker\'s leases return to the queue, due now, and another worker takes them', async (store) => {
        const w = await hook(store);
        for (let i = 0; i < 3; i++) await publish(store, T0, newEvent());
        const ttl = 30 * SECOND;
        await store.heartbeat(W1, T0);
        await store.heartbeat(W2, T0);
        const mine = await claim(store, W1, T0, 2, 16);
        const theirs = await claim(store, W2, T0, 2, 16);
        assert.equal(mine.length + theirs.length, 3);
        await store.heartbeat(W2, T0 + ttl);
        const at = T0 + ttl + SECOND;
        assert.equal(await store.reapExpiredLeases(at, ttl), 2, 'W1 stopped heartbeating; W2 is alive');
        const pending = await deliveries(store, w.id, 'pending');
        assert.equal(pending.length, 3);
        for (const d of pending.filter((p) => mine.some((m) => m.id === p.id))) assert.equal(d.nextAttemptAt, at, 'due now');
        const taken = await claim(store, W2, at, 100, 16);
        assert.deepEqual(taken.map((d) => d.id).sort(), mine.map((d) => d.id).sort());
        assert.ok(taken.every((d) => d.attempt === 1), 'no attempt was recorded, so it is still the first');
        assert.equal(await store.reapExpiredLeases(at, ttl), 0, 'nothing left to reap');
        assert.equal((await complete(store, W2, [...taken, ...theirs].map((d) => result(d, 'succeeded', at)))).stale, 0);
      });

      seeded('a live worker keeps its leases; a worker that never sent a heartbeat does not', async (store) => {
        await hook(store);
        for (let i = 0; i < 2; i++) await publish(store, T0, newEvent());
        const ttl = MINUTE;
        await store.heartbeat(W1, T0);
        await claim(store, W1, T0, 1, 16);
        await claim(store, 'silent-worker', T0, 1, 16);
        await store.heartbeat(W1, T0 + 50 * SECOND);
        assert.equal(await store.reapExpiredLeases(T0 + 50 * SECOND, ttl), 1, 'only the silent worker\'s lease');
        await store.heartbeat(W1, T0 + 100 * SECOND);
        assert.equal(await store.reapExpiredLeases(T0 + 100 * SECOND + ttl - 1, ttl), 0, 'renewed in time');
        assert.equal(await store.reapExpiredLeases(T0 + 100 * SECOND + ttl + 1, ttl), 1);
      });

      seeded('reaping frees the per-webhook slots', async (store) => {
        await hook(store);
        await publish(store, T0, newEvent(), newEvent());
        await store.heartbeat(W1, T0);
        const [d] = await claim(store, W1, T0, 10, 1);
        assert.deepEqual(await claim(store, W2, T0, 10, 1), []);
        await store.heartbeat(W2, T0 + HOUR);
        assert.equal(await store.reapExpiredLeases(T0 + HOUR, MINUTE), 1);
        const taken = await claim(store, W2, T0 + HOUR, 10, 1);
        assert.equal(taken.length, 1, 'cap 1: exactly one, so the reaped slot was given back');
        assert.equal((await complete(store, W2, [result(taken[0]!, 'succeeded', T0 + HOUR)])).stale, 0);
        assert.equal((await complete(store, W1, [result(d!, 'succeeded', T0 + HOUR)])).stale, 1);
      });

      seeded('releaseWorker returns a worker\'s leases, due now, and leaves other workers alone', async (store) => {
        const w = await hook(store);
        for (let i = 0; i < 4; i++) await publish(store, T0, newEvent());
        await store.heartbeat(W1, T0);
        await store.heartbeat(W2, T0);
        const mine = await claim(store, W1, T0, 3, 3);
        const theirs = await claim(store, W2, T0, 3, 4);
        assert.equal(mine.length, 3);
        assert.equal(theirs.length, 1);
        assert.equal(await store.releaseWorker(W1, T0 + 5), 3);
        assert.equal(await store.releaseWorker(W1, T0 + 5), 0);
        assert.equal(await store.releaseWorker('nobody', T0 + 5), 0);
        const pending = await deliveries(store, w.id, 'pending');
        assert.equal(pending.length, 4);
        for (const m of mine) assert.equal(pending.find((p) => p.id === m.id)!.nextAttemptAt, T0 + 5);
        const again = await claim(store, W2, T0 + 5, 10, 4);
        assert.deepEqual(again.map((d) => d.id).sort(), mine.map((d) => d.id).sort(), 'cap 4 with W2 holding 1: the three released ones');
        assert.equal((await complete(store, W2, theirs.map((d) => result(d, 'succeeded', T0 + 6)))).stale, 0);
        assert.equal((await complete(store, W1, mine.map((d) => result(d, 'succeeded', T0 + 6)))).stale, 3, 'released leases are lost');
      });

      seeded('releaseOrphanedLeases returns the worker\'s unheld leases claimed before the cutoff, and nothing else', async (store) => {
        const w = await hook(store);
        const off = await hook(store);
        for (let i = 0; i < 6; i++) await publish(store, T0, newEvent());
        await store.heartbeat(W1, T0);
        await store.heartbeat(W2, T0);
        const kept = await claim(store, W1, T0, 2, 16); // the worker got these answers
        const lost = await claim(store, W1, T0 + 10, 3, 16); // answers lost on the way
        const later = await claim(store, W1, T0 + 20, 1, 16); // a claim still under way at the cutoff
        const theirs = await claim(store, W2, T0 + 20, 100, 16);
        assert.deepEqual([kept.length, lost.length, later.length], [2, 3, 1]);
        assert.ok(theirs.length > 0 && theirs.every((d) => d.webhookId === w.id || d.webhookId === off.id));
        // Deactivate the second webhook directly in the store; its orphaned leases must be cancelled.
        const offLost = lost.filter((d) => d.webhookId === off.id);
        await store.updateWebhook(OWNER_A, off.id, { active: false }, T0 + 15);

        const held = [...kept, ...later].map((d) => d.id);
        assert.equal(await store.releaseOrphanedLeases(W1, held, T0 + 20, T0 + 30), 3, 'only the lost claim\'s leases');
        assert.equal(await store.releaseOrphanedLeases(W1, held, T0 + 20, T0 + 30), 0, 'once');
        for (const d of lost) {
          assert.equal(await statusOf(store, d.webhookId, d.id), offLost.includes(d) ? 'cancelled' : 'pending');
        }
        for (const d of [...kept, ...later, ...theirs]) assert.equal(await statusOf(store, d.webhookId, d.id), 'pending', 'still leased (pending to the API)');
        // The lost ones (of the active webhook) can be claimed again; the held ones complete normally.
        const again = await claim(store, W2, T0 + 30, 100, 16);
        assert.deepEqual(again.map((d) => d.id).sort(), lost.filter((d) => !offLost.includes(d)).map((d) => d.id).sort());
        assert.equal((await complete(store, W1, [...kept, ...later].map((d) => result(d, 'succeeded', T0 + 40)))).stale, 0);
      });
    });

    // -----------------------------------------------------------------------------------
    describe('nextReadyAt and deliveryStats', () => {
      seeded('nextReadyAt: undefined when nothing is pending, else the earliest ready time of a lane with room', async (store) => {
        const w1 = await hook(store, { eventTypes: [TYPE_A] });
        await hook(store, { eventTypes: [TYPE_B] });
        assert.equal(await store.nextReadyAt(16, NO_APP_CAP), undefined);
        await publish(store, T0 + 10, newEvent({ eventType: TYPE_A }));
        await publish(store, T0 + 20, newEvent({ eventType: TYPE_B }));
        assert.equal(await store.nextReadyAt(16, NO_APP_CAP), T0 + 10);
        await store.heartbeat(W1, T0);
        const leased = await claim(store, W1, T0 + 30);
        assert.equal(leased.length, 2);
        assert.equal(await store.nextReadyAt(16, NO_APP_CAP), undefined, 'everything is leased');
        await complete(store, W1, leased.map((d) => result(d, 'retry', T0 + 40, { nextAttemptAt: d.webhookId === w1.id ? T0 + HOUR : T0 + MINUTE })));
        assert.equal(await store.nextReadyAt(16, NO_APP_CAP), T0 + MINUTE);
        await claim(store, W1, T0 + MINUTE);
        assert.equal(await store.nextReadyAt(16, NO_APP_CAP), T0 + HOUR);
      });

      seeded('nextReadyAt skips lanes that are at their cap', async (store) => {
        await hook(store);
        await publish(store, T0, newEvent(), newEvent());
        await store.heartbeat(W1, T0);
        await claim(store, W1, T0 + 5, 1, 16);
        assert.equal(await store.nextReadyAt(1, NO_APP_CAP), undefined, 'cap 1: the lane is full');
        const at = await store.nextReadyAt(2, NO_APP_CAP);
        assert.ok(at !== undefined && at <= T0 + 5, `cap 2: the lane has room and due work (${at})`);
      });

      seeded('deliveryStats: pending count (leased included) and the oldest due time', async (store) => {
        const w = await hook(store);
        assert.deepEqual(await store.deliveryStats(), { pending: 0, oldestDueAt: undefined });
        await publish(store, T0, newEvent());
        await publish(store, T0 + 100, newEvent(), newEvent());
        assert.deepEqual(await store.deliveryStats(), { pending: 3, oldestDueAt: T0 });
        await store.heartbeat(W1, T0);
        const [first] = await claim(store, W1, T0 + 200, 1, 16);
        assert.equal((await store.deliveryStats()).pending, 3, 'a leased delivery is still pending');
        await complete(store, W1, [result(first!, 'retry', T0 + 300, { nextAttemptAt: T0 + HOUR })]);
        assert.deepEqual(await store.deliveryStats(), { pending: 3, oldestDueAt: T0 + 100 });
        const rest = await claim(store, W1, T0 + 400);
        await complete(store, W1, rest.map((d) => result(d, 'succeeded', T0 + 500)));
        assert.deepEqual(await store.deliveryStats(), { pending: 1, oldestDueAt: T0 + HOUR });
        await store.updateWebhook(OWNER_A, w.id, { active: false }, T0 + 600);
        assert.deepEqual(await store.deliveryStats(), { pending: 0, oldestDueAt: undefined });
      });
    });

    // -----------------------------------------------------------------------------------
    describe('delivery history', () => {
      seeded('listDeliveries: newest first, keyset-paged, stable when deliveries are added between pages', async (store) => {
        const w = await hook(store);
        const other = await hook(store, { scope: 'Account', scopeId: ACCOUNT_1 });
        const events: NewEvent[] = [];
        for (let i = 0; i < 5; i++) {
          const e = newEvent();
          events.push(e);
          await publish(store, T0 + i, e);
        }
        const newestFirst = [...events].reverse().map((e) => e.messageId);
        const p1 = await store.listDeliveries(w.id, undefined, 2, undefined);
        assert.deepEqual(p1.items.map((d) => d.messageId), newestFirst.slice(0, 2));
        assert.ok(p1.items.every((d) => d.webhookId === w.id));
        assert.notEqual(p1.nextCursor, undefined);
        await publish(store, T0 + 10, newEvent(), newEvent());
        const p2 = await store.listDeliveries(w.id, undefined, 2, p1.nextCursor);
        assert.deepEqual(p2.items.map((d) => d.messageId), newestFirst.slice(2, 4));
        const p3 = await store.listDeliveries(w.id, undefined, 2, p2.nextCursor);
        assert.deepEqual(p3.items.map((d) => d.messageId), newestFirst.slice(4));
        assert.equal(p3.nextCursor, undefined);
        const exact = await store.listDeliveries(w.id, undefined, 7, undefined);
        assert.equal(exact.items.length, 7);
        assert.equal(exact.nextCursor, undefined, 'no cursor when the page ends at the last delivery');
        assert.equal((await deliveries(store, other.id)).length, 7);
        assert.deepEqual(await store.listDeliveries(randomUUID(), undefined, 10, undefined), { items: [], nextCursor: undefined });
      });

      seeded('listDeliveries filters by status; pending includes deliveries being sent', async (store) => {
        const w = await hook(store);
        for (let i = 0; i < 6; i++) await publish(store, T0 + i, newEvent());
        await store.heartbeat(W1, T0);
        const leased = await claim(store, W1, T0 + 10, 5, 16);
        assert.equal(leased.length, 5);
        await complete(store, W1, [
          result(leased[0]!, 'succeeded', T0 + 20),
          result(leased[1]!, 'succeeded', T0 + 20),
          result(leased[2]!, 'failed', T0 + 20),
          result(leased[3]!, 'retry', T0 + 20, { nextAttemptAt: T0 + HOUR }),
        ]);
        const ids = async (s: DeliveryStatus | undefined) => (await deliveries(store, w.id, s)).map((d) => d.id).sort();
        assert.deepEqual(await ids('succeeded'), [leased[0]!.id, leased[1]!.id].sort());
        assert.deepEqual(await ids('failed'), [leased[2]!.id]);
        assert.equal((await ids('pending')).length, 3, 'a retry, a leased one and a never-claimed one');
        assert.ok((await ids('pending')).includes(leased[4]!.id));
        assert.deepEqual(await ids('cancelled'), []);
        assert.equal((await ids(undefined)).length, 6);
        const page = await store.listDeliveries(w.id, 'succeeded', 1, undefined);
        assert.equal(page.items.length, 1);
        assert.notEqual(page.nextCursor, undefined);
        const page2 = await store.listDeliveries(w.id, 'succeeded', 1, page.nextCursor);
        assert.equal(page2.items.length, 1);
        assert.equal(page2.nextCursor, undefined);
        assert.deepEqual([page.items[0]!.id, page2.items[0]!.id].sort(), [leased[0]!.id, leased[1]!.id].sort());
        await store.updateWebhook(OWNER_A, w.id, { active: false }, T0 + 30);
        assert.equal((await ids('cancelled')).length, 2, 'the retry and the never-claimed one');
        assert.deepEqual(await ids('pending'), [leased[4]!.id], 'the leased one awaits its result');
      });

      seeded('getDelivery returns the detail with every attempt in order', async (store) => {
        const w = await hook(store);
        const e = newEvent({ contentJson: ODD_CONTENT });
        await publish(store, T0, e);
        await store.heartbeat(W1, T0);
        let [d] = await claim(store, W1, T0);
        await complete(store, W1, [result(d!, 'retry', T0 + 1, { statusCode: undefined, error: 'timeout', responseBody: undefined, durationMs: 5000, nextAttemptAt: T0 + MINUTE })]);
        [d] = await claim(store, W1, T0 + MINUTE);
        await complete(store, W1, [result(d!, 'retry', T0 + MINUTE, { statusCode: 429, error: 'HTTP 429', responseBody: 'slow down', nextAttemptAt: T0 + HOUR })]);
        [d] = await claim(store, W1, T0 + HOUR);
        assert.equal(d!.attempt, 3);
        await complete(store, W1, [result(d!, 'succeeded', T0 + HOUR, { statusCode: 204, responseBody: '' })]);
        const detail = await store.getDelivery(w.id, d!.id);
        assert.deepEqual(detail, {
          id: d!.id,
          webhookId: w.id,
          messageId: e.messageId,
          eventType: TYPE_A,
          status: 'succeeded',
          attempts: 3,
          createdAt: T0,
          updatedAt: detail!.updatedAt,
          nextAttemptAt: undefined,
          lastStatusCode: 204,
          lastError: undefined,
          itwinId: ITWIN_1,
          contentJson: ODD_CONTENT,
          enqueuedAt: T0,
          attemptLog: [
            { attempt: 1, startedAt: T0 + 1, durationMs: 5000, statusCode: undefined, error: 'timeout', responseBody: undefined },
            { attempt: 2, startedAt: T0 + MINUTE, durationMs: 10, statusCode: 429, error: 'HTTP 429', responseBody: 'slow down' },
            { attempt: 3, startedAt: T0 + HOUR, durationMs: 10, statusCode: 204, error: undefined, responseBody: '' },
          ],
        });
        assert.ok(detail!.updatedAt >= T0 + HOUR);
        const summary = (await deliveries(store, w.id))[0]!;
        const { itwinId: _i, contentJson: _c, enqueuedAt: _e, attemptLog: _l, ...rest } = detail!;
        assert.deepEqual(summary, rest, 'the list shows the same summary');
      });

      seeded('getDelivery: another webhook\'s delivery, an unknown id or a malformed id is undefined', async (store) => {
        const w = await hook(store);
        const other = await hook(store);
        await publish(store, T0, newEvent());
        const [d] = await deliveries(store, w.id);
        assert.ok(await store.getDelivery(w.id, d!.id));
        assert.equal(await store.getDelivery(other.id, d!.id), undefined);
        assert.equal(await store.getDelivery(randomUUID(), d!.id), undefined);
        for (const bad of ['999999', '0', '-1', 'abc', '', '1.5', ' 1', randomUUID(), '99999999999999999999999999', `${d!.id}x`]) {
          assert.equal(await store.getDelivery(w.id, bad), undefined, JSON.stringify(bad));
          assert.equal(await store.redeliver(w.id, bad, T0), undefined, JSON.stringify(bad));
        }
      });

      seeded('redeliver makes a final delivery pending and claimable now, with the next attempt number', async (store) => {
        const w = await hook(store);
        await publish(store, T0, newEvent(), newEvent(), newEvent());
        await store.heartbeat(W1, T0);
        const [a, b, c] = await claim(store, W1, T0);
        await complete(store, W1, [result(a!, 'succeeded', T0 + 1), result(b!, 'failed', T0 + 1), result(c!, 'retry', T0 + 1, { nextAttemptAt: T0 + HOUR })]);
        await store.updateWebhook(OWNER_A, w.id, { active: false }, T0 + 2);
        await store.updateWebhook(OWNER_A, w.id, { active: true }, T0 + 3);
        assert.equal(await statusOf(store, w.id, c!.id), 'cancelled');
        const now = T0 + DAY;
        for (const d of [a!, b!, c!]) {
          const s = await store.redeliver(w.id, d.id, now);
          assert.equal(s!.id, d.id);
          assert.equal(s!.status, 'pending');
          assert.equal(s!.nextAttemptAt, now);
          assert.equal(s!.attempts, 1);
          assert.equal(s!.webhookId, w.id);
        }
        assert.deepEqual(await claim(store, W1, now - 1), [], 'due now, not before');
        const again = await claim(store, W1, now);
        assert.deepEqual(again.map((d) => d.id).sort(), [a!.id, b!.id, c!.id].sort());
        assert.ok(again.every((d) => d.attempt === 2));
        await complete(store, W1, again.map((d) => result(d, 'succeeded', now + 1)));
        assert.equal((await store.getDelivery(w.id, a!.id))!.attemptLog.length, 2);
      });

      seeded('redeliver of a pending delivery makes it due now; of a leased one changes nothing', async (store) => {
        const w = await hook(store);
        await publish(store, T0, newEvent(), newEvent());
        await store.heartbeat(W1, T0);
        const [a, b] = await claim(store, W1, T0);
        await complete(store, W1, [result(a!, 'retry', T0 + 1, { nextAttemptAt: T0 + DAY })]);
        const s = await store.redeliver(w.id, a!.id, T0 + MINUTE);
        assert.equal(s!.status, 'pending');
        assert.equal(s!.nextAttemptAt, T0 + MINUTE);
        assert.equal(await store.nextReadyAt(16, NO_APP_CAP), T0 + MINUTE);
        const leasedSummary = await store.redeliver(w.id, b!.id, T0 + MINUTE);
        assert.equal(leasedSummary!.status, 'pending');
        const claimed = await claim(store, W2, T0 + MINUTE);
        assert.deepEqual(claimed.map((d) => d.id), [a!.id], 'the leased one is not leased a second time');
        assert.equal((await complete(store, W1, [result(b!, 'succeeded', T0 + 2 * MINUTE)])).stale, 0, 'its lease still holds');
      });

      seeded('redeliver of another webhook\'s delivery or an unknown one is undefined and changes nothing', async (store) => {
        const w = await hook(store);
        const other = await hook(store, { ownerClientId: OWNER_B, scope: 'iTwin', scopeId: ITWIN_1 });
        await publish(store, T0, newEvent());
        await store.heartbeat(W1, T0);
        const leased = await claim(store, W1, T0);
        await complete(store, W1, leased.map((d) => result(d, 'succeeded', T0 + 1)));
        const mine = leased.find((d) => d.webhookId === w.id)!;
        assert.equal(await store.redeliver(other.id, mine.id, T0 + 2), undefined);
        assert.equal(await statusOf(store, w.id, mine.id), 'succeeded');
        assert.equal(await store.redeliver(w.id, '123456789', T0 + 2), undefined);
        assert.deepEqual(await claim(store, W1, T0 + 3), []);
      });
    });

    describe('delivery insights: event-type filter, webhook health, statistics', () => {
      seeded('listDeliveries filters by event type, alone and with a status, across pages', async (store) => {
        const w = await hook(store, { eventTypes: [TYPE_A, TYPE_B] });
        for (let i = 0; i < 3; i++) await publish(store, T0 + i, newEvent({ eventType: TYPE_A }), newEvent({ eventType: TYPE_B }));
        await store.heartbeat(W1, T0);
        const [first] = (await claim(store, W1, T0 + 10, 1)).filter((d) => d.eventType === TYPE_A);
        assert.ok(first !== undefined, 'the oldest delivery is of TYPE_A');
        await complete(store, W1, [result(first, 'succeeded', T0 + 11)]);
        const p1 = await store.listDeliveries(w.id, undefined, 2, undefined, TYPE_B);
        assert.deepEqual(p1.items.map((d) => d.eventType), [TYPE_B, TYPE_B]);
        const p2 = await store.listDeliveries(w.id, undefined, 2, p1.nextCursor, TYPE_B);
        assert.deepEqual(p2.items.map((d) => d.eventType), [TYPE_B]);
        assert.equal(p2.nextCursor, undefined);
        assert.deepEqual((await store.listDeliveries(w.id, 'succeeded', 10, undefined, TYPE_A)).items.map((d) => d.id), [first.id]);
        assert.deepEqual((await store.listDeliveries(w.id, 'succeeded', 10, undefined, TYPE_B)).items, []);
        assert.equal((await store.listDeliveries(w.id, 'pending', 10, undefined, TYPE_A)).items.length, 2);
        assert.deepEqual((await store.listDeliveries(w.id, undefined, 10, undefined, 'unknown.type.v1')).items, []);
      });

      seeded('webhookHealth: nothing yet, then the last attempt, the window\'s attempts and successes, and failing since', async (store) => {
        assert.equal(await store.webhookHealth(randomUUID(), T0), undefined, 'an unknown webhook');
        const w = await hook(store);
        const quiet = await hook(store, { scope: 'Account', scopeId: ACCOUNT_1, eventTypes: [TYPE_B] });
        assert.deepEqual(await store.webhookHealth(w.id, T0), { lastAttempt: undefined, attempts: 0, succeeded: 0, failingSince: undefined });
        await store.heartbeat(W1, T0);
        // One delivery before the window: it succeeds at its first attempt.
        await publish(store, T0, newEvent());
        const [old] = await claim(store, W1, T0);
        await complete(store, W1, [result(old!, 'succeeded', T0 + SECOND, { durationMs: 7 })]);
        const since = T0 + HOUR;
        const before = await store.webhookHealth(w.id, since);
        assert.equal(before!.attempts, 0, 'attempts of deliveries created before the window do not count');
        assert.deepEqual(before!.lastAttempt, { deliveryId: old!.id, attempt: 1, startedAt: T0 + SECOND, durationMs: 7, statusCode: 200, error: undefined });
        // In the window: one fails twice then succeeds, one fails and is retrying.
        await publish(store, since + MINUTE, newEvent(), newEvent());
        const inWindow = await claim(store, W1, since + MINUTE);
        assert.equal(inWindow.length, 2);
        const [a, b] = inWindow as [ClaimedDelivery, ClaimedDelivery];
        await complete(store, W1, [
          result(a, 'retry', since + 2 * MINUTE, { nextAttemptAt: since + 3 * MINUTE }),
          result(b, 'retry', since + 2 * MINUTE, { nextAttemptAt: since + DAY }),
        ]);
        const failing = await store.webhookHealth(w.id, since);
        assert.equal(failing!.attempts, 2);
        assert.equal(failing!.succeeded, 0);
        assert.equal(failing!.failingSince, since + 2 * MINUTE);
        assert.equal(failing!.lastAttempt!.statusCode, 503);
        assert.equal(failing!.lastAttempt!.error, 'HTTP 503');
        const [a2] = await claim(store, W1, since + 3 * MINUTE);
        assert.equal(a2!.id, a.id);
        await complete(store, W1, [result(a2!, 'retry', since + 4 * MINUTE, { nextAttemptAt: since + 5 * MINUTE })]);
        const [a3] = await claim(store, W1, since + 5 * MINUTE);
        await complete(store, W1, [result(a3!, 'succeeded', since + 6 * MINUTE, { durationMs: 12 })]);
        const healthy = await store.webhookHealth(w.id, since);
        assert.equal(healthy!.attempts, 4);
        assert.equal(healthy!.succeeded, 1);
        assert.equal(healthy!.failingSince, undefined, 'a success ends the failing streak');
        assert.deepEqual(healthy!.lastAttempt, { deliveryId: a.id, attempt: 3, startedAt: since + 6 * MINUTE, durationMs: 12, statusCode: 200, error: undefined });
        const later = await store.webhookHealth(w.id, since + 3 * MINUTE);
        assert.equal(later!.attempts, 0, 'the window starts after these deliveries were created');
        assert.equal(later!.lastAttempt!.deliveryId, b.id, 'then the newest attempted delivery gives the last attempt');
        assert.deepEqual(await store.webhookHealth(quiet.id, since), { lastAttempt: undefined, attempts: 0, succeeded: 0, failingSince: undefined });
      });

      seeded('deliveryStatistics: deliveries per bucket by state, attempts per bucket by result and duration, per scope', async (store) => {
        const w = await hook(store);
        const sibling = await hook(store, { scope: 'Account', scopeId: ACCOUNT_1 });
        const foreign = await hook(store, { ownerClientId: OWNER_B, scope: 'iTwin', scopeId: ITWIN_1 });
        await store.heartbeat(W1, T0);
        await publish(store, T0 - HOUR, newEvent());
        await complete(store, W1, (await claim(store, W1, T0 - HOUR)).map((d) => result(d, 'succeeded', T0 - HOUR)));
        const since = T0;
        // Bucket 0: three events; bucket 2: one more (each fans out to all three webhooks).
        await publish(store, since + 10 * SECOND, newEvent(), newEvent(), newEvent());
        await publish(store, since + 2 * MINUTE + SECOND, newEvent());
        const first = await claim(store, W1, since + 20 * SECOND, 100, 16);
        const mine = first.filter((d) => d.webhookId === w.id).sort(byKey((d) => d.id.padStart(20, '0')));
        assert.equal(mine.length, 3, 'the fourth event is not due yet');
        const durations = [5, 250, 1234];
        await complete(store, W1, [
          result(mine[0]!, 'succeeded', since + 30 * SECOND, { durationMs: durations[0] }),
          result(mine[1]!, 'retry', since + 30 * SECOND, { durationMs: durations[1], nextAttemptAt: since + DAY }),
          result(mine[2]!, 'failed', since + MINUTE + SECOND, { durationMs: durations[2] }),
          ...first.filter((d) => d.webhookId !== w.id).map((d) => result(d, 'succeeded', since + 3 * MINUTE, { durationMs: 99 })),
        ]);
        const stats = await store.deliveryStatistics({ webhookId: w.id }, since, MINUTE);
        const deliveriesBy = stats.deliveries.map((r) => `${r.bucket}:${r.status}:${r.attempted}:${r.count}`).sort();
        assert.deepEqual(deliveriesBy, ['0:failed:true:1', '0:pending:true:1', '0:succeeded:true:1', '2:pending:false:1']);
        const attemptsBy = stats.attempts.map((r) => `${r.bucket}:${r.succeeded}:${r.durationMs}:${r.count}`).sort();
        assert.deepEqual(attemptsBy, ['0:false:250:1', '0:true:5:1', '1:false:1200:1'], 'durations rounded to two significant digits');
        const owner = await store.deliveryStatistics({ ownerClientId: OWNER_A }, since, MINUTE);
        const total = (rows: Array<{ count: number }>) => rows.reduce((n, r) => n + r.count, 0);
        assert.equal(total(owner.deliveries), 8, 'both of the owner\'s webhooks, not the other application\'s');
        assert.equal(total(owner.attempts), 3 + 3);
        assert.ok(owner.attempts.some((r) => r.bucket === 3 && r.succeeded && r.durationMs === 99 && r.count === 3));
        const everyone = await store.deliveryStatistics({ everyone: true }, since, MINUTE);
        assert.equal(total(everyone.deliveries), 12, 'the delivery created before the window is not counted');
        assert.equal(total(everyone.attempts), 3 + 6);
        const hourly = await store.deliveryStatistics({ webhookId: sibling.id }, since, HOUR);
        assert.deepEqual(hourly.deliveries.map((r) => `${r.bucket}:${r.status}:${r.attempted}:${r.count}`).sort(), ['0:pending:false:1', '0:succeeded:true:3']);
        assert.deepEqual(await store.deliveryStatistics({ webhookId: randomUUID() }, since, MINUTE), { deliveries: [], attempts: [] });
        assert.equal(total((await store.deliveryStatistics({ webhookId: foreign.id }, since, MINUTE)).deliveries), 4);
      });

      seeded('deliveryStatistics: the window starts at the right delivery, with gaps in the ids and any number of rows', async (store) => {
        const w = await hook(store);
        const doomed = await hook(store, { scope: 'Account', scopeId: ACCOUNT_1 });
        for (let i = 0; i < 150; i++) await publish(store, T0 + i * SECOND, newEvent());
        await store.deleteWebhook(OWNER_A, doomed.id); // every other id is gone
        const count = async (since: number) => (await store.deliveryStatistics({ everyone: true }, since, HOUR)).deliveries.reduce((n, r) => n + r.count, 0);
        for (const [since, expected] of [[T0 - DAY, 150], [T0, 150], [T0 + SECOND, 149], [T0 + 77 * SECOND, 73], [T0 + 149 * SECOND, 1], [T0 + 150 * SECOND, 0]] as const) {
          assert.equal(await count(since), expected, `since T0 + ${(since - T0) / SECOND} s`);
        }
        assert.equal((await store.deliveryStatistics({ webhookId: w.id }, T0 + 100 * SECOND, MINUTE)).deliveries.reduce((n, r) => n + r.count, 0), 50);
      });

      seeded('operator reads: any application\'s webhook by id, and every webhook or one owner\'s, paged', async (store) => {
        const a1 = await hook(store);
        const b1 = await hook(store, { ownerClientId: OWNER_B, scope: 'iTwin', scopeId: ITWIN_3 });
        const a2 = await hook(store, { scope: 'Account', scopeId: ACCOUNT_1 });
        assert.deepEqual(await store.getAnyWebhook(b1.id), b1);
        assert.equal(await store.getAnyWebhook(randomUUID()), undefined);
        const p1 = await store.listAllWebhooks(undefined, 2, undefined);
        assert.deepEqual(p1.items.map((w) => w.id), [a1.id, b1.id]);
        const p2 = await store.listAllWebhooks(undefined, 2, p1.nextCursor);
        assert.deepEqual(p2.items.map((w) => w.id), [a2.id]);
        assert.equal(p2.nextCursor, undefined);
        assert.deepEqual((await store.listAllWebhooks(OWNER_A, 10, undefined)).items, [a1, a2]);
        assert.deepEqual((await store.listAllWebhooks(OWNER_B, 10, undefined)).items.map((w) => w.id), [b1.id]);
        assert.deepEqual(await store.listAllWebhooks('nobody', 10, undefined), { items: [], nextCursor: undefined });
      });
    });

    // -----------------------------------------------------------------------------------
    describe('retention: pruneHistory', () => {
      /**
       * Prunes in batches of `limit` as the retention loop does, round after round (a round
       * ends when a call says nothing more is due), until a round removes nothing; the totals.
       */
      const pruneAll = async (store: Store, before: number, now: number, limit = 3) => {
        const total = { deliveries: 0, attempts: 0, events: 0, messageIds: 0 };
        for (let calls = 0, removed = 1; removed > 0; ) {
          removed = 0;
          for (;;) {
            assert.ok(calls++ < 200, 'prune ends');
            const r = await store.pruneHistory({ before, now, idempotencyWindowMs: WINDOW, limit });
            for (const k of ['deliveries', 'attempts', 'events', 'messageIds'] as const) total[k] += r[k];
            removed += r.deliveries + r.events + r.messageIds;
            // A batch looks at `limit` rows of each kind at most.
            assert.ok(r.deliveries <= limit && r.events <= limit && r.messageIds <= limit, JSON.stringify(r));
            if (!r.more) break;
          }
        }
        return total;
      };

      seeded('what goes: finished deliveries last changed before the cutoff, their attempts, and events nothing refers to', async (store) => {
        const w = await hook(store);
        await publish(store, T0, ...Array.from({ length: 5 }, () => newEvent()));
        await publish(store, T0, newEvent({ eventType: TYPE_B })); // matches no webhook
        await store.heartbeat(W1, T0);
        const [ok, failed, retried, cancelled, pending] = await claim(store, W1, T0, 5);
        await complete(store, W1, [result(ok!, 'succeeded', T0 + 1), result(failed!, 'failed', T0 + 1), result(retried!, 'retry', T0 + 1)]);
        const [again] = await claim(store, W1, T0 + MINUTE, 1);
        assert.equal(again!.id, retried!.id);
        await complete(store, W1, [result(again!, 'succeeded', T0 + MINUTE)]);
        await complete(store, W1, [result(cancelled!, 'retry', T0 + 2)]);
        await store.updateWebhook(OWNER_A, w.id, { active: false }, T0 + 3); // cancels the retry
        await store.updateWebhook(OWNER_A, w.id, { active: true }, T0 + 4);
        await store.releaseDeliveries(W1, [pending!.id], T0 + 5);
        assert.equal(await statusOf(store, w.id, cancelled!.id), 'cancelled');

        const total = await pruneAll(store, T0 + HOUR, T0 + 2 * HOUR);
        assert.deepEqual(total, { deliveries: 4, attempts: 5, events: 5, messageIds: 0 }, 'four finished deliveries with their five attempts, their events and the unmatched one');
        for (const d of [ok, failed, retried, cancelled]) assert.equal(await store.getDelivery(w.id, d!.id), undefined);
        assert.deepEqual((await deliveries(store, w.id)).map((d) => d.id), [pending!.id], 'the pending delivery stays, whatever its age');
        const kept = await store.getDelivery(w.id, pending!.id);
        assert.equal(kept?.contentJson, pending!.contentJson, 'with its event');
        const [sent] = await claim(store, W1, T0 + 2 * HOUR, 10);
        assert.equal(sent?.id, pending!.id, 'and is still sent');
        assert.equal(sent?.contentJson, pending!.contentJson);
        assert.deepEqual(await pruneAll(store, T0 + HOUR, T0 + 2 * HOUR), { deliveries: 0, attempts: 0, events: 0, messageIds: 0 }, 'nothing twice');
      });

      seeded('what stays: history changed after the cutoff, deliveries being retried, and everything newer', async (store) => {
        const w = await hook(store);
        await publish(store, T0, newEvent(), newEvent(), newEvent());
        await store.heartbeat(W1, T0);
        const [old, redelivered, retrying] = await claim(store, W1, T0, 3);
        await complete(store, W1, [result(old!, 'succeeded', T0 + 1), result(redelivered!, 'succeeded', T0 + 1), result(retrying!, 'retry', T0 + 1, { nextAttemptAt: T0 + DAY })]);
        await store.redeliver(w.id, redelivered!.id, T0 + 2 * HOUR);
        const [resent] = await claim(store, W1, T0 + 2 * HOUR, 10);
        assert.equal(resent!.id, redelivered!.id);
        await complete(store, W1, [result(resent!, 'succeeded', T0 + 2 * HOUR)]);
        await publish(store, T0 + 3 * HOUR, newEvent());
        const [fresh] = await deliveries(store, w.id);

        const total = await pruneAll(store, T0 + HOUR, T0 + 4 * HOUR, 1);
        assert.deepEqual(total, { deliveries: 1, attempts: 1, events: 1, messageIds: 0 });
        assert.equal(await store.getDelivery(w.id, old!.id), undefined);
        const left = await store.getDelivery(w.id, redelivered!.id);
        assert.deepEqual(left?.attemptLog.map((a) => a.startedAt), [T0 + 1, T0 + 2 * HOUR], 'changed after the cutoff: stays with its attempts');
        assert.equal(await statusOf(store, w.id, retrying!.id), 'pending', 'a delivery being retried stays');
        assert.equal(await statusOf(store, w.id, fresh!.id), 'pending');
        // Once everything is older than the cutoff and finished, it all goes.
        const [retry, next] = await claim(store, W1, T0 + DAY, 10);
        await complete(store, W1, [result(retry!, 'failed', T0 + DAY), result(next!, 'succeeded', T0 + DAY)]);
        assert.deepEqual(await pruneAll(store, T0 + 2 * DAY, T0 + 2 * DAY), { deliveries: 3, attempts: 5, events: 3, messageIds: 0 });
        assert.deepEqual(await deliveries(store, w.id), []);
      });

      seeded('the idempotency window outlives a pruned event: its messageId is a duplicate with the first result until the window ends', async (store) => {
        await hook(store);
        const e = newEvent();
        const [first] = await publish(store, T0, e);
        const unmatched = newEvent({ eventType: TYPE_B });
        await publish(store, T0, unmatched);
        await store.heartbeat(W1, T0);
        const [d] = await claim(store, W1, T0, 10);
        await complete(store, W1, [result(d!, 'succeeded', T0 + 1)]);
        const total = await pruneAll(store, T0 + HOUR, T0 + HOUR);
        assert.equal(total.events, 2);
        assert.deepEqual(await publish(store, T0 + DAY, e), [{ ...first!, duplicate: true }], 'pruned, still a duplicate inside the window');
        assert.equal((await publish(store, T0 + DAY, unmatched))[0]!.duplicate, true);
        assert.equal((await store.deliveryStats()).pending, 0, 'nothing new fanned out');
        // The window ends: the messageId is forgotten and is a new event again.
        assert.equal((await pruneAll(store, T0 + WINDOW + HOUR, T0 + WINDOW + HOUR)).messageIds, 2);
        const [later] = await publish(store, T0 + WINDOW + HOUR, e);
        assert.deepEqual(later, { messageId: e.messageId, eventType: TYPE_A, enqueuedAt: T0 + WINDOW + HOUR, matchedWebhooks: 1, duplicate: false });
        assert.equal((await store.deliveryStats()).pending, 1);
      });
    });
  });
}
