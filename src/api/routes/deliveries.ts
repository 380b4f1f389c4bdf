import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { MODIFY_SCOPES, READ_SCOPES } from '../../auth/scopes.ts';
import { freshExample } from '../../catalog/freshExample.ts';
import { deliveryBody } from '../../delivery/signing.ts';
import type { DeliveryDetail, DeliverySummary } from '../../store/types.ts';
import { createFixedWindows } from '../../runtime/fixedWindows.ts';
import type { AppDeps } from '../deps.ts';
import type { WebhookAccess } from '../webhookAccess.ts';
import { detail, errors } from '../../contract/errors.ts';
import { linkBase } from '../links.ts';
import { findOwnedWebhook } from '../ownedWebhook.ts';
import { principalOf } from '../plugins/auth.ts';
import { encodeCursor, readListQuery } from '../paging.ts';
import { bodyErrors, commonErrors, errorResponse, Timestamp } from '../../contract/schemas/common.ts';
import { Top } from '../../contract/schemas/webhooks.ts';

const READ = { anyScope: READ_SCOPES, serviceApp: true };
const MODIFY = { anyScope: MODIFY_SCOPES, serviceApp: true };

const Status = Type.Enum(['pending', 'succeeded', 'failed', 'cancelled']);

const summaryProperties = {
  id: Type.String({ description: 'Delivery id.' }),
  messageId: Type.String({ description: 'The event id: the same for every webhook and every attempt.' }),
  eventType: Type.String(),
  status: Status,
  attemptCount: Type.Integer({ description: 'Attempts made so far.' }),
  created: Timestamp('When the delivery was created (the event fanned out).'),
  modified: Timestamp('When its state last changed.'),
  nextAttemptDateTime: Type.Optional(Timestamp('When the next attempt is due (pending only).')),
  lastStatusCode: Type.Optional(Type.Integer({ description: 'HTTP status of the last attempt.' })),
  lastError: Type.Optional(Type.String({ description: 'Why the last attempt failed.' })),
};
const DeliverySummarySchema = Type.Object(summaryProperties, { additionalProperties: false, title: 'DeliverySummary' });

const Attempt = Type.Object(
  {
    attempt: Type.Integer(),
    dateTime: Timestamp('When the attempt started.'),
    durationMs: Type.Integer(),
    statusCode: Type.Optional(Type.Integer()),
    error: Type.Optional(Type.String()),
    responseBody: Type.Optional(Type.String({ description: 'The first 4 KiB of the response body.' })),
  },
  { additionalProperties: false },
);

const DeliveryDetailSchema = Type.Object(
  {
    ...summaryProperties,
    payload: Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true, description: 'The JSON body that is POSTed to the callback.' }),
    attempts: Type.Array(Attempt),
  },
  { additionalProperties: false, title: 'Delivery' },
);

const Link = Type.Object({ href: Type.String() }, { additionalProperties: false });
const DeliveryList = Type.Object(
  { deliveries: Type.Array(DeliverySummarySchema), _links: Type.Object({ self: Link, next: Type.Optional(Link) }, { additionalProperties: false }) },
  { additionalProperties: false, title: 'DeliveryList' },
);

const ListQuery = Type.Object(
  {
    status: Type.Optional(Status),
    eventType: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only deliveries of this event type.' })),
    $top: Type.Optional(Top),
    $continuationToken: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);

const WebhookParams = Type.Object({ webhookId: Type.String() });
const DeliveryParams = Type.Object({ webhookId: Type.String(), deliveryId: Type.String() });

const TestBody = Type.Object(
  { eventType: Type.Optional(Type.String({ description: 'One of the webhook\'s event types; the first one when omitted.' })) },
  { additionalProperties: false, title: 'SendTestEventRequest', examples: [{}] },
);
const TestResult = Type.Object(
  { messageId: Type.String(), eventType: Type.String(), deliveryId: Type.String(), enqueuedDateTime: Timestamp('When the test event was accepted.') },
  { additionalProperties: false },
);

const iso = (ms: number) => new Date(ms).toISOString();

function toSummary(d: DeliverySummary) {
  return {
    id: d.id,
    messageId: d.messageId,
    eventType: d.eventType,
    status: d.status,
    attemptCount: d.attempts,
    created: iso(d.createdAt),
    modified: iso(d.updatedAt),
    ...(d.nextAttemptAt === undefined ? {} : { nextAttemptDateTime: iso(d.nextAttemptAt) }),
    ...(d.lastStatusCode === undefined ? {} : { lastStatusCode: d.lastStatusCode }),
    ...(d.lastError === undefined ? {} : { lastError: d.lastError }),
  };
}

function toDetail(d: DeliveryDetail) {
  return {
    ...toSummary(d),
    payload: JSON.parse(deliveryBody(d, d.webhookId)) as Record<string, unknown>,
    attempts: d.attemptLog.map((a) => ({
      attempt: a.attempt,
      dateTime: iso(a.startedAt),
      durationMs: a.durationMs,
      ...(a.statusCode === undefined ? {} : { statusCode: a.statusCode }),
      ...(a.error === undefined ? {} : { error: a.error }),
      ...(a.responseBody === undefined ? {} : { responseBody: a.responseBody }),
    })),
  };
}

/** Redelivery and test events of a webhook (contract §4, [ext]); its owner only. */
/**
 * Reading a webhook's deliveries, for its owner (/webhooks) or an operator
 * (/admin/webhooks): the same answers, with the webhook found as `access` says.
 */
export const deliveryReadRoutes =
  (deps: AppDeps, access: WebhookAccess): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { store, config } = deps;

    app.get(
      `${access.prefix}/:webhookId/deliveries`,
      {
        attachValidation: true,
        config: { auth: access.auth },
        schema: {
          summary: 'List deliveries of a webhook',
          description: 'Newest first, paged like the webhook list; filter with status and eventType.',
          tags: [access.tag],
          security: [{ bearer: [] }],
          params: WebhookParams,
          querystring: ListQuery,
          response: { 200: DeliveryList, ...commonErrors, 404: errorResponse('WebhookNotFound.'), 422: errorResponse('InvalidDeliveriesRequest.') },
        },
      },
      async (request) => {
        const webhook = await access.find(request, request.params.webhookId);
        const { top, after } = readListQuery(request, 'InvalidDeliveriesRequest');
        const page = await store.listDeliveries(webhook.id, request.query.status, top, after, request.query.eventType);
        const base = linkBase(request, config);
        const filters = new URLSearchParams();
        if (request.query.status !== undefined) filters.set('status', request.query.status);
        if (request.query.eventType !== undefined) filters.set('eventType', request.query.eventType);
        const filterQuery = filters.size === 0 ? '' : `${filters.toString()}&`;
        return {
          deliveries: page.items.map(toSummary),
          _links: {
            self: { href: `${base}${request.url}` },
            ...(page.nextCursor === undefined
              ? {}
              : { next: { href: `${base}${access.prefix}/${webhook.id}/deliveries?${filterQuery}$top=${top}&$continuationToken=${encodeCursor(page.nextCursor)}` } }),
          },
        };
      },
    );

    app.get(
      `${access.prefix}/:webhookId/deliveries/:deliveryId`,
      {
        config: { auth: access.auth },
        schema: {
          summary: 'Get a delivery with its attempts',
          description: 'Every attempt with its time, status code, duration, error and the first 4 KiB of the response body.',
          tags: [access.tag],
          security: [{ bearer: [] }],
          params: DeliveryParams,
          response: { 200: DeliveryDetailSchema, ...commonErrors, 404: errorResponse('WebhookNotFound or DeliveryNotFound.') },
        },
      },
      async (request) => {
        const webhook = await access.find(request, request.params.webhookId);
        const d = await store.getDelivery(webhook.id, request.params.deliveryId);
        if (d === undefined) throw errors.deliveryNotFound();
        return toDetail(d);
      },
    );
  };

export const deliveryRoutes =
  (deps: AppDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { store, config, now } = deps;

    const findOwned = (clientId: string, webhookId: string) => findOwnedWebhook(store, clientId, webhookId);
    // Test events of one webhook per minute: a tenant cannot flood the delivery workers with them.
    const testEvents = createFixedWindows(60_000);

    app.post(
      '/webhooks/:webhookId/deliveries/:deliveryId/redeliver',
      {
        config: { auth: MODIFY },
        schema: {
          summary: 'Send a delivery again now',
          description: 'A new attempt, in any final state; a pending delivery becomes due now.',
          tags: ['Deliveries'],
          security: [{ bearer: [] }],
          params: DeliveryParams,
          response: { 202: DeliverySummarySchema, ...commonErrors, 404: errorResponse('WebhookNotFound or DeliveryNotFound.') },
        },
      },
      async (request, reply) => {
        const webhook = await findOwned(principalOf(request).clientId!, request.params.webhookId);
        const d = await store.redeliver(webhook.id, request.params.deliveryId, now());
        if (d === undefined) throw errors.deliveryNotFound();
        deps.wake();
        return reply.code(202).send(toSummary(d));
      },
    );

    app.post(
      '/webhooks/:webhookId/test',
      {
        bodyLimit: 4096,
        config: { auth: MODIFY, validationCode: 'InvalidEventRequest' },
        // The body is optional: no body means "the first subscribed type".
        preValidation: async (request) => {
          request.body ??= {};
        },
        schema: {
          summary: 'Send a test event',
          description: 'Sends a realistic example event of one of the webhook\'s types to this webhook only, even while it is inactive. At most TEST_EVENTS_PER_WEBHOOK_PER_MINUTE a minute (20 by default), then 429 with Retry-After.',
          tags: ['Deliveries'],
          security: [{ bearer: [] }],
          params: WebhookParams,
          body: TestBody,
          response: { 202: TestResult, ...commonErrors, ...bodyErrors, 404: errorResponse('WebhookNotFound.'), 422: errorResponse('InvalidEventRequest.') },
        },
      },
      async (request, reply) => {
        const webhook = await findOwned(principalOf(request).clientId!, request.params.webhookId);
        const perMinute = config.tenantLimits.testEventsPerWebhookPerMinute;
        if (perMinute > 0 && testEvents.count(webhook.id, now()) >= perMinute) {
          throw errors.tooManyRequests(Math.max(1, Math.ceil(testEvents.remaining(webhook.id, now()) / 1000)));
        }
        const eventType = request.body.eventType ?? webhook.eventTypes[0]!;
        if (!webhook.eventTypes.includes(eventType)) {
          throw errors.validation('InvalidEventRequest', [detail('InvalidValue', 'eventType', `The webhook does not subscribe to ${eventType}.`)]);
        }
        const [type] = await store.getEventTypes([eventType]);
        if (type === undefined) throw errors.validation('InvalidEventRequest', [detail('InvalidValue', 'eventType', `${eventType} is no longer in the catalog.`)]);
        // Every delivery carries an iTwinId: an Account webhook's test event is about a fresh one, like the example's other ids.
        const itwinId = webhook.scope === 'iTwin' ? webhook.scopeId : randomUUID();
        const accountId = webhook.scope === 'Account' ? webhook.scopeId : await store.getItwinAccount(webhook.scopeId);
        const messageId = randomUUID();
        testEvents.hit(webhook.id, now());
        const { enqueuedAt, deliveryId } = await deps.publisher.publishTest(
          { messageId, eventType, itwinId, accountId, contentJson: JSON.stringify(freshExample(type)), publisherClientId: principalOf(request).clientId },
          webhook.id,
        );
        return reply.code(202).send({ messageId, eventType, deliveryId, enqueuedDateTime: iso(enqueuedAt) });
      },
    );
  };
