/**
 * Access that ends (contract §5), held to both stores: deleting a client takes its webhooks
 * and deliveries with it and no webhook can be created for it afterwards; a directory change
 * that takes a right away deactivates, at once and with its cause, the webhooks that
 * depended on it; secrets rotate with an overlap; the directory syncs per account and lists
 * page by keyset. Only the Store interface is used.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { ActivationRefusedError } from '../../src/store/errors.ts';
import { listKey, type ClientRecord, type Store, type WebhookRecord } from '../../src/store/types.ts';
import type { StoreFactory } from './storeConformance.ts';

const T0 = Date.UTC(2026, 10, 22, 10);
const TYPE = 'iModels.iModelCreated.v1';
const MAINTAINER = 'webhooks_maintainer';

function clientRecord(accountId: string, createdAt = T0): ClientRecord {
  const clientId = `app-${randomUUID()}`;
  return { clientId, name: clientId, accountId, scopes: ['webhooks:modify'], secretHash: `scrypt$${clientId}`, tokenGeneration: 0, createdAt };
}

function webhookRecord(owner: string, scope: 'iTwin' | 'Account', scopeId: string, active = true): WebhookRecord {
  return {
    id: randomUUID(),
    ownerClientId: owner,
    scope,
    scopeId,
    active,
    callbackUrl: 'https://receiver.example.com/hook',
    eventTypes: [TYPE],
    secretSealed: 'sealed',
    createdAt: T0,
    modifiedAt: T0,
  };
}

/** An account with a client that maintains one iTwin, holding an active webhook there with one pending delivery. */
async function tenant(store: Store) {
  const accountId = randomUUID();
  const client = clientRecord(accountId);
  await store.createClient(client);
  const itwinId = randomUUID();
  await store.putItwin(itwinId, accountId, T0);
  await store.grant(client.clientId, itwinId, MAINTAINER, T0);
  const webhook = webhookRecord(client.clientId, 'iTwin', itwinId);
  assert.equal(await store.createWebhook(webhook, { ownerMustExist: true }), 'created');
  await publish(store, itwinId, accountId, T0 + 1);
  return { accountId, client, itwinId, webhook };
}

async function publish(store: Store, itwinId: string, accountId: string, now: number): Promise<number> {
  const [r] = await store.publishEvents(
    [{ messageId: randomUUID(), eventType: TYPE, itwinId, accountId, contentJson: '{}', publisherClientId: 'producer' }],
    now,
    7 * 86_400_000,
  );
  return r!.matchedWebhooks;
}

const pendingOf = async (store: Store, webhookId: string) => (await store.listDeliveries(webhookId, 'pending', 100, undefined)).items.length;
const cancelledOf = async (store: Store, webhookId: string) => (await store.listDeliveries(webhookId, 'cancelled', 100, undefined)).items.length;

export function accessConformance(factory: StoreFactory): void {
  const test = (name: string, fn: (store: Store) => Promise<void>) =>
    it(name, async () => {
      const { store, cleanup } = await factory.open();
      try {
        await store.upsertBuiltinEventTypes([{ type: TYPE, service: 'iModels', description: 'x', contentSchema: {}, example: {}, builtin: true, createdAt: T0 }]);
        await fn(store);
      } finally {
        await cleanup();
      }
    });

  describe(`Access that ends: ${factory.name}`, () => {
    describe('deleted clients', () => {
      test('deleting a client removes its webhooks and their deliveries in one go, and names them', async (store) => {
        const a = await tenant(store);
        const b = await tenant(store);
        assert.equal(await pendingOf(store, a.webhook.id), 1);
        const result = await store.deleteClient(a.client.clientId);
        assert.deepEqual(result, { deleted: true, webhooks: 1, webhookIds: [a.webhook.id] });
        assert.equal(await store.getWebhook(a.client.clientId, a.webhook.id), undefined);
        assert.equal(await pendingOf(store, a.webhook.id), 0);
        assert.equal(await publish(store, a.itwinId, a.accountId, T0 + 2), 0, 'nothing matches any more');
        assert.equal(await pendingOf(store, b.webhook.id), 1, 'the other tenant keeps its delivery');
        assert.equal((await store.deleteClient(a.client.clientId)).deleted, false);
      });

      test('no webhook can be created for a client that does not exist (when the store knows the clients)', async (store) => {
        const a = await tenant(store);
        await store.deleteClient(a.client.clientId);
        assert.equal(await store.createWebhook(webhookRecord(a.client.clientId, 'Account', a.accountId), { ownerMustExist: true }), 'ownerMissing');
        assert.equal((await store.listWebhooks(a.client.clientId, 10, undefined)).items.length, 0);
        // An external issuer's applications are not in the store: without the check it is created.
        assert.equal(await store.createWebhook(webhookRecord('external-app', 'Account', a.accountId)), 'created');
      });

      test('a creation racing the deletion of its owner never leaves a webhook without an owner', async (store) => {
        for (let round = 0; round < 12; round++) {
          const accountId = randomUUID();
          const c = clientRecord(accountId);
          await store.createClient(c);
          const creates = Array.from({ length: 3 }, () => store.createWebhook(webhookRecord(c.clientId, 'Account', accountId), { ownerMustExist: true }));
          await Promise.all([...creates, store.deleteClient(c.clientId)]);
          assert.equal(await store.getClient(c.clientId), undefined);
          assert.deepEqual((await store.listWebhooks(c.clientId, 10, undefined)).items, [], `round ${round}: an orphan webhook`);
        }
      });
    });

    describe('per-application caps', () => {
      test('an owner gets no more webhooks than its cap, even when it creates them all at once', async (store) => {
        const accountId = randomUUID();
        const c = clientRecord(accountId);
        await store.createClient(c);
        const results = await Promise.all(Array.from({ length: 8 }, () => store.createWebhook(webhookRecord(c.clientId, 'Account', accountId), { ownerMustExist: true, maxPerOwner: 5 })));
        assert.deepEqual([...results].sort(), [...Array(5).fill('created'), ...Array(3).fill('limitReached')].sort());
        assert.equal((await store.listWebhooks(c.clientId, 100, undefined)).items.length, 5);
        // Another owner has its own count.
        assert.equal(await store.createWebhook(webhookRecord('another', 'Account', accountId), { maxPerOwner: 5 }), 'created');
      });
    });

    describe('rights taken away', () => {
      test('a revoked webhooks_maintainer deactivates the webhook at once, records why and cancels its deliveries', async (store) => {
        const a = await tenant(store);
        const other = webhookRecord(a.client.clientId, 'Account', a.accountId);
        await store.createWebhook(other);
        const result = await store.revoke(a.client.clientId, a.itwinId, MAINTAINER, T0 + 10);
        assert.deepEqual(result, { revoked: true, deactivated: [a.webhook.id] });
        const w = await store.getWebhook(a.client.clientId, a.webhook.id);
        assert.equal(w?.active, false);
        assert.deepEqual(w?.deactivation, { cause: 'accessRevoked', at: T0 + 10 });
        assert.equal(w?.modifiedAt, T0 + 10);
        assert.equal(await pendingOf(store, a.webhook.id), 0);
        assert.equal(await cancelledOf(store, a.webhook.id), 1);
        assert.equal(await publish(store, a.itwinId, a.accountId, T0 + 11), 1, 'only the Account webhook matches');
        assert.equal((await store.getWebhook(a.client.clientId, other.id))?.active, true);
        // Activating again is refused while the right is missing, and changes nothing.
        await assert.rejects(store.updateWebhook(a.client.clientId, a.webhook.id, { active: true, callbackUrl: 'https://x.example.com/' }, T0 + 12), ActivationRefusedError);
        assert.deepEqual(await store.getWebhook(a.client.clientId, a.webhook.id), w);
        // Deactivating and other changes of an inactive one remain possible; a grant lets it be activated again.
        assert.equal((await store.updateWebhook(a.client.clientId, a.webhook.id, { active: false }, T0 + 13))?.active, false);
        await store.grant(a.client.clientId, a.itwinId, MAINTAINER, T0 + 14);
        const back = await store.updateWebhook(a.client.clientId, a.webhook.id, { active: true }, T0 + 15);
        assert.equal(back?.active, true);
        assert.equal(back?.deactivation, undefined, 'activating clears the cause');
      });

      test('an organization administrator keeps its webhooks when a grant goes, and loses them when the role goes', async (store) => {
        const a = await tenant(store);
        await store.addOrgAdmin(a.client.clientId, a.accountId, T0);
        assert.deepEqual((await store.revoke(a.client.clientId, a.itwinId, MAINTAINER, T0 + 1)).deactivated, []);
        assert.equal((await store.getWebhook(a.client.clientId, a.webhook.id))?.active, true);
        // Removing the role from another account changes nothing here.
        await store.addOrgAdmin(a.client.clientId, randomUUID(), T0);
        const result = await store.removeOrgAdmin(a.client.clientId, a.accountId, T0 + 2);
        assert.deepEqual(result, { removed: true, deactivated: [a.webhook.id] });
        assert.equal((await store.getWebhook(a.client.clientId, a.webhook.id))?.deactivation?.cause, 'accessRevoked');
      });

      test('moving an iTwin drops its grants and deactivates the old account\'s webhooks there; putting it again changes nothing', async (store) => {
        const a = await tenant(store);
        const b = await tenant(store);
        assert.deepEqual(await store.putItwin(a.itwinId, a.accountId, T0 + 1), { created: false, movedFrom: undefined, deactivated: [] });
        const moved = await store.putItwin(a.itwinId, b.accountId, T0 + 2);
        assert.deepEqual(moved, { created: false, movedFrom: a.accountId, deactivated: [a.webhook.id] });
        assert.deepEqual(await store.listGrants({ itwinId: a.itwinId }), []);
        assert.equal(await store.getItwinAccount(a.itwinId), b.accountId);
        assert.deepEqual((await store.getWebhook(a.client.clientId, a.webhook.id))?.deactivation, { cause: 'itwinMoved', at: T0 + 2 });
        assert.equal(await publish(store, a.itwinId, b.accountId, T0 + 3), 0, 'A\'s webhook gets none of B\'s events');
        assert.equal((await store.getWebhook(b.client.clientId, b.webhook.id))?.active, true);
        // B's administrator may use the moved iTwin at once.
        await store.addOrgAdmin(b.client.clientId, b.accountId, T0);
        const bOnMoved = webhookRecord(b.client.clientId, 'iTwin', a.itwinId, false);
        await store.createWebhook(bOnMoved);
        assert.equal((await store.updateWebhook(b.client.clientId, bOnMoved.id, { active: true }, T0 + 4))?.active, true);
        await assert.rejects(store.updateWebhook(a.client.clientId, a.webhook.id, { active: true }, T0 + 5), ActivationRefusedError);
      });

      test('removing an iTwin deactivates its webhooks with that cause', async (store) => {
        const a = await tenant(store);
        assert.deepEqual(await store.removeItwin(a.itwinId, T0 + 1), { removed: true, deactivated: [a.webhook.id] });
        assert.equal((await store.getWebhook(a.client.clientId, a.webhook.id))?.deactivation?.cause, 'itwinRemoved');
        assert.deepEqual(await store.removeItwin(a.itwinId, T0 + 2), { removed: false, deactivated: [] });
      });

      test('an activation racing a revocation never leaves an active webhook without the right', async (store) => {
        const a = await tenant(store);
        for (let round = 0; round < 12; round++) {
          await store.updateWebhook(a.client.clientId, a.webhook.id, { active: false }, T0 + round);
          await store.grant(a.client.clientId, a.itwinId, MAINTAINER, T0);
          const activation = store.updateWebhook(a.client.clientId, a.webhook.id, { active: true }, T0 + round).catch((err: unknown) => {
            assert.ok(err instanceof ActivationRefusedError, String(err));
          });
          await Promise.all([activation, store.revoke(a.client.clientId, a.itwinId, MAINTAINER, T0 + round)]);
          assert.equal((await store.getWebhook(a.client.clientId, a.webhook.id))?.active, false, `round ${round}`);
        }
      });
    });

    describe('client secrets', () => {
      test('a rotation keeps the previous secret until the overlap ends; revoking tokens raises the generation', async (store) => {
        const c = clientRecord(randomUUID());
        await store.createClient(c);
        assert.deepEqual(await store.getClient(c.clientId), c);
        const r1 = await store.rotateClientSecret(c.clientId, 'hash-2', { previousUntil: T0 + 1000, revokeTokens: false });
        assert.deepEqual(r1, { ...c, secretHash: 'hash-2', previousSecret: { hash: c.secretHash, expiresAt: T0 + 1000 } });
        const r2 = await store.rotateClientSecret(c.clientId, 'hash-3', { revokeTokens: true });
        assert.deepEqual(r2, { ...c, secretHash: 'hash-3', tokenGeneration: 1 });
        assert.deepEqual(await store.getClient(c.clientId), r2);
        assert.equal(await store.rotateClientSecret('nobody', 'h', { revokeTokens: true }), undefined);
      });
    });

    describe('one account\'s directory, synced', () => {
      test('a sync adds, removes and moves, says so, and the same sync again changes nothing', async (store) => {
        const account = randomUUID();
        const elsewhere = await tenant(store);
        const kept = randomUUID();
        const dropped = randomUUID();
        await store.putItwin(kept, account, T0);
        await store.putItwin(dropped, account, T0);
        await store.grant('app-1', dropped, MAINTAINER, T0);
        await store.grant('app-1', kept, MAINTAINER, T0);
        await store.addOrgAdmin('admin-old', account, T0);
        const fresh = randomUUID();
        const desired = {
          itwins: [kept, fresh, elsewhere.itwinId],
          grants: [
            { clientId: 'app-2', itwinId: kept, permission: MAINTAINER },
            { clientId: 'app-1', itwinId: kept, permission: MAINTAINER },
            { clientId: 'app-2', itwinId: elsewhere.itwinId, permission: MAINTAINER },
          ],
          orgAdmins: ['admin-new'],
        };
        const result = await store.syncAccountDirectory(account, desired, T0 + 5);
        assert.deepEqual(result, {
          itwins: { added: [fresh], removed: [dropped], moved: [{ itwinId: elsewhere.itwinId, fromAccountId: elsewhere.accountId }] },
          grants: {
            added: [desired.grants[0], desired.grants[2]],
            removed: [{ clientId: 'app-1', itwinId: dropped, permission: MAINTAINER }],
          },
          orgAdmins: { added: ['admin-new'], removed: ['admin-old'] },
          deactivated: [elsewhere.webhook.id],
        });
        assert.equal((await store.getWebhook(elsewhere.client.clientId, elsewhere.webhook.id))?.deactivation?.cause, 'itwinMoved');
        const state = await store.getAccountDirectory(account);
        assert.deepEqual([...state.itwins].sort(), [...desired.itwins].sort());
        assert.deepEqual(state.grants.map((g) => `${g.clientId} ${g.itwinId}`).sort(), desired.grants.map((g) => `${g.clientId} ${g.itwinId}`).sort());
        assert.deepEqual(state.orgAdmins, ['admin-new']);
        assert.deepEqual(await store.listGrants({ itwinId: dropped }), []);
        assert.deepEqual((await store.getAccountDirectory(elsewhere.accountId)).itwins, []);
        const again = await store.syncAccountDirectory(account, desired, T0 + 6);
        assert.deepEqual(again, {
          itwins: { added: [], removed: [], moved: [] },
          grants: { added: [], removed: [] },
          orgAdmins: { added: [], removed: [] },
          deactivated: [],
        });
        const emptied = await store.syncAccountDirectory(account, { itwins: [], grants: [], orgAdmins: [] }, T0 + 7);
        assert.equal(emptied.itwins.removed.length, 3);
        assert.deepEqual(await store.getAccountDirectory(account), { itwins: [], grants: [], orgAdmins: [] });
      });

      test('a sync that takes a grant away deactivates the webhooks that depended on it', async (store) => {
        const a = await tenant(store);
        const result = await store.syncAccountDirectory(a.accountId, { itwins: [a.itwinId], grants: [], orgAdmins: [] }, T0 + 1);
        assert.deepEqual(result.deactivated, [a.webhook.id]);
        assert.equal((await store.getWebhook(a.client.clientId, a.webhook.id))?.deactivation?.cause, 'accessRevoked');
      });
    });

    describe('lists page by keyset', () => {
      test('clients, iTwins, grants and administrators: every item once across pages, in creation order, with filters', async (store) => {
        const account = randomUUID();
        const clients: ClientRecord[] = [];
        // Several share a creation time: the key orders them.
        for (let i = 0; i < 7; i++) clients.push(clientRecord(i % 2 === 0 ? account : randomUUID(), T0 + Math.floor(i / 3)));
        for (const c of clients) await store.createClient(c);
        const itwins: string[] = [];
        for (let i = 0; i < 5; i++) {
          const id = randomUUID();
          itwins.push(id);
          await store.putItwin(id, account, T0 + Math.floor(i / 2));
          for (const c of clients.slice(0, 2)) await store.grant(c.clientId, id, MAINTAINER, T0);
          await store.addOrgAdmin(clients[i]!.clientId, account, T0 + i);
        }
        const all = async <T>(list: (page: { limit: number; after?: string[] }) => Promise<T[]>, key: (t: T) => string[], size: number) => {
          const out: T[] = [];
          let after: string[] | undefined;
          for (;;) {
            const page = await list({ limit: size, ...(after === undefined ? {} : { after }) });
            out.push(...page);
            if (page.length < size) return out;
            after = key(page[page.length - 1]!);
          }
        };
        for (const size of [1, 2, 3, 100]) {
          const listed = await all((p) => store.listClients({}, p), listKey.client, size);
          assert.deepEqual(listed, await store.listClients(), `clients in pages of ${size}`);
          assert.equal(new Set(listed.map((c) => c.clientId)).size, 7);
          const ofAccount = await all((p) => store.listClients({ accountId: account }, p), listKey.client, size);
          assert.deepEqual(ofAccount.map((c) => c.clientId).sort(), clients.filter((c) => c.accountId === account).map((c) => c.clientId).sort());
          assert.deepEqual(await all((p) => store.listItwins({ accountId: account }, p), listKey.itwin, size), await store.listItwins({ accountId: account }));
          assert.equal((await all((p) => store.listGrants({}, p), listKey.grant, size)).length, 10);
          assert.deepEqual(await all((p) => store.listGrants({}, p), listKey.grant, size), await store.listGrants({}));
          assert.deepEqual(await all((p) => store.listOrgAdmins({ accountId: account }, p), listKey.orgAdmin, size), await store.listOrgAdmins({ accountId: account }));
        }
        const created = (await store.listClients()).map((c) => c.createdAt);
        assert.deepEqual(created, [...created].sort((x, y) => x - y));
        assert.deepEqual((await store.listOrgAdmins({ clientId: clients[0]!.clientId })).map((o) => o.accountId), [account]);
      });
    });
  });
}
