import type { DirectoryRepo } from '../store/types.ts';
import { MAINTAINER_PERMISSION } from './scopes.ts';

/**
 * May `clientId` manage webhooks of `itwinId`? Yes with the webhooks_maintainer
 * permission on that iTwin, or as Organization Administrator of the account that owns it.
 */
export async function canManageItwinWebhooks(directory: DirectoryRepo, clientId: string, itwinId: string): Promise<boolean> {
  if (await directory.hasGrant(clientId, itwinId, MAINTAINER_PERMISSION)) return true;
  const accountId = await directory.getItwinAccount(itwinId);
  return accountId !== undefined && (await directory.isOrgAdmin(clientId, accountId));
}
