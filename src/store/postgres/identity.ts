import { toClient, toSigningKey, type ClientRow, type SigningKeyRow } from '../rows.ts';
import type { ClientsRepo, SigningKeysRepo } from '../types.ts';
import type { PgDb } from './db.ts';
import * as sql from './sql/identity.ts';
import { deleteAttemptsOf, deleteDeliveriesOf } from './sql/webhooks.ts';

export function clientsRepo(db: PgDb): ClientsRepo & SigningKeysRepo {
  return {
    async createClient(c) {
      await db.count(sql.insertClient(c));
    },
    async getClient(clientId) {
      const [r] = await db.rows<ClientRow>(sql.selectClient(clientId));
      return r && toClient(r);
    },
    async listClients(filter = {}, page) {
      return (await db.rows<ClientRow>(sql.selectClients(filter, page))).map(toClient);
    },
    rotateClientSecret(clientId, secretHash, { previousUntil, revokeTokens }) {
      return db.tx(async (t) => {
        const [r] = await t.rows<ClientRow>(sql.rotateClientSecret(clientId, secretHash, previousUntil, revokeTokens));
        if (r !== undefined && revokeTokens) await t.rows(sql.notifyClientChanged(db.schema, clientId));
        return r && toClient(r);
      });
    },
    deleteClient(clientId) {
      return db.tx(async (t) => {
        // The client row first: a webhook being created for it (which holds a lock on the
        // row) commits before this goes on, and the deletions below see it.
        const deleted = (await t.count(sql.deleteClient(clientId))) > 0;
        await t.count(deleteAttemptsOf(clientId, undefined));
        await t.count(deleteDeliveriesOf(clientId, undefined));
        const webhookIds = (await t.rows<{ id: string }>(sql.deleteClientWebhooks(clientId))).map((r) => r.id);
        await t.count(sql.deleteClientGrants(clientId));
        await t.count(sql.deleteClientOrgAdmins(clientId));
        if (deleted) await t.rows(sql.notifyClientChanged(db.schema, clientId));
        return { deleted, webhooks: webhookIds.length, webhookIds };
      });
    },

    async listSigningKeys() {
      return (await db.rows<SigningKeyRow>(sql.selectSigningKeys())).map(toSigningKey);
    },
    async insertFirstSigningKey(k) {
      await db.tx(async (t) => {
        await t.count(sql.lockSigningKeys());
        await t.count(sql.insertSigningKeyIfNone(k));
      });
    },
  };
}
