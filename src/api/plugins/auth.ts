import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hasAnyScope, type Principal } from '../../auth/principal.ts';
import type { TokenVerifier } from '../../auth/verifier.ts';
import { errors } from '../../contract/errors.ts';
import '../types.ts';

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i;

/**
 * Authenticates every route whose config names an `auth` requirement, in onRequest, so
 * that 401 and 403 come before any body is read or validated.
 */
export function installAuth(app: FastifyInstance, verifier: TokenVerifier): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request) => {
    const auth = request.routeOptions.config.auth;
    if (auth === undefined) return;
    const header = request.headers.authorization;
    if (header === undefined || header === '') throw errors.headerNotFound();
    const match = BEARER.exec(header);
    if (match === null) throw errors.invalidToken('The Authorization header must be "Bearer <token>".');
    const principal = await verifier.verify(match[1]!);
    if (auth.serviceApp && !principal.isServiceApp) {
      throw errors.insufficientPermissions('This operation is available to service applications (client credentials) only.');
    }
    if (!hasAnyScope(principal, auth.anyScope)) {
      throw errors.insufficientPermissions(`The token needs one of the scopes: ${auth.anyScope.join(', ')}.`);
    }
    request.principal = principal;
  });
}

/** The authenticated caller of a route that declared `auth`. */
export function principalOf(request: FastifyRequest): Principal {
  const p = request.principal;
  if (p === undefined) throw new Error(`route ${request.routeOptions.url} reads the principal but declares no auth`);
  return p;
}
