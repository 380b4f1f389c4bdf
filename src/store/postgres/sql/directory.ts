import type { KeyPage } from '../../types.ts';
import type { Query } from '../db.ts';
import { keyPage } from './keyPage.ts';

/** The directory (iTwins, grants, organisation admins): each statement with its parameters. */

export const insertItwins = (itwinIds: string[], accountId: string, now: number): Query => ({
  text: 'INSERT INTO directory_itwins (itwin_id, account_id, created_at) SELECT i, $2, $3 FROM unnest($1::text[]) AS i ON CONFLICT (itwin_id) DO NOTHING',
  values: [itwinIds, accountId, now],
});

/** The iTwin's account, its row locked until the transaction ends (a move or a removal is decided on it). */
export const selectItwinForUpdate = (itwinId: string): Query => ({ text: 'SELECT * FROM directory_itwins WHERE itwin_id = $1 FOR UPDATE', values: [itwinId] });

export const moveItwins = (itwinIds: string[], accountId: string): Query => ({
  text: 'UPDATE directory_itwins SET account_id = $2 WHERE itwin_id = ANY ($1::text[])',
  values: [itwinIds, accountId],
});

/** Permissions are given within an account: a moved or removed iTwin keeps none. */
export const deleteGrantsOn = (itwinIds: string[]): Query => ({ text: 'DELETE FROM directory_grants WHERE itwin_id = ANY ($1::text[])', values: [itwinIds] });

export const deleteItwins = (itwinIds: string[]): Query => ({ text: 'DELETE FROM directory_itwins WHERE itwin_id = ANY ($1::text[])', values: [itwinIds] });

export const selectItwin = (itwinId: string): Query => ({ text: 'SELECT * FROM directory_itwins WHERE itwin_id = $1', values: [itwinId] });

/** Locks the rows of the iTwins of an account (or becoming its) for a sync: concurrent syncs of one account queue. */
export const lockItwins = (accountId: string, itwinIds: string[]): Query => ({
  text: 'SELECT itwin_id, account_id FROM directory_itwins WHERE account_id = $1 OR itwin_id = ANY ($2::text[]) ORDER BY itwin_id FOR UPDATE',
  values: [accountId, itwinIds],
});

export const selectAccountGrants = (accountId: string): Query => ({
  text: `SELECT g.* FROM directory_grants g JOIN directory_itwins i ON i.itwin_id = g.itwin_id
         WHERE i.account_id = $1 ORDER BY g.created_at, g.client_id, g.itwin_id, g.permission`,
  values: [accountId],
});

type GrantKey = { clientId: string; itwinId: string; permission: string };
const grantArrays = (grants: GrantKey[]) => [grants.map((g) => g.clientId), grants.map((g) => g.itwinId), grants.map((g) => g.permission)];

export const insertGrants = (grants: GrantKey[], now: number): Query => ({
  text: `INSERT INTO directory_grants (client_id, itwin_id, permission, created_at)
         SELECT c, i, p, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS x (c, i, p) ON CONFLICT DO NOTHING`,
  values: [...grantArrays(grants), now],
});

export const deleteGrants = (grants: GrantKey[]): Query => ({
  text: `DELETE FROM directory_grants g USING unnest($1::text[], $2::text[], $3::text[]) AS x (c, i, p)
         WHERE g.client_id = x.c AND g.itwin_id = x.i AND g.permission = x.p`,
  values: grantArrays(grants),
});

export const insertOrgAdmins = (clientIds: string[], accountId: string, now: number): Query => ({
  text: 'INSERT INTO directory_org_admins (client_id, account_id, created_at) SELECT c, $2, $3 FROM unnest($1::text[]) AS c ON CONFLICT DO NOTHING',
  values: [clientIds, accountId, now],
});

export const deleteOrgAdmins = (clientIds: string[], accountId: string): Query => ({
  text: 'DELETE FROM directory_org_admins WHERE account_id = $2 AND client_id = ANY ($1::text[])',
  values: [clientIds, accountId],
});

export const selectItwins = (filter: { accountId?: string }, page: KeyPage | undefined): Query => {
  const p = keyPage(['itwin_id'], page, 2);
  return {
    text: `SELECT * FROM directory_itwins WHERE ($1::text IS NULL OR account_id = $1) AND ${p.where} ORDER BY created_at, itwin_id ${p.limit}`,
    values: [filter.accountId ?? null, ...p.values],
  };
};

export const selectItwinAccounts = (itwinIds: string[]): Query => ({
  text: 'SELECT itwin_id, account_id FROM directory_itwins WHERE itwin_id = ANY ($1::text[])',
  values: [itwinIds],
});

export const insertGrant = (clientId: string, itwinId: string, permission: string, now: number): Query => ({
  text: 'INSERT INTO directory_grants (client_id, itwin_id, permission, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
  values: [clientId, itwinId, permission, now],
});

export const deleteGrant = (clientId: string, itwinId: string, permission: string): Query => ({
  text: 'DELETE FROM directory_grants WHERE client_id = $1 AND itwin_id = $2 AND permission = $3',
  values: [clientId, itwinId, permission],
});

export const selectGrants = (filter: { clientId?: string; itwinId?: string }, page: KeyPage | undefined): Query => {
  const p = keyPage(['client_id', 'itwin_id', 'permission'], page, 3);
  return {
    text: `SELECT * FROM directory_grants WHERE ($1::text IS NULL OR client_id = $1) AND ($2::text IS NULL OR itwin_id = $2) AND ${p.where}
           ORDER BY created_at, client_id, itwin_id, permission ${p.limit}`,
    values: [filter.clientId ?? null, filter.itwinId ?? null, ...p.values],
  };
};

export const selectGrant = (clientId: string, itwinId: string, permission: string): Query => ({
  text: 'SELECT 1 FROM directory_grants WHERE client_id = $1 AND itwin_id = $2 AND permission = $3',
  values: [clientId, itwinId, permission],
});

export const insertOrgAdmin = (clientId: string, accountId: string, now: number): Query => ({
  text: 'INSERT INTO directory_org_admins (client_id, account_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
  values: [clientId, accountId, now],
});

export const deleteOrgAdmin = (clientId: string, accountId: string): Query => ({
  text: 'DELETE FROM directory_org_admins WHERE client_id = $1 AND account_id = $2',
  values: [clientId, accountId],
});

export const selectOrgAdmins = (filter: { accountId?: string; clientId?: string }, page: KeyPage | undefined): Query => {
  const p = keyPage(['client_id', 'account_id'], page, 3);
  return {
    text: `SELECT * FROM directory_org_admins WHERE ($1::text IS NULL OR account_id = $1) AND ($2::text IS NULL OR client_id = $2) AND ${p.where}
           ORDER BY created_at, client_id, account_id ${p.limit}`,
    values: [filter.accountId ?? null, filter.clientId ?? null, ...p.values],
  };
};

export const selectOrgAdmin = (clientId: string, accountId: string): Query => ({
  text: 'SELECT 1 FROM directory_org_admins WHERE client_id = $1 AND account_id = $2',
  values: [clientId, accountId],
});
