import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { SCOPES } from '../../auth/scopes.ts';
import { createEventChecker } from '../../ingest/validateEvents.ts';
import type { AppDeps } from '../deps.ts';
import { principalOf } from '../plugins/auth.ts';
import { bodyErrors, commonErrors, errorResponse } from '../../contract/schemas/common.ts';
import { PublishBody, PublishResult } from '../../contract/schemas/events.ts';

export const PUBLISH_BODY_LIMIT = 16 * 1024 * 1024;

export const eventRoutes =
  (deps: AppDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const checker = createEventChecker({ store: deps.store, contentValidator: deps.contentValidator });

    app.post(
      '/webhooks/events',
      {
        bodyLimit: PUBLISH_BODY_LIMIT,
        // The body is a union (one event or a batch); the checker validates it so that
        // problems are reported against the branch the client meant. The schema below is for
        // the API's description only: validating it here too checked every event of a batch
        // twice, for nothing (each check costs about a microsecond per event).
        validatorCompiler: () => () => true,
        config: { auth: { anyScope: [SCOPES.publish], serviceApp: true }, validationCode: 'InvalidEventRequest' },
        schema: {
          summary: 'Publish events',
          description:
            'For platform producers (scope webhooks:publish). Each event fans out to every matching active webhook. ' +
            'The answer 202 means the event and all its deliveries are durably stored.',
          tags: ['Events'],
          security: [{ bearer: [] }],
          body: PublishBody,
          response: { 202: PublishResult, ...commonErrors, ...bodyErrors, 422: errorResponse('InvalidEventRequest.'), 503: errorResponse('ServiceUnavailable: the store is unreachable; nothing was stored.') },
        },
      },
      async (request, reply) => {
        const events = await checker.check(request.body, principalOf(request).clientId);
        const results = await deps.publisher.publish(events);
        // The new events of a batch share one enqueue time: format it once.
        let at = NaN;
        let iso = '';
        const isoOf = (ms: number) => (ms === at ? iso : ((at = ms), (iso = new Date(ms).toISOString())));
        return reply.code(202).send({
          events: results.map((r) => ({
            messageId: r.messageId,
            eventType: r.eventType,
            enqueuedDateTime: isoOf(r.enqueuedAt),
            matchedWebhooks: r.matchedWebhooks,
          })),
        });
      },
    );
  };
