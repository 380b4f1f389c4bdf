import type { AccountDirectory } from './types.ts';

/** What a sync of one account's directory must do, computed the same way for both stores. */
export interface DirectorySyncPlan {
  addItwins: string[];
  /** iTwins of another account that move to this one (their grants are dropped). */
  moveItwins: Array<{ itwinId: string; fromAccountId: string }>;
  removeItwins: string[];
  addGrants: AccountDirectory['grants'];
  /** Grants of this account's directory that are not wanted (those on removed iTwins included). */
  removeGrants: AccountDirectory['grants'];
  addOrgAdmins: string[];
  removeOrgAdmins: string[];
}

const grantKey = (g: { clientId: string; itwinId: string; permission: string }) => `${g.clientId}\u0000${g.itwinId}\u0000${g.permission}`;

/**
 * The difference between an account's directory now (`current`) and what it should be
 * (`desired`). `owners` maps each desired iTwin the directory knows to its account now.
 */
export function planDirectorySync(
  accountId: string,
  current: AccountDirectory,
  desired: AccountDirectory,
  owners: Record<string, string>,
): DirectorySyncPlan {
  const wantedItwins = new Set(desired.itwins);
  const haveItwins = new Set(current.itwins);
  const moveItwins = desired.itwins.flatMap((itwinId) => {
    const owner = owners[itwinId];
    return owner !== undefined && owner !== accountId ? [{ itwinId, fromAccountId: owner }] : [];
  });
  const wantedGrants = new Set(desired.grants.map(grantKey));
  const haveGrants = new Set(current.grants.map(grantKey));
  const wantedAdmins = new Set(desired.orgAdmins);
  const haveAdmins = new Set(current.orgAdmins);
  return {
    addItwins: desired.itwins.filter((i) => !haveItwins.has(i) && owners[i] === undefined),
    moveItwins,
    removeItwins: current.itwins.filter((i) => !wantedItwins.has(i)),
    // (A moved iTwin's grants were another account's: none is in `current`, all wanted ones are new.)
    addGrants: desired.grants.filter((g) => !haveGrants.has(grantKey(g))),
    removeGrants: current.grants.filter((g) => !wantedGrants.has(grantKey(g))),
    addOrgAdmins: desired.orgAdmins.filter((c) => !haveAdmins.has(c)),
    removeOrgAdmins: current.orgAdmins.filter((c) => !wantedAdmins.has(c)),
  };
}
