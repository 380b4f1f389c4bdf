import { planDirectorySync } from '../directorySync.ts';
import { toGrant, toItwin, toOrgAdmin, type GrantRow, type ItwinRow, type OrgAdminRow } from '../rows.ts';
import type { AccountDirectory, DirectoryRepo, DirectorySyncResult, Sync } from '../types.ts';
import { deactivateUnpermitted } from './access.ts';
import type { SqliteDb } from './db.ts';
import { afterKey, pageLimit } from './keyPage.ts';
import type { LeaseTable } from './leases.ts';

export function directoryRepo(db: SqliteDb, leases: LeaseTable): Sync<DirectoryRepo> {
  const accountOf = (itwinId: string) =>
    db.get<{ account_id: string }>('SELECT account_id FROM directory_itwins WHERE itwin_id = $i', { i: itwinId })?.account_id;
  const deleteGrantsOn = (itwinId: string) => db.run('DELETE FROM directory_grants WHERE itwin_id = $i', { i: itwinId }).changes;
  const insertGrant = (clientId: string, itwinId: string, permission: string, now: number) =>
    db.run(
      `INSERT INTO directory_grants (client_id, itwin_id, permission, created_at) VALUES ($c, $i, $p, $t)
       ON CONFLICT DO NOTHING`,
      { c: clientId, i: itwinId, p: permission, t: now },
    ).changes > 0;
  const deleteGrant = (clientId: string, itwinId: string, permission: string) =>
    db.run('DELETE FROM directory_grants WHERE client_id = $c AND itwin_id = $i AND permission = $p', { c: clientId, i: itwinId, p: permission }).changes > 0;
  const insertOrgAdmin = (clientId: string, accountId: string, now: number) =>
    db.run('INSERT INTO directory_org_admins (client_id, account_id, created_at) VALUES ($c, $a, $t) ON CONFLICT DO NOTHING', {
      c: clientId,
      a: accountId,
      t: now,
    }).changes > 0;
  const deleteOrgAdmin = (clientId: string, accountId: string) =>
    db.run('DELETE FROM directory_org_admins WHERE client_id = $c AND account_id = $a', { c: clientId, a: accountId }).changes > 0;
  const deleteItwin = (itwinId: string) => {
    deleteGrantsOn(itwinId);
    return db.run('DELETE FROM directory_itwins WHERE itwin_id = $i', { i: itwinId }).changes > 0;
  };
  const moveItwin = (itwinId: string, accountId: string) => {
    db.run('UPDATE directory_itwins SET account_id = $a WHERE itwin_id = $i', { i: itwinId, a: accountId });
    // Permissions are given within an account: none survives a move.
    deleteGrantsOn(itwinId);
  };

  const accountDirectory = (accountId: string): AccountDirectory => ({
    itwins: db.all<{ itwin_id: string }>('SELECT itwin_id FROM directory_itwins WHERE account_id = $a ORDER BY created_at, itwin_id', { a: accountId }).map(
      (r) => r.itwin_id,
    ),
    grants: db
      .all<GrantRow>(
        `SELECT g.* FROM directory_grants g JOIN directory_itwins i ON i.itwin_id = g.itwin_id
         WHERE i.account_id = $a ORDER BY g.created_at, g.client_id, g.itwin_id, g.permission`,
        { a: accountId },
      )
      .map((r) => ({ clientId: r.client_id, itwinId: r.itwin_id, permission: r.permission })),
    orgAdmins: db
      .all<{ client_id: string }>('SELECT client_id FROM directory_org_admins WHERE account_id = $a ORDER BY created_at, client_id', { a: accountId })
      .map((r) => r.client_id),
  });

  return {
    putItwin(itwinId, accountId, now) {
      return db.tx(() => {
        const before = accountOf(itwinId);
        if (before === undefined) {
          db.run('INSERT INTO directory_itwins (itwin_id, account_id, created_at) VALUES ($i, $a, $t)', { i: itwinId, a: accountId, t: now });
          return { created: true, movedFrom: undefined, deactivated: [] };
        }
        if (before === accountId) return { created: false, movedFrom: undefined, deactivated: [] };
        moveItwin(itwinId, accountId);
        return { created: false, movedFrom: before, deactivated: deactivateUnpermitted(db, leases, { itwinIds: [itwinId] }, 'itwinMoved', now) };
      });
    },
    removeItwin(itwinId, now) {
      return db.tx(() => {
        const removed = deleteItwin(itwinId);
        return { removed, deactivated: removed ? deactivateUnpermitted(db, leases, { itwinIds: [itwinId] }, 'itwinRemoved', now) : [] };
      });
    },
    getItwin(itwinId) {
      const r = db.get<ItwinRow>('SELECT * FROM directory_itwins WHERE itwin_id = $i', { i: itwinId });
      return r && toItwin(r);
    },
    listItwins(filter = {}, page) {
      return db
        .all<ItwinRow>(
          `SELECT * FROM directory_itwins WHERE ($a IS NULL OR account_id = $a) AND ${afterKey(['itwin_id'])}
           ORDER BY created_at, itwin_id LIMIT CAST($limit AS INTEGER)`,
          { a: filter.accountId ?? null, ...pageLimit(page) },
        )
        .map(toItwin);
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
    getItwinAccount: accountOf,

    grant: insertGrant,
    revoke(clientId, itwinId, permission, now) {
      return db.tx(() => {
        const revoked = deleteGrant(clientId, itwinId, permission);
        return { revoked, deactivated: revoked ? deactivateUnpermitted(db, leases, { itwinIds: [itwinId], ownerClientId: clientId }, 'accessRevoked', now) : [] };
      });
    },
    listGrants(filter, page) {
      return db
        .all<GrantRow>(
          `SELECT * FROM directory_grants WHERE ($c IS NULL OR client_id = $c) AND ($i IS NULL OR itwin_id = $i)
             AND ${afterKey(['client_id', 'itwin_id', 'permission'])}
           ORDER BY created_at, client_id, itwin_id, permission LIMIT CAST($limit AS INTEGER)`,
          { c: filter.clientId ?? null, i: filter.itwinId ?? null, ...pageLimit(page) },
        )
        .map(toGrant);
    },
    hasGrant(clientId, itwinId, permission) {
      return db.get('SELECT 1 FROM directory_grants WHERE client_id = $c AND itwin_id = $i AND permission = $p', { c: clientId, i: itwinId, p: permission }) !== undefined;
    },

    addOrgAdmin: insertOrgAdmin,
    removeOrgAdmin(clientId, accountId, now) {
      return db.tx(() => {
        const removed = deleteOrgAdmin(clientId, accountId);
        return { removed, deactivated: removed ? deactivateUnpermitted(db, leases, { accountId, ownerClientId: clientId }, 'accessRevoked', now) : [] };
      });
    },
    listOrgAdmins(filter = {}, page) {
      return db
        .all<OrgAdminRow>(
          `SELECT * FROM directory_org_admins WHERE ($a IS NULL OR account_id = $a) AND ($c IS NULL OR client_id = $c)
             AND ${afterKey(['client_id', 'account_id'])}
           ORDER BY created_at, client_id, account_id LIMIT CAST($limit AS INTEGER)`,
          { a: filter.accountId ?? null, c: filter.clientId ?? null, ...pageLimit(page) },
        )
        .map(toOrgAdmin);
    },
    isOrgAdmin(clientId, accountId) {
      return db.get('SELECT 1 FROM directory_org_admins WHERE client_id = $c AND account_id = $a', { c: clientId, a: accountId }) !== undefined;
    },

    getAccountDirectory: accountDirectory,
    syncAccountDirectory(accountId, desired, now) {
      return db.tx((): DirectorySyncResult => {
        const current = accountDirectory(accountId);
        const owners: Record<string, string> = {};
        for (const itwinId of desired.itwins) {
          const owner = accountOf(itwinId);
          if (owner !== undefined) owners[itwinId] = owner;
        }
        const plan = planDirectorySync(accountId, current, desired, owners);
        for (const itwinId of plan.removeItwins) deleteItwin(itwinId);
        for (const { itwinId } of plan.moveItwins) moveItwin(itwinId, accountId);
        for (const itwinId of plan.addItwins) {
          db.run('INSERT INTO directory_itwins (itwin_id, account_id, created_at) VALUES ($i, $a, $t)', { i: itwinId, a: accountId, t: now });
        }
        for (const g of plan.removeGrants) deleteGrant(g.clientId, g.itwinId, g.permission);
        for (const g of plan.addGrants) insertGrant(g.clientId, g.itwinId, g.permission, now);
        for (const clientId of plan.removeOrgAdmins) deleteOrgAdmin(clientId, accountId);
        for (const clientId of plan.addOrgAdmins) insertOrgAdmin(clientId, accountId, now);
        const deactivated = [
          ...deactivateUnpermitted(db, leases, { itwinIds: plan.removeItwins }, 'itwinRemoved', now),
          ...deactivateUnpermitted(db, leases, { itwinIds: plan.moveItwins.map((m) => m.itwinId) }, 'itwinMoved', now),
          ...deactivateUnpermitted(db, leases, { accountId }, 'accessRevoked', now),
        ];
        return {
          itwins: { added: plan.addItwins, removed: plan.removeItwins, moved: plan.moveItwins },
          grants: { added: plan.addGrants, removed: plan.removeGrants },
          orgAdmins: { added: plan.addOrgAdmins, removed: plan.removeOrgAdmins },
          deactivated,
        };
      });
    },
  };
}
