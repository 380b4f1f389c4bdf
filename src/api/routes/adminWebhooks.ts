import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { SCOPES } from '../../auth/scopes.ts';
import { commonErrors, errorResponse } from '../../contract/schemas/common.ts';
import { Top, Webhook, WebhookIdParams } from '../../contract/schemas/webhooks.ts';
import type { WebhookRecord } from '../../store/types.ts';
import type { AppDeps } from '../deps.ts';
import { linkBase } from '../links.ts';
import { encodeCursor, readListQuery } from '../paging.ts';
import { operatorAccess } from '../webhookAccess.ts';
import { toWebhookResponse } from './webhooks.ts';

const ADMIN = { anyScope: [SCOPES.admin], serviceApp: true };

/**
 * A webhook as an operator sees it: the webhook object exactly as its owner does (nothing is
 * added to it, contract §2), beside the application that owns it.
 */
const AdminWebhook = Type.Object(
  { ownerClientId: Type.String({ description: 'The application that created the webhook.' }), webhook: Webhook },
  { additionalProperties: false, title: 'AdminWebhook' },
);
const Link = Type.Object({ href: Type.String() }, { additionalProperties: false });
const AdminWebhookList = Type.Object(
  { webhooks: Type.Array(AdminWebhook), _links: Type.Object({ self: Link, next: Type.Optional(Link) }, { additionalProperties: false }) },
  { additionalProperties: false, title: 'AdminWebhookList' },
);
const AdminListQuery = Type.Object(
  {
    clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only the webhooks of this application.' })),
    $top: Type.Optional(Top),
    $continuationToken: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'Opaque token from _links.next.' })),
  },
  { additionalProperties: false },
);

const toAdminWebhook = (w: WebhookRecord) => ({ ownerClientId: w.ownerClientId, webhook: toWebhookResponse(w) });

/**
 * Every application's webhooks, read-only, for operators (scope webhooks:admin) and the
 * dashboard's operator view. Their deliveries, health and statistics are the read routes
 * of deliveries.ts, webhookHealth.ts, statistics.ts and signedRequest.ts under
 * /admin/webhooks. [ext, contract §7]
 */
export const adminWebhookRoutes =
  (deps: AppDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const access = operatorAccess(deps.store);

    app.get(
      '/admin/webhooks',
      {
        attachValidation: true,
        config: { auth: ADMIN },
        schema: {
          summary: 'List every application\'s webhooks',
          description: 'Oldest first, paged like GET /webhooks; clientId narrows the list to one application.',
          tags: ['Admin'],
          security: [{ bearer: [] }],
          querystring: AdminListQuery,
          response: { 200: AdminWebhookList, ...commonErrors, 422: errorResponse('InvalidWebhooksRequest.') },
        },
      },
      async (request) => {
        const { top, after } = readListQuery(request, 'InvalidWebhooksRequest');
        const { clientId } = request.query;
        const page = await deps.store.listAllWebhooks(clientId, top, after);
        const base = linkBase(request, deps.config);
        const filter = clientId === undefined ? '' : `${new URLSearchParams({ clientId }).toString()}&`;
        return {
          webhooks: page.items.map(toAdminWebhook),
          _links: {
            self: { href: `${base}${request.url}` },
            ...(page.nextCursor === undefined ? {} : { next: { href: `${base}/admin/webhooks?${filter}$top=${top}&$continuationToken=${encodeCursor(page.nextCursor)}` } }),
          },
        };
      },
    );

    app.get(
      '/admin/webhooks/:webhookId',
      {
        config: { auth: ADMIN },
        schema: {
          summary: 'Get any application\'s webhook',
          tags: ['Admin'],
          security: [{ bearer: [] }],
          params: WebhookIdParams,
          response: { 200: AdminWebhook, ...commonErrors, 404: errorResponse('WebhookNotFound.') },
        },
      },
      async (request) => toAdminWebhook(await access.find(request, request.params.webhookId)),
    );
  };
