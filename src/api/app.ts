import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { dashboardRoutes } from '../ui/dashboard.ts';
import { VERSION } from '../version.ts';
import { createValidatorCompiler } from './validatorCompiler.ts';
import type { AppDeps } from './deps.ts';
import { errors } from '../contract/errors.ts';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../contract/jsonDepth.ts';
import { swaggerOptions } from './openapi.ts';
import { installAuth } from './plugins/auth.ts';
import { addMethodNotAllowedRoutes, clientErrorHandler, installErrorHandling, refuseTunnels, sendApiError } from './plugins/errors.ts';
import { adminClientRoutes } from './routes/admin/clients.ts';
import { adminDirectoryRoutes } from './routes/admin/directory.ts';
import { adminWebhookRoutes } from './routes/adminWebhooks.ts';
import { deliveryReadRoutes, deliveryRoutes } from './routes/deliveries.ts';
import { eventRoutes } from './routes/events.ts';
import { eventTypeRoutes } from './routes/eventTypes.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { oauthRoutes, TOKEN_PATHS } from './routes/oauth.ts';
import { signedRequestRoutes } from './routes/signedRequest.ts';
import { statisticsRoutes } from './routes/statistics.ts';
import { webhookHealthRoutes } from './routes/webhookHealth.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import './types.ts';
import { operatorAccess, ownerAccess } from './webhookAccess.ts';

const DEFAULT_BODY_LIMIT = 64 * 1024;

/** Builds the HTTP API from its dependencies. The caller decides whether to listen or inject(). */
export async function createApp(deps: AppDeps, options: { /** false: only health, readiness and metrics (a worker process). */ api?: boolean } = {}): Promise<FastifyInstance> {
  const api = options.api !== false;
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !config.logRequests }),
    trustProxy: config.trustProxy,
    bodyLimit: DEFAULT_BODY_LIMIT,
    return503OnClosing: true,
    clientErrorHandler,
    // The hosted API documents `POST /webhooks/`: every route answers alike with or without one trailing slash.
    routerOptions: { ignoreTrailingSlash: true },
    // Errors raised before routing (a malformed percent-encoding in the path) answer in the contract's shape too.
    frameworkErrors: (error, request, reply) => {
      const e = error.code === 'FST_ERR_BAD_URL' ? errors.routeNotFound(request.method, request.url) : errors.invalidRequestBody('The request is malformed.');
      void sendApiError(reply as unknown as FastifyReply, e);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(createValidatorCompiler());
  // Bodies are JSON (plus the form of /oauth/token, registered in its own scope). Fastify's
  // text/plain parser would let a wrong Content-Type through to validation; remove it.
  app.removeContentTypeParser(['text/plain', 'application/json']);
  const json = app.getDefaultJsonParser('error', 'error');
  // Clients often send Content-Type: application/json on a DELETE or a bodiless POST with
  // nothing in it; on routes that take no body that is no body, not a malformed one.
  const parseJson: typeof json = (request, body, done) => {
    if (body === '' && request.routeOptions.schema?.body === undefined) return done(null, undefined);
    return json(request, body, (err, value) => {
      if (err === null && nestedDeeperThan(value, MAX_JSON_DEPTH)) return done(errors.nestedTooDeep(request.routeOptions.config.validationCode, MAX_JSON_DEPTH), undefined);
      return done(err, value);
    });
  };
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJson);
  app.addContentTypeParser(/^application\/[a-z0-9.-]+\+json$/i, { parseAs: 'string' }, parseJson);

  installErrorHandling(app);
  refuseTunnels(app.server);
  installAuth(app, deps.verifier);

  await app.register(swagger, swaggerOptions({ builtinIssuer: deps.issuer !== undefined }));
  await app.register(swaggerUi, { routePrefix: '/docs' });

  if (config.rateLimitMax > 0) {
    await app.register(rateLimit, {
      global: true,
      max: config.rateLimitMax,
      timeWindow: config.rateLimitWindowSeconds * 1000,
      // After authentication, so that the limit is per application rather than per address.
      hook: 'preHandler',
      allowList: (request) => request.routeOptions.config.auth === undefined && !(TOKEN_PATHS as readonly (string | undefined)[]).includes(request.routeOptions.url),
      keyGenerator: (request) => (request.principal?.clientId !== undefined ? `client:${request.principal.clientId}` : `ip:${request.ip}`),
      errorResponseBuilder: (_request, context) => errors.tooManyRequests(Math.max(1, Math.ceil(context.ttl / 1000))),
    });
  }

  const routes: Array<{ url: string; methods: string[] }> = [];
  app.addHook('onRoute', (route) => {
    routes.push({ url: route.url, methods: ([] as string[]).concat(route.method) });
  });

  await app.register(healthRoutes(deps));
  await app.register(metricsRoutes(deps));
  if (api) {
    await app.register(webhookRoutes(deps));
    await app.register(eventTypeRoutes(deps));
    await app.register(eventRoutes(deps));
    await app.register(deliveryRoutes(deps));
    // A webhook's history, read by its owner (/webhooks) or by an operator (/admin/webhooks).
    for (const access of [ownerAccess(deps.store), operatorAccess(deps.store)]) {
      await app.register(deliveryReadRoutes(deps, access));
      await app.register(webhookHealthRoutes(deps, access));
      await app.register(statisticsRoutes(deps, access));
      await app.register(signedRequestRoutes(deps, access));
    }
    await app.register(adminWebhookRoutes(deps));
    if (config.dashboard) await app.register(dashboardRoutes({ signIn: deps.issuer === undefined ? 'token' : 'client-credentials' }));
    if (deps.issuer !== undefined) await app.register(oauthRoutes(deps, deps.issuer));
    // The admin API (contract §7); clients exist only with the built-in issuer.
    if (deps.issuer !== undefined) await app.register(adminClientRoutes(deps));
    await app.register(adminDirectoryRoutes(deps));
  }
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // A newcomer opening the server's address in a browser lands on the API reference.
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/docs', 302));

  addMethodNotAllowedRoutes(app, routes.filter((r) => !r.url.startsWith('/docs')));
  return app;
}
