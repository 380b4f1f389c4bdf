import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { accountDirectoryProblems, grantPermission, permissionProblem, UnknownItwinError } from '../../../auth/directory.ts';
import { detail, errors, type ValidationCode } from '../../../contract/errors.ts';
import {
  AccountDirectoryAnswer,
  AccountDirectoryBody,
  AccountParams,
  AdminGrant,
  AdminGrantList,
  AdminItwin,
  AdminItwinList,
  AdminOrgAdmin,
  AdminOrgAdminList,
  CLIENT_ID_PATTERN,
  DirectorySyncAnswer,
  GrantParams,
  GrantsQuery,
  ItwinParams,
  ItwinsQuery,
  OrgAdminParams,
  OrgAdminsQuery,
  PutItwinBody,
} from '../../../contract/schemas/admin.ts';
import { bodyErrors, commonErrors, errorResponse, isUuid, normalizeUuid } from '../../../contract/schemas/common.ts';
import { listKey, type GrantRecord, type ItwinRecord, type OrgAdminRecord } from '../../../store/types.ts';
import type { AppDeps } from '../../deps.ts';
import { principalOf } from '../../plugins/auth.ts';
import { ADMIN, iso, listPage, stopped } from './common.ts';

const toItwin = (i: ItwinRecord) => ({ itwinId: i.itwinId, accountId: i.accountId, created: iso(i.createdAt) });
const toGrant = (g: GrantRecord) => ({ clientId: g.clientId, itwinId: g.itwinId, permission: g.permission, created: iso(g.createdAt) });
const toOrgAdmin = (o: OrgAdminRecord) => ({ clientId: o.clientId, accountId: o.accountId, created: iso(o.createdAt) });

const TAGS = ['Admin: directory'];
const CLIENT_ID = new RegExp(CLIENT_ID_PATTERN);

/** Path values of a PUT: a malformed one is a 422 naming it (for GET and DELETE it is simply not found). */
function pathProblems(code: ValidationCode, checks: Array<[ok: boolean, target: string, message: string]>): void {
  const problems = checks.filter(([ok]) => !ok).map(([, target, message]) => detail('InvalidValue', target, message));
  if (problems.length > 0) throw errors.validation(code, problems);
}
const uuidCheck = (value: string, target: string): [boolean, string, string] => [isUuid(value), target, `${target} must be a UUID.`];
const clientCheck = (value: string): [boolean, string, string] => [CLIENT_ID.test(value), 'clientId', 'clientId must be 1 to 256 printable ASCII characters without spaces.'];

/**
 * The embedded directory (contract §7): iTwins, grants and organization administrators, and
 * one account's whole directory as an idempotent sync. The same operations as
 * `itwin-webhooks directory`; a change that takes a right away deactivates the webhooks that
 * depended on it, as there.
 */
export const adminDirectoryRoutes =
  (deps: AppDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { store, now } = deps;
    const by = (request: Parameters<typeof principalOf>[0]) => principalOf(request).clientId;

    // ---------------------------------------------------------------- iTwins
    app.get(
      '/admin/itwins',
      {
        config: { auth: ADMIN, validationCode: 'InvalidItwinsRequest' },
        schema: {
          summary: 'List iTwins of the directory',
          description: 'Oldest first, in pages.',
          tags: TAGS,
          security: [{ bearer: [] }],
          querystring: ItwinsQuery,
          response: { 200: AdminItwinList, ...commonErrors, 422: errorResponse('InvalidItwinsRequest.') },
        },
      },
      async (request) => {
        const accountId = request.query.accountId === undefined ? undefined : normalizeUuid(request.query.accountId);
        const page = await listPage(deps, request, 'InvalidItwinsRequest', { parts: 2, of: listKey.itwin }, (p) => store.listItwins({ accountId }, p), toItwin);
        return { itwins: page.items, _links: page._links };
      },
    );

    app.get(
      '/admin/itwins/:itwinId',
      {
        config: { auth: ADMIN },
        schema: {
          summary: 'Get an iTwin of the directory',
          tags: TAGS,
          security: [{ bearer: [] }],
          params: ItwinParams,
          response: { 200: AdminItwin, ...commonErrors, 404: errorResponse('ItwinNotFound.') },
        },
      },
      async (request) => {
        const itwin = isUuid(request.params.itwinId) ? await store.getItwin(normalizeUuid(request.params.itwinId)) : undefined;
        if (itwin === undefined) throw errors.itwinNotFound();
        return toItwin(itwin);
      },
    );

    app.put(
      '/admin/itwins/:itwinId',
      {
        bodyLimit: 1024,
        config: { auth: ADMIN, validationCode: 'InvalidItwinRequest' },
        schema: {
          summary: 'Add an iTwin, or move it to another account',
          description:
            'Sets the account that owns the iTwin: 201 when it is new, 200 when it was known. Moving it to another account drops every grant on it, ' +
            'and the webhooks whose owners thereby lose the right to it are deactivated.',
          tags: TAGS,
          security: [{ bearer: [] }],
          params: ItwinParams,
          body: PutItwinBody,
          response: { 200: AdminItwin, 201: AdminItwin, ...commonErrors, ...bodyErrors, 404: errorResponse('ItwinNotFound: removed while this request ran.'), 422: errorResponse('InvalidItwinRequest.') },
        },
      },
      async (request, reply) => {
        pathProblems('InvalidItwinRequest', [uuidCheck(request.params.itwinId, 'itwinId')]);
        const itwinId = normalizeUuid(request.params.itwinId);
        const accountId = normalizeUuid(request.body.accountId);
        const result = await store.putItwin(itwinId, accountId, now());
        stopped(deps, result.deactivated);
        if (result.movedFrom !== undefined || result.created) {
          request.log.info({ itwinId, accountId, movedFrom: result.movedFrom, deactivated: result.deactivated.length, by: by(request) }, 'iTwin put');
        }
        const itwin = await store.getItwin(itwinId);
        if (itwin === undefined) throw errors.itwinNotFound(); // removed concurrently
        return reply.code(result.created ? 201 : 200).send(toItwin(itwin));
      },
    );

    app.delete(
      '/admin/itwins/:itwinId',
      {
        config: { auth: ADMIN },
        schema: {
          summary: 'Remove an iTwin from the directory',
          description: 'Removes the iTwin and every grant on it; the webhooks whose owners thereby lose the right to it are deactivated.',
          tags: TAGS,
          security: [{ bearer: [] }],
          params: ItwinParams,
          response: { 204: { type: 'null', description: 'Removed.' }, ...commonErrors, 404: errorResponse('ItwinNotFound.') },
        },
      },
      async (request, reply) => {
        const result = isUuid(request.params.itwinId) ? await store.removeItwin(normalizeUuid(request.params.itwinId), now()) : undefined;
        if (result?.removed !== true) throw errors.itwinNotFound();
        stopped(deps, result.deactivated);
        request.log.info({ itwinId: request.params.itwinId, deactivated: result.deactivated.length, by: by(request) }, 'iTwin removed');
        return reply.code(204).send(null);
      },
    );

    // ---------------------------------------------------------------- grants
    app.get(
      '/admin/grants',
      {
        config: { auth: ADMIN, validationCode: 'InvalidGrantsRequest' },
        schema: {
          summary: 'List permissions granted on iTwins',
          description: 'Oldest first, in pages.',
          tags: TAGS,
          security: [{ bearer: [] }],
          querystring: GrantsQuery,
          response: { 200: AdminGrantList, ...commonErrors, 422: errorResponse('InvalidGrantsRequest.') },
        },
      },
      async (request) => {
        const filter = { clientId: request.query.clientId, itwinId: request.query.itwinId === undefined ? undefined : normalizeUuid(request.query.itwinId) };
        const page = await listPage(deps, request, 'InvalidGrantsRequest', { parts: 4, of: listKey.grant }, (p) => store.listGrants(filter, p), toGrant);
        return { grants: page.items, _links: page._links };
      },
    );

    app.put(
      '/admin/grants/:clientId/:itwinId/:permission',
      {
        config: { auth: ADMIN, validationCode: 'InvalidGrantRequest' },
        schema: {
          summary: 'Grant an application a permission on an iTwin',
          description: '201 when it is new, 200 when the application had it. The iTwin must be in the directory.',
          tags: TAGS,
          security: [{ bearer: [] }],
          params: GrantParams,
          response: { 200: AdminGrant, 201: AdminGrant, ...commonErrors, 404: errorResponse('ItwinNotFound.'), 422: errorResponse('InvalidGrantRequest.') },
        },
      },
      async (request, reply) => {
        const { clientId, permission } = request.params;
        const bad = permissionProblem(permission);
        pathProblems('InvalidGrantRequest', [clientCheck(clientId), uuidCheck(request.params.itwinId, 'itwinId'), [bad === undefined, 'permission', bad?.message ?? '']]);
        const itwinId = normalizeUuid(request.params.itwinId);
        let created: boolean;
        try {
          created = await grantPermission(store, clientId, itwinId, permission, now());
        } catch (err) {
          if (err instanceof UnknownItwinError) throw errors.itwinNotFound();
          throw err;
        }
        const [grant] = await store.listGrants({ clientId, itwinId }).then((gs) => gs.filter((g) => g.permission === permission));
        if (grant === undefined) throw errors.grantNotFound(); // revoked concurrently
        if (created) request.log.info({ clientId, itwinId, permission, by: by(request) }, 'permission granted');
        return reply.code(created ? 201 : 200).send(toGrant(grant));
      },
    );

    app.delete(
      '/admin/grants/:clientId/:itwinId/:permission',
      {
        config: { auth: ADMIN },
        schema: {
          summary: 'Revoke a permission on an iTwin',
          description: 'The application\'s webhooks on the iTwin that depended on it are deactivated at once (their health says why).',
          tags: TAGS,
          security: [{ bearer: [] }],
          params: GrantParams,
          response: { 204: { type: 'null', description: 'Revoked.' }, ...commonErrors, 404: errorResponse('GrantNotFound.') },
        },
      },
      async (request, reply) => {
        const { clientId, permission } = request.params;
        const result = isUuid(request.params.itwinId) ? await store.revoke(clientId, normalizeUuid(request.params.itwinId), permission, now()) : undefined;
        if (result?.revoked !== true) throw errors.grantNotFound();
        stopped(deps, result.deactivated);
        request.log.info({ clientId, itwinId: request.params.itwinId, permission, deactivated: result.deactivated.length, by: by(request) }, 'permission revoked');
        return reply.code(204).send(null);
      },
    );

    // ---------------------------------------------------------------- organization administrators
    app.get(
      '/admin/org-admins',
      {
        config: { auth: ADMIN, validationCode: 'InvalidOrgAdminsRequest' },
        schema: {
          summary: 'List Organization Administrators',
          description: 'Oldest first, in pages.',
          tags: TAGS,
          security: [{ bearer: [] }],
          querystring: OrgAdminsQuery,
          response: { 200: AdminOrgAdminList, ...commonErrors, 422: errorResponse('InvalidOrgAdminsRequest.') },
        },
      },
      async (request) => {
        const filter = { clientId: request.query.clientId, accountId: request.query.accountId === undefined ? undefined : normalizeUuid(request.query.accountId) };
        const page = await listPage(deps, request, 'InvalidOrgAdminsRequest', { parts: 3, of: listKey.orgAdmin }, (p) => store.listOrgAdmins(filter, p), toOrgAdmin);
        return { orgAdmins: page.items, _links: page._links };
      },
    );

    app.put(
      '/admin/org-admins/:clientId/:accountId',
      {
        config: { auth: ADMIN, validationCode: 'InvalidOrgAdminRequest' },
        schema: {
          summary: 'Make an application Organization Administrator of an account',
          description: '201 when it is new, 200 when the application was one already. It may then manage the webhooks of every iTwin of the account.',
          tags: TAGS,
          security: [{ bearer: [] }],
          params: OrgAdminParams,
          response: { 200: AdminOrgAdmin, 201: AdminOrgAdmin, ...commonErrors, 404: errorResponse('OrgAdminNotFound: removed while this request ran.'), 422: errorResponse('InvalidOrgAdminRequest.') },
        },
      },
      async (request, reply) => {
        const { clientId } = request.params;
        pathProblems('InvalidOrgAdminRequest', [clientCheck(clientId), uuidCheck(request.params.accountId, 'accountId')]);
        const accountId = normalizeUuid(request.params.accountId);
        const created = await store.addOrgAdmin(clientId, accountId, now());
        const [admin] = await store.listOrgAdmins({ clientId, accountId });
        if (admin === undefined) throw errors.orgAdminNotFound(); // removed concurrently
        if (created) request.log.info({ clientId, accountId, by: by(request) }, 'organization administrator added');
        return reply.code(created ? 201 : 200).send(toOrgAdmin(admin));
      },
    );

    app.delete(
      '/admin/org-admins/:clientId/:accountId',
      {
        config: { auth: ADMIN },
        schema: {
          summary: 'Stop an application being Organization Administrator of an account',
          description: 'Its webhooks on the account\'s iTwins that depended on the role are deactivated at once.',
          tags: TAGS,
          security: [{ bearer: [] }],
          params: OrgAdminParams,
          response: { 204: { type: 'null', description: 'Removed.' }, ...commonErrors, 404: errorResponse('OrgAdminNotFound.') },
        },
      },
      async (request, reply) => {
        const { clientId } = request.params;
        const result = isUuid(request.params.accountId) ? await store.removeOrgAdmin(clientId, normalizeUuid(request.params.accountId), now()) : undefined;
        if (result?.removed !== true) throw errors.orgAdminNotFound();
        stopped(deps, result.deactivated);
        request.log.info({ clientId, accountId: request.params.accountId, deactivated: result.deactivated.length, by: by(request) }, 'organization administrator removed');
        return reply.code(204).send(null);
      },
    );

    // ---------------------------------------------------------------- one account's whole directory
    const accountOf = (accountId: string) => {
      pathProblems('InvalidDirectorySyncRequest', [uuidCheck(accountId, 'accountId')]);
      return normalizeUuid(accountId);
    };

    app.get(
      '/admin/accounts/:accountId/directory',
      {
        config: { auth: ADMIN, validationCode: 'InvalidDirectorySyncRequest' },
        schema: {
          summary: 'Get one account\'s whole directory',
          description: 'Its iTwins, the grants on them and its Organization Administrators, as PUT takes them.',
          tags: TAGS,
          security: [{ bearer: [] }],
          params: AccountParams,
          response: { 200: AccountDirectoryAnswer, ...commonErrors, 404: errorResponse('RouteNotFound.'), 422: errorResponse('InvalidDirectorySyncRequest.') },
        },
      },
      async (request) => {
        const accountId = accountOf(request.params.accountId);
        return { accountId, ...(await store.getAccountDirectory(accountId)) };
      },
    );

    app.put(
      '/admin/accounts/:accountId/directory',
      {
        bodyLimit: 4 * 1024 * 1024,
        config: { auth: ADMIN, validationCode: 'InvalidDirectorySyncRequest' },
        schema: {
          summary: 'Sync one account\'s whole directory',
          description:
            'Makes the account\'s directory exactly this set, in one transaction: what is missing is added (an iTwin of another account moves here, ' +
            'dropping its grants there), what is not in the set is removed, and webhooks whose owners lose the right to them are deactivated. ' +
            'The same set again changes nothing. The answer says what was added, removed and moved.',
          tags: TAGS,
          security: [{ bearer: [] }],
          params: AccountParams,
          body: AccountDirectoryBody,
          response: { 200: DirectorySyncAnswer, ...commonErrors, ...bodyErrors, 404: errorResponse('RouteNotFound.'), 422: errorResponse('InvalidDirectorySyncRequest.') },
        },
      },
      async (request) => {
        const accountId = accountOf(request.params.accountId);
        const desired = {
          itwins: request.body.itwins.map(normalizeUuid),
          grants: request.body.grants.map((g) => ({ ...g, itwinId: normalizeUuid(g.itwinId) })),
          orgAdmins: request.body.orgAdmins,
        };
        const problems = accountDirectoryProblems(desired);
        if (problems.length > 0) throw errors.validation('InvalidDirectorySyncRequest', problems.map((p) => detail('InvalidValue', p.target, p.message)));
        const result = await store.syncAccountDirectory(accountId, desired, now());
        stopped(deps, result.deactivated);
        request.log.info(
          {
            accountId,
            itwins: [result.itwins.added.length, result.itwins.removed.length, result.itwins.moved.length],
            grants: [result.grants.added.length, result.grants.removed.length],
            orgAdmins: [result.orgAdmins.added.length, result.orgAdmins.removed.length],
            deactivated: result.deactivated.length,
            by: by(request),
          },
          'account directory synced',
        );
        return { accountId, itwins: result.itwins, grants: result.grants, orgAdmins: result.orgAdmins, webhooksDeactivated: result.deactivated };
      },
    );
  };
