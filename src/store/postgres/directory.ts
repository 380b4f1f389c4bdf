import { toGrant, toItwin, toOrgAdmin, type GrantRow, type ItwinRow, type OrgAdminRow } from '../rows.ts';
import type { DirectoryRepo } from '../types.ts';
import type { PgDb } from './db.ts';
import * as sql from './sql/directory.ts';

export function directoryRepo(db: PgDb): DirectoryRepo {
  return {
    async putItwin(itwinId, accountId, now) {
      await db.count(sql.upsertItwin(itwinId, accountId, now));
    },
    removeItwin(itwinId) {
      return db.tx(async (t) => {
        await t.count(sql.deleteItwinGrants(itwinId));
        return (await t.count(sql.deleteItwin(itwinId))) > 0;
      });
    },
    async listItwins(accountId) {
      return (await db.rows<ItwinRow>(sql.selectItwins(accountId))).map(toItwin);
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
      await db.count(sql.insertGrant(clientId, itwinId, permission, now));
    },
    async revoke(clientId, itwinId, permission) {
      return (await db.count(sql.deleteGrant(clientId, itwinId, permission))) > 0;
    },
    async listGrants(filter) {
      return (await db.rows<GrantRow>(sql.selectGrants(filter))).map(toGrant);
    },
    async hasGrant(clientId, itwinId, permission) {
      return (await db.rows(sql.selectGrant(clientId, itwinId, permission))).length > 0;
    },

    async addOrgAdmin(clientId, accountId, now) {
      await db.count(sql.insertOrgAdmin(clientId, accountId, now));
    },
    async removeOrgAdmin(clientId, accountId) {
      return (await db.count(sql.deleteOrgAdmin(clientId, accountId))) > 0;
    },
    async listOrgAdmins(accountId) {
      return (await db.rows<OrgAdminRow>(sql.selectOrgAdmins(accountId))).map(toOrgAdmin);
    },
    async isOrgAdmin(clientId, accountId) {
      return (await db.rows(sql.selectOrgAdmin(clientId, accountId))).length > 0;
    },
  };
}
