import { toClient, toSigningKey, type ClientRow, type SigningKeyRow } from '../rows.ts';
import type { ClientsRepo, SigningKeyRecord, SigningKeysRepo, Sync } from '../types.ts';
import type { SqliteDb } from './db.ts';
import { afterKey, pageLimit } from './keyPage.ts';

export function clientsRepo(db: SqliteDb): Sync<ClientsRepo & SigningKeysRepo> {
  return {
    createClient(c) {
      db.run(
        'INSERT INTO clients (client_id, name, account_id, scopes, secret_hash, token_generation, created_at) VALUES ($id, $name, $account, $scopes, $hash, $gen, $at)',
        { id: c.clientId, name: c.name, account: c.accountId, scopes: c.scopes.join(' '), hash: c.secretHash, gen: c.tokenGeneration, at: c.createdAt },
      );
    },
    getClient(clientId) {
      const r = db.get<ClientRow>('SELECT * FROM clients WHERE client_id = $id', { id: clientId });
      return r && toClient(r);
    },
    listClients(filter = {}, page) {
      return db
        .all<ClientRow>(
          `SELECT * FROM clients WHERE ($a IS NULL OR account_id = $a) AND ${afterKey(['client_id'])}
           ORDER BY created_at, client_id LIMIT CAST($limit AS INTEGER)`,
          { a: filter.accountId ?? null, ...pageLimit(page) },
        )
        .map(toClient);
    },
    rotateClientSecret(clientId, secretHash, { previousUntil, revokeTokens }) {
      const r = db.get<ClientRow>(
        `UPDATE clients SET previous_secret_hash = CASE WHEN $until IS NULL THEN NULL ELSE secret_hash END,
           previous_secret_expires_at = $until, secret_hash = $hash, token_generation = token_generation + $bump
         WHERE client_id = $id RETURNING *`,
        { id: clientId, hash: secretHash, until: previousUntil ?? null, bump: revokeTokens ? 1 : 0 },
      );
      return r && toClient(r);
    },
    deleteClient(clientId) {
      return db.tx(() => {
        // The webhooks' deliveries, lanes and subscriptions go with them (ON DELETE CASCADE).
        const webhookIds = db.all<{ id: string }>('DELETE FROM webhooks WHERE owner_client_id = $id RETURNING id', { id: clientId }).map((r) => r.id);
        db.run('DELETE FROM directory_grants WHERE client_id = $id', { id: clientId });
        db.run('DELETE FROM directory_org_admins WHERE client_id = $id', { id: clientId });
        const deleted = db.run('DELETE FROM clients WHERE client_id = $id', { id: clientId }).changes > 0;
        return { deleted, webhooks: webhookIds.length, webhookIds };
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
