import type { ClientRecord, KeyPage, SigningKeyRecord } from '../../types.ts';
import type { Query } from '../db.ts';
import { keyPage } from './keyPage.ts';

/** Clients and signing keys: each statement the repository runs, with its parameters. */

export const insertClient = (c: ClientRecord): Query => ({
  text: 'INSERT INTO clients (client_id, name, account_id, scopes, secret_hash, token_generation, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
  values: [c.clientId, c.name, c.accountId, c.scopes.join(' '), c.secretHash, c.tokenGeneration, c.createdAt],
});

export const selectClient = (clientId: string): Query => ({ text: 'SELECT * FROM clients WHERE client_id = $1', values: [clientId] });

export const selectClients = (filter: { accountId?: string }, page: KeyPage | undefined): Query => {
  const p = keyPage(['client_id'], page, 2);
  return {
    text: `SELECT * FROM clients WHERE ($1::text IS NULL OR account_id = $1) AND ${p.where} ORDER BY created_at, client_id ${p.limit}`,
    values: [filter.accountId ?? null, ...p.values],
  };
};

/** Locks the client row against its deletion until the transaction ends (a webhook being created for it). */
export const lockClient = (clientId: string): Query => ({ text: 'SELECT 1 FROM clients WHERE client_id = $1 FOR KEY SHARE', values: [clientId] });

export const rotateClientSecret = (clientId: string, secretHash: string, previousUntil: number | undefined, revokeTokens: boolean): Query => ({
  text: `UPDATE clients SET previous_secret_hash = CASE WHEN $3::bigint IS NULL THEN NULL ELSE secret_hash END,
           previous_secret_expires_at = $3, secret_hash = $2, token_generation = token_generation + $4
         WHERE client_id = $1 RETURNING *`,
  values: [clientId, secretHash, previousUntil ?? null, revokeTokens ? 1 : 0],
});

/** Every process drops what it knows of the client's tokens (delivered at commit). */
export const CLIENT_CHANNEL = 'itwin_webhooks_clients';
export const notifyClientChanged = (schema: string, clientId: string): Query => ({
  text: 'SELECT pg_notify($1, $2)',
  values: [CLIENT_CHANNEL, `${schema}:${clientId}`],
});

export const deleteClientWebhooks = (clientId: string): Query => ({ text: 'DELETE FROM webhooks WHERE owner_client_id = $1 RETURNING id', values: [clientId] });

export const deleteClientGrants = (clientId: string): Query => ({ text: 'DELETE FROM directory_grants WHERE client_id = $1', values: [clientId] });

export const deleteClientOrgAdmins = (clientId: string): Query => ({ text: 'DELETE FROM directory_org_admins WHERE client_id = $1', values: [clientId] });

/** First in its transaction: it waits for webhooks being created for the client (lockClient), which the deletion of its webhooks then sees. */
export const deleteClient = (clientId: string): Query => ({ text: 'DELETE FROM clients WHERE client_id = $1', values: [clientId] });

export const selectSigningKeys = (): Query => ({ text: 'SELECT * FROM signing_keys ORDER BY created_at DESC, kid' });

/** Processes starting together must agree on one key: the first to lock the table wins. */
export const lockSigningKeys = (): Query => ({ text: 'LOCK TABLE signing_keys IN EXCLUSIVE MODE' });

export const insertSigningKeyIfNone = (k: SigningKeyRecord): Query => ({
  text: 'INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_sealed, created_at) SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)',
  values: [k.kid, k.alg, JSON.stringify(k.publicJwk), k.privateJwkSealed, k.createdAt],
});
