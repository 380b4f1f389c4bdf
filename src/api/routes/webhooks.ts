import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { canManageItwinWebhooks } from '../../auth/permissions.ts';
import { MODIFY_SCOPES, READ_SCOPES } from '../../auth/scopes.ts';
import { ActivationRefusedError } from '../../store/errors.ts';
import type { WebhookRecord } from '../../store/types.ts';
import type { AppDeps } from '../deps.ts';
import { callbackUrlProblem } from '../callbackUrl.ts';
import { detail, errors } from '../../contract/errors.ts';
import { linkBase } from '../links.ts';
import { findOwnedWebhook } from '../ownedWebhook.ts';
import { detailsFromSchemaErrors, invalidTopLevel } from '../../contract/validation.ts';
import { principalOf } from '../plugins/auth.ts';
import { encodeCursor, readListQuery } from '../paging.ts';
import { bodyErrors, commonErrors, errorResponse, normalizeUuid } from '../../contract/schemas/common.ts';
import {
  CreateWebhookBody,
  ListQuery,
  UpdateWebhookBody,
  Webhook,
  WebhookIdParams,
  WebhookList,
  WebhookWithSecret,
} from '../../contract/schemas/webhooks.ts';
import { sealedFor } from '../../crypto/secretBox.ts';

const READ = { anyScope: READ_SCOPES, serviceApp: true };
const MODIFY = { anyScope: MODIFY_SCOPES, serviceApp: true };
const BODY_LIMIT = 64 * 1024;
/** Properties of the webhook resource that a client may not write. */
const CREATE_READ_ONLY = ['id', 'active', 'created', 'modified'];
const UPDATE_READ_ONLY = ['id', 'scope', 'scopeId', 'created', 'modified'];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function toWebhookResponse(w: WebhookRecord): Webhook {
  return {
    id: w.id,
    scope: w.scope,
    scopeId: w.scopeId,
    active: w.active,
    callbackUrl: w.callbackUrl,
    eventTypes: w.eventTypes,
    created: new Date(w.createdAt).toISOString(),
    modified: new Date(w.modifiedAt).toISOString(),
  };
}

/** The webhook secret the server generates when a client sends none: 32 random bytes, hex. */
export function generateWebhookSecret(): string {
  return randomBytes(32).toString('hex');
}

export const webhookRoutes =
  (deps: AppDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { store, box, config, now } = deps;
    const findOwned = (clientId: string, webhookId: string) => findOwnedWebhook(store, clientId, webhookId);
    const sealSecret = (webhookId: string, secret: string) => box.seal(secret, sealedFor.webhookSecret(webhookId));

    /**
     * The problems of a create or update body: those the schema found (routes use
     * attachValidation) plus the semantic rules of every property that is at least well
     * typed, so that one answer lists every problem.
     */
    const collectProblems = async (request: FastifyRequest, readOnly: readonly string[]) => {
      const raw = isPlainObject(request.body) ? request.body : {};
      const schemaErrors = request.validationError?.validation ?? [];
      const problems = detailsFromSchemaErrors(schemaErrors, readOnly);
      const invalid = invalidTopLevel(schemaErrors);
      const usable = (key: string) => key in raw && !invalid.has(key) && !invalid.has('*');
      if (usable('callbackUrl')) {
        const problem = callbackUrlProblem(raw.callbackUrl as string, config.callbacks.allowInsecure);
        if (problem !== undefined) problems.push(detail('InvalidValue', 'callbackUrl', problem));
      }
      if (usable('eventTypes')) {
        const types = raw.eventTypes as string[];
        const known = new Set((await store.getEventTypes(types)).map((t) => t.type));
        types.forEach((t, i) => {
          if (!known.has(t)) problems.push(detail('InvalidValue', `eventTypes[${i}]`, `${t} is not a known event type; see GET /webhooks/event-types.`));
        });
      }
      return { raw, problems, usable, invalid };
    };

    const noPermission = () =>
      errors.insufficientPermissions(
        'Managing webhooks of this iTwin needs the webhooks_maintainer permission on it, or Organization Administrator of its account.',
      );
    const ensureItwinPermission = async (clientId: string, itwinId: string) => {
      if (!(await canManageItwinWebhooks(store, clientId, itwinId))) throw noPermission();
    };

    app.post(
      '/webhooks',
      {
        bodyLimit: BODY_LIMIT,
        attachValidation: true,
        config: { auth: MODIFY, validationCode: 'InvalidCreateWebhookRequest' },
        schema: {
          summary: 'Create a webhook',
          description: 'Creates an inactive webhook; activate it with PATCH {"active": true}. The answer is the only time the secret is shown.',
          tags: ['Webhooks'],
          security: [{ bearer: [] }],
          body: CreateWebhookBody,
          response: { 201: WebhookWithSecret, ...commonErrors, ...bodyErrors, 422: errorResponse('InvalidCreateWebhookRequest.') },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { raw, problems, usable, invalid } = await collectProblems(request, CREATE_READ_ONLY);
        let scopeId: string | undefined;
        if (raw.scope === 'iTwin' && !invalid.has('scopeId')) {
          if (raw.scopeId === undefined) {
            problems.push(detail('MissingRequiredProperty', 'scopeId', 'scopeId is required when scope is iTwin.'));
          } else {
            // An iTwin the directory does not know is refused as one the caller may not use
            // (403, below): a different answer would let a tenant probe which iTwin ids exist.
            scopeId = normalizeUuid(raw.scopeId as string);
          }
        } else if (raw.scope === 'Account') {
          const account = principal.accountId === undefined ? undefined : normalizeUuid(principal.accountId);
          scopeId = account;
          if (usable('scopeId') && account !== undefined && normalizeUuid(raw.scopeId as string) !== account) {
            problems.push(detail('InvalidValue', 'scopeId', 'scopeId of an Account webhook must be your own account id (or be omitted).'));
          }
        }
        if (problems.length > 0) throw errors.validation('InvalidCreateWebhookRequest', problems);
        const body = request.body;
        if (scopeId === undefined) throw errors.insufficientPermissions('The token names no account, so it cannot own an Account webhook.');
        const clientId = principal.clientId!;
        if (body.scope === 'iTwin') await ensureItwinPermission(clientId, scopeId);

        const id = randomUUID();
        const secret = body.secret ?? generateWebhookSecret();
        const at = now();
        const record: WebhookRecord = {
          id,
          ownerClientId: clientId,
          scope: body.scope,
          scopeId,
          active: false,
          callbackUrl: body.callbackUrl,
          eventTypes: body.eventTypes,
          secretSealed: sealSecret(id, secret),
          createdAt: at,
          modifiedAt: at,
        };
        // With the built-in issuer the owner is a client of this store: one deleted meanwhile gets no webhook.
        const limit = config.tenantLimits.webhooksPerApplication;
        const created = await store.createWebhook(record, { ownerMustExist: deps.issuer !== undefined, maxPerOwner: limit });
        if (created === 'ownerMissing') throw errors.invalidToken('The authorization token has been revoked.');
        if (created === 'limitReached') {
          throw errors.validation('InvalidCreateWebhookRequest', [detail('InvalidValue', 'body', `The application has ${limit} webhooks, the most it may have; delete one first.`)]);
        }
        request.log.info({ webhookId: id, clientId, scope: body.scope }, 'webhook created');
        return reply.code(201).header('location', `/webhooks/${id}`).send({ ...toWebhookResponse(record), secret });
      },
    );

    app.get(
      '/webhooks',
      {
        attachValidation: true,
        config: { auth: READ },
        schema: {
          summary: 'List webhooks',
          description: 'The webhooks created by the calling application, oldest first, in pages.',
          tags: ['Webhooks'],
          security: [{ bearer: [] }],
          querystring: ListQuery,
          response: { 200: WebhookList, ...commonErrors, 422: errorResponse('InvalidWebhooksRequest.') },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { top, after } = readListQuery(request, 'InvalidWebhooksRequest');
        const page = await store.listWebhooks(principal.clientId!, top, after);
        const base = linkBase(request, config);
        return {
          webhooks: page.items.map(toWebhookResponse),
          _links: {
            self: { href: `${base}${request.url}` },
            ...(page.nextCursor === undefined
              ? {}
              : { next: { href: `${base}/webhooks?$top=${top}&$continuationToken=${encodeCursor(page.nextCursor)}` } }),
          },
        };
      },
    );

    app.get(
      '/webhooks/:webhookId',
      {
        config: { auth: READ },
        schema: {
          summary: 'Get a webhook',
          tags: ['Webhooks'],
          security: [{ bearer: [] }],
          params: WebhookIdParams,
          response: { 200: Webhook, ...commonErrors, 404: errorResponse('WebhookNotFound.') },
        },
      },
      async (request) => {
        const w = await findOwned(principalOf(request).clientId!, request.params.webhookId);
        return toWebhookResponse(w);
      },
    );

    app.patch(
      '/webhooks/:webhookId',
      {
        bodyLimit: BODY_LIMIT,
        attachValidation: true,
        config: { auth: MODIFY, validationCode: 'InvalidUpdateWebhookRequest' },
        schema: {
          summary: 'Update a webhook',
          description: 'Changes active, callbackUrl, eventTypes or secret. The secret is returned only when this request set it.',
          tags: ['Webhooks'],
          security: [{ bearer: [] }],
          params: WebhookIdParams,
          body: UpdateWebhookBody,
          response: {
            200: WebhookWithSecret,
            ...commonErrors,
            ...bodyErrors,
            404: errorResponse('WebhookNotFound.'),
            422: errorResponse('InvalidUpdateWebhookRequest.'),
          },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const clientId = principal.clientId!;
        const { problems } = await collectProblems(request, UPDATE_READ_ONLY);
        if (problems.length > 0) throw errors.validation('InvalidUpdateWebhookRequest', problems);
        const current = await findOwned(clientId, request.params.webhookId);
        const body = request.body;
        // Deactivating needs no permission on the iTwin: an owner that lost it can always stop its webhook.
        const onlyDeactivates = body.active === false && Object.values(body).filter((v) => v !== undefined && v !== null).length === 1;
        if (current.scope === 'iTwin' && !onlyDeactivates) await ensureItwinPermission(clientId, current.scopeId);
        const updated = await store
          .updateWebhook(
            clientId,
            current.id,
            {
              active: body.active,
              callbackUrl: body.callbackUrl,
              eventTypes: body.eventTypes,
              secretSealed: body.secret === undefined ? undefined : sealSecret(current.id, body.secret),
            },
            now(),
          )
          .catch((err: unknown) => {
            // The permission was taken away after the check above.
            throw err instanceof ActivationRefusedError ? noPermission() : err;
          });
        if (updated === undefined) throw errors.webhookNotFound(); // deleted concurrently
        if (updated.active !== current.active) deps.webhookState(current.id, updated.active);
        request.log.info({ webhookId: current.id, clientId, fields: Object.keys(body) }, 'webhook updated');
        const response = toWebhookResponse(updated);
        return body.secret === undefined ? response : { ...response, secret: body.secret };
      },
    );

    app.delete(
      '/webhooks/:webhookId',
      {
        config: { auth: MODIFY },
        schema: {
          summary: 'Delete a webhook',
          description: 'Deletes the webhook; its pending deliveries are cancelled and never sent.',
          tags: ['Webhooks'],
          security: [{ bearer: [] }],
          params: WebhookIdParams,
          response: { 204: { type: 'null', description: 'Deleted.' }, ...commonErrors, 404: errorResponse('WebhookNotFound.') },
        },
      },
      async (request, reply) => {
        const clientId = principalOf(request).clientId!;
        // Its owner may always delete it, with or without a permission on the iTwin.
        const current = await findOwned(clientId, request.params.webhookId);
        if (!(await store.deleteWebhook(clientId, current.id))) throw errors.webhookNotFound();
        deps.webhookState(current.id, false);
        request.log.info({ webhookId: current.id, clientId }, 'webhook deleted');
        return reply.code(204).send(null);
      },
    );
  };
