import { MAINTAINER_PERMISSION, type WebhookDeactivationCause } from '../../types.ts';
import type { Query } from '../db.ts';

/**
 * May the owner of the webhook row `w` manage its iTwin? The rule of auth/permissions.ts, as
 * the SQLite store writes it (sqlite/access.ts).
 */
export const ownerMayManage = (w: string) => `(
  EXISTS (SELECT 1 FROM directory_grants g
          WHERE g.client_id = ${w}.owner_client_id AND g.itwin_id = ${w}.scope_id AND g.permission = '${MAINTAINER_PERMISSION}')
  OR EXISTS (SELECT 1 FROM directory_itwins i JOIN directory_org_admins o ON o.account_id = i.account_id AND o.client_id = ${w}.owner_client_id
             WHERE i.itwin_id = ${w}.scope_id))`;

/**
 * Lock what lets the owner manage webhook $1's iTwin (FOR SHARE): a revocation, a removal of
 * the administrator or a move of the iTwin (an UPDATE of its account) then waits for the
 * activating transaction, and its own deactivation sees the webhook active. Each returns a
 * row when it found the right.
 */
export const lockOwnerGrant = (webhookId: string): Query => ({
  text: `SELECT 1 FROM webhooks w JOIN directory_grants g
           ON g.client_id = w.owner_client_id AND g.itwin_id = w.scope_id AND g.permission = '${MAINTAINER_PERMISSION}'
         WHERE w.id = $1 FOR SHARE OF g`,
  values: [webhookId],
});

export const lockOwnerOrgAdmin = (webhookId: string): Query => ({
  text: `SELECT 1 FROM webhooks w JOIN directory_itwins i ON i.itwin_id = w.scope_id
           JOIN directory_org_admins o ON o.account_id = i.account_id AND o.client_id = w.owner_client_id
         WHERE w.id = $1 FOR SHARE OF i, o`,
  values: [webhookId],
});

/** Which webhooks a directory change may have taken away from their owners (a filter left out matches all). */
export interface AccessScope {
  itwinIds?: string[];
  /** The iTwins of this account. */
  accountId?: string;
  ownerClientId?: string;
}

/**
 * Deactivates every active iTwin webhook in `scope` whose owner may no longer manage its
 * iTwin, recording `cause`; returns their ids (the caller cancels their deliveries).
 */
export const deactivateUnpermitted = (scope: AccessScope, cause: WebhookDeactivationCause, now: number): Query => ({
  text: `UPDATE webhooks SET active = false, modified_at = $1, deactivated_at = $1, deactivation_cause = $2
         WHERE active AND scope = 'iTwin'
           AND ($3::text[] IS NULL OR scope_id = ANY ($3::text[]))
           AND ($4::text IS NULL OR scope_id IN (SELECT itwin_id FROM directory_itwins WHERE account_id = $4))
           AND ($5::text IS NULL OR owner_client_id = $5)
           AND NOT ${ownerMayManage('webhooks')}
         RETURNING id`,
  values: [now, cause, scope.itwinIds ?? null, scope.accountId ?? null, scope.ownerClientId ?? null],
});
