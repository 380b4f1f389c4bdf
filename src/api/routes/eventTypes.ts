import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { KNOWN_SCOPES, SCOPES } from '../../auth/scopes.ts';
import type { EventTypeRecord } from '../../store/types.ts';
import type { AppDeps } from '../deps.ts';
import { detail, errors, type ErrorDetail } from '../../contract/errors.ts';
import { principalOf } from '../plugins/auth.ts';
import { bodyErrors, commonErrors, errorResponse } from '../../contract/schemas/common.ts';
import { EventType, EventTypeList, RegisterEventTypeBody } from '../../contract/schemas/eventTypes.ts';

function toEventTypeResponse(t: EventTypeRecord) {
  return { type: t.type, service: t.service, description: t.description, contentSchema: t.contentSchema, example: t.example };
}

export const eventTypeRoutes =
  (deps: AppDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { store, contentValidator, now } = deps;

    app.get(
      '/webhooks/event-types',
      {
        // Reading the catalog is harmless: any valid token with any of our scopes may.
        config: { auth: { anyScope: KNOWN_SCOPES, serviceApp: false } },
        schema: {
          summary: 'List event types',
          description: 'The catalog: every type a webhook can subscribe to, with the JSON Schema of its content and an example.',
          tags: ['Event types'],
          security: [{ bearer: [] }],
          response: { 200: EventTypeList, ...commonErrors },
        },
      },
      async () => ({ eventTypes: (await store.listEventTypes()).map(toEventTypeResponse) }),
    );

    app.post(
      '/webhooks/event-types',
      {
        bodyLimit: 256 * 1024,
        config: { auth: { anyScope: [SCOPES.admin], serviceApp: true }, validationCode: 'InvalidEventTypeRequest', readOnly: [] },
        schema: {
          summary: 'Register an event type',
          description: 'Adds a type to the catalog (scope webhooks:admin). Published events of this type must match contentSchema.',
          tags: ['Event types'],
          security: [{ bearer: [] }],
          body: RegisterEventTypeBody,
          response: {
            201: EventType,
            ...commonErrors,
            ...bodyErrors,
            409: errorResponse('EventTypeAlreadyExists.'),
            422: errorResponse('InvalidEventTypeRequest.'),
          },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const service = body.type.slice(0, body.type.indexOf('.'));
        const problems: ErrorDetail[] = [];
        if (body.service !== undefined && body.service !== service) {
          problems.push(detail('InvalidValue', 'service', `service must be "${service}", the first part of the type.`));
        }
        const schemaProblem = contentValidator.checkSchema(body.contentSchema);
        if (schemaProblem !== undefined) {
          problems.push(detail('InvalidValue', 'contentSchema', `contentSchema is not a valid JSON Schema: ${schemaProblem}`));
        } else {
          problems.push(...contentValidator.validate(`(new) ${body.type}`, body.contentSchema, body.example, 'example'));
        }
        if (problems.length > 0) throw errors.validation('InvalidEventTypeRequest', problems);
        const record: EventTypeRecord = {
          type: body.type,
          service,
          description: body.description,
          contentSchema: body.contentSchema,
          example: body.example,
          builtin: false,
          createdAt: now(),
        };
        if (!(await store.insertEventType(record))) throw errors.eventTypeAlreadyExists(body.type);
        request.log.info({ eventType: body.type, clientId: principalOf(request).clientId }, 'event type registered');
        return reply.code(201).send(toEventTypeResponse(record));
      },
    );
  };
