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
    async listClients() {
      return (await db.rows<ClientRow>(sql.selectClients())).map(toClient);
    },
    deleteClient(clientId) {
      return db.tx(async (t) => {
        await t.count(deleteAttemptsOf(clientId, undefined));
        await t.count(deleteDeliveriesOf(clientId, undefined));
        const webhooks = await t.count(sql.deleteClientWebhooks(clientId));
        await t.count(sql.deleteClientGrants(clientId));
        await t.count(sql.deleteClientOrgAdmins(clientId));
        const deleted = (await t.count(sql.deleteClient(clientId))) > 0;
        return { deleted, webhooks };
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
