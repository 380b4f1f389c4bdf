import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { WebhookHealthRecord } from '../../store/insights.ts';
import type { WebhookDeactivationCause, WebhookRecord } from '../../store/types.ts';
import type { AppDeps } from '../deps.ts';
import type { WebhookAccess } from '../webhookAccess.ts';
import { errors } from '../../contract/errors.ts';
import { commonErrors, errorResponse, Timestamp } from '../../contract/schemas/common.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
const DEACTIVATION_CAUSES: WebhookDeactivationCause[] = ['owner', 'gone', 'failing', 'accessRevoked', 'itwinMoved', 'itwinRemoved'];

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
    deactivated: Type.Optional(
      Type.Object(
        {
          cause: Type.Enum(DEACTIVATION_CAUSES, {
            description:
              'owner: its application deactivated it; gone: the receiver answered 410; failing: every attempt failed for DEACTIVATE_FAILING_AFTER; ' +
              'accessRevoked: its application lost webhooks_maintainer on the iTwin (or Organization Administrator of its account); ' +
              'itwinMoved: the iTwin moved to another account; itwinRemoved: the iTwin left the directory.',
          }),
          dateTime: Timestamp('When it was deactivated.'),
          message: Type.String(),
        },
        { additionalProperties: false, description: 'Why the webhook is inactive (absent while it is active, and for one never activated).' },
      ),
    ),
  },
  { additionalProperties: false, title: 'WebhookHealth' },
);

const iso = (ms: number) => new Date(ms).toISOString();

const CAUSE_MESSAGES: Record<WebhookDeactivationCause, string> = {
  owner: 'Deactivated by its application.',
  gone: 'Deactivated because the receiver answered 410 Gone.',
  failing: 'Deactivated because every delivery attempt failed for too long.',
  accessRevoked: 'Deactivated because its application no longer may manage webhooks of this iTwin; activating it again needs that permission.',
  itwinMoved: 'Deactivated because the iTwin moved to another account; activating it again needs a permission in that account.',
  itwinRemoved: 'Deactivated because the iTwin was removed from the directory.',
};

/** The health of a webhook as the API shows it. */
export function toHealth(h: WebhookHealthRecord, deactivation?: WebhookRecord['deactivation']) {
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
    ...(deactivation === undefined
      ? {}
      : { deactivated: { cause: deactivation.cause, dateTime: iso(deactivation.at), message: CAUSE_MESSAGES[deactivation.cause] } }),
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
            'The latest attempt, the attempts of the last 24 hours and how many succeeded, since when it has been failing, and why it was deactivated. ' +
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
        return toHealth(health, webhook.active ? undefined : webhook.deactivation);
      },
    );
  };
