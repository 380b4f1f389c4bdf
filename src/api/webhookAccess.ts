import type { FastifyRequest } from 'fastify';
import { READ_SCOPES, SCOPES } from '../auth/scopes.ts';
import { errors } from '../contract/errors.ts';
import { isUuid, normalizeUuid } from '../contract/schemas/common.ts';
import type { StatisticsScope } from '../store/insights.ts';
import type { Store, WebhookRecord } from '../store/types.ts';
import { findOwnedWebhook } from './ownedWebhook.ts';
import { principalOf } from './plugins/auth.ts';
import type { RouteAuth } from './types.ts';

/**
 * Who reads a webhook's history, and how its webhook is found: an application reads its
 * own under /webhooks; an operator (webhooks:admin) reads anyone's, read-only, under
 * /admin/webhooks. The read routes (deliveries, health, statistics, signed requests) are
 * registered once per access, so both answer alike.
 */
export interface WebhookAccess {
  /** The path of the webhook collection: /webhooks or /admin/webhooks. */
  prefix: string;
  auth: RouteAuth;
  tag: string;
  /** The webhook, or 404 WebhookNotFound (never telling that someone else's exists). */
  find(request: FastifyRequest, webhookId: string): Promise<WebhookRecord>;
  /** The statistics of every webhook the caller may read, and whose they count. */
  statistics: { path: string; summary: string; scope(request: FastifyRequest): StatisticsScope };
}

export function ownerAccess(store: Store): WebhookAccess {
  return {
    prefix: '/webhooks',
    auth: { anyScope: READ_SCOPES, serviceApp: true },
    tag: 'Deliveries',
    find: (request, webhookId) => findOwnedWebhook(store, principalOf(request).clientId!, webhookId),
    statistics: {
      path: '/webhooks/statistics',
      summary: 'Delivery statistics of all the caller\'s webhooks',
      scope: (request) => ({ ownerClientId: principalOf(request).clientId! }),
    },
  };
}

export function operatorAccess(store: Store): WebhookAccess {
  return {
    prefix: '/admin/webhooks',
    auth: { anyScope: [SCOPES.admin], serviceApp: true },
    tag: 'Admin',
    async find(_request, webhookId) {
      const w = isUuid(webhookId) ? await store.getAnyWebhook(normalizeUuid(webhookId)) : undefined;
      if (w === undefined) throw errors.webhookNotFound();
      return w;
    },
    statistics: { path: '/admin/statistics', summary: 'Delivery statistics of every application\'s webhooks', scope: () => ({ everyone: true }) },
  };
}
