import { planDirectorySync } from '../directorySync.ts';
import { toGrant, toItwin, toOrgAdmin, type GrantRow, type ItwinRow, type OrgAdminRow } from '../rows.ts';
import type { AccountDirectory, DirectoryRepo, WebhookDeactivationCause } from '../types.ts';
import type { PgDb, Queryable } from './db.ts';
import * as access from './sql/access.ts';
import * as sql from './sql/directory.ts';
import { cancelPending } from './sql/webhooks.ts';

/** Deactivates the webhooks in `scope` whose owners lost the right to them, with their pending deliveries (inside the caller's transaction). */
async function deactivateUnpermitted(t: Queryable, scope: access.AccessScope, cause: WebhookDeactivationCause, now: number): Promise<string[]> {
  if (scope.itwinIds?.length === 0) return [];
  const ids = (await t.rows<{ id: string }>(access.deactivateUnpermitted(scope, cause, now))).map((r) => r.id);
  if (ids.length > 0) await t.rows(cancelPending(ids, now));
  return ids;
}

async function accountDirectory(t: Queryable, accountId: string): Promise<AccountDirectory> {
  const [itwins, grants, admins] = [
    await t.rows<ItwinRow>(sql.selectItwins({ accountId }, undefined)),
    await t.rows<GrantRow>(sql.selectAccountGrants(accountId)),
    await t.rows<OrgAdminRow>(sql.selectOrgAdmins({ accountId }, undefined)),
  ];
  return {
    itwins: itwins.map((r) => r.itwin_id),
    grants: grants.map((r) => ({ clientId: r.client_id, itwinId: r.itwin_id, permission: r.permission })),
    orgAdmins: admins.map((r) => r.client_id),
  };
}

export function directoryRepo(db: PgDb): DirectoryRepo {
  return {
    putItwin(itwinId, accountId, now) {
      return db.tx(async (t) => {
        if ((await t.count(sql.insertItwins([itwinId], accountId, now))) > 0) return { created: true, movedFrom: undefined, deactivated: [] };
        const [row] = await t.rows<ItwinRow>(sql.selectItwinForUpdate(itwinId));
        if (row === undefined || row.account_id === accountId) return { created: false, movedFrom: undefined, deactivated: [] };
        await t.count(sql.moveItwins([itwinId], accountId));
        await t.count(sql.deleteGrantsOn([itwinId]));
        return { created: false, movedFrom: row.account_id, deactivated: await deactivateUnpermitted(t, { itwinIds: [itwinId] }, 'itwinMoved', now) };
      });
    },
    removeItwin(itwinId, now) {
      return db.tx(async (t) => {
        await t.count(sql.deleteGrantsOn([itwinId]));
        const removed = (await t.count(sql.deleteItwins([itwinId]))) > 0;
        return { removed, deactivated: removed ? await deactivateUnpermitted(t, { itwinIds: [itwinId] }, 'itwinRemoved', now) : [] };
      });
    },
    async getItwin(itwinId) {
      const [r] = await db.rows<ItwinRow>(sql.selectItwin(itwinId));
      return r && toItwin(r);
    },
    async listItwins(filter = {}, page) {
      return (await db.rows<ItwinRow>(sql.selectItwins(filter, page))).map(toItwin);
    },
    async getItwinAccount(itwinId) {
      return (await db.rows<ItwinRow>(sql.selectItwinAccounts([itwinId])))[0]?.account_id;
    },
    async getItwinAccounts(itwinIds) {
      const out: Record<string, string> = {};
      for (const r of await db.rows<ItwinRow>(sql.selectItwinAccounts(itwinIds))) out[r.itwin_id] = r.account_id;
      return out;
    },

    async grant(clientId, itwinId, permission, now) {
      return (await db.count(sql.insertGrant(clientId, itwinId, permission, now))) > 0;
    },
    revoke(clientId, itwinId, permission, now) {
      return db.tx(async (t) => {
        const revoked = (await t.count(sql.deleteGrant(clientId, itwinId, permission))) > 0;
        return { revoked, deactivated: revoked ? await deactivateUnpermitted(t, { itwinIds: [itwinId], ownerClientId: clientId }, 'accessRevoked', now) : [] };
      });
    },
    async listGrants(filter, page) {
      return (await db.rows<GrantRow>(sql.selectGrants(filter, page))).map(toGrant);
    },
    async hasGrant(clientId, itwinId, permission) {
      return (await db.rows(sql.selectGrant(clientId, itwinId, permission))).length > 0;
    },

    async addOrgAdmin(clientId, accountId, now) {
      return (await db.count(sql.insertOrgAdmin(clientId, accountId, now))) > 0;
    },
    removeOrgAdmin(clientId, accountId, now) {
      return db.tx(async (t) => {
        const removed = (await t.count(sql.deleteOrgAdmin(clientId, accountId))) > 0;
        return { removed, deactivated: removed ? await deactivateUnpermitted(t, { accountId, ownerClientId: clientId }, 'accessRevoked', now) : [] };
      });
    },
    async listOrgAdmins(filter = {}, page) {
      return (await db.rows<OrgAdminRow>(sql.selectOrgAdmins(filter, page))).map(toOrgAdmin);
    },
    async isOrgAdmin(clientId, accountId) {
      return (await db.rows(sql.selectOrgAdmin(clientId, accountId))).length > 0;
    },

    getAccountDirectory: (accountId) => accountDirectory(db, accountId),
    syncAccountDirectory(accountId, desired, now) {
      return db.tx(async (t) => {
        // Locks the account's iTwins and the wanted ones: two syncs of one account (or of
        // two accounts trading an iTwin) run one after the other.
        const owners: Record<string, string> = {};
        for (const r of await t.rows<ItwinRow>(sql.lockItwins(accountId, desired.itwins))) owners[r.itwin_id] = r.account_id;
        const current = await accountDirectory(t, accountId);
        const plan = planDirectorySync(accountId, current, desired, owners);
        const moved = plan.moveItwins.map((m) => m.itwinId);
        if (plan.removeItwins.length > 0) {
          await t.count(sql.deleteGrantsOn(plan.removeItwins));
          await t.count(sql.deleteItwins(plan.removeItwins));
        }
        if (moved.length > 0) {
          await t.count(sql.moveItwins(moved, accountId));
          await t.count(sql.deleteGrantsOn(moved));
        }
        if (plan.addItwins.length > 0) await t.count(sql.insertItwins(plan.addItwins, accountId, now));
        if (plan.removeGrants.length > 0) await t.count(sql.deleteGrants(plan.removeGrants));
        if (plan.addGrants.length > 0) await t.count(sql.insertGrants(plan.addGrants, now));
        if (plan.removeOrgAdmins.length > 0) await t.count(sql.deleteOrgAdmins(plan.removeOrgAdmins, accountId));
        if (plan.addOrgAdmins.length > 0) await t.count(sql.insertOrgAdmins(plan.addOrgAdmins, accountId, now));
        const deactivated = [
          ...(await deactivateUnpermitted(t, { itwinIds: plan.removeItwins }, 'itwinRemoved', now)),
          ...(await deactivateUnpermitted(t, { itwinIds: moved }, 'itwinMoved', now)),
          ...(await deactivateUnpermitted(t, { accountId }, 'accessRevoked', now)),
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
