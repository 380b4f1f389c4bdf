import { MAINTAINER_PERMISSION, type WebhookDeactivationCause } from '../types.ts';
import type { SqliteDb } from './db.ts';
import { cancelPending } from './lanes.ts';
import type { LeaseTable } from './leases.ts';

/**
 * May the owner of the webhook row `w` manage its iTwin? The rule of auth/permissions.ts, in
 * SQL: the webhooks_maintainer grant on the iTwin, or Organization Administrator of the
 * account that owns it.
 */
export const ownerMayManage = (w: string) => `(
  EXISTS (SELECT 1 FROM directory_grants g
          WHERE g.client_id = ${w}.owner_client_id AND g.itwin_id = ${w}.scope_id AND g.permission = '${MAINTAINER_PERMISSION}')
  OR EXISTS (SELECT 1 FROM directory_itwins i JOIN directory_org_admins o ON o.account_id = i.account_id AND o.client_id = ${w}.owner_client_id
             WHERE i.itwin_id = ${w}.scope_id))`;

/** Which webhooks a directory change may have taken away from their owners (any filter left out matches all). */
export interface AccessScope {
  itwinIds?: string[];
  /** The iTwins of this account. */
  accountId?: string;
  ownerClientId?: string;
}

/**
 * Deactivates every active iTwin webhook in `scope` whose owner may no longer manage its
 * iTwin, recording `cause`, and cancels its pending deliveries. Call inside the transaction
 * that changed the directory. Returns the ids it deactivated.
 */
export function deactivateUnpermitted(db: SqliteDb, leases: LeaseTable, scope: AccessScope, cause: WebhookDeactivationCause, now: number): string[] {
  const ids = db
    .all<{ id: string }>(
      `UPDATE webhooks SET active = 0, modified_at = $now, deactivated_at = $now, deactivation_cause = $cause
       WHERE active = 1 AND scope = 'iTwin'
         AND ($itwins IS NULL OR scope_id IN (SELECT value FROM json_each($itwins)))
         AND ($account IS NULL OR scope_id IN (SELECT itwin_id FROM directory_itwins WHERE account_id = $account))
         AND ($owner IS NULL OR owner_client_id = $owner)
         AND NOT ${ownerMayManage('webhooks')}
       RETURNING id`,
      {
        now,
        cause,
        itwins: scope.itwinIds === undefined ? null : JSON.stringify(scope.itwinIds),
        account: scope.accountId ?? null,
        owner: scope.ownerClientId ?? null,
      },
    )
    .map((r) => r.id);
  for (const id of ids) cancelPending(db, leases, id, now);
  return ids;
}
