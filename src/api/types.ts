import type {} from '@fastify/swagger';
import type { Principal } from '../auth/principal.ts';
import type { ValidationCode } from '../contract/errors.ts';

/** What a route demands of its caller; absent means the route is public. */
export interface RouteAuth {
  /** The caller needs at least one of these scopes. */
  anyScope: readonly string[];
  /** Only service applications (client-credentials tokens) may call. */
  serviceApp: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
    /** The 422 code this route answers with when its body or query does not validate. */
    validationCode?: ValidationCode;
    /** Properties that exist but may not be written (reported as ReadOnlyProperty). */
    readOnly?: readonly string[];
  }
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}
