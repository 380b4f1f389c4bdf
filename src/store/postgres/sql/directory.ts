import type { Query } from '../db.ts';

/** The directory (iTwins, grants, organisation admins): each statement with its parameters. */

export const upsertItwin = (itwinId: string, accountId: string, now: number): Query => ({
  text: 'INSERT INTO directory_itwins (itwin_id, account_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (itwin_id) DO UPDATE SET account_id = EXCLUDED.account_id',
  values: [itwinId, accountId, now],
});

export const deleteItwinGrants = (itwinId: string): Query => ({ text: 'DELETE FROM directory_grants WHERE itwin_id = $1', values: [itwinId] });

export const deleteItwin = (itwinId: string): Query => ({ text: 'DELETE FROM directory_itwins WHERE itwin_id = $1', values: [itwinId] });

export const selectItwins = (accountId: string | undefined): Query => ({
  text: 'SELECT * FROM directory_itwins WHERE $1::text IS NULL OR account_id = $1 ORDER BY created_at, itwin_id',
  values: [accountId ?? null],
});

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

export const selectGrants = (filter: { clientId?: string; itwinId?: string }): Query => ({
  text: `SELECT * FROM directory_grants WHERE ($1::text IS NULL OR client_id = $1) AND ($2::text IS NULL OR itwin_id = $2)
         ORDER BY created_at, client_id, itwin_id`,
  values: [filter.clientId ?? null, filter.itwinId ?? null],
});

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

export const selectOrgAdmins = (accountId: string | undefined): Query => ({
  text: 'SELECT * FROM directory_org_admins WHERE $1::text IS NULL OR account_id = $1 ORDER BY created_at, client_id',
  values: [accountId ?? null],
});

export const selectOrgAdmin = (clientId: string, accountId: string): Query => ({
  text: 'SELECT 1 FROM directory_org_admins WHERE client_id = $1 AND account_id = $2',
  values: [clientId, accountId],
});
