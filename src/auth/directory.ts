import type { AccountDirectory, DirectoryRepo, DirectorySyncResult } from '../store/types.ts';
import { KNOWN_PERMISSIONS } from './scopes.ts';

/**
 * The embedded directory as the CLI (`directory …`) and the admin API (`/admin/…`) change
 * it: both call these, so that the rules, and what a change does to webhooks, are the same.
 */

/** One problem with a directory change; `target` names the input (as the API's error details do). */
export interface DirectoryProblem {
  target: string;
  message: string;
}

export class DirectoryInputError extends Error {
  override name = 'DirectoryInputError';
  readonly problems: DirectoryProblem[];
  constructor(problems: DirectoryProblem[]) {
    super(problems.map((p) => p.message).join(' '));
    this.problems = problems;
  }
}

/** A grant names an iTwin the directory does not hold. */
export class UnknownItwinError extends Error {
  override name = 'UnknownItwinError';
  readonly itwinId: string;
  constructor(itwinId: string) {
    super(`No iTwin ${itwinId} in the directory; add it first.`);
    this.itwinId = itwinId;
  }
}

export function permissionProblem(permission: string, target = 'permission'): DirectoryProblem | undefined {
  return KNOWN_PERMISSIONS.includes(permission) ? undefined : { target, message: `${target} must be one of: ${KNOWN_PERMISSIONS.join(', ')}.` };
}

/** Gives `clientId` a permission on a known iTwin; false when it had it already. */
export async function grantPermission(directory: Pick<DirectoryRepo, 'getItwinAccount' | 'grant'>, clientId: string, itwinId: string, permission: string, now: number): Promise<boolean> {
  const problem = permissionProblem(permission);
  if (problem !== undefined) throw new DirectoryInputError([problem]);
  if ((await directory.getItwinAccount(itwinId)) === undefined) throw new UnknownItwinError(itwinId);
  return directory.grant(clientId, itwinId, permission, now);
}

/** The largest directory one sync may set (the whole set travels in one request). */
export const SYNC_LIMITS = { itwins: 10_000, grants: 20_000, orgAdmins: 1_000 } as const;

/**
 * The problems of a directory to sync beyond its shape: the same entry twice, a grant on an
 * iTwin the set does not hold, a permission that does not exist. iTwin ids are expected in
 * lower case (UUIDs are compared so everywhere).
 */
export function accountDirectoryProblems(desired: AccountDirectory): DirectoryProblem[] {
  const problems: DirectoryProblem[] = [];
  const twice = <T>(items: T[], key: (t: T) => string, target: string) => {
    const seen = new Set<string>();
    items.forEach((item, i) => {
      const k = key(item);
      if (seen.has(k)) problems.push({ target: `${target}[${i}]`, message: `${target}[${i}] repeats an earlier entry.` });
      seen.add(k);
    });
  };
  twice(desired.itwins, (i) => i, 'itwins');
  twice(desired.grants, (g) => `${g.clientId}\u0000${g.itwinId}\u0000${g.permission}`, 'grants');
  twice(desired.orgAdmins, (c) => c, 'orgAdmins');
  const itwins = new Set(desired.itwins);
  desired.grants.forEach((g, i) => {
    if (!itwins.has(g.itwinId)) problems.push({ target: `grants[${i}].itwinId`, message: `grants[${i}] is on iTwin ${g.itwinId}, which is not in itwins.` });
    const p = permissionProblem(g.permission, `grants[${i}].permission`);
    if (p !== undefined) problems.push(p);
  });
  return problems;
}

/** Sets one account's whole directory (an idempotent sync); throws DirectoryInputError for a set that cannot be. */
export async function syncAccountDirectory(
  directory: Pick<DirectoryRepo, 'syncAccountDirectory'>,
  accountId: string,
  desired: AccountDirectory,
  now: number,
): Promise<DirectorySyncResult> {
  const problems = accountDirectoryProblems(desired);
  if (problems.length > 0) throw new DirectoryInputError(problems);
  return directory.syncAccountDirectory(accountId, desired, now);
}
