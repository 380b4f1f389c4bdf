import { toClient, toSigningKey, type ClientRow, type SigningKeyRow } from '../rows.ts';
import type { Sync, ClientsRepo, SigningKeyRecord, SigningKeysRepo } from '../types.ts';
import type { SqliteDb } from './db.ts';

export function clientsRepo(db: SqliteDb): Sync<ClientsRepo & SigningKeysRepo> {
  return {
    createClient(c) {
      db.run(
        'INSERT INTO clients (client_id, name, account_id, scopes, secret_hash, created_at) VALUES ($id, $name, $account, $scopes, $hash, $at)',
        { id: c.clientId, name: c.name, account: c.accountId, scopes: c.scopes.join(' '), hash: c.secretHash, at: c.createdAt },
      );
    },
    getClient(clientId) {
      const r = db.get<ClientRow>('SELECT * FROM clients WHERE client_id = $id', { id: clientId });
      return r && toClient(r);
    },
    listClients() {
      return db.all<ClientRow>('SELECT * FROM clients ORDER BY created_at, client_id').map(toClient);
    },
    deleteClient(clientId) {
      return db.tx(() => {
        const webhooks = db.run('DELETE FROM webhooks WHERE owner_client_id = $id', { id: clientId }).changes;
        db.run('DELETE FROM directory_grants WHERE client_id = $id', { id: clientId });
        db.run('DELETE FROM directory_org_admins WHERE client_id = $id', { id: clientId });
        const deleted = db.run('DELETE FROM clients WHERE client_id = $id', { id: clientId }).changes > 0;
        return { deleted, webhooks };
      });
    },

    listSigningKeys() {
      return db.all<SigningKeyRow>('SELECT * FROM signing_keys ORDER BY created_at DESC, kid').map(toSigningKey);
    },
    insertFirstSigningKey(k: SigningKeyRecord) {
      db.tx(() => {
        if (db.get('SELECT 1 FROM signing_keys LIMIT 1')) return;
        db.run(
          'INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_sealed, created_at) VALUES ($kid, $alg, $pub, $priv, $at)',
          { kid: k.kid, alg: k.alg, pub: JSON.stringify(k.publicJwk), priv: k.privateJwkSealed, at: k.createdAt },
        );
      });
    },
  };
}
