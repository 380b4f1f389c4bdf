/**
 * Reads across applications for an operator (a webhooks:admin caller of the admin API):
 * the WebhooksRepo's reads are always those of one owner, so that no route can reach
 * another application's webhook by mistake; these are the deliberate exception.
 */
import type { Page, WebhookRecord } from './types.ts';

export interface OperatorReadsRepo {
  /** The webhook with this id, whoever owns it. */
  getAnyWebhook(id: string): Promise<WebhookRecord | undefined>;
  /** Every application's webhooks (or one application's), oldest first, keyset-paged like listWebhooks. */
  listAllWebhooks(ownerClientId: string | undefined, limit: number, afterCursor: number | undefined): Promise<Page<WebhookRecord>>;
}
