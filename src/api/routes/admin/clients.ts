import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ClientInputError, DEFAULT_SECRET_OVERLAP_SECONDS, registerClient, rotateClientSecret } from '../../../auth/clients.ts';
import { DEFAULT_CLIENT_SCOPES } from '../../../auth/scopes.ts';
import { detail, errors } from '../../../contract/errors.ts';
import {
  AdminClient,
  AdminClientList,
  AdminClientWithSecret,
  ClientParams,
  ClientsQuery,
  CreateClientBody,
  RotatedSecret,
  RotateSecretBody,
} from '../../../contract/schemas/admin.ts';
import { bodyErrors, commonErrors, errorResponse, normalizeUuid } from '../../../contract/schemas/common.ts';
import { listKey, type ClientRecord } from '../../../store/types.ts';
import type { AppDeps } from '../../deps.ts';
import { principalOf } from '../../plugins/auth.ts';
import { ADMIN, iso, listPage, stopped } from './common.ts';

/** A client as the admin API shows it: never its secret, nor the hashes. */
export function toAdminClient(c: ClientRecord) {
  return {
    clientId: c.clientId,
    name: c.name,
    accountId: c.accountId,
    scopes: c.scopes,
    created: iso(c.createdAt),
    ...(c.previousSecret === undefined ? {} : { previousSecretExpiresDateTime: iso(c.previousSecret.expiresAt) }),
  };
}

const TAGS = ['Admin: clients'];
const notFound = { 404: errorResponse('ClientNotFound.') };

/** Service applications of the built-in issuer (contract §7): the same operations as `itwin-webhooks clients`. */
export const adminClientRoutes =
  (deps: AppDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { store, now } = deps;
    const find = async (clientId: string) => {
      const c = await store.getClient(clientId);
      if (c === undefined) throw errors.clientNotFound();
      return c;
    };

    app.post(
      '/admin/clients',
      {
        bodyLimit: 8 * 1024,
        config: { auth: ADMIN, validationCode: 'InvalidCreateClientRequest' },
        schema: {
          summary: 'Register a service application',
          description: 'Creates a client of the built-in issuer. The answer is the only time its secret is shown.',
          tags: TAGS,
          security: [{ bearer: [] }],
          body: CreateClientBody,
          response: { 201: AdminClientWithSecret, ...commonErrors, ...bodyErrors, 422: errorResponse('InvalidCreateClientRequest.') },
        },
      },
      async (request, reply) => {
        const body = request.body;
        let created;
        try {
          created = await registerClient(store, { name: body.name, accountId: normalizeUuid(body.accountId), scopes: body.scopes ?? [...DEFAULT_CLIENT_SCOPES], now: now() });
        } catch (err) {
          if (err instanceof ClientInputError) throw errors.validation('InvalidCreateClientRequest', [detail('InvalidValue', err.target, err.message)]);
          throw err;
        }
        request.log.info({ clientId: created.clientId, by: principalOf(request).clientId }, 'client registered');
        const record: ClientRecord = { ...created, secretHash: '', tokenGeneration: 0 };
        return reply
          .code(201)
          .header('location', `/admin/clients/${encodeURIComponent(created.clientId)}`)
          .send({ ...toAdminClient(record), clientSecret: created.clientSecret });
      },
    );

    app.get(
      '/admin/clients',
      {
        config: { auth: ADMIN, validationCode: 'InvalidClientsRequest' },
        schema: {
          summary: 'List service applications',
          description: 'Oldest first, in pages.',
          tags: TAGS,
          security: [{ bearer: [] }],
          querystring: ClientsQuery,
          response: { 200: AdminClientList, ...commonErrors, 422: errorResponse('InvalidClientsRequest.') },
        },
      },
      async (request) => {
        const accountId = request.query.accountId === undefined ? undefined : normalizeUuid(request.query.accountId);
        const page = await listPage(deps, request, 'InvalidClientsRequest', { parts: 2, of: listKey.client }, (p) => store.listClients({ accountId }, p), toAdminClient);
        return { clients: page.items, _links: page._links };
      },
    );

    app.get(
      '/admin/clients/:clientId',
      {
        config: { auth: ADMIN },
        schema: {
          summary: 'Get a service application',
          tags: TAGS,
          security: [{ bearer: [] }],
          params: ClientParams,
          response: { 200: AdminClient, ...commonErrors, ...notFound },
        },
      },
      async (request) => toAdminClient(await find(request.params.clientId)),
    );

    app.delete(
      '/admin/clients/:clientId',
      {
        config: { auth: ADMIN },
        schema: {
          summary: 'Delete a service application',
          description:
            'Deletes the client with its directory entries and its webhooks (their pending deliveries are never sent), in one transaction; ' +
            'its tokens stop working at once in every process.',
          tags: TAGS,
          security: [{ bearer: [] }],
          params: ClientParams,
          response: { 204: { type: 'null', description: 'Deleted.' }, ...commonErrors, ...notFound },
        },
      },
      async (request, reply) => {
        const { clientId } = request.params;
        const result = await store.deleteClient(clientId);
        if (!result.deleted) throw errors.clientNotFound();
        deps.verifier.forgetClient(clientId);
        stopped(deps, result.webhookIds);
        request.log.info({ clientId, webhooks: result.webhooks, by: principalOf(request).clientId }, 'client deleted');
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/admin/clients/:clientId/secret',
      {
        bodyLimit: 1024,
        config: { auth: ADMIN, validationCode: 'InvalidRotateSecretRequest' },
        // The body is optional: no body rotates with the default overlap.
        preValidation: async (request) => {
          request.body ??= {};
        },
        schema: {
          summary: 'Rotate a client secret',
          description:
            'Gives the client a new secret, shown in this answer only. The previous one keeps working for overlapSeconds (default a day), ' +
            'so that the new one can be rolled out; with revokeTokens, every token issued before stops working at once.',
          tags: TAGS,
          security: [{ bearer: [] }],
          params: ClientParams,
          body: RotateSecretBody,
          response: { 200: RotatedSecret, ...commonErrors, ...bodyErrors, ...notFound, 422: errorResponse('InvalidRotateSecretRequest.') },
        },
      },
      async (request) => {
        const { clientId } = request.params;
        const revokeTokens = request.body.revokeTokens ?? false;
        const rotated = await rotateClientSecret(store, clientId, { overlapSeconds: request.body.overlapSeconds ?? DEFAULT_SECRET_OVERLAP_SECONDS, revokeTokens, now: now() });
        if (rotated === undefined) throw errors.clientNotFound();
        if (revokeTokens) deps.verifier.forgetClient(clientId);
        request.log.info({ clientId, revokeTokens, by: principalOf(request).clientId }, 'client secret rotated');
        const until = rotated.client.previousSecret?.expiresAt;
        return { clientId, clientSecret: rotated.clientSecret, ...(until === undefined ? {} : { previousSecretExpiresDateTime: iso(until) }), tokensRevoked: revokeTokens };
      },
    );
  };
