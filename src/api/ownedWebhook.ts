import type { WebhooksRepo, WebhookRecord } from '../store/types.ts';
import { errors } from '../contract/errors.ts';
import { isUuid, normalizeUuid } from '../contract/schemas/common.ts';

/**
 * The caller's own webhook, or 404 WebhookNotFound whether it is missing, malformed or
 * someone else's: the answer never tells another application's webhook exists.
 */
export async function findOwnedWebhook(store: Pick<WebhooksRepo, 'getWebhook'>, clientId: string, webhookId: string): Promise<WebhookRecord> {
  const w = isUuid(webhookId) ? await store.getWebhook(clientId, normalizeUuid(webhookId)) : undefined;
  if (w === undefined) throw errors.webhookNotFound();
  return w;
}
