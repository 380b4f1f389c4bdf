import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { WebhookHealthRecord } from '../../store/insights.ts';
import type { AppDeps } from '../deps.ts';
import type { WebhookAccess } from '../webhookAccess.ts';
import { errors } from '../../contract/errors.ts';
import { commonErrors, errorResponse, Timestamp } from '../../contract/schemas/common.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

export const WebhookHealthSchema = Type.Object(
  {
    lastAttempt: Type.Optional(
      Type.Object(
        {
          deliveryId: Type.String(),
          attempt: Type.Integer(),
          dateTime: Timestamp('When the attempt started.'),
          durationMs: Type.Integer(),
          statusCode: Type.Optional(Type.Integer()),
          error: Type.Optional(Type.String()),
          succeeded: Type.Boolean({ description: 'The receiver answered 2xx.' }),
        },
        { additionalProperties: false, description: 'The latest attempt (absent when none was made yet).' },
      ),
    ),
    last24Hours: Type.Object(
      {
        attempts: Type.Integer({ description: 'Attempts on the deliveries created in the last 24 hours.' }),
        succeeded: Type.Integer({ description: 'How many of them got a 2xx.' }),
        successRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'succeeded / attempts; absent when there was no attempt.' })),
      },
      { additionalProperties: false },
    ),
    failingSince: Type.Optional(Timestamp('Since when every attempt has failed; absent while the webhook is not failing.')),
  },
  { additionalProperties: false, title: 'WebhookHealth' },
);

const iso = (ms: number) => new Date(ms).toISOString();

/** The health of a webhook as the API shows it. */
export function toHealth(h: WebhookHealthRecord) {
  const last = h.lastAttempt;
  return {
    ...(last === undefined
      ? {}
      : {
          lastAttempt: {
            deliveryId: last.deliveryId,
            attempt: last.attempt,
            dateTime: iso(last.startedAt),
            durationMs: last.durationMs,
            ...(last.statusCode === undefined ? {} : { statusCode: last.statusCode }),
            ...(last.error === undefined ? {} : { error: last.error }),
            succeeded: last.statusCode !== undefined && last.statusCode >= 200 && last.statusCode < 300,
          },
        }),
    last24Hours: { attempts: h.attempts, succeeded: h.succeeded, ...(h.attempts === 0 ? {} : { successRate: h.succeeded / h.attempts }) },
    ...(h.failingSince === undefined ? {} : { failingSince: iso(h.failingSince) }),
  };
}

/** How a webhook is doing (contract §2: not a property of the webhook, a sub-resource). [ext] */
export const webhookHealthRoutes =
  (deps: AppDeps, access: WebhookAccess): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      `${access.prefix}/:webhookId/health`,
      {
        config: { auth: access.auth },
        schema: {
          summary: 'Get the health of a webhook',
          description:
            'The latest attempt, the attempts of the last 24 hours and how many succeeded, and since when it has been failing. ' +
            'The 24 hours count the attempts on deliveries created in that time (a late retry of an older delivery is not among them).',
          tags: [access.tag],
          security: [{ bearer: [] }],
          params: Type.Object({ webhookId: Type.String() }),
          response: { 200: WebhookHealthSchema, ...commonErrors, 404: errorResponse('WebhookNotFound.') },
        },
      },
      async (request) => {
        const webhook = await access.find(request, request.params.webhookId);
        const health = await deps.store.webhookHealth(webhook.id, deps.now() - DAY_MS);
        // Deleted between the two reads: as if it had never been found.
        if (health === undefined) throw errors.webhookNotFound();
        return toHealth(health);
      },
    );
  };
