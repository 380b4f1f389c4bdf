import type { ClientRecord, SigningKeyRecord } from '../../types.ts';
import type { Query } from '../db.ts';

/** Clients and signing keys: each statement the repository runs, with its parameters. */

export const insertClient = (c: ClientRecord): Query => ({
  text: 'INSERT INTO clients (client_id, name, account_id, scopes, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
  values: [c.clientId, c.name, c.accountId, c.scopes.join(' '), c.secretHash, c.createdAt],
});

export const selectClient = (clientId: string): Query => ({ text: 'SELECT * FROM clients WHERE client_id = $1', values: [clientId] });

export const selectClients = (): Query => ({ text: 'SELECT * FROM clients ORDER BY created_at, client_id' });

export const deleteClientWebhooks = (clientId: string): Query => ({ text: 'DELETE FROM webhooks WHERE owner_client_id = $1', values: [clientId] });

export const deleteClientGrants = (clientId: string): Query => ({ text: 'DELETE FROM directory_grants WHERE client_id = $1', values: [clientId] });

export const deleteClientOrgAdmins = (clientId: string): Query => ({ text: 'DELETE FROM directory_org_admins WHERE client_id = $1', values: [clientId] });

export const deleteClient = (clientId: string): Query => ({ text: 'DELETE FROM clients WHERE client_id = $1', values: [clientId] });

export const selectSigningKeys = (): Query => ({ text: 'SELECT * FROM signing_keys ORDER BY created_at DESC, kid' });

/** Processes starting together must agree on one key: the first to lock the table wins. */
export const lockSigningKeys = (): Query => ({ text: 'LOCK TABLE signing_keys IN EXCLUSIVE MODE' });

export const insertSigningKeyIfNone = (k: SigningKeyRecord): Query => ({
  text: 'INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_sealed, created_at) SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)',
  values: [k.kid, k.alg, JSON.stringify(k.publicJwk), k.privateJwkSealed, k.createdAt],
});
