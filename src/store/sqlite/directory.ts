import { toGrant, toItwin, toOrgAdmin, type GrantRow, type ItwinRow, type OrgAdminRow } from '../rows.ts';
import type { DirectoryRepo, Sync } from '../types.ts';
import type { SqliteDb } from './db.ts';

export function directoryRepo(db: SqliteDb): Sync<DirectoryRepo> {
  return {
    putItwin(itwinId, accountId, now) {
      db.run(
        `INSERT INTO directory_itwins (itwin_id, account_id, created_at) VALUES ($i, $a, $t)
         ON CONFLICT (itwin_id) DO UPDATE SET account_id = excluded.account_id`,
        { i: itwinId, a: accountId, t: now },
      );
    },
    removeItwin(itwinId) {
      return db.tx(() => {
        db.run('DELETE FROM directory_grants WHERE itwin_id = $i', { i: itwinId });
        return db.run('DELETE FROM directory_itwins WHERE itwin_id = $i', { i: itwinId }).changes > 0;
      });
    },
    listItwins(accountId) {
      const rows = db.all<ItwinRow>(
        'SELECT * FROM directory_itwins WHERE $a IS NULL OR account_id = $a ORDER BY created_at, itwin_id',
        { a: accountId ?? null },
      );
      return rows.map(toItwin);
    },
    getItwinAccounts(itwinIds) {
      const out: Record<string, string> = {};
      for (const r of db.all<{ itwin_id: string; account_id: string }>(
        'SELECT itwin_id, account_id FROM directory_itwins WHERE itwin_id IN (SELECT value FROM json_each($ids))',
        { ids: JSON.stringify(itwinIds) },
      )) {
        out[r.itwin_id] = r.account_id;
      }
      return out;
    },
    getItwinAccount(itwinId) {
      return db.get<{ account_id: string }>('SELECT account_id FROM directory_itwins WHERE itwin_id = $i', { i: itwinId })?.account_id;
    },

    grant(clientId, itwinId, permission, now) {
      db.run(
        `INSERT INTO directory_grants (client_id, itwin_id, permission, created_at) VALUES ($c, $i, $p, $t)
         ON CONFLICT DO NOTHING`,
        { c: clientId, i: itwinId, p: permission, t: now },
      );
    },
    revoke(clientId, itwinId, permission) {
      return (
        db.run('DELETE FROM directory_grants WHERE client_id = $c AND itwin_id = $i AND permission = $p', {
          c: clientId,
          i: itwinId,
          p: permission,
        }).changes > 0
      );
    },
    listGrants(filter) {
      const rows = db.all<GrantRow>(
        `SELECT * FROM directory_grants WHERE ($c IS NULL OR client_id = $c) AND ($i IS NULL OR itwin_id = $i)
         ORDER BY created_at, client_id, itwin_id`,
        { c: filter.clientId ?? null, i: filter.itwinId ?? null },
      );
      return rows.map(toGrant);
    },
    hasGrant(clientId, itwinId, permission) {
      return (
        db.get('SELECT 1 FROM directory_grants WHERE client_id = $c AND itwin_id = $i AND permission = $p', {
          c: clientId,
          i: itwinId,
          p: permission,
        }) !== undefined
      );
    },

    addOrgAdmin(clientId, accountId, now) {
      db.run('INSERT INTO directory_org_admins (client_id, account_id, created_at) VALUES ($c, $a, $t) ON CONFLICT DO NOTHING', {
        c: clientId,
        a: accountId,
        t: now,
      });
    },
    removeOrgAdmin(clientId, accountId) {
      return db.run('DELETE FROM directory_org_admins WHERE client_id = $c AND account_id = $a', { c: clientId, a: accountId }).changes > 0;
    },
    listOrgAdmins(accountId) {
      const rows = db.all<OrgAdminRow>(
        'SELECT * FROM directory_org_admins WHERE $a IS NULL OR account_id = $a ORDER BY created_at, client_id',
        { a: accountId ?? null },
      );
      return rows.map(toOrgAdmin);
    },
    isOrgAdmin(clientId, accountId) {
      return db.get('SELECT 1 FROM directory_org_admins WHERE client_id = $c AND account_id = $a', { c: clientId, a: accountId }) !== undefined;
    },
  };
}
